// ActivationKernels.swift — bias and activation fused into one pass after a GEMM.
//
// GEMMs write x·W^T without bias; these kernels add the bias on the way
// through the activation so every hidden element is touched once:
// `biasGELU` after fc1, `biasSwiGLU` after the fused w12 of SwiGLU FFNs,
// `addBias` after layers with no activation (qkv).

public enum ActivationKernels {
    /// h[r, c] = GELU(h[r, c] + bias[c]), exact erf form; h is rows x cols.
    public static func biasGELU(_ h: UnsafeMutablePointer<Float>, rows: Int, cols: Int, bias: UnsafePointer<Float>, threads: Int) {
        Threading.parallelFor(rows, threads: threads, grain: max(1, 4096 / cols)) { range in
            let vectorEnd = cols & ~(Vec.scalarCount - 1)
            for r in range {
                let p = h + r * cols
                var i = 0
                while i < vectorEnd {
                    storeVec(FastMath.gelu(loadVec(p + i) + loadVec(bias + i)), p + i)
                    i += Vec.scalarCount
                }
                while i < cols { p[i] = FastMath.gelu(p[i] + bias[i]); i += 1 }
            }
        }
    }

    /// y[r, c] += bias[c]; y is rows x cols.
    public static func addBias(_ y: UnsafeMutablePointer<Float>, rows: Int, cols: Int, bias: UnsafePointer<Float>, threads: Int) {
        Threading.parallelFor(rows, threads: threads, grain: max(1, 4096 / cols)) { range in
            let vectorEnd = cols & ~(Vec.scalarCount - 1)
            for r in range {
                let p = y + r * cols
                var i = 0
                while i < vectorEnd { storeVec(loadVec(p + i) + loadVec(bias + i), p + i); i += Vec.scalarCount }
                while i < cols { p[i] += bias[i]; i += 1 }
            }
        }
    }

    /// SwiGLU: u (rows x 2·hidden) holds [a | b] = x·W12^T; writes
    /// out[r, j] = SiLU(a + bias[j]) * (b + bias[hidden + j]) (rows x hidden).
    public static func biasSwiGLU(_ u: UnsafePointer<Float>, rows: Int, hidden: Int, bias: UnsafePointer<Float>,
                                  into out: UnsafeMutablePointer<Float>, threads: Int) {
        Threading.parallelFor(rows, threads: threads, grain: max(1, 4096 / hidden)) { range in
            for r in range {
                let a = u + r * 2 * hidden, b = a + hidden, o = out + r * hidden
                var j = 0
                while j + Vec.scalarCount <= hidden {
                    let x = loadVec(a + j) + loadVec(bias + j)
                    let g = loadVec(b + j) + loadVec(bias + hidden + j)
                    storeVec(x / (Vec(repeating: 1) + FastMath.exp(-x)) * g, o + j)
                    j += Vec.scalarCount
                }
                while j < hidden {
                    let x = a[j] + bias[j]
                    o[j] = x / (1 + FastMath.exp(-x)) * (b[j] + bias[hidden + j])
                    j += 1
                }
            }
        }
    }
}
