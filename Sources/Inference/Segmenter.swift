// Segmenter.swift — whole-image inference (method.md §5, datasets.md §8): an RGB
// image already resized by the test pipeline -> trainId label map at a requested
// output size.
//
//   normalise -> windows of crop x crop at stride (clamped to the border; a side
//   below the crop is padded with 0 after normalisation) -> per-window logits
//   (K, crop, crop), padded part dropped -> summed and divided by the per-pixel
//   window count -> bilinear (align_corners=False) to the output size -> argmax.
//
// `Segmenter` is an immutable Sendable value shared by all workers; each worker
// owns a `SegmenterWorkspace` (the activation arenas, made once per window shape).

import CTCore
import Foundation
import ImageIO
import Model
import Tensor

/// Why an image could not be segmented.
public struct InferenceError: ReasonedError, Equatable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
}

/// A worker's arenas, kept between images (one per window shape), the buffers of
/// the window-averaged scores (grown to the largest image, reused: a 19-class
/// 1024 x 512 image sums into 40 MB that would otherwise be allocated and
/// faulted in on one thread for every image), and the threads every step of its
/// forward passes splits into. Not shared between threads.
public final class SegmenterWorkspace {
    public let threads: Int
    var arenas: [Int: any WindowArena] = [:]
    var scoreSum: [Float] = [], windowCount: [Float] = []
    public init(threads: Int) { self.threads = max(1, threads) }
}

public struct Segmenter: Sendable {
    /// The network whose window scores are averaged: the linear-head model or the Mask2Former model.
    public let network: any WindowNetwork
    public let window: SlidingWindow

    /// A segmenter for the linear-head `model`; the crop must be a multiple of the patch size.
    public init(model: SegmentationModel, window: SlidingWindow = SlidingWindow()) throws(InferenceError) {
        try self.init(network: model, window: window)
    }

    /// A segmenter for any window network; the crop must be a multiple of its patch size and give a
    /// patch grid the adapter runs on (the haar transform: power-of-two sides).
    public init(network model: any WindowNetwork, window: SlidingWindow = SlidingWindow()) throws(InferenceError) {
        let p = model.patchSize
        guard window.crop > 0, window.stride > 0 else {
            throw InferenceError("crop \(window.crop) and stride \(window.stride) must be positive")
        }
        guard window.crop % p == 0 else {
            throw InferenceError("crop \(window.crop) is not a multiple of the patch size \(p); use a crop such as \(window.crop / p * p) or \((window.crop / p + 1) * p), or convert the weights to patch 16 (ctpipe convert-weights IN OUT --patch-size 16 --grid 32)")
        }
        // Every window is crop x crop (smaller images are padded), so its patch grid is known now.
        if let problem = model.adaptedBackbone.adapter?.config.gridProblem(height: window.crop / p, width: window.crop / p) {
            throw InferenceError("crop \(window.crop): \(problem)")
        }
        self.network = model
        self.window = window
    }

    /// The label map (trainIds, `outputHeight` x `outputWidth`) of an RGB image.
    public func segment(_ image: Image8, outputHeight: Int, outputWidth: Int,
                        workspace: SegmenterWorkspace) throws(InferenceError) -> LabelMap {
        guard outputHeight > 0, outputWidth > 0 else {
            throw InferenceError("output size \(outputWidth)x\(outputHeight) must be positive")
        }
        let logits = try self.logits(image, workspace: workspace)
        return labels(logits, height: image.height, width: image.width, outputHeight: outputHeight, outputWidth: outputWidth,
                      threads: workspace.threads)
    }

    /// The label map of normalised planes (3, H, W) (e.g. the test pipeline's output).
    public func segment(normalised planes: [Float], height: Int, width: Int, outputHeight: Int, outputWidth: Int,
                        workspace: SegmenterWorkspace) throws(InferenceError) -> LabelMap {
        guard outputHeight > 0, outputWidth > 0 else {
            throw InferenceError("output size \(outputWidth)x\(outputHeight) must be positive")
        }
        // The workspace's buffers, taken out while they are filled (one owner, no copy).
        var sum = workspace.scoreSum, count = workspace.windowCount
        (workspace.scoreSum, workspace.windowCount) = ([], [])
        defer { (workspace.scoreSum, workspace.windowCount) = (sum, count) }
        try average(normalised: planes, height: height, width: width, into: &sum, counts: &count, workspace: workspace)
        return labels(sum, height: height, width: width, outputHeight: outputHeight, outputWidth: outputWidth,
                      threads: workspace.threads)
    }

    /// argmax over classes of the logits (K, H, W; `logits` may be longer) resized bilinearly to the output size.
    public func labels(_ logits: [Float], height: Int, width: Int, outputHeight: Int, outputWidth: Int, threads: Int) -> LabelMap {
        var labels = [UInt8](repeating: 0, count: outputHeight * outputWidth)
        logits.withUnsafeBufferPointer { l in
            labels.withUnsafeMutableBufferPointer { out in
                Bilinear.resizedArgmax(l.baseAddress!, planes: network.classes, height: height, width: width,
                                       toHeight: outputHeight, width: outputWidth, into: out.baseAddress!, threads: threads)
            }
        }
        return LabelMap(width: outputWidth, height: outputHeight, channels: 1, pixels: labels)
    }

