// GEMMRows.swift — a general row-split product for strided operands.
//
// `GEMM.linear` covers x Wᵀ with contiguous rows; the adapter also multiplies
// strided views (the attention weights without their sink column, S[:, 1:])
// by plain matrices. Same split as `linear`: rows of A and C cut into blocks of
// whole `GEMM.rowPanel`-row panels, one single-threaded sgemm per thread.

extension GEMM {
    /// C (m x n) = op(A) · op(B) + beta · C, row-major with leading dimensions; op(A) is
    /// m x k (A is k x m when `transA`), op(B) is k x n (B is n x k when `transB`).
    /// Rows of op(A) and C are split over `threads` chunks.
    public static func rows(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, transA: Bool = false,
                            b: UnsafePointer<Float>, ldb: Int, transB: Bool = false,
                            beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int) {
        guard m > 0, n > 0 else { return }
        let panel = rowPanel
        let panels = (m + panel - 1) / panel
        let grain = max(1, 2_000_000 / max(1, 2 * panel * n * max(k, 1)))
        Threading.parallelFor(panels, threads: threads, grain: grain) { range in
            let r0 = range.lowerBound * panel, r1 = min(range.upperBound * panel, m)
            sgemm(transA: transA, transB: transB, m: r1 - r0, n: n, k: k, a: a + (transA ? r0 : r0 * lda), lda: lda,
                  b: b, ldb: ldb,
                  beta: beta, c: c + r0 * ldc, ldc: ldc)
        }
    }
}
