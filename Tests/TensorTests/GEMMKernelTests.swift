// GEMMKernelTests.swift — ctpipe's AVX-512 SGEMM (ct_sgemm.c through
// GEMM.sgemm(using: .ctpipeAVX512)) against OpenBLAS's cblas_sgemm called
// directly, over many shapes, transposes, leading dimensions, strided views,
// alpha and beta; its summation order (bit-identical under any row or column
// split and thread count); and the kernel choice (CTPIPE_GEMM).
//
// Tolerance: both products sum k terms in float32 in different orders, each
// within k·u·Σ|alpha·a·b| (u = 2^-24) of the exact value, plus a few roundings
// for alpha, beta and ctpipe's k blocks. An element passes when
// |ctpipe - OpenBLAS| <= (2k + 16)·u·(|alpha|·Σ_p |a_ip||b_pj| + |beta·c_ij|);
// a wrong element, a missed k block or a stale C is off by O(1) of that scale.
// Padding of A, B (NaN) and C (a sentinel) catches reads and writes past the
// rows; beta == 0 runs on a NaN-filled C.

import COpenBLAS
import CTCore
import Tensor
import TestSupport
import Testing

@Suite struct GEMMKernelTests {
    static let sizes = [0, 1, 2, 15, 16, 17, 31, 33, 63, 65, 100, 129, 385, 1025]
    static let sentinel: Float = 12345.5

    struct Shape: CustomStringConvertible {
        var m: Int, n: Int, k: Int
        var padA: Int, padB: Int, padC: Int
        var alpha: Float, beta: Float
        var description: String {
            "\(m)x\(n)x\(k) pads \(padA)/\(padB)/\(padC) alpha \(alpha) beta \(beta)"
        }
    }

    /// Every size in every dimension (the other two drawn from `sizes`, at most ~8 M products), then
    /// 16 triples drawn freely; leading-dimension padding 0 or 1...9, alpha and beta cycled.
    static func shapes(seed: UInt64) -> [Shape] {
        var rng = SplitMix64(seed: seed)
        let alphas: [Float] = [1, 0.75, -1.5], betas: [Float] = [0, 1, 0.5]
        var triples: [(Int, Int, Int)] = []
        func draw() -> Int { sizes[Int(rng.next() % UInt64(sizes.count))] }
        for dimension in 0 ..< 3 {
            for size in sizes {
                var t = [draw(), draw(), draw()]
                t[dimension] = size
                while t[0] * t[1] * t[2] > 8_000_000 {
                    let other = (dimension + 1 + Int(rng.next() % 2)) % 3
                    t[other] = sizes[Int(rng.next() % 8)]
                }
                triples.append((t[0], t[1], t[2]))
            }
        }
        while triples.count < 3 * sizes.count + 16 {
            let t = (draw(), draw(), draw())
            if t.0 * t.1 * t.2 <= 8_000_000 { triples.append(t) }
        }
        return triples.enumerated().map { index, t in
            func pad() -> Int { rng.next() % 3 == 0 ? 0 : 1 + Int(rng.next() % 9) }
            return Shape(m: t.0, n: t.1, k: t.2, padA: pad(), padB: pad(), padC: pad(),
                         alpha: alphas[index % alphas.count], beta: betas[(index / alphas.count) % betas.count])
        }
    }

    /// A rows x cols matrix with leading dimension ld (>= cols): random in [-1, 1], padding NaN.
    static func matrix(rows: Int, cols: Int, ld: Int, rng: inout SplitMix64) -> [Float] {
        var values = [Float](repeating: .nan, count: max(1, rows * ld))
        for r in 0 ..< rows {
            for c in 0 ..< cols { values[r * ld + c] = Float.random(in: -1 ... 1, using: &rng) }
        }
        return values
    }

