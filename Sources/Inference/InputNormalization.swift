// InputNormalization.swift — 8-bit RGB pixels to the network's input planes
// (method.md §5): (v - mean) / std per channel, RGB order, with the
// statistics of CTCore's `ImageNetStatistics`.

import CTCore
import ImageIO

public enum InputNormalization {
    /// (3, H, W) planes of a 3-channel image.
    public static func planes(_ image: Image8) -> [Float] {
        precondition(image.channels == 3, "InputNormalization.planes: \(image.channels) channels")
        let n = image.width * image.height
        var out = [Float](repeating: 0, count: 3 * n)
        image.pixels.withUnsafeBufferPointer { px in
            out.withUnsafeMutableBufferPointer { o in
                for c in 0 ..< 3 {
                    let m = ImageNetStatistics.mean[c], s = ImageNetStatistics.std[c], plane = o.baseAddress! + c * n
                    for i in 0 ..< n { plane[i] = (Float(px[i * 3 + c]) - m) / s }
                }
            }
        }
        return out
    }
}
