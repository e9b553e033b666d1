// OptimiserTests.swift — AdamW and the poly schedule against
// torch.optim.AdamW steps recorded by scripts/make_training_fixtures.py
// (float32, a decay group and a no-decay group, poly lr with warm-up).

import Foundation
import Model
import Tensor
import TestSupport
import Testing
import Training

struct OptimiserTests {
    /// A layout with tensors w (4, 3) and b (3) decayed and `norm` (5) not, as the fixture's groups.
    static func layout() throws -> ParameterLayout {
        try ParameterLayout(specs: [ParameterSpec(name: "w", shape: [4, 3], decay: true),
                                    ParameterSpec(name: "b", shape: [3], decay: true),
                                    ParameterSpec(name: "norm", shape: [5], decay: false)])
    }

    @Test func adamWMatchesPyTorch() throws {
        let f = try SafeTensors.read(fixtures.path("adamw_steps.safetensors"))
        let meta = f.metadata
        let lr = try #require(Double(meta["lr"] ?? "")), wd = try #require(Double(meta["weight_decay"] ?? ""))
        let schedule = LearningRateSchedule(baseRate: lr, iterations: try #require(Int(meta["total"] ?? "")),
                                            power: try #require(Double(meta["power"] ?? "")),
                                            warmupIterations: try #require(Int(meta["warmup"] ?? "")))
        let expectedRates = try JSONDecoder().decode([Double].self, from: Data((meta["lrs"] ?? "[]").utf8))
        let layout = try Self.layout()
        let names = ["w", "b", "norm"]
        var values = try names.flatMap { try #require(f.tensors["initial.\($0)"]).storage }
        var optimiser = AdamW(config: AdamWConfig(learningRate: lr, weightDecay: wd), layout: layout)
        let grads = GradientStore(layout: layout)
        var worst: Float = 0
        for step in 0 ..< expectedRates.count {
            #expect(abs(schedule.rate(at: step) - expectedRates[step]) <= 1e-15 * expectedRates[step])
            grads.zero()
            for (i, name) in names.enumerated() {
                let g = try #require(f.tensors["grad\(step).\(name)"])
                for k in 0 ..< g.count { grads[i][k] = g.storage[k] }
            }
            values.withUnsafeMutableBufferPointer { optimiser.apply(to: $0, gradients: grads, learningRate: schedule.rate(at: step)) }
            for (i, name) in names.enumerated() {
                let expected = try #require(f.tensors["step\(step).\(name)"])
                for k in 0 ..< expected.count {
                    let e = abs(values[layout.offsets[i] + k] - expected.storage[k]) / max(abs(expected.storage[k]), 1e-3)
                    worst = max(worst, e)
                }
            }
        }
        print("AdamW vs torch.optim.AdamW: worst relative difference \(worst) over \(expectedRates.count) steps")
        #expect(worst < 1e-6)
    }

    @Test func scheduleShape() {
        let s = LearningRateSchedule(baseRate: 1e-4, iterations: 40_000, power: 0.9)
        #expect(s.rate(at: 0) == 1e-4)
        #expect(abs(s.rate(at: 20_000) - 1e-4 * pow(0.5, 0.9)) < 1e-18)
        #expect(s.rate(at: 40_000) == 0)
        let w = LearningRateSchedule(baseRate: 1.0, iterations: 100, power: 1, warmupIterations: 10)
        #expect(abs(w.rate(at: 0) - 0.1) < 1e-12)
        #expect(abs(w.rate(at: 9) - 0.91) < 1e-12)
        #expect(w.rate(at: 10) == 0.9)
    }
}
