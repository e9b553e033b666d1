// LayerNormKernel.swift — row-wise LayerNorm, the fused forward.
//
// y = (x - mean) / sqrt(var + eps) * weight + bias over the last axis, biased
// variance, as torch.nn.LayerNorm. Two passes over a row that sits in cache:
// the mean, then the centred sums Σd and Σd² (d = x - mean) — the corrected
// two-pass algorithm, which also repairs the rounding of the first mean, so
// rows with a large common offset (the massive activations of deep ViT blocks)
// keep full precision — then one fused scale-and-shift pass. Rows are split across
// `threads` chunks; each row is reduced on one thread in a fixed order.

public enum LayerNormKernel {
    /// x (rows x cols) -> y (rows x cols). `y` may alias `x`.
    public static func forward(_ x: UnsafePointer<Float>, rows: Int, cols: Int,
                               weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, eps: Float,
                               into y: UnsafeMutablePointer<Float>, threads: Int) {
        precondition(cols > 0, "LayerNormKernel.forward: empty rows")
        Threading.parallelFor(rows, threads: threads, grain: max(1, 4096 / cols)) { range in
            for r in range {
                row(x + r * cols, cols: cols, weight: weight, bias: bias, eps: eps, into: y + r * cols)
            }
        }
    }

    @inline(__always)
    static func row(_ x: UnsafePointer<Float>, cols: Int, weight: UnsafePointer<Float>,
                    bias: UnsafePointer<Float>, eps: Float, into y: UnsafeMutablePointer<Float>) {
        let vectorEnd = cols & ~(Vec.scalarCount - 1)
        var acc = Vec()
        var i = 0
        while i < vectorEnd { acc += loadVec(x + i); i += Vec.scalarCount }
        var sum = acc.sum()
        while i < cols { sum += x[i]; i += 1 }
        let roughMean = sum / Float(cols)
        let roughV = Vec(repeating: roughMean)
        var accD = Vec(), accSq = Vec()
        i = 0
        while i < vectorEnd {
            let d = loadVec(x + i) - roughV
            accD += d
            accSq += d * d
            i += Vec.scalarCount
        }
        var sumD = accD.sum(), sumSq = accSq.sum()
        while i < cols { let d = x[i] - roughMean; sumD += d; sumSq += d * d; i += 1 }
        let correction = sumD / Float(cols)
        let mean = roughMean + correction
        let meanV = Vec(repeating: mean)
        let variance = max(sumSq / Float(cols) - correction * correction, 0)
        let inv = 1 / (variance + eps).squareRoot()
        let invV = Vec(repeating: inv)
        i = 0
        while i < vectorEnd {
            let v = (loadVec(x + i) - meanV) * invV
            storeVec(v * loadVec(weight + i) + loadVec(bias + i), y + i)
            i += Vec.scalarCount
        }
        while i < cols { y[i] = (x[i] - mean) * inv * weight[i] + bias[i]; i += 1 }
    }
}
