// RandomSource.swift — where the transforms get their random numbers.
//
// Each transform consumes draws in the same order and with the same
// distributions as the numpy calls of its MMSegmentation/mmcv counterpart
// (`randint` with an exclusive upper bound, `uniform` on a half-open range).
// The numpy stream itself is not reproduced: the pipeline seeds one
// `AugmentRNG` per (run seed, sample index, epoch), so a sample's augmentation
// does not depend on scheduling. Tests inject fixed draws through the protocol.

/// A source of the two kinds of draws the transforms make.
public protocol RandomSource {
    /// A uniform integer in `low ..< high` (numpy `randint(low, high)`); `high > low`.
    mutating func integer(_ low: Int, _ high: Int) -> Int
    /// A uniform real in `[low, high)` (numpy `uniform(low, high)`).
    mutating func uniform(_ low: Double, _ high: Double) -> Double
}

/// SplitMix64 (Steele, Lea & Flood 2014): 64-bit state, one add and a
/// finaliser per draw. Small, fast, deterministic on every platform.
public struct AugmentRNG: RandomSource, Sendable, Equatable {
    public private(set) var state: UInt64

    /// A generator from a raw state.
    public init(state: UInt64) { self.state = state }

    /// The generator of one sample in one epoch of a run:
    /// `state = mix(mix(mix(seed) ^ sample) ^ epoch)`, `mix` being the
    /// SplitMix64 step (add the golden gamma, finalise).
    public init(seed: UInt64, sample: UInt64, epoch: UInt64) {
        state = Self.mix(Self.mix(Self.mix(seed) ^ sample) ^ epoch)
    }

    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Unbiased: Lemire's multiply-shift with rejection.
    public mutating func integer(_ low: Int, _ high: Int) -> Int {
        precondition(high > low, "AugmentRNG.integer: empty range \(low)..<\(high)")
        let range = UInt64(high - low)
        var product = next().multipliedFullWidth(by: range)
        if product.low < range {
            let threshold = (0 &- range) % range
            while product.low < threshold { product = next().multipliedFullWidth(by: range) }
        }
        return low + Int(product.high)
    }

    /// 53 random bits scaled to [0, 1), as numpy's `random_sample`, then
    /// `low + (high - low) * u`, as numpy's `uniform`.
    public mutating func uniform(_ low: Double, _ high: Double) -> Double {
        let u = Double(next() >> 11) * 0x1p-53
        return low + (high - low) * u
    }
}
