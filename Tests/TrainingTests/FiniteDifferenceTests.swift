// FiniteDifferenceTests.swift — every trainable tensor's analytic gradient
// against central finite differences of the float64-accumulated batch loss
// (float32 network), along two directions per tensor: the gradient's own
// direction and a seeded random unit direction:
//   (L(p + h v) - L(p - h v)) / 2h  vs  <∇L, v>
// On the fixture models (Causal-Tune full / low-rank, Rein, full fine-tuning).

import CTCore
import Foundation
import Model
import Tensor
import TestSupport
import Testing
import Training

@Suite(.serialized) struct FiniteDifferenceTests {
    struct Batch {
        let images: [[Float]]
        let labels: [[UInt8]]
        let pixels: Int
    }

    static func batch(_ c: GradientCase) throws -> Batch {
        let labels = try (0 ..< 2).map { try fixtures.npy("\(c.name)_label\($0).npy").bytes }
        return Batch(images: try (0 ..< 2).map { try fixtures.floats("\(c.name)_image\($0).npy") }, labels: labels,
                     pixels: labels.reduce(0) { $0 + CrossEntropyLoss.validPixels($1) })
    }

    static func loss(_ trainer: SegmentationTrainer, _ model: SegmentationModel, _ batch: Batch) throws -> Double {
        var total = 0.0
        for i in 0 ..< 2 {
            total += try batch.images[i].withUnsafeBufferPointer { image in
                try batch.labels[i].withUnsafeBufferPointer { try trainer.loss(model: model, image: image, labels: $0).loss }
            }
        }
        return total / Double(batch.pixels)
    }

    @Test(arguments: ["ct_full", "ct_lowrank", "rein", "ct_trainable"])
    func gradientsMatchFiniteDifferences(_ name: String) throws {
        let c = try #require(try GradientCase.all().first { $0.name == name })
        let model = try SegmentationCheckpoint.load(fixtures.path("\(name).safetensors"))
        let trainer = try SegmentationTrainer(model: model, height: c.height, width: c.width, threads: 2)
        let batch = try Self.batch(c)
        let grads = try GradientStore(model: model)
        for i in 0 ..< 2 {
            _ = try batch.images[i].withUnsafeBufferPointer { image in
                try batch.labels[i].withUnsafeBufferPointer {
                    try trainer.accumulateGradients(model: model, image: image, labels: $0, scale: 1 / Float(batch.pixels), into: grads)
                }
            }
        }
        let layout = trainer.layout
        let values = model.trainableStorage.values
        let base = Array(values)
        var rng = SplitMix64(seed: 99)
        var worst = 0.0
        for (i, spec) in layout.specs.enumerated() {
            let g = grads.buffer(i).map(Double.init)
            let gNorm = g.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let directions = FiniteDifferenceDirections.unit(gradient: g, random: &rng)
            for v in directions {
                let h = 2e-3
                func shifted(_ sign: Double) throws -> Double {
                    // The model's trainable values, shifted in place along v, then restored.
                    let o = layout.offsets[i]
                    for k in 0 ..< spec.count { values[o + k] = base[o + k] + Float(sign * h * v[k]) }
                    defer { for k in 0 ..< spec.count { values[o + k] = base[o + k] } }
                    var shiftedModel = model
                    shiftedModel.parametersChanged()
                    return try Self.loss(trainer, shiftedModel, batch)
                }
                let numeric = (try shifted(1) - (try shifted(-1))) / (2 * h)
                let analytic = zip(g, v).reduce(0) { $0 + $1.0 * $1.1 }
                // Float32 forward: the loss carries ~1e-7 relative noise, i.e. ~1e-4 absolute after / 2h.
                let error = abs(numeric - analytic) / max(gNorm, 1e-2)
                worst = max(worst, error)
                #expect(error < 2e-2, "\(name) \(spec.name): finite difference \(numeric) vs analytic \(analytic) (|g| \(gNorm))")
            }
        }
        print("finite differences \(name): \(layout.count) tensors, worst error relative to |g| \(worst)")
    }
}
