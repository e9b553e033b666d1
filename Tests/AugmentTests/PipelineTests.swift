// PipelineTests.swift — the generator, and the training and test pipelines
// end to end: draw order, shapes, padding, determinism per (seed, sample, epoch).

import Augment
import ImageIO
import Testing

@Suite struct PipelineTests {
    @Test func generatorIsDeterministicAndBounded() {
        var a = AugmentRNG(seed: 7, sample: 3, epoch: 1), b = AugmentRNG(seed: 7, sample: 3, epoch: 1)
        var c = AugmentRNG(seed: 7, sample: 3, epoch: 2)
        let xs = (0 ..< 8).map { _ in a.next() }
        #expect(xs == (0 ..< 8).map { _ in b.next() })
        #expect(xs != (0 ..< 8).map { _ in c.next() })
        // SplitMix64 reference values for state 0 (Vigna's splitmix64.c).
        var zero = AugmentRNG(state: 0)
        #expect(zero.next() == 0xE220_A839_7B1D_CDAF)
        #expect(zero.next() == 0x6E78_9E6A_A1B9_65F4)
        var r = AugmentRNG(seed: 1, sample: 0, epoch: 0)
        var seen = Set<Int>()
        for _ in 0 ..< 2000 {
            let v = r.integer(-18, 18)
            #expect(v >= -18 && v < 18)
            seen.insert(v)
            let u = r.uniform(0.5, 1.5)
            #expect(u >= 0.5 && u < 1.5)
        }
        #expect(seen.count == 36, "every value of -18..<18 occurs")
    }

    static func scene(width: Int, height: Int) -> (Image8, LabelMap) {
        var image = Image8(width: width, height: height, channels: 3, filledWith: 0)
        var label = LabelMap(width: width, height: height, channels: 1, filledWith: 0)
        for y in 0 ..< height {
            for x in 0 ..< width {
                image[x, y, 0] = UInt8((x * 7 + y) & 255); image[x, y, 1] = UInt8((y * 5) & 255); image[x, y, 2] = 90
                label[x, y, 0] = UInt8((x / 40 + y / 30) % 5)
            }
        }
        return (image, label)
    }

    @Test func trainingDrawOrderAndPadding() throws {
        let (image, label) = Self.scene(width: 300, height: 200)
        let pipeline = TrainPipeline(cropSize: 512)
        // short edge 256 -> 384x256 (smaller than the crop: kept whole, padded)
        var random = ScriptedRandom([.int(0), .int(0), .int(0), .real(0.1),
                                     .int(0), .int(0), .int(0), .int(0), .int(0)])
        let sample = try pipeline.apply(image: image, label: label, random: &random)
        #expect(random.log == ["int 0..<16", "int 0..<1", "int 0..<1", "uniform 0.0..<1.0",
                               "int 0..<2", "int 0..<2", "int 0..<2", "int 0..<2", "int 0..<2"])
        #expect(sample.trace.resized == ImageSize(width: 384, height: 256))
        #expect(sample.trace.flipped)
        #expect(sample.size == ImageSize(width: 512, height: 512))
        #expect(sample.contentSize == ImageSize(width: 384, height: 256))
        #expect(sample.image.count == 3 * 512 * 512 && sample.label.count == 512 * 512)
        #expect(sample.label[511 * 512 + 511] == 255 && sample.label[400] == 255)
        #expect(sample.image[3 * 512 * 512 - 1] == 0)
        // Flipped: the right edge of the original is now column 0.
        #expect(sample.label[0] == label[299, 0, 0])
    }

    @Test func trainingIsReproduciblePerSampleAndEpoch() throws {
        let (image, label) = Self.scene(width: 640, height: 360)
        let pipeline = TrainPipeline(cropSize: 256)
        let a = try pipeline.apply(image: image, label: label, seed: 42, sample: 5, epoch: 0)
        let b = try pipeline.apply(image: image, label: label, seed: 42, sample: 5, epoch: 0)
        #expect(a == b)
        let others = try (1 ... 4).map { try pipeline.apply(image: image, label: label, seed: 42, sample: 5, epoch: UInt64($0)) }
        #expect(others.contains { $0.trace != a.trace })
        #expect(a.size == ImageSize(width: 256, height: 256))
    }

    @Test func testPipelineResizesAndNormalizes() throws {
        let (image, _) = Self.scene(width: 200, height: 150)
        let (planar, size) = try TestPipeline(scale: ImageSize(width: 100, height: 50)).apply(image: image)
        #expect(size == ImageSize(width: 67, height: 50))
        #expect(planar.count == 3 * 67 * 50)
        #expect(throws: AugmentError.self) {
            try TestPipeline.cityscapes512.apply(image: Image8(width: 4, height: 4, channels: 1, filledWith: 0))
        }
    }
}
