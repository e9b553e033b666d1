// GradientGoldenTests.swift — every trainable tensor's gradient against
// PyTorch autograd of the reference implementation in
// scripts/make_training_fixtures.py (float64), on tiny models: Causal-Tune
// with full and low-rank tokens (one on a non-square grid), Rein, no adapter,
// and full fine-tuning. Also: activation checkpointing changes nothing.

import CTCore
import Foundation
import Model
import Tensor
import TestSupport
import Testing
import Training

@Suite(.serialized) struct GradientGoldenTests {
    /// Loss and gradients of a fixture case's two-image batch.
    static func run(_ c: GradientCase, checkpointing: Bool = false) throws -> (loss: Double, grads: GradientStore, model: SegmentationModel) {
        let model = try SegmentationCheckpoint.load(fixtures.path("\(c.name).safetensors"))
        let trainer = try SegmentationTrainer(model: model, height: c.height, width: c.width, threads: 2,
                                              activationCheckpointing: checkpointing)
        let grads = try GradientStore(model: model)
        var total = 0.0, count = 0
        let labels = try (0 ..< 2).map { try fixtures.npy("\(c.name)_label\($0).npy").bytes }
        let pixels = labels.reduce(0) { $0 + CrossEntropyLoss.validPixels($1) }
        #expect(pixels == c.pixels)
        for i in 0 ..< 2 {
            let image = try fixtures.floats("\(c.name)_image\(i).npy")
            let (loss, n) = try image.withUnsafeBufferPointer { image in
                try labels[i].withUnsafeBufferPointer { label in
                    try trainer.accumulateGradients(model: model, image: image, labels: label, scale: 1 / Float(pixels), into: grads)
                }
            }
            total += loss
            count += n
        }
        #expect(count == pixels)
        return (total / Double(count), grads, model)
    }

    @Test(arguments: ["ct_full", "ct_lowrank", "rein", "none", "ct_trainable"])
    func gradientsMatchPyTorch(_ name: String) throws {
        let c = try #require(try GradientCase.all().first { $0.name == name })
        let (loss, grads, _) = try Self.run(c)
        #expect(abs(loss - c.loss) < 1e-5 * c.loss, "loss \(loss) vs PyTorch \(c.loss)")
        let reference = try SafeTensors.read(fixtures.path("\(name)_grads.safetensors"))
        #expect(grads.layout.count == c.tensors, "trainable tensors: \(grads.layout.specs.map(\.name))")
        #expect(Set(grads.layout.specs.map(\.name)) == Set(reference.tensors.keys))
        var worst: Float = 0
        for (i, spec) in grads.layout.specs.enumerated() {
            let expected = try #require(reference.tensors[spec.name], "no reference gradient for \(spec.name)")
            #expect(expected.count == spec.count, "\(spec.name): \(spec.count) values, reference \(expected.count)")
            guard expected.count == spec.count else { continue }
            let c = Closeness(Array(grads.buffer(i)), expected.storage)
            worst = max(worst, c.worstError)
            #expect(c.worstError < 2e-4, "\(name) \(spec.name): worst relative error \(c.worstError) at \(c.worstIndex): \(c.actual) vs \(c.expected)")
        }
        print("gradient golden \(name): \(grads.layout.count) tensors, worst relative error \(worst), loss \(loss) vs \(c.loss)")
    }

    @Test func activationCheckpointingGivesTheSameGradients() throws {
        for name in ["ct_full", "ct_trainable", "rein"] {
            let c = try #require(try GradientCase.all().first { $0.name == name })
            let plain = try Self.run(c, checkpointing: false)
            let recomputed = try Self.run(c, checkpointing: true)
            #expect(plain.loss == recomputed.loss)
            #expect(Array(plain.grads.all) == Array(recomputed.grads.all), "\(name): gradients differ with activation checkpointing")
        }
    }
}