    /// The window-averaged logits (K, H, W) of an RGB image at its own size.
    public func logits(_ image: Image8, workspace: SegmenterWorkspace) throws(InferenceError) -> [Float] {
        guard image.channels == 3 else {
            throw InferenceError("expected an RGB image, found \(image.channels) channel\(image.channels == 1 ? "" : "s")")
        }
        guard image.width > 0, image.height > 0 else { throw InferenceError("empty image") }
        return try logits(normalised: InputNormalization.planes(image), height: image.height, width: image.width, workspace: workspace)
    }

    /// The window-averaged logits (K, H, W) of normalised planes (3, H, W).
    public func logits(normalised planes: [Float], height: Int, width: Int,
                       workspace: SegmenterWorkspace) throws(InferenceError) -> [Float] {
        var sum: [Float] = [], count: [Float] = []
        try average(normalised: planes, height: height, width: width, into: &sum, counts: &count, workspace: workspace)
        return sum
    }

    /// The window-averaged logits (K, H, W) of normalised planes (3, H, W) in the first K·H·W floats of
    /// `sum`, with `count` as scratch; each is grown when shorter than it needs.
    private func average(normalised planes: [Float], height: Int, width: Int, into sum: inout [Float],
                         counts count: inout [Float], workspace: SegmenterWorkspace) throws(InferenceError) {
        guard planes.count == 3 * height * width else {
            throw InferenceError("input has \(planes.count) values, expected 3 x \(height) x \(width)")
        }
        let size = network.classes * height * width
        // Grown buffers are left unset: sumWindows sets every value it reads (zeroing the sums over the
        // threads, which faults the fresh pages in where they are used).
        if sum.count < size { sum = Self.scratch(size) }
        if count.count < height * width { count = Self.scratch(height * width) }
        try sum.withUnsafeMutableBufferPointer { s throws(InferenceError) in
            try count.withUnsafeMutableBufferPointer { n throws(InferenceError) in
                try sumWindows(normalised: planes, height: height, width: width, into: s.baseAddress!, counts: n.baseAddress!,
                               workspace: workspace)
            }
        }
    }

    /// `count` floats of scratch whose values are not set (a Float has no invalid bit pattern).
    private static func scratch(_ count: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
    }

    /// The window-averaged logits (K, H, W) of normalised planes (3, H, W) into `sum` (K·H·W floats), with
    /// `counts` (H·W floats) as scratch; neither needs to be zero. Every pass over the image splits over
    /// the workspace's threads.
    /// (A name of its own: `&array` would also convert to these pointers and pick this one for `average`.)
    private func sumWindows(normalised planes: [Float], height: Int, width: Int, into s: UnsafeMutablePointer<Float>,
                            counts n: UnsafeMutablePointer<Float>, workspace: SegmenterWorkspace) throws(InferenceError) {
        let crop = window.crop, k = network.classes, threads = workspace.threads, plane = height * width
        let arena = try self.arena(workspace)
        let windows = window.windows(height: height, width: width)
        // Zero the sums; count the windows over every pixel.
        Threading.zero(UnsafeMutableBufferPointer(start: s, count: k * plane), threads: threads)
        Threading.parallelFor(height, threads: threads, grain: 16) { rows in
            (n + rows.lowerBound * width).update(repeating: 0, count: rows.count * width)
            for w in windows where w.y0 < rows.upperBound && w.y1 > rows.lowerBound {
                for y in max(w.y0, rows.lowerBound) ..< min(w.y1, rows.upperBound) {
                    for x in w.x0 ..< w.x1 { n[y * width + x] += 1 }
                }
            }
        }
        var input = [Float](repeating: 0, count: 3 * crop * crop)
        for w in windows {
            // The window's pixels at the top-left of a zeroed crop x crop input.
            input.withUnsafeMutableBufferPointer { dst in
                planes.withUnsafeBufferPointer { src in
                    if w.height < crop || w.width < crop { dst.update(repeating: 0) }
                    for c in 0 ..< 3 {
                        for y in 0 ..< w.height {
                            (dst.baseAddress! + (c * crop + y) * crop).update(
                                from: src.baseAddress! + (c * height + w.y0 + y) * width + w.x0, count: w.width)
                        }
                    }
                }
            }
            let out: UnsafePointer<Float>
            do {
                out = try input.withUnsafeBufferPointer { try arena.scores($0) }
            } catch { throw InferenceError("window \(w): \(error)") }
            Threading.parallelFor(k, threads: threads) { range in
                for c in range {
                    for y in 0 ..< w.height {
                        let from = out + (c * crop + y) * crop, to = s + (c * height + w.y0 + y) * width + w.x0
                        for x in 0 ..< w.width { to[x] += from[x] }
                    }
                }
            }
        }
        Threading.parallelFor(k, threads: threads) { range in
            for c in range {
                for i in 0 ..< plane { s[c * plane + i] /= n[i] }
            }
        }
    }

    func arena(_ workspace: SegmenterWorkspace) throws(InferenceError) -> any WindowArena {
        if let a = workspace.arenas[window.crop] { return a }
        do {
            let a = try network.makeWindowArena(side: window.crop, threads: workspace.threads)
            workspace.arenas[window.crop] = a
            return a
        } catch { throw InferenceError(error.reason) }
    }
}
