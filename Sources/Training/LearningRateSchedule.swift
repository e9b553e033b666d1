// LearningRateSchedule.swift — the poly schedule with optional linear warm-up
// (method.md §4; MMSegmentation's PolyLR with eta_min 0, by iteration):
//   lr_t = lr · (1 - t/T)^power · min(1, (t + 1)/W)      t = 0 ... T-1
// (the warm-up factor only while t < W; W = 0: no warm-up).

import Foundation

public struct LearningRateSchedule: Sendable, Equatable {
    public var baseRate: Double
    public var iterations: Int
    public var power: Double
    public var warmupIterations: Int

    public init(baseRate: Double, iterations: Int, power: Double = 0.9, warmupIterations: Int = 0) {
        self.baseRate = baseRate
        self.iterations = iterations
        self.power = power
        self.warmupIterations = warmupIterations
    }

    /// The learning rate of iteration t (0-based).
    public func rate(at t: Int) -> Double {
        let progress = 1 - Double(t) / Double(max(iterations, 1))
        var lr = baseRate * pow(max(progress, 0), power)
        if t < warmupIterations { lr *= Double(t + 1) / Double(warmupIterations) }
        return lr
    }
}
