// SceneRandom.swift — the generator's draws from the project's SplitMix64
// stream (CTCore) and hash-based value noise for procedural textures.
// Identical sequences on every platform and run; per-image seeds are derived
// from (seed, index) so results never depend on thread scheduling.

import CTCore

/// The scene generator's draws.
extension SplitMix64 {
    /// Seed of item `index` of a run seeded with `seed` (independent streams).
    static func derive(_ seed: UInt64, _ index: UInt64) -> UInt64 {
        mix(seed ^ mix(index &+ 0x632B_E59B_D9B4_E019))
    }

    /// Uniform in [0, 1).
    mutating func unit() -> Float { Float(next() >> 40) / Float(1 << 24) }

    /// Uniform in [a, b).
    mutating func uniform(_ a: Float, _ b: Float) -> Float { a + (b - a) * unit() }

    /// Uniform integer in `range`.
    mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.upperBound - range.lowerBound + 1))
    }

    /// True with probability `p`.
    mutating func chance(_ p: Float) -> Bool { unit() < p }

    /// One element of a non-empty array.
    mutating func pick<T>(_ items: [T]) -> T { items[int(0 ... items.count - 1)] }

    /// Approximately normal (sum of four uniforms), mean 0, standard deviation 1.
    mutating func normal() -> Float {
        (unit() + unit() + unit() + unit() - 2) * 1.7320508
    }
}

/// Deterministic 2-D value noise.
struct ValueNoise: Sendable {
    let seed: UInt32

    init(seed: UInt64) { self.seed = UInt32(truncatingIfNeeded: seed ^ (seed >> 32)) }

    /// Hash of a lattice point, in [0, 1).
    @inline(__always) func hash(_ x: Int, _ y: Int) -> Float {
        var h = UInt32(truncatingIfNeeded: x) &* 0x8DA6_B343
        h ^= UInt32(truncatingIfNeeded: y) &* 0xD816_3841
        h ^= seed &* 0xCB1A_B31F
        h ^= h >> 13
        h &*= 0x5BD1_E995
        h ^= h >> 15
        return Float(h >> 8) / 16_777_216
    }

    /// Smooth noise in [0, 1) with unit lattice spacing.
    @inline(__always) func value(_ x: Float, _ y: Float) -> Float {
        let fx = x.rounded(.down), fy = y.rounded(.down)
        let ix = Int(fx), iy = Int(fy)
        var tx = x - fx, ty = y - fy
        tx = tx * tx * (3 - 2 * tx)
        ty = ty * ty * (3 - 2 * ty)
        let a = hash(ix, iy), b = hash(ix + 1, iy), c = hash(ix, iy + 1), d = hash(ix + 1, iy + 1)
        return (a + (b - a) * tx) + ((c + (d - c) * tx) - (a + (b - a) * tx)) * ty
    }

    /// Three octaves of value noise, in [0, 1).
    @inline(__always) func fbm(_ x: Float, _ y: Float) -> Float {
        (value(x, y) * 4 + value(x * 2.03 + 17.1, y * 2.03 + 5.3) * 2 + value(x * 4.1 + 3.7, y * 4.1 + 29.9)) / 7
    }
}
