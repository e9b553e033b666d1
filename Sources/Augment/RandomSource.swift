// RandomSource.swift — where the transforms get their random numbers.
//
// Each transform consumes draws in the same order and with the same
// distributions as the numpy calls of its MMSegmentation/mmcv counterpart
// (`randint` with an exclusive upper bound, `uniform` on a half-open range).
// The numpy stream itself is not reproduced: the pipeline seeds one
// `AugmentRNG` per (run seed, sample index, epoch), so a sample's augmentation
// does not depend on scheduling. Tests inject fixed draws through the protocol.

import CTCore

/// A source of the two kinds of draws the transforms make.
public protocol RandomSource {
    /// A uniform integer in `low ..< high` (numpy `randint(low, high)`); `high > low`.
    mutating func integer(_ low: Int, _ high: Int) -> Int
    /// A uniform real in `[low, high)` (numpy `uniform(low, high)`).
    mutating func uniform(_ low: Double, _ high: Double) -> Double
}

/// The per-sample stream of the transforms: the project's SplitMix64 (CTCore)
/// with the draws `RandomSource` asks for.
public struct AugmentRNG: RandomSource, Sendable, Equatable {
    private var bits: SplitMix64

    /// The generator's raw state.
    public var state: UInt64 { bits.state }

    /// A generator from a raw state.
    public init(state: UInt64) { bits = SplitMix64(seed: state) }

    /// The generator of one sample in one epoch of a run:
    /// `state = mix(mix(mix(seed) ^ sample) ^ epoch)`, `mix` being the
    /// SplitMix64 step (add the golden gamma, finalise).
    public init(seed: UInt64, sample: UInt64, epoch: UInt64) {
        func step(_ x: UInt64) -> UInt64 { SplitMix64.mix(x &+ SplitMix64.gamma) }
        self.init(state: step(step(step(seed) ^ sample) ^ epoch))
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 { bits.next() }

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
