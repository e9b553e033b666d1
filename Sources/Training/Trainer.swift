// Trainer.swift — one optimiser step of training: micro-batches of examples
// -> summed gradients -> AdamW at the schedule's learning rate -> the updated
// model, updated in place (its trainable storage; no copy, no rebuild).
//
// Loss (method.md §4): cross-entropy averaged over the non-ignored pixels of a
// micro-batch (all its images together); with gradient accumulation the step
// uses the mean of the micro-batches' losses (as loss / accumulate in PyTorch).
// A micro-batch without any labelled pixel contributes zero loss and zero
// gradient. Samples run one at a time, every kernel on the trainer's threads.

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
    }

    public var layout: ParameterLayout { sampleTrainer.layout }

    /// Iteration `t` (0-based): forward/backward over every example, then one AdamW step.
    public func step(iteration t: Int, microBatches: [[TrainingExample]]) throws(TrainingError) -> StepResult {
        gradients.zero()
        var loss = 0.0, pixels = 0
        let parts = Float(max(microBatches.count, 1))
        for batch in microBatches {
            let valid = batch.reduce(0) { $0 + CrossEntropyLoss.validPixels($1.label) }
            guard valid > 0 else { continue }
            var sum = 0.0
            for example in batch {
                let (l, _) = try example.image.withUnsafeBufferPointer { image throws(TrainingError) in
                    try example.label.withUnsafeBufferPointer { label throws(TrainingError) in
                        try sampleTrainer.accumulateGradients(model: model, image: image, labels: label,
                                                              scale: 1 / (Float(valid) * parts), into: gradients)
                    }
                }
                sum += l
            }
            loss += sum / Double(valid)
            pixels += valid
        }
        loss /= Double(parts)
        let lr = schedule.rate(at: t)
        optimiser.apply(to: model.trainableStorage.values, gradients: gradients, learningRate: lr)
        model.parametersChanged()
        return StepResult(loss: loss, learningRate: lr, pixels: pixels)
    }
}
