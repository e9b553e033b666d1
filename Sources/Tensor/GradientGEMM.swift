// GradientGEMM.swift — the two products of every Linear backward pass, in
// PyTorch layout (W stored (out, in), y = x Wᵀ):
//   input gradient   dX (rows x in) = dY (rows x out) · W       rows split over `threads` chunks
//   weight gradient  dW (out x in) += dYᵀ · X                    rows of dW split over `threads` chunks
// Each output element is produced by one single-threaded sgemm call, so the
// result does not depend on scheduling (threading.md).

public enum GradientGEMM {
    /// dX (rows x inFeatures) = dY W (+ beta dX); dY has leading dimension `ldy`, dX `ldx`.
    public static func input(_ dy: UnsafePointer<Float>, ldy: Int, rows: Int, outFeatures: Int, weight: UnsafePointer<Float>,
                      inFeatures: Int, into dx: UnsafeMutablePointer<Float>, ldx: Int, beta: Float = 0, threads: Int) {
        GEMM.rows(m: rows, n: inFeatures, k: outFeatures, a: dy, lda: ldy, b: weight, ldb: inFeatures, beta: beta, c: dx, ldc: ldx, threads: threads)
    }

    /// C (m x n) = alpha · Aᵀ B + beta · C with A (k x m, leading dimension lda) and B (k x n, ldb):
    /// the weight-gradient form dW += dYᵀ X. Rows of C are split over `threads` chunks.
    public static func transposedA(m: Int, n: Int, k: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int) {
        guard m > 0, n > 0 else { return }
        if k == 0 {
            if beta != 1 { for r in 0 ..< m { for j in 0 ..< n { c[r * ldc + j] *= beta } } }
            return
        }
        let grain = max(1, 2_000_000 / max(1, 2 * n * k))
        Threading.parallelFor(m, threads: threads, grain: grain) { range in
            GEMM.sgemm(transA: true, m: range.count, n: n, k: k, alpha: alpha, a: a + range.lowerBound, lda: lda,
                       b: b, ldb: ldb, beta: beta, c: c + range.lowerBound * ldc, ldc: ldc)
        }
    }

    /// dW (out x in) += dYᵀ X, dY (rows x out), X (rows x in).
    public static func weight(_ dy: UnsafePointer<Float>, ldy: Int, rows: Int, outFeatures: Int, x: UnsafePointer<Float>, ldx: Int,
                       inFeatures: Int, into dw: UnsafeMutablePointer<Float>, threads: Int) {
        transposedA(m: outFeatures, n: inFeatures, k: rows, a: dy, lda: ldy, b: x, ldb: ldx, beta: 1, c: dw, ldc: inFeatures, threads: threads)
    }
}
