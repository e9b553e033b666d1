// SoftmaxTrainingKernel.swift — the row softmax of attention in training:
// the forward keeps each row's log-sum-exp so that the backward pass can
// rebuild the probabilities from the logits (P = exp(S - lse)) instead of
// storing a T x T matrix per head and block.

public enum SoftmaxTrainingKernel {
    /// In place: the row (cols values) becomes its softmax; returns log Σ exp(row) (natural log).
    @inline(__always)
    public static func softmaxRow(_ p: UnsafeMutablePointer<Float>, cols: Int) -> Float {
        let m = SoftmaxKernel.rowMax(p, cols: cols)
        let sum = SoftmaxKernel.exponentiate(p, cols: cols, minus: m)
        SoftmaxKernel.scaleRow(p, cols: cols, by: 1 / sum)
        return m + logf(sum)
    }

    /// In place: row[i] = exp(row[i] - shift); returns the sum of the results
    /// (the backward pass rebuilds probabilities with shift = log-sum-exp).
    @inline(__always)
    @discardableResult
    public static func exponentiate(_ p: UnsafeMutablePointer<Float>, cols: Int, minus shift: Float) -> Float {
        SoftmaxKernel.exponentiate(p, cols: cols, minus: shift)
    }
}

@inline(__always)
private func logf(_ x: Float) -> Float { Float(log(Double(x))) }

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
