// Sample.swift — one image/label pair of a dataset, with what the folder
// structure tells about it, and loading it as RGB image + trainId plane.

import ImageIO

/// What the path of a sample says about it (fields not known for a dataset are nil);
/// filled in by the readers.
public struct SampleMetadata: Sendable, Equatable, Hashable {
    /// Cityscapes: the city folder.
    public var city: String?
    /// ACDC: the condition folder.
    public var condition: ACDCCondition?
    /// ACDC: the sequence folder (e.g. `GOPR0475`).
    public var sequence: String?
    /// Mapillary: size of the full-resolution image (read from the JPEG header of
    /// `{split}/images/{key}.jpg`), also for the half-size layout when that file exists.
    public var originalSize: ImageSize?

    public init(city: String? = nil, condition: ACDCCondition? = nil, sequence: String? = nil, originalSize: ImageSize? = nil) {
        (self.city, self.condition, self.sequence, self.originalSize) = (city, condition, sequence, originalSize)
    }
}

/// One image/label pair, as the readers list it.
public struct Sample: Sendable, Equatable, Hashable {
    /// Image path relative to the split's image folder, without the image suffix
    /// (ACDC ids start with the condition). Unique within a listing.
    public let id: String
    public let imagePath: String
    public let labelPath: String
    public let dataset: DatasetKind
    /// How the label file's values map to trainIds.
    public let encoding: LabelEncoding
    public let metadata: SampleMetadata
    /// Set by a listing checked with `SizeMismatchRule.resizeLabel` (PairSizeCheck.swift) on a pair
    /// whose headers declare different sizes: the image's size, which `loadLabel` gives the label
    /// (nearest neighbour, OpenCV rule). nil: the label is used at its own size.
    public let resizedLabelSize: ImageSize?

    /// A sample of any reader's making (tools, tests, other callers of the evaluation path).
    public init(id: String, imagePath: String, labelPath: String, dataset: DatasetKind, encoding: LabelEncoding,
                metadata: SampleMetadata = SampleMetadata(), resizedLabelSize: ImageSize? = nil) {
        (self.id, self.imagePath, self.labelPath) = (id, imagePath, labelPath)
        (self.dataset, self.encoding, self.metadata) = (dataset, encoding, metadata)
        self.resizedLabelSize = resizedLabelSize
    }

    /// This sample with its label resized to `size` when loaded.
    func withLabel(resizedTo size: ImageSize) -> Sample {
        Sample(id: id, imagePath: imagePath, labelPath: labelPath, dataset: dataset, encoding: encoding,
               metadata: metadata, resizedLabelSize: size)
    }
}

/// What loading does when image and label sizes differ.
public enum SizeMismatchPolicy: Sendable {
    /// Throw a `sizeMismatch` problem.
    case report
    /// Resize the label to the image size with nearest neighbour (OpenCV rule).
    case resizeLabel
}

extension Sample {
    /// The image and the label, decoded one after the other or (`concurrently`, for a caller that
    /// holds two threads) at the same time; the image's problem is reported first either way.
    public func loadBoth(strict: Bool = false, limits: DecodeLimits = .default,
                         concurrently: Bool = false) throws(DatasetProblem) -> (image: Image8, label: LabelMap) {
        guard concurrently else { return (try loadImage(limits: limits), try loadLabel(strict: strict, limits: limits)) }
        let sample = self
        let decoded = Parallel.map(2) { part -> Result<Decoded, DatasetProblem> in
            do throws(DatasetProblem) {
                return part == 0 ? .success(.image(try sample.loadImage(limits: limits)))
                    : .success(.label(try sample.loadLabel(strict: strict, limits: limits)))
            } catch { return .failure(error) }
        }
        guard case .image(let image) = try decoded[0].get(), case .label(let label) = try decoded[1].get() else {
            preconditionFailure("Sample.loadBoth: parts out of order")
        }
        return (image, label)
    }

    private enum Decoded: Sendable {
        case image(Image8), label(LabelMap)
    }

    /// The image as 8-bit RGB; a header declaring more than `limits.maxPixels` is refused before decoding.
    public func loadImage(limits: DecodeLimits = .default) throws(DatasetProblem) -> Image8 {
        do { return try ImageFile.readRGB(imagePath, limits: limits) } catch {
            throw DatasetProblem(file: imagePath, kind: .unreadableFile, message: "cannot decode image: \(error.reason)")
        }
    }

    /// The label file's raw values (grey values or palette indices), unmapped.
    public func loadRawLabel(limits: DecodeLimits = .default) throws(DatasetProblem) -> LabelMap {
        do { return try ImageFile.readLabel(labelPath, limits: limits) } catch {
            throw DatasetProblem(file: labelPath, kind: .unreadableFile, message: "cannot decode label: \(error.reason)")
        }
    }

    /// The label as a trainId plane (0...18, 255 ignore), at `resizedLabelSize` when the listing
    /// set one (nearest neighbour). Raw values the encoding does not define become 255, or throw
    /// `unknownLabelValues` when `strict`.
    public func loadLabel(strict: Bool = false, limits: DecodeLimits = .default) throws(DatasetProblem) -> LabelMap {
        let raw = try loadRawLabel(limits: limits)
        if strict {
            let histogram = LabelEncoding.histogram(raw)
            if let problem = encoding.unknownValuesProblem(histogram: histogram, file: labelPath) { throw problem }
        }
        let label = encoding.map(raw)
        if let size = resizedLabelSize, size.width != label.width || size.height != label.height {
            return Resize.nearest(label, width: size.width, height: size.height, rule: .opencv)
        }
        return label
    }

    /// Image and trainId label, checked to be the same size.
    public func load(sizePolicy: SizeMismatchPolicy = .report, strict: Bool = false, limits: DecodeLimits = .default,
                     concurrently: Bool = false) throws(DatasetProblem) -> (image: Image8, label: LabelMap) {
        let (image, loadedLabel) = try loadBoth(strict: strict, limits: limits, concurrently: concurrently)
        var label = loadedLabel
        if image.width != label.width || image.height != label.height {
            switch sizePolicy {
            case .report:
                throw DatasetProblem.sizeMismatch(label: labelPath, labelSize: ImageSize(width: label.width, height: label.height),
                                                  imageSize: ImageSize(width: image.width, height: image.height))
            case .resizeLabel:
                label = Resize.nearest(label, width: image.width, height: image.height, rule: .opencv)
            }
        }
        return (image, label)
    }
}

extension DatasetProblem {
    /// `label is WxH but its image is WxH`, or with `image`: `label is WxH but its image IMAGE is WxH`.
    static func sizeMismatch(label: String, labelSize: ImageSize, image: String? = nil, imageSize: ImageSize) -> DatasetProblem {
        DatasetProblem(file: label, kind: .sizeMismatch,
                       message: "label is \(labelSize) but its image\(image.map { " " + $0 } ?? "") is \(imageSize)")
    }
}
