// TransformTrainingTests.swift — training with the fft and haar transforms of
// the Causal-Tune adapter through the whole model: the adapter's gradients
// against central finite differences of the loss (the layer alone is checked
// against PyTorch autograd in ModelTests/TransformGoldenTests), activation
// checkpointing changes nothing, and the haar transform refuses crops whose
// patch grid has a side that is not a power of two.

import CTCore
import Model
import Tensor
import Testing
import Training

@Suite(.serialized) struct TransformTrainingTests {
    /// A random 2-block patch-16 backbone with a `transform` adapter and the linear head.
    static func model(_ transform: FrequencyTransform) throws -> SegmentationModel {
        let backbone = DINOv2.randomlyInitialised(config: DINOv2Config(embedDim: 16, depth: 2, heads: 2, patchSize: 16, registers: 0,
                                                                       gridSize: 4, ffnHidden: 32), seed: 3)
        var model = try SegmentationModel.initialised(backbone: backbone,
                                                      adapter: AdapterConfig(transform: transform, filter: .bandpass, tokens: 5, rank: 0),
                                                      seed: 4)
        try #require(model.adapter).scaleParameter.values[0] = 0.5   // large enough that the adapter shapes the loss
        model.parametersChanged()
        return model
    }

    /// A 64 x 128 input (a 4 x 8 patch grid) and labels with a few ignored pixels.
    static func sample() -> (image: [Float], labels: [UInt8]) {
        var rng = SplitMix64(seed: 21)
        let image = (0 ..< 3 * 64 * 128).map { _ in Float.random(in: -2 ... 2, using: &rng) }
        let labels = (0 ..< 64 * 128).map { i in i % 37 == 0 ? UInt8(255) : UInt8(Int.random(in: 0 ..< 19, using: &rng)) }
        return (image, labels)
    }

    static func gradients(_ model: SegmentationModel, checkpointing: Bool) throws -> (loss: Double, grads: GradientStore, trainer: SegmentationTrainer) {
        let (image, labels) = sample()
        let trainer = try SegmentationTrainer(model: model, height: 64, width: 128, threads: 2, activationCheckpointing: checkpointing)
        let grads = try GradientStore(model: model)
        let pixels = CrossEntropyLoss.validPixels(labels)
        let (loss, _) = try image.withUnsafeBufferPointer { image in
            try labels.withUnsafeBufferPointer { try trainer.accumulateGradients(model: model, image: image, labels: $0, scale: 1 / Float(pixels), into: grads) }
        }
        return (loss / Double(pixels), grads, trainer)
    }

    @Test(arguments: [FrequencyTransform.fft, .haar])
    func adapterGradientsMatchFiniteDifferences(_ transform: FrequencyTransform) throws {
        let model = try Self.model(transform)
        let (_, grads, trainer) = try Self.gradients(model, checkpointing: false)
        let (image, labels) = Self.sample()
        let pixels = Double(CrossEntropyLoss.validPixels(labels))
        let values = model.trainableStorage.values, base = Array(values)
        var worst = 0.0
        for (i, spec) in trainer.layout.specs.enumerated() where spec.name.hasPrefix("backbone.reins.") {
            let g = grads.buffer(i).map(Double.init)
            let norm = g.reduce(0) { $0 + $1 * $1 }.squareRoot()
            #expect(norm > 0, "\(transform) \(spec.name): zero gradient")
            guard norm > 0 else { continue }
            let h = 2e-3, o = trainer.layout.offsets[i]
            func shifted(_ sign: Double) throws -> Double {
                for k in 0 ..< spec.count { values[o + k] = base[o + k] + Float(sign * h * g[k] / norm) }
                defer { for k in 0 ..< spec.count { values[o + k] = base[o + k] } }
                var moved = model
                moved.parametersChanged()
                return try image.withUnsafeBufferPointer { image in
                    try labels.withUnsafeBufferPointer { try trainer.loss(model: moved, image: image, labels: $0).loss }
                } / pixels
            }
            let numeric = (try shifted(1) - (try shifted(-1))) / (2 * h)
            let error = abs(numeric - norm) / max(norm, 1e-2)
            worst = max(worst, error)
            #expect(error < 1e-2, "\(transform) \(spec.name): finite difference \(numeric) vs analytic \(norm)")
        }
        print("\(transform) adapter finite differences: worst relative error \(worst)")
    }

    @Test(arguments: [FrequencyTransform.fft, .haar])
    func activationCheckpointingGivesTheSameGradients(_ transform: FrequencyTransform) throws {
        let model = try Self.model(transform)
        let plain = try Self.gradients(model, checkpointing: false)
        let recomputed = try Self.gradients(model, checkpointing: true)
        #expect(plain.loss == recomputed.loss)
        #expect(Array(plain.grads.all) == Array(recomputed.grads.all))
    }

    @Test func haarRefusesANonPowerOfTwoCrop() throws {
        let model = try Self.model(.haar)
        do {
            _ = try SegmentationTrainer(model: model, height: 48, width: 64, threads: 1)
            Issue.record("a 3 x 4 patch grid was accepted for the haar transform")
        } catch {
            #expect(error.reason.contains("3 x 4 patches") && error.reason.contains("powers of two"), "\(error.reason)")
        }
        _ = try SegmentationTrainer(model: try Self.model(.fft), height: 48, width: 64, threads: 1)
    }
}
