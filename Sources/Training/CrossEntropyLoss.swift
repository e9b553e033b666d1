// CrossEntropyLoss.swift — pixel-wise cross-entropy over planar logits with an
// ignore index (method.md §4), forward and backward in one pass.
//
// For each pixel whose label is not `ignore`: loss = logsumexp(z) - z_label,
// gradient (softmax(z) - onehot(label)) · scale; ignored pixels get gradient 0
// (the pixel loop: Tensor.CrossEntropyKernel, 16 pixels per vector).
// The caller picks `scale` = 1 / (non-ignored pixels of the whole batch), so
// the summed gradients are those of the batch mean. Per-pixel losses are
// accumulated in double precision per chunk, and the chunks in order.

import Foundation
import Tensor

public enum CrossEntropyLoss {
    /// The label value that contributes nothing.
    public static let ignoreIndex: UInt8 = 255

    /// Non-ignored pixels of a label map.
    public static func validPixels(_ labels: [UInt8]) -> Int {
        labels.reduce(0) { $0 + ($1 == ignoreIndex ? 0 : 1) }
    }

    /// logits (K, P) planar, labels (P). Returns the summed loss over non-ignored pixels (double)
    /// and their count; writes the gradient times `scale` into `gradient` (K, P), when given.
    /// Pixels split over at most `threads` chunks.
    public static func evaluate(logits: UnsafePointer<Float>, classes k: Int, pixels: Int, labels: UnsafePointer<UInt8>,
                                scale: Float, gradient: UnsafeMutablePointer<Float>?, threads: Int) throws(TrainingError) -> (loss: Double, count: Int) {
        for i in 0 ..< pixels where labels[i] != ignoreIndex && Int(labels[i]) >= k {
            throw TrainingError("label value \(labels[i]) at pixel \(i) is not a class of a \(k)-class model (0...\(k - 1), or \(ignoreIndex) to ignore)")
        }
        let chunks = max(1, min(threads, pixels / 4096))
        var sums = [Double](repeating: 0, count: chunks)
        var counts = [Int](repeating: 0, count: chunks)
        sums.withUnsafeMutableBufferPointer { sums in
            counts.withUnsafeMutableBufferPointer { counts in
                let sums = sums.baseAddress!, counts = counts.baseAddress!
                Threading.forEachWorker(chunks) { chunk in
                    let lower = pixels * chunk / chunks, upper = pixels * (chunk + 1) / chunks
                    let (total, n) = CrossEntropyKernel.evaluate(logits: logits, classes: k, pixels: pixels, labels: labels,
                                                                 ignore: ignoreIndex, range: lower ..< upper, scale: scale,
                                                                 gradient: gradient)
                    sums[chunk] = total
                    counts[chunk] = n
                }
            }
        }
        return (sums.reduce(0, +), counts.reduce(0, +))
    }
}
