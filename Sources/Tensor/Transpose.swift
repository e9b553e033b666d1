// Transpose.swift — cache-blocked matrix transposes between the token-major
// residual stream (N x C) and the channel-major planes (C x N) the DCT runs on.
// 32 x 32 tiles; tiles of rows split over `threads` chunks.

public enum Transpose {
    static let tile = 32

    /// y (cols x rows) = xᵀ for x (rows x cols). Must not overlap.
    public static func apply(_ x: UnsafePointer<Float>, rows: Int, cols: Int, into y: UnsafeMutablePointer<Float>, threads: Int) {
        let t = tile
        Threading.parallelFor((rows + t - 1) / t, threads: threads, grain: max(1, 16384 / max(cols * t, 1))) { range in
            for rb in range {
                let r0 = rb * t, r1 = min(r0 + t, rows)
                var c0 = 0
                while c0 < cols {
                    let c1 = min(c0 + t, cols)
                    // Contiguous writes, strided reads: power-of-two strided writes
                    // (rows = 1024) alias in the cache and cost 5x.
                    for c in c0 ..< c1 {
                        let dst = y + c * rows
                        for r in r0 ..< r1 { dst[r] = x[r * cols + c] }
                    }
                    c0 = c1
                }
            }
        }
    }

    /// y (rows x cols) += alpha · xᵀ for x (cols x rows). Must not overlap.
    public static func addScaled(_ x: UnsafePointer<Float>, rows: Int, cols: Int, alpha: Float, into y: UnsafeMutablePointer<Float>, threads: Int) {
        let t = tile
        Threading.parallelFor((rows + t - 1) / t, threads: threads, grain: max(1, 16384 / max(cols * t, 1))) { range in
            for rb in range {
                let r0 = rb * t, r1 = min(r0 + t, rows)
                var c0 = 0
                while c0 < cols {
                    let c1 = min(c0 + t, cols)
                    for c in c0 ..< c1 {
                        let src = x + c * rows
                        for r in r0 ..< r1 { y[r * cols + c] += alpha * src[r] }
                    }
                    c0 = c1
                }
            }
        }
    }
}
