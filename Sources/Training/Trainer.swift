// Trainer.swift — one optimiser step of training: micro-batches of examples
// -> summed gradients -> AdamW at the schedule's learning rate -> the updated
// model, updated in place (its trainable storage; no copy, no rebuild).
//
// Loss (method.md §4): cross-entropy averaged over the non-ignored pixels of a
// micro-batch (all its images together); with gradient accumulation the step
// uses the mean of the micro-batches' losses (as loss / accumulate in PyTorch).
// A micro-batch without any labelled pixel contributes zero loss and zero
// gradient. Samples run one at a time, every kernel on the trainer's threads.
//
// Summation: each sample's gradient is computed alone (into `sampleGradients`,
// zeroed first) and then added into the step's sum in example order. So the
// sum does not depend on where a sample's gradient was computed: a job of
// several processes (docs/training.md, "Several processes") computes each
// sample on one rank, gathers them and adds them in the same order, with the
// same bits. Costs one more gradient-sized buffer and one add per sample.

import Model
import Tensor

/// One training input: a normalised (3, H, W) image and its (H, W) trainId label (255 = ignore).
public struct TrainingExample: Sendable, Equatable {
    public var image: [Float]
    public var label: [UInt8]
    public init(image: [Float], label: [UInt8]) {
        self.image = image
        self.label = label
    }
}

/// What one step did.
public struct StepResult: Sendable, Equatable {
    public var loss: Double
    public var learningRate: Double
    /// Non-ignored pixels seen.
    public var pixels: Int
}

public final class Trainer {
    public private(set) var model: SegmentationModel
    public private(set) var optimiser: AdamW
    public let schedule: LearningRateSchedule
    public let sampleTrainer: SegmentationTrainer
    let gradients: GradientStore
    /// One sample's gradient (`sampleGradient`), added into `gradients` by `combine`.
    public let sampleGradients: GradientStore

    /// A trainer starting from `model` with `optimiser` (fresh or restored), for crops of cropSize x cropSize,
    /// every kernel split over `threads` chunks.
    public init(model: SegmentationModel, optimiser: AdamW, schedule: LearningRateSchedule, cropSize: Int,
                threads: Int, activationCheckpointing: Bool) throws(TrainingError) {
        sampleTrainer = try SegmentationTrainer(model: model, height: cropSize, width: cropSize, threads: threads,
                                                activationCheckpointing: activationCheckpointing)
        guard optimiser.layout == sampleTrainer.layout else {
            throw TrainingError("the optimiser state does not fit the model's trainable tensors")
        }
        self.model = model
        self.optimiser = optimiser
        self.schedule = schedule
        gradients = GradientStore(layout: sampleTrainer.layout, values: model.trainableStorage)
        sampleGradients = GradientStore(layout: sampleTrainer.layout, values: model.trainableStorage)
    }

    public var layout: ParameterLayout { sampleTrainer.layout }

    /// Iteration `t` (0-based): forward/backward over every example, then one AdamW step.
    public func step(iteration t: Int, microBatches: [[TrainingExample]]) throws(TrainingError) -> StepResult {
        let batchSize = microBatches.map(\.count).max() ?? 0
        guard microBatches.allSatisfy({ $0.count == batchSize }) else {
            throw TrainingError("the micro-batches hold \(microBatches.map(\.count)) examples; every one must hold the same number")
        }
        let valid = microBatches.map { $0.reduce(0) { $0 + CrossEntropyLoss.validPixels($1.label) } }
        return try combine(iteration: t, validPixels: valid, batchSize: batchSize) { (b, i) throws(TrainingError) in
            let example = microBatches[b][i]
            let loss = try sampleGradient(example, scale: Self.scale(valid: valid[b], microBatches: valid.count))
            return (loss, UnsafeBufferPointer(sampleGradients.all))
        }
    }

    /// The factor of a sample's summed loss in a step: 1 / (non-ignored pixels of its micro-batch x micro-batches).
    public static func scale(valid: Int, microBatches: Int) -> Float { 1 / (Float(valid) * Float(max(microBatches, 1))) }

    /// Forward and backward pass of one example alone: its gradient, `scale` x (summed loss over its
    /// non-ignored pixels), replaces `sampleGradients`; returns the summed loss.
    /// What a rank computes for its share of a step (the runner's data-parallel training).
    public func sampleGradient(_ example: TrainingExample, scale: Float) throws(TrainingError) -> Double {
        sampleGradients.zero()
        return try example.image.withUnsafeBufferPointer { image throws(TrainingError) in
            try example.label.withUnsafeBufferPointer { label throws(TrainingError) in
                try sampleTrainer.accumulateGradients(model: model, image: image, labels: label, scale: scale,
                                                      into: sampleGradients).loss
            }
        }
    }

    /// Iteration `t` from every example's summed loss and gradient (`sample(b, i)`: micro-batch b,
    /// example i, each asked once, in that order), `validPixels` per micro-batch: the gradients are
    /// added in example order into a zeroed sum, then one AdamW step. Micro-batches without a
    /// labelled pixel are skipped. One process computes each sample as it is asked (`step`); a
    /// job of several gathers them first: both add the same values in the same order.
    public func combine(iteration t: Int, validPixels: [Int], batchSize: Int,
                        sample: (Int, Int) throws(TrainingError) -> (loss: Double, gradient: UnsafeBufferPointer<Float>))
        throws(TrainingError) -> StepResult {
        gradients.zero()
        var loss = 0.0, pixels = 0
        let parts = Double(max(validPixels.count, 1))
        for (b, valid) in validPixels.enumerated() where valid > 0 {
            var sum = 0.0
            for i in 0 ..< batchSize {
                let (l, g) = try sample(b, i)
                gradients.add(g)
                sum += l
            }
            loss += sum / Double(valid)
            pixels += valid
        }
        loss /= parts
        let lr = schedule.rate(at: t)
        optimiser.apply(to: model.trainableStorage.values, gradients: gradients, learningRate: lr)
        model.parametersChanged()
        return StepResult(loss: loss, learningRate: lr, pixels: pixels)
    }
}
