// GEMMTests.swift — cblas_sgemm through GEMM.sgemm against the triple loop.

import CTCore
import Foundation
import Tensor
import TestSupport
import Testing

@Suite struct GEMMTests {
    @Test("sgemm matches the triple loop",
          arguments: [(false, false), (false, true), (true, false), (true, true)])
    func matchesNaive(transA: Bool, transB: Bool) {
        var rng = SplitMix64(seed: 7)
        let m = 37, n = 19, k = 53
        let lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 2, ldc = n + 5
        let a = rng.floats((transA ? k : m) * lda), b = rng.floats((transB ? n : k) * ldb)
        var expected = rng.floats(m * ldc)
        var actual = expected
        Naive.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.7, a: a, lda: lda, b: b, ldb: ldb,
                   beta: 0.3, c: &expected, ldc: ldc)
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                actual.withUnsafeMutableBufferPointer { c in
                    GEMM.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.7, a: a.baseAddress!, lda: lda,
                               b: b.baseAddress!, ldb: ldb, beta: 0.3, c: c.baseAddress!, ldc: ldc)
                }
            }
        }
        expectClose(actual, expected, tolerance: 1e-5, "sgemm(\(transA), \(transB))")
    }

    @Test func linearIsXTimesWTransposed() {
        var rng = SplitMix64(seed: 11)
        let rows = 5, inF = 7, outF = 3
        let x = rng.floats(rows * inF), w = rng.floats(outF * inF)
        var y = [Float](repeating: 0, count: rows * outF)
        x.withUnsafeBufferPointer { x in
            w.withUnsafeBufferPointer { w in
                y.withUnsafeMutableBufferPointer { y in
                    GEMM.linear(x.baseAddress!, rows: rows, inFeatures: inF, weight: w.baseAddress!, outFeatures: outF,
                                into: y.baseAddress!, threads: 2)
                }
            }
        }
        var expected = [Float](repeating: 0, count: rows * outF)
        for r in 0 ..< rows {
            for o in 0 ..< outF {
                var s = 0.0
                for i in 0 ..< inF { s += Double(x[r * inF + i]) * Double(w[o * inF + i]) }
                expected[r * outF + o] = Float(s)
            }
        }
        expectClose(y, expected, tolerance: 1e-5, "linear")
    }
}

/// What the build requires of the CPU, and that this machine has it (CPUSupport's check).
@Suite struct BuildTargetTests {
    @Test func requirementsAreNamedAndMet() {
        #if arch(x86_64)
        // The default build (Package.swift, CTPIPE_TARGET_CPU unset) requires AVX2 and FMA.
        if ProcessInfo.processInfo.environment["CTPIPE_TARGET_CPU"] == nil {
            #expect(BuildTarget.requiredCPUFeatures == "avx2 fma bmi bmi2 popcnt")
        }
        #endif
        #expect(BuildTarget.missingCPUFeature == nil)
        #expect(!BuildTarget.blasKernels.isEmpty)
    }
}
