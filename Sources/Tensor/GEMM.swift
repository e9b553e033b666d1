// GEMM.swift — single-precision matrix products: ctpipe's own AVX-512 kernel
// (CKernels, ct_sgemm.c) on CPUs that have AVX-512, OpenBLAS otherwise.
//
// Row-major throughout. `sgemm` is one single-threaded product (it checks the
// leading dimensions, which BLAS would otherwise read past silently). `linear`
// is the PyTorch `x W^T` form every Linear layer uses; it splits the rows of x
// into one contiguous block per thread and runs one single-threaded
// sgemm per block (see Threading: OpenBLAS itself always runs on one thread).
//
// The kernel is chosen once per process (`GEMM.kernel`, recorded in
// environment.json and ctbench's reports): ctpipe's when the CPU has AVX-512
// F/DQ/BW/VL (OpenBLAS's AVX-512 kernels are not used: the workplace pins
// OpenBLAS to its AVX2 "Haswell" kernels), OpenBLAS otherwise.
// CTPIPE_GEMM=openblas in the environment forces OpenBLAS (A/B comparisons);
// CTPIPE_GEMM=auto or unset is the default. ctpipe's kernel sums every element
// of C in an order that depends only on k (ct_sgemm.c), so row splits and
// thread counts do not change a single bit; OpenBLAS's rounding of a row
// depends on where the row sits inside the call.

import COpenBLAS
import CKernels
import Foundation

/// The code that runs `GEMM.sgemm`.
public enum GEMMKernel: String, Sendable, Codable, CaseIterable {
    /// ctpipe's blocked AVX-512 SGEMM (ct_sgemm.c).
    case ctpipeAVX512 = "ctpipe-avx512"
    /// OpenBLAS's cblas_sgemm (its kernel family: BuildTarget.blasKernels).
    case openBLAS = "openblas"
}

public enum GEMM {
    /// Whether this CPU can run ctpipe's AVX-512 kernel.
    public static let avx512Available: Bool = ct_sgemm_available() != 0

    /// The kernel every `sgemm` of this process runs, chosen on first use from the CPU and CTPIPE_GEMM.
    public static let kernel: GEMMKernel = {
        let choice = chooseKernel(setting: ProcessInfo.processInfo.environment["CTPIPE_GEMM"],
                                  avx512Available: avx512Available)
        if let warning = choice.warning {
            FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
        }
        return choice.kernel
    }()

    /// Rows per panel when a product's rows are split over threads: the kernel's tile height
    /// (ctpipe's MR = 14; 16 for OpenBLAS), so no thread's block ends in a partial tile but its last.
    public static let rowPanel: Int = kernel == .ctpipeAVX512 ? ct_sgemm_mr() : 16

    /// The kernel for a CTPIPE_GEMM value (nil: unset) on a CPU with or without AVX-512, and a warning
    /// when the value is not one of "auto", "openblas", "ctpipe-avx512" or cannot be honoured.
    public static func chooseKernel(setting: String?, avx512Available: Bool) -> (kernel: GEMMKernel, warning: String?) {
        let automatic: GEMMKernel = avx512Available ? .ctpipeAVX512 : .openBLAS
        switch setting?.lowercased() {
        case nil, "", "auto": return (automatic, nil)
        case "openblas": return (.openBLAS, nil)
        case "ctpipe-avx512":
            return avx512Available ? (.ctpipeAVX512, nil)
                : (.openBLAS, "CTPIPE_GEMM=ctpipe-avx512 needs a CPU with AVX-512 F/DQ/BW/VL; using OpenBLAS")
        case let other?:
            return (automatic, "CTPIPE_GEMM=\(other) is not auto, openblas or ctpipe-avx512; using \(automatic.rawValue)")
        }
    }

    /// C (m x n) = alpha * op(A) * op(B) + beta * C, row-major, on the calling thread, with `GEMM.kernel`.
    /// op(A) is m x k (A is k x m when `transA`), op(B) is k x n (B is n x k when `transB`).
    /// beta == 0 never reads C.
    public static func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                             alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        sgemm(using: kernel, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
              b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }

    /// `sgemm` with a given kernel (tests and benchmarks compare them). `.ctpipeAVX512` runs OpenBLAS
    /// where it cannot run (no AVX-512, or its packing buffers could not be allocated).
    public static func sgemm(using kernel: GEMMKernel, transA: Bool = false, transB: Bool = false,
                             m: Int, n: Int, k: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        precondition(m >= 0 && n >= 0 && k >= 0, "GEMM.sgemm: negative size \(m)x\(n)x\(k)")
        precondition(lda >= max(1, transA ? m : k), "GEMM.sgemm: lda \(lda) too small")
        precondition(ldb >= max(1, transB ? k : n), "GEMM.sgemm: ldb \(ldb) too small")
        precondition(ldc >= max(1, n), "GEMM.sgemm: ldc \(ldc) too small")
        if m == 0 || n == 0 { return }
        if kernel == .ctpipeAVX512,
           ct_sgemm(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) == 0 {
            return
        }
        Threading.ensureSingleThreadedBLAS()
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
                    beta, c, blasint(ldc))
    }

    /// y (rows x out) = x (rows x in) * W^T (+ beta * y), W stored (out, in) as in PyTorch.
    /// No bias: callers fuse it into the next elementwise pass. Rows are split
    /// over `threads` chunks (blocks of whole `rowPanel`-row panels).
    ///
    /// With ctpipe's kernel every element is summed in the same order whatever
    /// the split, so the result is bit-identical for any thread count. With
    /// OpenBLAS a row's rounding depends on where it sits inside the sgemm call
    /// (its micro-kernel tiles), so the thread count can change last bits.
    ///
    /// `groups` > 1 treats x as that many stacked matrices of rows / groups rows
    /// (a batch of images) and cuts each exactly as a call with rows / groups rows
    /// would be cut, which keeps every image's result bit-identical to running it
    /// alone with either kernel, at the cost of one weight packing per (image,
    /// block) call instead of per block.
    public static func linear(_ x: UnsafePointer<Float>, rows: Int, inFeatures: Int,
                              weight: UnsafePointer<Float>, outFeatures: Int,
                              into y: UnsafeMutablePointer<Float>, beta: Float = 0, groups: Int = 1, threads: Int) {
        precondition(groups >= 1 && rows % groups == 0, "GEMM.linear: \(rows) rows in \(groups) groups")
        let groupRows = rows / groups
        let panel = rowPanel
        let panels = (groupRows + panel - 1) / panel
        // Below ~2 MFLOP per chunk the split costs more than it saves.
        let grain = max(1, 2_000_000 / max(1, 2 * panel * outFeatures * inFeatures))
        Threading.parallelForGroups(groups, count: panels, threads: threads, grain: grain) { group, range in
            let r0 = group * groupRows + range.lowerBound * panel
            let r1 = group * groupRows + min(range.upperBound * panel, groupRows)
            sgemm(transB: true, m: r1 - r0, n: outFeatures, k: inFeatures, a: x + r0 * inFeatures, lda: inFeatures,
                  b: weight, ldb: inFeatures, beta: beta, c: y + r0 * outFeatures, ldc: outFeatures)
        }
    }
}
