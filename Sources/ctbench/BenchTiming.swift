// BenchTiming.swift — repeat-until-stable timing shared by the benchmark families.

import Foundation

enum BenchTiming {
    /// Runs `body` at least `minRuns` times and for at least `minSeconds`;
    /// returns the fastest and the median run in seconds. The fastest run is
    /// the least disturbed by other processes on a shared machine.
    static func measure(minRuns: Int = 5, minSeconds: Double = 1.0, _ body: () throws -> Void) rethrows -> (best: Double, median: Double, runs: Int) {
        var times: [Double] = []
        let clock = ContinuousClock()
        let start = clock.now
        while times.count < minRuns || (clock.now - start) < .seconds(minSeconds) {
            let t0 = clock.now
            try body()
            times.append(seconds(clock.now - t0))
            if times.count >= 1000 { break }
        }
        times.sort()
        return (times[0], times[times.count / 2], times.count)
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}
