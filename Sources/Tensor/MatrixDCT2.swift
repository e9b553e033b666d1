// MatrixDCT2.swift — the orthonormal 2-D DCT-II and its inverse of token-major
// data (N x C: grid cell (x, y) of an h x w grid at row x·w + y, C channels per
// row) as matrix products: Causal-Tune's transform of the residual stream
// (method.md §2.1) without leaving the stream's layout.
//
// With D_n the orthonormal DCT-II matrix (D[k][j] = a(k) cos(π(2j+1)k / 2n),
// a(0) = √(1/n), a(k>0) = √(2/n)) the transform of one channel plane X is
// D_h X D_wᵀ, and the two factors act on different axes:
//   1. along x: viewing the N x C block as h rows of w·C values, T = D_h · X is
//      one product (h x h by h x w·C), its columns split over the threads;
//   2. along y: for every row u of T, its w x C block Y_u = D_w · T_u — h
//      products (w x w by w x C), spread over the threads; the per-frequency
//      weights scale each output row (u, v) in the product's epilogue.
// The inverse is the transpose: D_wᵀ · diag(weights) per block (the weights
// folded into the small factor), then D_hᵀ, which can add α times its result
// into the output instead of storing it (the adapter's residual). The products
// run on ct_small_left (CKernels: the small DCT matrix times the stream read in
// place) where this process's GEMM is ctpipe's AVX-512 kernel, on sgemm
// otherwise (PassKernel). At 32 x 32 x 384 that is 2 x 25 MFLOP a direction.
// Each output element is one dot product of fixed length (h or w) summed in
// order, so the result does not depend on how the work is split.

public struct MatrixDCT2: Sendable {
    public let height: Int
    public let width: Int
    public let channels: Int
    /// Threads each product splits over (the workspace's count).
    public let threads: Int
    /// What runs the axis passes.
    public enum PassKernel: Sendable {
        /// ct_small_left (CKernels): B read in place, no packing; needs AVX-512 and sides ≤ 64.
        case smallLeft
        /// GEMM.sgemm, then the weights in a separate pass over the rows.
        case sgemm
    }
    public let kernel: PassKernel
    /// D_h (h x h) and D_w (w x w), row-major.
    let rowMatrix: [Float], columnMatrix: [Float]

    /// `kernel` nil: ct_small_left where this process's GEMM is ctpipe's AVX-512 kernel and both sides
    /// are at most `ct_small_left_max()`, sgemm otherwise (a requested smallLeft it cannot run too).
    public init(height: Int, width: Int, channels: Int, threads: Int, kernel: PassKernel? = nil) {
        precondition(height > 0 && width > 0 && channels > 0, "MatrixDCT2: grid \(height)x\(width), \(channels) channels")
        self.height = height
        self.width = width
        self.channels = channels
        self.threads = max(1, threads)
        let small = GEMM.kernel == .ctpipeAVX512 && max(height, width) <= ct_small_left_max()
        self.kernel = small && kernel != .sgemm ? .smallLeft : .sgemm
        rowMatrix = Self.matrix(height)
        columnMatrix = Self.matrix(width)
    }

    /// Frequencies (grid cells) N = h·w.
    public var count: Int { height * width }

    /// The orthonormal DCT-II matrix of size n (row k: frequency k), computed in double precision.
    public static func matrix(_ n: Int) -> [Float] {
        var d = [Float](repeating: 0, count: n * n)
        for k in 0 ..< n {
            let a = k == 0 ? (1 / Double(n)).squareRoot() : (2 / Double(n)).squareRoot()
            for j in 0 ..< n { d[k * n + j] = Float(a * cos(Double.pi * Double((2 * j + 1) * k) / Double(2 * n))) }
        }
        return d
    }

    /// y (N x C) = weights ⊙ DCT2(x), rows scaled by weights[u·w + v] (nil: none). x (N x C) is not
    /// modified; `scratch` holds N·C floats; x, y and scratch must not overlap.
    public func forward(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, weights: UnsafePointer<Float>?,
                        scratch: UnsafeMutablePointer<Float>) {
        let h = height, w = width, c = channels, span = w * c
        rowMatrix.withUnsafeBufferPointer { dh in
            acrossRows(transA: false, dh.baseAddress!, x, into: scratch, span: span, accumulate: nil)
        }
        columnMatrix.withUnsafeBufferPointer { dw in
            let d = dw.baseAddress!
            Threading.parallelFor(h, threads: threads) { range in
                for u in range {
                    product(transA: false, m: w, n: c, k: w, d, b: scratch + u * span, ldb: c,
                            rowScale: weights.map { $0 + u * w }, into: y + u * span, ldc: c)
                }
            }
        }
    }

