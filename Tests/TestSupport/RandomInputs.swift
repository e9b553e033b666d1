// RandomInputs.swift — reproducible random test inputs from the project's
// SplitMix64 stream.

import CTCore

extension SplitMix64 {
    /// `n` floats uniform in `range` (`Float.random(in:using:)`).
    public mutating func floats(_ n: Int, in range: ClosedRange<Float> = -1 ... 1) -> [Float] {
        (0 ..< n).map { _ in Float.random(in: range, using: &self) }
    }
}