    /// ctpipe's kernel and cblas_sgemm on the same inputs (op(A) at a + aOffset, op(B) at b + bOffset,
    /// C m x n with ldc), compared element by element with the bound above; C's padding must be untouched.
    /// C starts as `c0` (its padding the sentinel); with beta == 0 its elements are NaN.
    static func compare(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                        a: [Float], aOffset: Int = 0, lda: Int, b: [Float], bOffset: Int = 0, ldb: Int,
                        beta: Float, c0: [Float], ldc: Int, _ label: String) {
        var actual = c0, expected = c0
        if beta == 0 {
            for i in 0 ..< m { for j in 0 ..< n { expected[i * ldc + j] = 0 } }
        }
        // |alpha|·|op(A)||op(B)| + |beta·C|: the scale of each element's rounding.
        var scale = [Float](repeating: 0, count: max(1, m * ldc))
        if beta != 0 {
            for i in 0 ..< m { for j in 0 ..< n { scale[i * ldc + j] = abs(beta * c0[i * ldc + j]) } }
        }
        let absA = a.map { $0.isNaN ? 0 : abs($0) }, absB = b.map { $0.isNaN ? 0 : abs($0) }
        let ta = transA ? CblasTrans : CblasNoTrans, tb = transB ? CblasTrans : CblasNoTrans
        a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in
            actual.withUnsafeMutableBufferPointer { cp in
                GEMM.sgemm(using: .ctpipeAVX512, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                           a: ap.baseAddress! + aOffset, lda: lda, b: bp.baseAddress! + bOffset, ldb: ldb,
                           beta: beta, c: cp.baseAddress!, ldc: ldc)
            }
            if m > 0 && n > 0 {
                expected.withUnsafeMutableBufferPointer { cp in
                    cblas_sgemm(CblasRowMajor, ta, tb, blasint(m), blasint(n), blasint(k), alpha,
                                ap.baseAddress! + aOffset, blasint(lda), bp.baseAddress! + bOffset, blasint(ldb),
                                beta == 0 ? 0 : beta, cp.baseAddress!, blasint(ldc))
                }
            }
        } }
        if m > 0 && n > 0 && k > 0 {
            absA.withUnsafeBufferPointer { ap in absB.withUnsafeBufferPointer { bp in
                scale.withUnsafeMutableBufferPointer { sp in
                    cblas_sgemm(CblasRowMajor, ta, tb, blasint(m), blasint(n), blasint(k), abs(alpha),
                                ap.baseAddress! + aOffset, blasint(lda), bp.baseAddress! + bOffset, blasint(ldb),
                                1, sp.baseAddress!, blasint(ldc))
                }
            } }
        }
        let u = Float(1) / Float(1 << 24), factor = Float(2 * k + 16) * u
        var worst = 0, worstRatio: Float = 0, bad = 0, paddingWrites = 0
        for i in 0 ..< m {
            for j in 0 ..< ldc {
                let index = i * ldc + j
                if j >= n {
                    if actual[index].bitPattern != c0[index].bitPattern { paddingWrites += 1 }
                    continue
                }
                let error = abs(actual[index] - expected[index])
                let bound = factor * scale[index] + Float.leastNormalMagnitude
                if !(error <= bound) { bad += 1 }
                let ratio = error / bound
                if !(ratio <= worstRatio) { worst = index; worstRatio = ratio }
            }
        }
        #expect(bad == 0, """
            \(label): \(bad) elements off; worst (\(worst / max(1, ldc)), \(worst % max(1, ldc))): \
            \(actual.isEmpty ? 0 : actual[worst]) vs OpenBLAS \(expected.isEmpty ? 0 : expected[worst]), \
            bound \(factor * (scale.isEmpty ? 0 : scale[worst]))
            """)
        #expect(paddingWrites == 0, "\(label): \(paddingWrites) writes into C's padding")
    }

    @Test("ctpipe's kernel matches OpenBLAS over shapes, leading dimensions, alpha and beta",
          .enabled(if: GEMM.avx512Available, "needs a CPU with AVX-512"),
          arguments: [(false, false), (false, true), (true, false), (true, true)])
    func matchesOpenBLAS(transA: Bool, transB: Bool) {
        var rng = SplitMix64(seed: 0x5EED + UInt64(transA ? 2 : 0) + UInt64(transB ? 1 : 0))
        for shape in Self.shapes(seed: 17 + UInt64(transA ? 2 : 0) + UInt64(transB ? 1 : 0)) {
            let (m, n, k) = (shape.m, shape.n, shape.k)
            let lda = max(1, transA ? m : k) + shape.padA, ldb = max(1, transB ? k : n) + shape.padB
            let ldc = max(1, n) + shape.padC
            let a = Self.matrix(rows: transA ? k : m, cols: transA ? m : k, ld: lda, rng: &rng)
            let b = Self.matrix(rows: transB ? n : k, cols: transB ? k : n, ld: ldb, rng: &rng)
            var c0 = [Float](repeating: Self.sentinel, count: max(1, m * ldc))
            for i in 0 ..< m {
                for j in 0 ..< n { c0[i * ldc + j] = shape.beta == 0 ? .nan : Float.random(in: -1 ... 1, using: &rng) }
            }
            Self.compare(transA: transA, transB: transB, m: m, n: n, k: k, alpha: shape.alpha, a: a, lda: lda,
                         b: b, ldb: ldb, beta: shape.beta, c0: c0, ldc: ldc, "trans \(transA)/\(transB) \(shape)")
        }
    }

    /// Attention's products on a (T, 3C) qkv buffer: scores = Q_h K_h^T (lda = ldb = 3C, column offsets
    /// h·d and C + h·d) and out_h = P V_h (ldb = 3C, offset 2C + h·d; C's columns h·d of ldc = C).
    @Test(.enabled(if: GEMM.avx512Available, "needs a CPU with AVX-512"), arguments: [(129, 64), (257, 40)])
    func attentionViewsMatchOpenBLAS(tokens: Int, headDim: Int) {
        var rng = SplitMix64(seed: 99)
        let heads = 3, width = heads * headDim, ld = 3 * width
        let qkv = rng.floats(tokens * ld)
        let p = rng.floats(tokens * tokens, in: 0 ... 1)
        for h in 0 ..< heads {
            let scores = [Float](repeating: .nan, count: tokens * tokens)
            Self.compare(transA: false, transB: true, m: tokens, n: tokens, k: headDim, alpha: 0.125,
                         a: qkv, aOffset: h * headDim, lda: ld, b: qkv, bOffset: width + h * headDim, ldb: ld,
                         beta: 0, c0: scores, ldc: tokens, "QK^T head \(h)")
            // out (T, C) with this head's columns written; the other heads' columns are C's padding here.
            var out = [Float](repeating: Self.sentinel, count: tokens * width)
            for t in 0 ..< tokens { for j in 0 ..< headDim { out[t * width + h * headDim + j] = .nan } }
            let view = Array(out[(h * headDim)...]) + [Float](repeating: Self.sentinel, count: h * headDim)
            Self.compare(transA: false, transB: false, m: tokens, n: headDim, k: tokens, alpha: 1,
                         a: p, lda: tokens, b: qkv, bOffset: 2 * width + h * headDim, ldb: ld,
                         beta: 0, c0: view, ldc: width, "PV head \(h)")
        }
    }

    /// k == 0 and alpha == 0 leave C = beta·C without reading A or B (NaN there); beta == 0 writes zeros.
    @Test(arguments: [GEMMKernel.ctpipeAVX512, .openBLAS])
    func emptySumScalesC(kernel: GEMMKernel) {
        let a = [Float](repeating: .nan, count: 12), b = [Float](repeating: .nan, count: 12)
        for (k, alpha) in [(0, Float(1)), (3, 0)] {
            for beta: Float in [0, 0.5] {
                var c: [Float] = [.nan, 2, -4, 8, 1, .nan]
                if beta != 0 { c = [1, 2, -4, 8, 1, 3] }
                let before = c
                a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in c.withUnsafeMutableBufferPointer { c in
                    GEMM.sgemm(using: kernel, m: 2, n: 3, k: k, alpha: alpha, a: a.baseAddress!, lda: max(1, k),
                               b: b.baseAddress!, ldb: 3, beta: beta, c: c.baseAddress!, ldc: 3)
                } } }
                #expect(c == before.map { beta == 0 ? 0 : beta * $0 }, "\(kernel) k \(k) alpha \(alpha) beta \(beta)")
            }
        }
    }

    /// Any split of the rows or the columns of a product over calls gives the whole call's bits
    /// (k = 1000: three k blocks, the last partial; edge tiles in both dimensions).
    @Test(.enabled(if: GEMM.avx512Available, "needs a CPU with AVX-512"),
          arguments: [(false, true), (true, false)])
    func splitsAreBitIdentical(transA: Bool, transB: Bool) {
        var rng = SplitMix64(seed: 5)
        let m = 301, n = 97, k = 1000
        let lda = transA ? m : k, ldb = transB ? k : n
        let a = rng.floats((transA ? k : m) * lda), b = rng.floats((transB ? n : k) * ldb)
        let c0 = rng.floats(m * n)
        func product(rows: [Range<Int>], columns: [Range<Int>]) -> [Float] {
            var c = c0
            a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in c.withUnsafeMutableBufferPointer { c in
                for r in rows {
                    for s in columns {
                        let aStart = transA ? r.lowerBound : r.lowerBound * lda
                        let bStart = transB ? s.lowerBound * ldb : s.lowerBound
                        GEMM.sgemm(using: .ctpipeAVX512, transA: transA, transB: transB, m: r.count, n: s.count, k: k,
                                   alpha: 0.5, a: a.baseAddress! + aStart, lda: lda, b: b.baseAddress! + bStart, ldb: ldb,
                                   beta: 0.25, c: c.baseAddress! + r.lowerBound * n + s.lowerBound, ldc: n)
                    }
                }
            } } }
            return c
        }
        let whole = product(rows: [0 ..< m], columns: [0 ..< n])
        let split = product(rows: [0 ..< 14, 14 ..< 15, 15 ..< 150, 150 ..< 301], columns: [0 ..< 33, 33 ..< 97])
        let single = product(rows: (0 ..< m).map { $0 ..< $0 + 1 }, columns: [0 ..< n])
        #expect(whole.map(\.bitPattern) == split.map(\.bitPattern), "blocks of rows and columns")
        #expect(whole.map(\.bitPattern) == single.map(\.bitPattern), "one row per call")
    }

    /// GEMM.linear with ctpipe's kernel: 1, 2 and 3 threads give the same bits.
    @Test(.enabled(if: GEMM.kernel == .ctpipeAVX512, "runs with ctpipe's kernel (not CTPIPE_GEMM=openblas)"))
    func linearIsBitIdenticalAcrossThreadCounts() {
        var rng = SplitMix64(seed: 78)
        let rows = 1001, inF = 400, outF = 200
        let x = rng.floats(rows * inF), w = rng.floats(outF * inF)
        func run(threads: Int) -> [UInt32] {
            var y = [Float](repeating: .nan, count: rows * outF)
            x.withUnsafeBufferPointer { x in w.withUnsafeBufferPointer { w in y.withUnsafeMutableBufferPointer { y in
                GEMM.linear(x.baseAddress!, rows: rows, inFeatures: inF, weight: w.baseAddress!, outFeatures: outF,
                            into: y.baseAddress!, threads: threads)
            } } }
            return y.map(\.bitPattern)
        }
        let one = run(threads: 1)
        #expect(run(threads: 2) == one)
        #expect(run(threads: 3) == one)
    }

    @Test func kernelChoice() {
        #expect(GEMM.chooseKernel(setting: nil, avx512Available: true) == (.ctpipeAVX512, nil))
        #expect(GEMM.chooseKernel(setting: "auto", avx512Available: true) == (.ctpipeAVX512, nil))
        #expect(GEMM.chooseKernel(setting: nil, avx512Available: false) == (.openBLAS, nil))
        #expect(GEMM.chooseKernel(setting: "openblas", avx512Available: true) == (.openBLAS, nil))
        #expect(GEMM.chooseKernel(setting: "OpenBLAS", avx512Available: true) == (.openBLAS, nil))
        #expect(GEMM.chooseKernel(setting: "ctpipe-avx512", avx512Available: true) == (.ctpipeAVX512, nil))
        let unavailable = GEMM.chooseKernel(setting: "ctpipe-avx512", avx512Available: false)
        #expect(unavailable.kernel == .openBLAS && unavailable.warning != nil)
        let unknown = GEMM.chooseKernel(setting: "mkl", avx512Available: true)
        #expect(unknown.kernel == .ctpipeAVX512 && unknown.warning?.contains("CTPIPE_GEMM=mkl") == true)
        #expect(GEMMKernel.ctpipeAVX512.rawValue == "ctpipe-avx512" && GEMMKernel.openBLAS.rawValue == "openblas")
    }
}
