// Normalize.swift — mmseg `SegDataPreProcessor`: to float, per-channel
// (x - mean) / std in RGB order, planar (3, H, W) float32, then padding right
// and bottom to a fixed size (image 0 after normalisation, label 255).
//
// Arithmetic as torch on float32: float32(x) - float32(mean), then divided
// by float32(std). mmseg first swaps BGR to RGB; our images are RGB already.

import CTCore
import ImageIO

/// Per-channel normalisation into a planar float buffer, with optional padding.
public struct Normalize: Sendable, Hashable {
    public var mean: [Float]
    public var std: [Float]

    /// ImageNet statistics on the 0...255 scale, RGB order (the configs' values).
    public init(mean: [Float] = ImageNetStatistics.mean, std: [Float] = ImageNetStatistics.std) {
        self.mean = mean
        self.std = std
    }

    /// RGB image -> planar (3, padded.height, padded.width) float32; the area
    /// outside the image is 0. `padded` nil means the image's own size. Rows split over
    /// `threads` (the values do not depend on it).
    public func apply(image: Image8, paddedTo padded: ImageSize? = nil, threads: Int = 1) throws(AugmentError) -> [Float] {
        let c = image.channels, w = image.width, h = image.height
        guard c == mean.count, c == std.count else {
            throw AugmentError(stage: "Normalize",
                               reason: "image has \(c) channels but mean/std have \(mean.count)/\(std.count)")
        }
        let out = padded ?? ImageSize(width: w, height: h)
        guard out.width >= w, out.height >= h else {
            throw AugmentError(stage: "Normalize",
                               reason: "image \(w)x\(h) is larger than the padded size \(out)")
        }
        let plane = out.width * out.height
        var result = [Float](repeating: 0, count: c * plane)
        let mean = self.mean, std = self.std
        image.pixels.withUnsafeBufferPointer { source in
            result.withUnsafeMutableBufferPointer { target in
                // Read only / each chunk its own rows, while this call waits for the chunks.
                nonisolated(unsafe) let src = source.baseAddress!, dst = target.baseAddress!
                @Sendable func rows(_ rows: Range<Int>) {
                    for k in 0 ..< c {
                        let m = mean[k], s = std[k]
                        for y in rows {
                            let srow = src + y * w * c + k, drow = dst + k * plane + y * out.width
                            for x in 0 ..< w { drow[x] = (Float(srow[x * c]) - m) / s }
                        }
                    }
                }
                RowChunks.forEach(h, threads: threads, rows)
            }
        }
        return result
    }

    /// Pads a label map right and bottom with `fill` (255 = ignore).
    public static func pad(label: LabelMap, to size: ImageSize, fill: UInt8 = 255) throws(AugmentError) -> [UInt8] {
        guard size.width >= label.width, size.height >= label.height, label.channels == 1 else {
            throw AugmentError(stage: "Normalize",
                               reason: "label \(label.width)x\(label.height)x\(label.channels) cannot be padded to \(size)")
        }
        if size.width == label.width && size.height == label.height { return label.pixels }
        var out = [UInt8](repeating: fill, count: size.width * size.height)
        label.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0 ..< label.height {
                    for x in 0 ..< label.width { dst[y * size.width + x] = src[y * label.width + x] }
                }
            }
        }
        return out
    }
}
