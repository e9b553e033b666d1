// FastMathTests.swift — vectorised exp / erf / GELU against libm (the naive twins).

import Foundation
import Tensor
import Testing

@Suite struct FastMathTests {
    static func sweep(_ range: ClosedRange<Float>, count: Int = 20_000) -> [Float] {
        (0 ..< count).map { range.lowerBound + (range.upperBound - range.lowerBound) * Float($0) / Float(count - 1) }
    }

    @Test func expMatchesLibm() {
        var worst: Double = 0
        for x in Self.sweep(-87 ... 88) {
            let exact = Foundation.exp(Double(x))
            worst = max(worst, abs(Double(FastMath.exp(x)) - exact) / exact)
        }
        #expect(worst < 3e-7, "worst relative error \(worst)")
        #expect(FastMath.exp(-200) < 1e-37)
        #expect(FastMath.exp(0) == 1)
    }

    @Test func exp2MatchesLibm() {
        var worst: Double = 0
        for x in Self.sweep(-125 ... 127) {
            let exact = Foundation.exp2(Double(x))
            worst = max(worst, abs(Double(FastMath.exp2(Vec(repeating: x))[0]) - exact) / exact)
        }
        #expect(worst < 3e-7, "worst relative error \(worst)")
        #expect(FastMath.exp2(Vec(repeating: -1000))[0] <= 1.2e-38)
        #expect(FastMath.exp2(Vec(repeating: 0))[0] == 1)
    }

    @Test func erfMatchesLibm() {
        var worst: Double = 0
        for x in Self.sweep(-6 ... 6) { worst = max(worst, abs(Double(FastMath.erf(x)) - Foundation.erf(Double(x)))) }
        #expect(worst < 5e-7, "worst absolute error \(worst)")
    }

    @Test func geluIsTheErfForm() {
        // Absolute error bounded by the erf error times |x| / 2 (as for torch's vectorised erf).
        var worst: Double = 0
        for x in Self.sweep(-10 ... 10) {
            let exact = Naive.gelu(Double(x))
            worst = max(worst, abs(Double(FastMath.gelu(x)) - exact) / max(1, abs(Double(x))))
        }
        #expect(worst < 3e-7, "worst error / max(1, |x|): \(worst)")
        // The tanh approximation differs from the erf form by ~1e-4 near x = 2: make sure we are not it.
        let x = 2.0
        let tanhForm = 0.5 * x * (1 + tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
        #expect(abs(Double(FastMath.gelu(Float(x))) - Naive.gelu(x)) < abs(tanhForm - Naive.gelu(x)) / 10)
    }
}
