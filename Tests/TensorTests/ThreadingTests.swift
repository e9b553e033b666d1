// ThreadingTests.swift — the thread plan and the parallel split.

import Synchronization
import Tensor
import Testing

@Suite(.serialized) struct ThreadingTests {
    @Test func oneWorkerGetsAllCoresSeveralGetOneEach() {
        #expect(ThreadPlan(workers: 1, cores: 8).threadsPerWorker == 8)
        #expect(ThreadPlan(workers: 4, cores: 8).threadsPerWorker == 1)
        Threading.configure(.singleSample(threads: 3))
        #expect(Threading.kernelThreads == 3)
        #expect(Threading.plan == .singleSample(threads: 3))
        Threading.configure(ThreadPlan(workers: 2, cores: 2))
        #expect(Threading.kernelThreads == 1)
        Threading.configure(ThreadPlan())
    }

    @Test(arguments: [0, 1, 2, 7, 1000])
    func parallelForCoversEachIndexOnce(count: Int) {
        Threading.configure(.singleSample(threads: 4))
        defer { Threading.configure(ThreadPlan()) }
        let hits = Mutex([Int](repeating: 0, count: count))
        Threading.parallelFor(count, grain: 3) { range in
            hits.withLock { for i in range { $0[i] += 1 } }
        }
        #expect(hits.withLock { $0 } == [Int](repeating: 1, count: count))
    }
}
