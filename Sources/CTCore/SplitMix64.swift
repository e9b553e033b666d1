// SplitMix64.swift — the project's one seeded random stream (SplitMix64,
// Steele, Lea & Flood 2014): 64-bit state, one add and a finaliser per draw.
// Identical sequences on every platform and run. The synthetic scene
// generator, the augmentation draws, parameter initialisation and the tests'
// random inputs all draw from it; each keeps its own way of turning the bits
// into values.

/// SplitMix64 pseudo-random generator.
public struct SplitMix64: RandomNumberGenerator, Sendable, Equatable {
    /// The golden-ratio increment added to the state before every draw.
    public static let gamma: UInt64 = 0x9E37_79B9_7F4A_7C15

    public private(set) var state: UInt64

    /// A generator whose state is `seed` (SplitMix64 seeds are raw states).
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= Self.gamma
        return Self.mix(state)
    }

    /// The SplitMix64 output function (a strong 64-bit mixer).
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
