// ShardGallery.swift — per-image scores and the "worst images" gallery of a
// shard. Every scored image gets a SampleScore in the shard record (its own
// mIoU and pixel accuracy, from its own confusion matrix); the K worst images
// of each group (lowest mIoU, ties by id) get thumbnails — image, ground truth
// and prediction as colour masks — written under gallery/<dataset>/ before the
// record. The K worst of a whole dataset are always among the K worst of some
// shard, so the report's gallery is the same for any number of shards, and
// resumed shards rewrite identical bytes.

import CTCore
import Foundation
import ImageIO
import LabelFiles
import Metrics

/// The score of one image, kept in its shard record (percentages x100).
public struct SampleScore: Codable, Sendable, Equatable {
    public var id: String
    /// The metrics group (dataset name, or `<name>/<condition>`).
    public var group: String
    /// Mean IoU over the classes present (labelled or predicted) in this image; nil when it has no labelled pixel.
    public var mIoU: Double?
    /// Correct / labelled pixels.
    public var aAcc: Double?
    /// Labelled (non-ignore) pixels.
    public var pixels: UInt64

    public init(id: String, group: String, metrics one: DatasetMetrics) {
        self.id = id
        self.group = group
        let m = one.metrics
        mIoU = m.meanIoU.map { $0 * 100 }
        aAcc = m.pixelAccuracy.map { $0 * 100 }
        pixels = (0 ..< one.matrix.classCount).reduce(0) { $0 + one.matrix.groundTruthPixels($1) }
    }

    /// Gallery order: lowest mIoU first, then sample id. Images without a score never enter.
    public static func worse(_ a: SampleScore, _ b: SampleScore) -> Bool {
        guard let x = a.mIoU else { return false }
        guard let y = b.mIoU else { return true }
        return x != y ? x < y : a.id < b.id
    }
}

/// Collects one shard's scores and the thumbnails of its worst images.
public struct ShardGallery {
    /// Images per group in the report's gallery (and kept per shard).
    public static let size = 8
    /// Thumbnail width in pixels (height keeps the aspect ratio).
    static let thumbnailWidth = 240

    struct Entry {
        var score: SampleScore
        var image: Image8
        var truth: Image8
        var prediction: Image8
    }

    public private(set) var scores: [SampleScore] = []
    private var worst: [String: [Entry]] = [:]

    public init() {}

    /// Scores one image. `image` is called only when the image enters the gallery
    /// (nil or a failure gives a grey panel: the gallery never fails a sample).
    public mutating func add(_ score: SampleScore, prediction: LabelMap, label: LabelMap, image: () -> Image8?) {
        scores.append(score)
        guard score.mIoU != nil else { return }
        var list = worst[score.group, default: []]
        if list.count >= Self.size, let last = list.last, !SampleScore.worse(score, last.score) { return }
        let (w, h) = Self.thumbnailSize(width: label.width, height: label.height)
        let picture = image().map { Self.rgb($0) }.map { Resize.bilinear($0, width: w, height: h) }
            ?? Image8(width: w, height: h, channels: 3, filledWith: 128)
        let entry = Entry(score: score, image: picture,
                          truth: LabelWriter.colorMask(Resize.nearest(label, width: w, height: h)),
                          prediction: LabelWriter.colorMask(Resize.nearest(prediction, width: w, height: h)))
        let at = list.firstIndex { SampleScore.worse(score, $0.score) } ?? list.count
        list.insert(entry, at: at)
        if list.count > Self.size { list.removeLast() }
        worst[score.group] = list
    }

    /// Writes the thumbnails (`gallery/<dataset>/<id>.{image,truth,prediction}.png`, each path
    /// checked by the run folder); returns the ids, worst first per group.
    public func write(into directory: RunDirectory, dataset: String) throws -> [String] {
        var ids: [String] = []
        for group in worst.keys.sorted() {
            for entry in worst[group]! {
                let stem = try directory.galleryFile(dataset: dataset, id: entry.score.id)
                for (picture, suffix) in [(entry.image, ".image.png"), (entry.truth, ".truth.png"), (entry.prediction, ".prediction.png")] {
                    try ImageFile.writePNG(picture, to: try directory.file(stem.dropLast() + [stem[stem.count - 1] + suffix]))
                }
                ids.append(entry.score.id)
            }
        }
        return ids
    }

    static func thumbnailSize(width: Int, height: Int) -> (Int, Int) {
        let w = min(thumbnailWidth, max(1, width))
        let h = max(1, Int((Double(height) * Double(w) / Double(max(1, width))).rounded()))
        return (w, h)
    }

    /// Grey or RGBA images as RGB.
    static func rgb(_ image: Image8) -> Image8 {
        if image.channels == 3 { return image }
        let n = image.width * image.height
        var out = [UInt8](repeating: 0, count: n * 3)
        for i in 0 ..< n {
            for c in 0 ..< 3 { out[3 * i + c] = image.pixels[i * image.channels + (image.channels >= 3 ? c : 0)] }
        }
        return Image8(width: image.width, height: image.height, channels: 3, pixels: out)
    }
}

extension RunDirectory {
    /// Thumbnails of the worst images: `gallery/<dataset>/`.
    public func galleryFolder(_ dataset: String) -> String { folder.joined(["gallery", dataset]) }
    /// The stem of one sample's thumbnails as components below the run folder (add `.image.png`,
    /// `.truth.png`, `.prediction.png` to the last); an id that would leave the folder is refused.
    public func galleryFile(dataset: String, id: String) throws(RunError) -> [String] {
        do { return try folder.checked(["gallery", dataset]) + (try folder.below(["gallery", dataset]).components(of: id)) } catch {
            throw RunError(error.description)
        }
    }
}
