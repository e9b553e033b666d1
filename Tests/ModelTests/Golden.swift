// Golden.swift — fixtures and the closeness check of the Model tests.
//
// Relative error of an element: |actual - expected| / max(|expected|, 1e-2 · max|expected|),
// so that elements near zero are judged against the tensor's scale. The worst
// element is reported with its index and both values.

import CTCore
import Foundation
import Testing

enum Fixture {
    static func url(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(name)
    }

    /// A float32 .npy fixture: values and shape.
    static func npy(_ name: String) throws -> (shape: [Int], values: [Float]) {
        let bytes = try FileBytes.read(url(name).path)
        let array = try NPYArray.decode(bytes, path: name)
        return (array.shape, try #require(array.floats, "\(name) is not float32"))
    }
}

struct Closeness {
    var worstIndex = -1
    var worstError: Float = 0
    var actual: Float = 0
    var expected: Float = 0
}

func closeness(_ actual: [Float], _ expected: [Float]) -> Closeness {
    precondition(actual.count == expected.count)
    let scale = max(expected.map(abs).max() ?? 0, Float.leastNormalMagnitude)
    var result = Closeness()
    for i in expected.indices {
        let error = abs(actual[i] - expected[i]) / max(abs(expected[i]), 1e-2 * scale)
        if error > result.worstError || actual[i].isNaN {
            result = Closeness(worstIndex: i, worstError: actual[i].isNaN ? .infinity : error,
                               actual: actual[i], expected: expected[i])
        }
    }
    return result
}

/// Expects every element within `tolerance` relative error; reports the worst one.
func expectClose(_ actual: [Float], _ expected: [Float], tolerance: Float = 1e-4, _ label: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "\(label): \(actual.count) values, expected \(expected.count)",
            sourceLocation: sourceLocation)
    guard actual.count == expected.count else { return }
    let c = closeness(actual, expected)
    print("golden \(label): worst relative error \(c.worstError) at element \(c.worstIndex)")
    #expect(c.worstError <= tolerance,
            "\(label): worst element \(c.worstIndex): \(c.actual) vs \(c.expected), relative error \(c.worstError)",
            sourceLocation: sourceLocation)
}

/// Seeded generator for reproducible random inputs.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func floats(_ n: Int, in range: ClosedRange<Float> = -1 ... 1) -> [Float] {
        (0 ..< n).map { _ in Float.random(in: range, using: &self) }
    }
}
