// BenchTiming.swift — repeat-until-stable timing shared by the benchmark families.
//
// Runs are timed in CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID):
// the codecs are single-threaded, and on a shared machine CPU time is not
// inflated by the time the thread waits for a core. The comparison scripts
// measure their reference libraries the same way (Python's time.thread_time).

import Foundation

enum BenchTiming {
    /// Runs `body` at least `minRuns` times and for at least `minSeconds` of
    /// wall time; returns the fastest and the median run in CPU seconds.
    static func measure(minRuns: Int = 5, minSeconds: Double = 1.0, _ body: () throws -> Void) rethrows -> (best: Double, median: Double, runs: Int) {
        var times: [Double] = []
        let clock = ContinuousClock()
        let start = clock.now
        while times.count < minRuns || (clock.now - start) < .seconds(minSeconds) {
            let t0 = threadCPUTime()
            try body()
            times.append(threadCPUTime() - t0)
            if times.count >= 1000 { break }
        }
        times.sort()
        return (times[0], times[times.count / 2], times.count)
    }

    /// CPU seconds consumed by the calling thread.
    static func threadCPUTime() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