    /// x (N x C) = DCT2⁻¹(weights ⊙ y) (nil: no weights), or with `accumulate` = α:
    /// x += α · DCT2⁻¹(weights ⊙ y). y's values may be lost (the fallback path scales its rows in
    /// place); `scratch` holds N·C floats; x, y and scratch must not overlap.
    public func inverse(destroying y: UnsafeMutablePointer<Float>, into x: UnsafeMutablePointer<Float>,
                        weights: UnsafePointer<Float>?, scratch: UnsafeMutablePointer<Float>, accumulate: Float? = nil) {
        let h = height, w = width, c = channels, span = w * c
        columnMatrix.withUnsafeBufferPointer { dw in
            let d = dw.baseAddress!
            Threading.parallelFor(h, threads: threads) { range in
                for u in range {
                    product(transA: true, m: w, n: c, k: w, d, inputScale: weights.map { $0 + u * w },
                            b: y + u * span, ldb: c, into: scratch + u * span, ldc: c)
                }
            }
        }
        rowMatrix.withUnsafeBufferPointer { dh in
            acrossRows(transA: true, dh.baseAddress!, scratch, into: x, span: span, accumulate: accumulate)
        }
    }

    /// out (h x span) = op(D_h) · input (h x span) (with `accumulate` = α: out += α · ...), the
    /// span's columns split over the threads.
    private func acrossRows(transA: Bool, _ d: UnsafePointer<Float>, _ input: UnsafePointer<Float>,
                            into out: UnsafeMutablePointer<Float>, span: Int, accumulate: Float?) {
        let h = height
        // Column blocks of whole 48-float panels (the width of both kernels' tiles: ct_small_left's 48,
        // ctpipe's GEMM's 16 · 3); about 2 MFLOP per block at least.
        let panels = (span + 47) / 48
        let grain = max(1, 2_000_000 / max(1, 96 * h * h))
        Threading.parallelFor(panels, threads: threads, grain: grain) { range in
            let c0 = range.lowerBound * 48, c1 = min(range.upperBound * 48, span)
            product(transA: transA, m: h, n: c1 - c0, k: h, d, b: input + c0, ldb: span, alpha: accumulate ?? 1,
                    beta: accumulate == nil ? 0 : 1, into: out + c0, ldc: span)
        }
    }

    /// c (m x n) = α · diag(rowScale) · op(D) · diag(inputScale) · b + β · c for a DCT matrix D
    /// (m x k, or k x m when transA; rows of b ldb apart); a row scale only with β = 0. ct_small_left
    /// with `kernel` smallLeft, else sgemm (the input scale then applied to b's rows in place, the row
    /// scale to c's rows after).
    @inline(__always)
    func product(transA: Bool, m: Int, n: Int, k: Int, _ d: UnsafePointer<Float>, inputScale: UnsafePointer<Float>? = nil,
                 b: UnsafePointer<Float>, ldb: Int, alpha: Float = 1, rowScale: UnsafePointer<Float>? = nil,
                 beta: Float = 0, into c: UnsafeMutablePointer<Float>, ldc: Int) {
        precondition(rowScale == nil || beta == 0, "MatrixDCT2.product: a row scale with beta \(beta)")
        if kernel == .smallLeft,
           ct_small_left(transA ? 1 : 0, m, n, k, d, transA ? m : k, inputScale, b, ldb, alpha, rowScale, beta, c, ldc) == 0 {
            return
        }
        if let inputScale { Self.scaleRows(UnsafeMutablePointer(mutating: b), rows: k, cols: n, ld: ldb, by: inputScale) }
        GEMM.sgemm(transA: transA, m: m, n: n, k: k, alpha: alpha, a: d, lda: transA ? m : k, b: b, ldb: ldb, beta: beta,
                   c: c, ldc: ldc)
        if let rowScale { Self.scaleRows(c, rows: m, cols: n, ld: ldc, by: rowScale) }
    }

    @inline(__always)
    private static func scaleRows(_ block: UnsafeMutablePointer<Float>, rows: Int, cols: Int, ld: Int, by weights: UnsafePointer<Float>) {
        for r in 0 ..< rows {
            let row = block + r * ld, f = weights[r]
            if f == 1 { continue }
            for i in 0 ..< cols { row[i] *= f }
        }
    }
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import CKernels
