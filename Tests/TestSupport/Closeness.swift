// Closeness.swift — the closeness check of float outputs against golden values.
//
// Relative error of an element: |actual - expected| / max(|expected|, 1e-2 · max|expected|),
// so that elements near zero are judged against the tensor's scale. A NaN
// element counts as an infinite error. The worst element is reported with its
// index and both values.

import Testing

/// The worst element of a comparison.
public struct Closeness: Sendable, Equatable {
    /// Index of the worst element; -1 when every element matches exactly.
    public var worstIndex = -1
    /// Its relative error (see the file comment).
    public var worstError: Float = 0
    public var actual: Float = 0
    public var expected: Float = 0

    /// Compares two arrays of equal length.
    public init(_ actual: [Float], _ expected: [Float]) {
        precondition(actual.count == expected.count, "Closeness: \(actual.count) values, expected \(expected.count)")
        let scale = max(expected.map(abs).max() ?? 0, Float.leastNormalMagnitude)
        for i in expected.indices {
            let error = actual[i].isNaN ? Float.infinity : abs(actual[i] - expected[i]) / max(abs(expected[i]), 1e-2 * scale)
            if error > worstError {
                (worstIndex, worstError, self.actual, self.expected) = (i, error, actual[i], expected[i])
            }
        }
    }
}

/// Expects every element within `tolerance` relative error; reports the worst one.
public func expectClose(_ actual: [Float], _ expected: [Float], tolerance: Float = 1e-4, _ label: String,
                        sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "\(label): \(actual.count) values, expected \(expected.count)",
            sourceLocation: sourceLocation)
    guard actual.count == expected.count else { return }
    let c = Closeness(actual, expected)
    #expect(c.worstError <= tolerance,
            "\(label): worst element \(c.worstIndex): \(c.actual) vs \(c.expected), relative error \(c.worstError)",
            sourceLocation: sourceLocation)
}
