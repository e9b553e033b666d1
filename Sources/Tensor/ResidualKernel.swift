// ResidualKernel.swift — the LayerScale residual update of a transformer block.
//
// x += gamma ⊙ (y + bias): the output projection's bias, the per-channel
// LayerScale and the residual add in one pass over the (tokens x C) stream.

public enum ResidualKernel {
    /// x[r, c] += gamma[c] * (y[r, c] + bias[c]); x and y are rows x cols.
    public static func addScaled(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, rows: Int, cols: Int,
                                 bias: UnsafePointer<Float>, gamma: UnsafePointer<Float>, threads: Int) {
        Threading.parallelFor(rows, threads: threads, grain: max(1, 4096 / cols)) { range in
            let vectorEnd = cols & ~(Vec.scalarCount - 1)
            for r in range {
                let xp = x + r * cols, yp = y + r * cols
                var i = 0
                while i < vectorEnd {
                    storeVec(loadVec(xp + i) + loadVec(gamma + i) * (loadVec(yp + i) + loadVec(bias + i)), xp + i)
                    i += Vec.scalarCount
                }
                while i < cols { xp[i] += gamma[i] * (yp[i] + bias[i]); i += 1 }
            }
        }
    }
}
