// ThreadingTests.swift — the thread plan, the parallel split, and kernels'
// independence of the thread count. The count is a parameter of every kernel,
// so tests in concurrently running suites cannot change it under each other.

import CTCore
import Synchronization
import Tensor
import TestSupport
import Testing

@Suite(.serialized) struct ThreadingTests {
    @Test func oneWorkerGetsAllCoresSeveralGetOneEach() {
        #expect(ThreadPlan(workers: 1, cores: 8).threadsPerWorker == 8)
        #expect(ThreadPlan(workers: 4, cores: 8).threadsPerWorker == 1)
        #expect(ThreadPlan.singleSample(threads: 3).threadsPerWorker == 3)
        #expect(ThreadPlan.singleSample(threads: 3).workers == 1)
        #expect(ThreadPlan(workers: 2, cores: 2).threadsPerWorker == 1)
        #expect(Threading.chunkCount(1000, threads: 3) == 3)
        #expect(Threading.chunkCount(5, threads: 4, grain: 2) == 2)
        #expect(Threading.chunkCount(0, threads: 4) == 0)
    }

    @Test(arguments: [0, 1, 2, 7, 1000])
    func parallelForCoversEachIndexOnce(count: Int) {
        let hits = Mutex([Int](repeating: 0, count: count))
        Threading.parallelFor(count, threads: 4, grain: 3) { range in
            hits.withLock { for i in range { $0[i] += 1 } }
        }
        #expect(hits.withLock { $0 } == [Int](repeating: 1, count: count))
    }

    @Test func resultsDoNotDependOnThreadCount() {
        var rng = SplitMix64(seed: 5)
        let rows = 301, cols = 77
        let x = rng.floats(rows * cols), w = rng.floats(cols), b = rng.floats(cols)
        func run(threads: Int) -> [Float] {
            var y = [Float](repeating: 0, count: x.count)
            x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in b.withUnsafeBufferPointer { bp in
                y.withUnsafeMutableBufferPointer { yp in
                    LayerNormKernel.forward(xp.baseAddress!, rows: rows, cols: cols, weight: wp.baseAddress!,
                                            bias: bp.baseAddress!, eps: 1e-6, into: yp.baseAddress!, threads: threads)
                    ActivationKernels.biasGELU(yp.baseAddress!, rows: rows, cols: cols, bias: bp.baseAddress!, threads: threads)
                    SoftmaxKernel.forward(yp.baseAddress!, rows: rows, cols: cols, ld: cols, threads: threads)
                }
            } } }
            return y
        }
        let one = run(threads: 1), three = run(threads: 3)
        #expect(one == three, "kernels must reduce each row on one thread in a fixed order")
    }

    @Test(arguments: [1, 2, 3])
    func linearSplitsRowsExactly(threads: Int) {
        do {
            var rng = SplitMix64(seed: 77)
            let rows = 1001, inF = 96, outF = 200
            let x = rng.floats(rows * inF), w = rng.floats(outF * inF)
            var y = [Float](repeating: .nan, count: rows * outF)
            x.withUnsafeBufferPointer { x in w.withUnsafeBufferPointer { w in y.withUnsafeMutableBufferPointer { y in
                GEMM.linear(x.baseAddress!, rows: rows, inFeatures: inF, weight: w.baseAddress!, outFeatures: outF,
                            into: y.baseAddress!, threads: threads)
            } } }
            var expected = [Float](repeating: 0, count: rows * outF)
            Naive.gemm(transA: false, transB: true, m: rows, n: outF, k: inF, alpha: 1, a: x, lda: inF, b: w, ldb: inF,
                       beta: 0, c: &expected, ldc: outF)
            expectClose(y, expected, tolerance: 1e-4, "linear over \(threads) threads")
        }
    }
}
