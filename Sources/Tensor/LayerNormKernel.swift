// LayerNormKernel.swift — row-wise LayerNorm, the fused forward.
//
// y = (x - mean) / sqrt(var + eps) * weight + bias over the last axis, biased
// variance, as torch.nn.LayerNorm. Two passes over a row that sits in cache
// (mean, then centred variance — robust to the large activations of deep ViT
// blocks), then one fused scale-and-shift pass. Rows are split across the
// kernel threads; each row is reduced on one thread in a fixed order.

public enum LayerNormKernel {
    /// x (rows x cols) -> y (rows x cols). `y` may alias `x`.
    public static func forward(_ x: UnsafePointer<Float>, rows: Int, cols: Int,
                               weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, eps: Float,
                               into y: UnsafeMutablePointer<Float>) {
        precondition(cols > 0, "LayerNormKernel.forward: empty rows")
        Threading.parallelFor(rows, grain: max(1, 4096 / cols)) { range in
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
        let mean = sum / Float(cols)
        let meanV = Vec(repeating: mean)
        var accSq = Vec()
        i = 0
        while i < vectorEnd { let d = loadVec(x + i) - meanV; accSq += d * d; i += Vec.scalarCount }
        var sumSq = accSq.sum()
        while i < cols { let d = x[i] - mean; sumSq += d * d; i += 1 }
        let inv = 1 / (sumSq / Float(cols) + eps).squareRoot()
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
