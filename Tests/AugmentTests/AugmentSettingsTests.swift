// AugmentSettingsTests.swift — the training pipeline a manifest's
// `training.augment` makes: the defaults are the configs' pipeline (fixture
// scale lists, mmseg defaults), each setting changes its transform only, and
// with every random transform off a crop-sized image comes out normalised and
// untouched (numpy float32, scripts/make_augment_identity_fixtures.py).

import Augment
import CTCore
import ImageIO
import TestSupport
import Testing

@Suite struct AugmentSettingsTests {
    @Test(arguments: [512, 1024])
    func defaultsAreTheConfigsPipeline(crop: Int) throws {
        let fx = try fixtures.augment()
        let pipeline = TrainPipeline(cropSize: crop, settings: AugmentSettings())
        // Built part by part from the reference values, not through the settings.
        let expected = TrainPipeline(
            resize: RandomChoiceResize(scales: crop == 512 ? fx.scales512 : fx.scales1024, maxSize: crop == 512 ? 2048 : 4096),
            crop: RandomCrop(cropSize: ImageSize(width: crop, height: crop), catMaxRatio: 0.75, ignoreIndex: 255),
            flip: RandomFlip(probability: 0.5),
            photometric: PhotoMetricDistortion(brightnessDelta: 32, contrastRange: 0.5 ... 1.5, saturationRange: 0.5 ... 1.5,
                                               hueDelta: 18),
            normalize: Normalize(mean: [123.675, 116.28, 103.53], std: [58.395, 57.12, 57.375]))
        #expect(pipeline == expected)
        #expect(TrainPipeline(cropSize: crop) == expected)
        // "default" spelled out is the same pipeline.
        let spelled = AugmentSettings(shortEdges: crop == 512 ? fx.scales512 : fx.scales1024, maxSize: 4 * crop,
                                      catMaxRatio: 0.75, flipProbability: 0.5, photometric: true)
        #expect(TrainPipeline(cropSize: crop, settings: spelled) == expected)
        #expect(spelled.record(cropSize: crop) == AugmentSettings().record(cropSize: crop))
    }

    @Test func defaultsGiveTheSameSamplesAsBefore() throws {
        let (image, label) = PipelineTests.scene(width: 300, height: 200)
        let old = TrainPipeline(resize: RandomChoiceResize.config512,
                                crop: RandomCrop(cropSize: ImageSize(width: 512, height: 512)))
        let new = TrainPipeline(cropSize: 512, settings: AugmentSettings())
        for sample in 0 ..< 6 as Range<UInt64> {
            let a = try old.apply(image: image, label: label, seed: 11, sample: sample, epoch: 3)
            let b = try new.apply(image: image, label: label, seed: 11, sample: sample, epoch: 3)
            #expect(a == b)
        }
    }

    @Test func everySettingReachesItsTransform() {
        let settings = AugmentSettings(shortEdges: [40, 60], maxSize: 90, catMaxRatio: 1, flipProbability: 0.25,
                                       photometric: false)
        let pipeline = TrainPipeline(cropSize: 32, settings: settings)
        #expect(pipeline.resize == RandomChoiceResize(scales: [40, 60], maxSize: 90))
        #expect(pipeline.crop == RandomCrop(cropSize: ImageSize(width: 32, height: 32), catMaxRatio: 1))
        #expect(pipeline.flip == RandomFlip(probability: 0.25))
        #expect(pipeline.photometric == nil)
        #expect(TrainPipeline(cropSize: 32, settings: AugmentSettings(shortEdges: [])).resize == nil)
        #expect(settings.record(cropSize: 32)
            == #"{"cat_max_ratio":1.0,"crop_size":32,"flip_probability":0.25,"max_size":90,"photometric":false,"short_edges":[40,60]}"#)
        #expect(AugmentSettings(shortEdges: [], maxSize: 90).record(cropSize: 32)
            == #"{"cat_max_ratio":0.75,"crop_size":32,"flip_probability":0.5,"photometric":true,"short_edges":[]}"#,
                "without a resize its cap is not part of the pipeline")
        #expect(AugmentSettings().record(cropSize: 32) != AugmentSettings().record(cropSize: 64))
    }

    @Test func resizeOffDrawsNothingForIt() throws {
        let (image, label) = PipelineTests.scene(width: 50, height: 40)
        let pipeline = TrainPipeline(cropSize: 32, settings: AugmentSettings(shortEdges: [], catMaxRatio: 1, photometric: false))
        // crop y1 in 0..<9, x1 in 0..<19 (one candidate: no category check at ratio 1), then the flip.
        var random = ScriptedRandom([.int(3), .int(5), .real(0.9)])
        let sample = try pipeline.apply(image: image, label: label, random: &random)
        #expect(random.log == ["int 0..<9", "int 0..<19", "uniform 0.0..<1.0"])
        #expect(sample.trace.shortEdge == nil && sample.trace.photometric == nil && !sample.trace.flipped)
        #expect(sample.trace.resized == ImageSize(width: 50, height: 40))
        #expect(sample.trace.crop == CropBox(y0: 3, y1: 35, x0: 5, x1: 37))
        #expect(sample.label[0] == label[5, 3, 0] && sample.label[31 * 32 + 31] == label[36, 34, 0])
    }

    @Test func everythingOffIsTheNormalisedImage() throws {
        let image = try fixtures.raster("identity_in.npy")
        let label = try fixtures.raster("identity_label.npy")
        let expected = try fixtures.npy("identity_out.npy")
        #expect(image.width == image.height && expected.shape == [3, image.height, image.width])
        let settings = AugmentSettings(shortEdges: [], flipProbability: 0, photometric: false)
        let pipeline = TrainPipeline(cropSize: image.width, settings: settings)
        for (seed, sample, epoch) in [(0, 0, 0), (7, 3, 1), (123_456, 99, 40)] as [(UInt64, UInt64, UInt64)] {
            let out = try pipeline.apply(image: image, label: label, seed: seed, sample: sample, epoch: epoch)
            #expect(out.image == expected.floats!, "bit-exact float32 (numpy)")
            #expect(out.label == label.pixels)
            #expect(out.size == ImageSize(width: image.width, height: image.height) && out.contentSize == out.size)
            #expect(out.trace.crop == CropBox(y0: 0, y1: image.height, x0: 0, x1: image.width))
            #expect(!out.trace.flipped && out.trace.shortEdge == nil && out.trace.photometric == nil)
        }
    }
}
