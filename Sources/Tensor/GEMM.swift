// GEMM.swift — single-precision matrix products through OpenBLAS.
//
// Row-major throughout. `sgemm` is one single-threaded product (it checks the
// leading dimensions, which BLAS would otherwise read past silently). `linear`
// is the PyTorch `x W^T` form every Linear layer uses; it splits the rows of x
// into one contiguous block per thread and runs one single-threaded
// sgemm per block (see Threading: OpenBLAS itself always runs on one thread).

import COpenBLAS

public enum GEMM {
    /// C (m x n) = alpha * op(A) * op(B) + beta * C, row-major.
    /// op(A) is m x k (A is k x m when `transA`), op(B) is k x n (B is n x k when `transB`).
    @inlinable
    public static func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                             alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        precondition(m >= 0 && n >= 0 && k >= 0, "GEMM.sgemm: negative size \(m)x\(n)x\(k)")
        precondition(lda >= max(1, transA ? m : k), "GEMM.sgemm: lda \(lda) too small")
        precondition(ldb >= max(1, transB ? k : n), "GEMM.sgemm: ldb \(ldb) too small")
        precondition(ldc >= max(1, n), "GEMM.sgemm: ldc \(ldc) too small")
        if m == 0 || n == 0 { return }
        Threading.ensureSingleThreadedBLAS()
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
                    beta, c, blasint(ldc))
    }

    /// y (rows x out) = x (rows x in) * W^T (+ beta * y), W stored (out, in) as in PyTorch.
    /// No bias: callers fuse it into the next elementwise pass. Rows are split
    /// over `threads` chunks (blocks of whole 16-row panels).
    ///
    /// `groups` > 1 treats x as that many stacked matrices of rows / groups rows
    /// (a batch of images) and cuts each exactly as a call with rows / groups rows
    /// would be cut: OpenBLAS's rounding depends on where a row sits inside the
    /// sgemm call (its micro-kernel tiles), so this keeps every image's result
    /// bit-identical to running it alone, at the cost of one weight packing per
    /// (image, block) call instead of per block.
    public static func linear(_ x: UnsafePointer<Float>, rows: Int, inFeatures: Int,
                              weight: UnsafePointer<Float>, outFeatures: Int,
                              into y: UnsafeMutablePointer<Float>, beta: Float = 0, groups: Int = 1, threads: Int) {
        precondition(groups >= 1 && rows % groups == 0, "GEMM.linear: \(rows) rows in \(groups) groups")
        let groupRows = rows / groups
        let panels = (groupRows + 15) / 16
        // Below ~2 MFLOP per chunk the split costs more than it saves.
        let grain = max(1, 2_000_000 / max(1, 32 * outFeatures * inFeatures))
        Threading.parallelForGroups(groups, count: panels, threads: threads, grain: grain) { group, range in
            let r0 = group * groupRows + range.lowerBound * 16
            let r1 = group * groupRows + min(range.upperBound * 16, groupRows)
            sgemm(transB: true, m: r1 - r0, n: outFeatures, k: inFeatures, a: x + r0 * inFeatures, lda: inFeatures,
                  b: weight, ldb: inFeatures, beta: beta, c: y + r0 * outFeatures, ldc: outFeatures)
        }
    }
}
