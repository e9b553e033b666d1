// Golden.swift — fixtures and the closeness check of the Training tests.
//
// Relative error of an element: |actual - expected| / max(|expected|, 1e-2 · max|expected|),
// so that elements near zero are judged against the tensor's scale.

import CTCore
import Foundation
import Model
import Testing

enum Fixture {
    static func path(_ name: String) -> String {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(name).path
    }

    static func floats(_ name: String) throws -> [Float] {
        let array = try NPYArray.decode(try FileBytes.read(path(name)), path: name)
        return try #require(array.floats, "\(name) is not float32")
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        let array = try NPYArray.decode(try FileBytes.read(path(name)), path: name)
        return array.bytes
    }

    struct GradientCase: Decodable {
        let name: String
        let height: Int
        let width: Int
        let loss: Double
        let pixels: Int
        let tensors: Int
    }

    static func gradientCases() throws -> [GradientCase] {
        try JSONDecoder().decode([GradientCase].self, from: Data(FileBytes.read(path("gradient_cases.json"))))
    }
}

/// Worst relative error (see the file comment) and where.
func worstRelativeError(_ actual: [Float], _ expected: [Float]) -> (error: Float, index: Int) {
    precondition(actual.count == expected.count)
    let scale = max(expected.map(abs).max() ?? 0, Float.leastNormalMagnitude)
    var worst: (Float, Int) = (0, -1)
    for i in expected.indices {
        let e = actual[i].isNaN ? Float.infinity : abs(actual[i] - expected[i]) / max(abs(expected[i]), 1e-2 * scale)
        if e > worst.0 { worst = (e, i) }
    }
    return worst
}
