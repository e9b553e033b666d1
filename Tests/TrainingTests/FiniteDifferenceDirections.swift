// FiniteDifferenceDirections.swift — the directions the finite-difference tests
// probe a tensor along: its gradient's direction (when the gradient is not zero)
// and a seeded random one, both of unit length.

import CTCore

enum FiniteDifferenceDirections {
    static func unit(gradient g: [Double], random rng: inout SplitMix64) -> [[Double]] {
        var random = g.indices.map { _ in Double.random(in: -1 ... 1, using: &rng) }
        let rNorm = random.reduce(0) { $0 + $1 * $1 }.squareRoot()
        random = random.map { $0 / rNorm }
        let gNorm = g.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return gNorm > 0 ? [g.map { $0 / gNorm }, random] : [random]
    }
}
