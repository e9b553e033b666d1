// BenchTiming.swift — the timing shared by the benchmark families.
//
// `measure` repeats until stable and times runs in CPU time of the calling
// thread (CLOCK_THREAD_CPUTIME_ID): the codecs are single-threaded, and on a
// shared machine CPU time is not inflated by the time the thread waits for a
// core. The comparison scripts measure their reference libraries the same way
// (Python's time.thread_time). The multi-threaded model benchmarks time wall
// and whole-process CPU time instead (`alternating`, `processCPUTime`).

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

    /// Median wall and process-CPU milliseconds of each case over `runs` alternating rounds, after one warm-up
    /// round: every case is timed once per round, so machine load drifts alike for all of them.
    static func alternating(_ cases: [(String, () throws -> Void)], runs: Int) throws -> (wall: [Double], cpu: [Double]) {
        let (wall, cpu) = try alternatingSamples(cases, runs: runs)
        func median(_ v: [Double]) -> Double { v.sorted()[v.count / 2] }
        return (wall.map(median), cpu.map(median))
    }

    /// Every timed run of `alternating`: wall and process-CPU milliseconds per case, in round order.
    static func alternatingSamples(_ cases: [(String, () throws -> Void)], runs: Int) throws -> (wall: [[Double]], cpu: [[Double]]) {
        var wall = [[Double]](repeating: [], count: cases.count), cpu = wall
        for round in 0 ... runs {
            for (k, c) in cases.enumerated() {
                let w0 = DispatchTime.now().uptimeNanoseconds, c0 = processCPUTime()
                try c.1()
                if round > 0 {
                    wall[k].append(Double(DispatchTime.now().uptimeNanoseconds - w0) / 1e6)
                    cpu[k].append((processCPUTime() - c0) * 1e3)
                }
            }
        }
        return (wall, cpu)
    }

    /// CPU seconds used by the process so far (all threads, user and system).
    static func processCPUTime() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    /// CPU seconds consumed by the calling thread.
    static func threadCPUTime() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
