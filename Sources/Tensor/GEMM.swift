// GEMM.swift — single-precision matrix products through OpenBLAS.
//
// Row-major throughout. `sgemm` is the one entry point (it checks the leading
// dimensions, which BLAS would otherwise read past silently); `linear` is the
// PyTorch `x W^T` form every Linear layer uses; `batched` runs one product per
// attention head over strided views of a packed qkv matrix.

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
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
                    beta, c, blasint(ldc))
    }

    /// y (rows x out) = x (rows x in) * W^T (+ beta * y), W stored (out, in) as in PyTorch.
    /// No bias: callers fuse it into the next elementwise pass.
    @inlinable
    public static func linear(_ x: UnsafePointer<Float>, rows: Int, inFeatures: Int,
                              weight: UnsafePointer<Float>, outFeatures: Int,
                              into y: UnsafeMutablePointer<Float>, beta: Float = 0) {
        sgemm(transB: true, m: rows, n: outFeatures, k: inFeatures, a: x, lda: inFeatures,
              b: weight, ldb: inFeatures, beta: beta, c: y, ldc: outFeatures)
    }
}
