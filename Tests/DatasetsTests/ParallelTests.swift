// ParallelTests.swift — Parallel.map's order and Parallel.beside: both results, the two
// closures at the same time, and no starvation when every Dispatch worker waits in it.

import Datasets
import Dispatch
import Foundation
import Synchronization
import Testing

@Suite struct ParallelTests {
    @Test func mapKeepsTheOrder() {
        #expect(Parallel.map(37) { $0 * $0 } == (0 ..< 37).map { $0 * $0 })
    }

    @Test func besideReturnsBothResults() {
        var calls = 0
        let (a, b) = Parallel.beside({ "other" }) { calls += 1; return 7 }
        #expect(a == "other" && b == 7 && calls == 1)
    }

    /// `here` waits for a signal only `other` gives: they must run at the same time.
    @Test func theTwoRunConcurrently() {
        let signal = DispatchSemaphore(value: 0)
        let (_, arrived) = Parallel.beside({ signal.signal() }) { signal.wait(timeout: .now() + 10) == .success }
        #expect(arrived)
    }

    /// Twice as many concurrentPerform workers as cores each wait in `beside` for their `other`:
    /// each `other` still runs at once (its own thread). On a Dispatch pool thread it waited for
    /// libdispatch to notice the blocked workers and add threads — about a second here, past the
    /// half second each worker gives it.
    @Test func waitingDispatchWorkersDoNotStarveIt() {
        let workers = 2 * ProcessInfo.processInfo.activeProcessorCount
        let arrived = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            let signal = DispatchSemaphore(value: 0)
            let (_, ok) = Parallel.beside({ signal.signal() }) { signal.wait(timeout: .now() + 0.5) == .success }
            if ok { arrived.add(1, ordering: .relaxed) }
        }
        #expect(arrived.load(ordering: .relaxed) == workers)
    }
}
