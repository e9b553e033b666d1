// AugmentPipeline.swift — the paper configs' training and test pipelines as
// values.
//
// Training (Rein / Causal-Tune 512 configs):
//   RandomChoiceResize(S*[0.5..2.0], ResizeShortestEdge, max 4S)
//   -> RandomCrop(S x S, cat_max_ratio 0.75, ignore 255) -> RandomFlip(0.5)
//   -> PhotoMetricDistortion -> Normalize + pad to S x S (image 0, label 255).
// Random draws are consumed in that order from one generator per sample; a
// transform that is off (no resize, no photometric distortion) draws nothing.
// `AugmentSettings` (a manifest's `training.augment`) chooses the parts.
// Test: keep-ratio Resize(scale) of the image only -> Normalize (no padding);
// the label stays at file resolution.

import ImageIO

/// What the random transforms decided for one sample (for logs and tests).
public struct AugmentTrace: Sendable, Hashable, Codable {
    /// The short edge drawn; nil when the pipeline has no resize.
    public var shortEdge: Int?
    public var resized: ImageSize
    public var crop: CropBox
    public var flipped: Bool
    public var photometric: PhotoMetricDistortion.Draws?
}

/// One training input: normalised planar image and padded label.
public struct TrainingSample: Sendable, Equatable {
    /// (3, size.height, size.width) float32, RGB planes, zero padding.
    public var image: [Float]
    /// (size.height, size.width) trainIds, 255 padding.
    public var label: [UInt8]
    /// The padded size (the crop size).
    public var size: ImageSize
    /// The size of the real content before padding.
    public var contentSize: ImageSize
    public var trace: AugmentTrace
}

/// The training pipeline, configurable, applied to an RGB image and its label.
public struct TrainPipeline: Sendable, Hashable {
    /// nil: no resize (the crop takes the image at its own size).
    public var resize: RandomChoiceResize?
    public var crop: RandomCrop
    public var flip: RandomFlip
    /// nil disables photometric distortion.
    public var photometric: PhotoMetricDistortion?
    public var normalize: Normalize

    public init(resize: RandomChoiceResize?, crop: RandomCrop, flip: RandomFlip = RandomFlip(probability: 0.5),
                photometric: PhotoMetricDistortion? = PhotoMetricDistortion(), normalize: Normalize = Normalize()) {
        self.resize = resize
        self.crop = crop
        self.flip = flip
        self.photometric = photometric
        self.normalize = normalize
    }

    /// The configs' pipeline for crop size `crop` (512 or 1024): scales
    /// `[int(crop*x*0.1) for x in 5...20]`, max size `4*crop`, cat_max_ratio 0.75.
    public init(cropSize crop: Int, catMaxRatio: Double = 0.75) {
        self.init(cropSize: crop, settings: AugmentSettings(catMaxRatio: catMaxRatio))
    }

    /// The pipeline `settings` choose for a `crop` x `crop` crop (defaults: the configs' pipeline).
    public init(cropSize crop: Int, settings: AugmentSettings) {
        let edges = settings.shortEdges(cropSize: crop)
        self.init(resize: edges.isEmpty ? nil : RandomChoiceResize(scales: edges, maxSize: settings.maxSize(cropSize: crop)),
                  crop: RandomCrop(cropSize: ImageSize(width: crop, height: crop), catMaxRatio: settings.catMaxRatio),
                  flip: RandomFlip(probability: settings.flipProbability),
                  photometric: settings.photometric ? PhotoMetricDistortion() : nil)
    }

    /// Runs the pipeline with the generator of (seed, sample, epoch).
    public func apply(image: Image8, label: LabelMap, seed: UInt64, sample: UInt64,
                      epoch: UInt64) throws(AugmentError) -> TrainingSample {
        var rng = AugmentRNG(seed: seed, sample: sample, epoch: epoch)
        return try apply(image: image, label: label, random: &rng)
    }

    /// Runs the pipeline, drawing from `random` in transform order.
    public func apply<R: RandomSource>(image: Image8, label: LabelMap,
                                       random: inout R) throws(AugmentError) -> TrainingSample {
        guard image.channels == 3 else {
            throw AugmentError(stage: "TrainPipeline", reason: "image has \(image.channels) channels, expected 3 (RGB)")
        }
        guard label.channels == 1 else {
            throw AugmentError(stage: "TrainPipeline", reason: "label has \(label.channels) channels, expected 1")
        }
        let (resizedImage, resizedLabel, shortEdge): (Image8, LabelMap, Int?)
        if let resize {
            (resizedImage, resizedLabel, shortEdge) = try resize.apply(image: image, label: label, random: &random)
        } else {
            (resizedImage, resizedLabel, shortEdge) = (image, label, nil)
        }
        let (croppedImage, croppedLabel, box) = try crop.apply(image: resizedImage, label: resizedLabel, random: &random)
        var (flippedImage, flippedLabel, flipped) = flip.apply(image: croppedImage, label: croppedLabel, random: &random)
        var draws: PhotoMetricDistortion.Draws?
        if let photometric {
            let (distorted, d) = try photometric.apply(image: flippedImage, random: &random)
            flippedImage = distorted
            draws = d
        }
        let size = crop.cropSize
        let planar = try normalize.apply(image: flippedImage, paddedTo: size)
        let padded = try Normalize.pad(label: flippedLabel, to: size)
        return TrainingSample(
            image: planar, label: padded, size: size,
            contentSize: ImageSize(width: flippedImage.width, height: flippedImage.height),
            trace: AugmentTrace(shortEdge: shortEdge,
                                resized: ImageSize(width: resizedImage.width, height: resizedImage.height),
                                crop: box, flipped: flipped, photometric: draws))
    }
}

/// The test pipeline: keep-ratio resize of the image, then normalisation.
public struct TestPipeline: Sendable, Hashable {
    public var resize: KeepRatioResize
    public var normalize: Normalize

    public init(scale: ImageSize, normalize: Normalize = Normalize()) {
        self.resize = KeepRatioResize(scale: scale)
        self.normalize = normalize
    }

    /// The scales of the 512 configs' test pipelines (datasets.md section 8).
    public static let cityscapes512 = TestPipeline(scale: ImageSize(width: 1024, height: 512))
    public static let mapillary512 = TestPipeline(scale: ImageSize(width: 1024, height: 512))
    public static let bdd512 = TestPipeline(scale: ImageSize(width: 1280, height: 720))
    public static let acdc512 = TestPipeline(scale: ImageSize(width: 960, height: 540))
    public static let gta512 = TestPipeline(scale: ImageSize(width: 1280, height: 720))

    /// RGB image -> planar normalised (3, h, w) float32 at the resized size; rows split over
    /// `threads` (the values do not depend on it).
    public func apply(image: Image8, threads: Int = 1) throws(AugmentError) -> (image: [Float], size: ImageSize) {
        guard image.channels == 3 else {
            throw AugmentError(stage: "TestPipeline", reason: "image has \(image.channels) channels, expected 3 (RGB)")
        }
        let resized = try resize.apply(image: image, threads: threads)
        return (try normalize.apply(image: resized, threads: threads), ImageSize(width: resized.width, height: resized.height))
    }
}
