// SoftmaxKernel.swift — row-wise softmax over a (possibly strided) matrix.
//
// Max, then exp(x - max) with the sum in the same pass, then (optionally) the
// division. Attention skips the division here and scales the much smaller
// P·V product instead (`unnormalised` returns 1/sum per row for that).

public enum SoftmaxKernel {
    /// In place: each of `rows` rows of `cols` values (row r starts at `x + r * ld`)
    /// becomes its softmax.
    public static func forward(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, ld: Int, threads: Int) {
        precondition(ld >= cols && cols > 0, "SoftmaxKernel.forward: cols \(cols), ld \(ld)")
        Threading.parallelFor(rows, threads: threads, grain: max(1, 8192 / cols)) { range in
            for r in range {
                let p = x + r * ld
                let inv = 1 / expRow(p, cols: cols)
                scaleRow(p, cols: cols, by: inv)
            }
        }
    }

    /// In place: each row becomes exp(x - max(row)); `inverseSums[r]` gets 1 / sum of that row.
    public static func unnormalised(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, ld: Int,
                                    inverseSums: UnsafeMutablePointer<Float>, threads: Int) {
        precondition(ld >= cols && cols > 0, "SoftmaxKernel.unnormalised: cols \(cols), ld \(ld)")
        Threading.parallelFor(rows, threads: threads, grain: max(1, 8192 / cols)) { range in
            unnormalisedSerial(x + range.lowerBound * ld, rows: range.count, cols: cols, ld: ld,
                               inverseSums: inverseSums + range.lowerBound)
        }
    }

    /// `unnormalised` on the calling thread only (for callers that already run in parallel).
    public static func unnormalisedSerial(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, ld: Int,
                                          inverseSums: UnsafeMutablePointer<Float>) {
        for r in 0 ..< rows { inverseSums[r] = 1 / expRow(x + r * ld, cols: cols) }
    }

    /// Like `unnormalisedSerial`, for rows that hold logits x log2(e) (attention folds the
    /// factor into its QK^T scale): each row becomes 2^(x - max) = e^(logit - max logit).
    public static func unnormalisedBase2Serial(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, ld: Int,
                                               inverseSums: UnsafeMutablePointer<Float>) {
        for r in 0 ..< rows { inverseSums[r] = 1 / exp2Row(x + r * ld, cols: cols) }
    }

    /// 2^(x - max) in place; returns the sum.
    @inline(__always)
    static func exp2Row(_ p: UnsafeMutablePointer<Float>, cols: Int) -> Float {
        let vectorEnd = cols & ~(Vec.scalarCount - 1)
        var maxV = Vec(repeating: -.infinity)
        var i = 0
        while i < vectorEnd { maxV = vmax(maxV, loadVec(p + i)); i += Vec.scalarCount }
        var m = maxV.max()
        while i < cols { m = Swift.max(m, p[i]); i += 1 }
        let mV = Vec(repeating: m)
        var sumV = Vec()
        i = 0
        while i < vectorEnd {
            let e = FastMath.exp2(loadVec(p + i) - mV)
            storeVec(e, p + i)
            sumV += e
            i += Vec.scalarCount
        }
        var sum = sumV.sum()
        if i < cols {
            var tail = Vec(repeating: -.infinity)
            for j in i ..< cols { tail[j - i] = p[j] - m }
            let e = FastMath.exp2(tail)
            for j in i ..< cols { p[j] = e[j - i]; sum += e[j - i] }
        }
        return sum
    }

    /// exp(x - max) in place; returns the sum.
    @inline(__always)
    static func expRow(_ p: UnsafeMutablePointer<Float>, cols: Int) -> Float {
        let vectorEnd = cols & ~(Vec.scalarCount - 1)
        var maxV = Vec(repeating: -.infinity)
        var i = 0
        while i < vectorEnd { maxV = vmax(maxV, loadVec(p + i)); i += Vec.scalarCount }
        var m = maxV.max()
        while i < cols { m = Swift.max(m, p[i]); i += 1 }
        let mV = Vec(repeating: m)
        var sumV = Vec()
        i = 0
        while i < vectorEnd {
            let e = FastMath.exp(loadVec(p + i) - mV)
            storeVec(e, p + i)
            sumV += e
            i += Vec.scalarCount
        }
        var sum = sumV.sum()
        if i < cols {
            var tail = Vec(repeating: -.infinity)
            for j in i ..< cols { tail[j - i] = p[j] - m }
            let e = FastMath.exp(tail)
            for j in i ..< cols { p[j] = e[j - i]; sum += e[j - i] }
        }
        return sum
    }

    @inline(__always)
    static func scaleRow(_ p: UnsafeMutablePointer<Float>, cols: Int, by s: Float) {
        let vectorEnd = cols & ~(Vec.scalarCount - 1)
        let sV = Vec(repeating: s)
        var i = 0
        while i < vectorEnd { storeVec(loadVec(p + i) * sV, p + i); i += Vec.scalarCount }
        while i < cols { p[i] *= s; i += 1 }
    }
}
