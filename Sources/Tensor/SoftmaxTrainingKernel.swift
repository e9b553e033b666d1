// SoftmaxTrainingKernel.swift — the row softmax of attention in training:
// the forward keeps each row's log-sum-exp so that the backward pass can
// rebuild the probabilities from the logits (P = exp(S - lse)) instead of
// storing a T x T matrix per head and block.

public enum SoftmaxTrainingKernel {
    /// In place: the row (cols values) becomes its softmax; returns log Σ exp(row) (natural log).
    @inline(__always)
    public static func softmaxRow(_ p: UnsafeMutablePointer<Float>, cols: Int) -> Float {
        let vectorEnd = cols & ~(Vec.scalarCount - 1)
        var maxV = Vec(repeating: -.infinity)
        var i = 0
        while i < vectorEnd { maxV = vmax(maxV, loadVec(p + i)); i += Vec.scalarCount }
        var m = maxV.max()
        while i < cols { m = Swift.max(m, p[i]); i += 1 }
        let sum = exponentiate(p, cols: cols, minus: m)
        let inv = 1 / sum
        let invV = Vec(repeating: inv)
        i = 0
        while i < vectorEnd { storeVec(loadVec(p + i) * invV, p + i); i += Vec.scalarCount }
        while i < cols { p[i] *= inv; i += 1 }
        return m + logf(sum)
    }

    /// In place: row[i] = exp(row[i] - shift); returns the sum of the results.
    @inline(__always)
    @discardableResult
    public static func exponentiate(_ p: UnsafeMutablePointer<Float>, cols: Int, minus shift: Float) -> Float {
        let vectorEnd = cols & ~(Vec.scalarCount - 1)
        let sV = Vec(repeating: shift)
        var sumV = Vec()
        var i = 0
        while i < vectorEnd {
            let e = FastMath.exp(loadVec(p + i) - sV)
            storeVec(e, p + i)
            sumV += e
            i += Vec.scalarCount
        }
        var sum = sumV.sum()
        if i < cols {
            var tail = Vec(repeating: -.infinity)
            for j in i ..< cols { tail[j - i] = p[j] - shift }
            let e = FastMath.exp(tail)
            for j in i ..< cols { p[j] = e[j - i]; sum += e[j - i] }
        }
        return sum
    }
}

@inline(__always)
private func logf(_ x: Float) -> Float { Float(log(Double(x))) }

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
