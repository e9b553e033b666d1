// Trainer.swift — one optimiser step of training: micro-batches of examples
// -> summed gradients -> AdamW at the schedule's learning rate -> the updated
// model, updated in place (its trainable storage; no copy, no rebuild). One
// step path serves every head: the per-sample work is a `SampleTrainer`
// (SegmentationTrainer: the linear head and cross-entropy; Mask2FormerTrainer:
// the Mask2Former head and its matched loss).
//
// Loss normalisation: each micro-batch has a normaliser, the sum of its
// examples' shares (`SampleTrainer.normaliser(of:)`), and each sample's
// gradient is scaled by 1 / (normaliser x micro-batches); the step's loss is
// the mean over micro-batches of (summed sample losses / normaliser).
//   linear head: the share is the example's non-ignored pixels, so the loss is
//     cross-entropy averaged over the non-ignored pixels of a micro-batch (all its
//     images together) (method.md §4); a micro-batch without any labelled pixel
//     contributes zero loss and zero gradient;
//   Mask2Former: the share is 1 per image and each image's loss is normalised by
//     its own counts (Mask2FormerAverageFactors.perSample), so the loss is the
//     mean of the per-image losses (mmdet normalises by the batch's summed
//     counts instead; the two agree for one image per micro-batch).
// With gradient accumulation the step uses the mean of the micro-batches'
// losses (as loss / accumulate in PyTorch). Samples run one at a time, every
// kernel on the trainer's threads.
//
// Randomness of the loss (Mask2Former's points): the trainer owns one
// SplitMix64 stream (`lossRandom`, saved with the training state); before a
// step it draws one seed per example, in example order, and each example's
// loss draws from SplitMix64(seed:) of its own seed. So a sample's points do
// not depend on where it is computed, and a resumed run continues the stream.
//
// Summation: each sample's gradient is computed alone (into `sampleGradients`,
// zeroed first) and then added into the step's sum in example order. So the
// sum does not depend on where a sample's gradient was computed: a job of
// several processes (docs/training.md, "Several processes") computes each
// sample on one rank, gathers them and adds them in the same order, with the
// same bits. Costs one more gradient-sized buffer and one add per sample.

import CTCore
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
    /// The normalisers summed over the micro-batches: non-ignored pixels seen (linear head), or images (Mask2Former).
    public var pixels: Int
    /// The loss's components (`SampleTrainer.lossParts`), normalised as the loss is.
    public var parts: [Double] = []
}

/// One example's loss: the total and its components (`SampleTrainer.lossParts`, same order).
public struct SampleLoss: Sendable, Equatable {
    public var total: Double
    public var parts: [Double]
    public init(total: Double, parts: [Double] = []) {
        self.total = total
        self.parts = parts
    }
}

/// A model a Trainer updates in place: one contiguous trainable storage, and what depends on it.
public protocol TrainableNetwork: Sendable {
    var trainableStorage: ParameterStorage { get }
    mutating func parametersChanged()
}

extension SegmentationModel: TrainableNetwork {}
extension Mask2FormerModel: TrainableNetwork {}

/// One example's forward and backward pass for one head.
public protocol SampleTrainer: AnyObject {
    associatedtype Network: TrainableNetwork
    var layout: ParameterLayout { get }
    /// Bytes of activation memory held.
    var activationBytes: Int { get }
    /// The names of the loss's components a step reports besides the total (train_log).
    var lossParts: [String] { get }
    /// Whether the loss draws random numbers (then each example gets its own seeded stream).
    var drawsRandom: Bool { get }
    /// The example's share of its micro-batch's normaliser (see the file comment).
    func normaliser(of example: TrainingExample) -> Int
    /// Forward and backward pass of one example: the gradient of `scale` x its loss is ADDED into `grads`.
    func sampleLoss(model: Network, example: TrainingExample, scale: Float, random: inout SplitMix64,
                    into grads: GradientStore) throws(TrainingError) -> SampleLoss
}

public final class Trainer<Sample: SampleTrainer> {
    public private(set) var model: Sample.Network
    public private(set) var optimiser: AdamW
    public let schedule: LearningRateSchedule
    public let sampleTrainer: Sample
    let gradients: GradientStore
    /// One sample's gradient (`sampleGradient`), added into `gradients` by `combine`.
    public let sampleGradients: GradientStore
    /// The loss's random stream: one draw per example seeds that example's stream (`sampleSeeds`).
    public private(set) var lossRandom: SplitMix64

    /// A trainer starting from `model` with `optimiser` (fresh or restored) and the loss's stream `lossRandom`
    /// (fresh or restored), each sample's work done by `sampleTrainer` (made for this model).
    public init(model: Sample.Network, sampleTrainer: Sample, optimiser: AdamW, schedule: LearningRateSchedule,
                lossRandom: SplitMix64 = SplitMix64(seed: 0)) throws(TrainingError) {
        guard optimiser.layout == sampleTrainer.layout else {
            throw TrainingError("the optimiser state does not fit the model's trainable tensors")
        }
        guard model.trainableStorage.count == max(sampleTrainer.layout.valueCount, 1) else {
            throw TrainingError("the sample trainer was made for another model (\(sampleTrainer.layout.valueCount) trainable values, the model has \(model.trainableStorage.count))")
        }
        self.model = model
        self.sampleTrainer = sampleTrainer
        self.optimiser = optimiser
        self.schedule = schedule
        self.lossRandom = lossRandom
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
        let normalisers = microBatches.map { $0.reduce(0) { $0 + sampleTrainer.normaliser(of: $1) } }
        let seeds = sampleSeeds(count: microBatches.count * batchSize)
        return try combine(iteration: t, validPixels: normalisers, batchSize: batchSize) { (b, i) throws(TrainingError) in
            let example = microBatches[b][i]
            let loss = try sampleGradient(example, scale: Self.scale(valid: normalisers[b], microBatches: normalisers.count),
                                          seed: seeds[b * batchSize + i])
            return (loss, UnsafeBufferPointer(sampleGradients.all))
        }
    }

    /// The seeds of the next `count` examples' loss streams, in example order (advances `lossRandom`;
    /// zeros, without advancing it, when the loss draws nothing). Every process of a job draws all of them.
    public func sampleSeeds(count: Int) -> [UInt64] {
        guard sampleTrainer.drawsRandom else { return Array(repeating: 0, count: count) }
        return (0 ..< count).map { _ in lossRandom.next() }
    }

    /// The factor of a sample's loss in a step: 1 / (its micro-batch's normaliser x micro-batches).
    public static func scale(valid: Int, microBatches: Int) -> Float { 1 / (Float(valid) * Float(max(microBatches, 1))) }

    /// Forward and backward pass of one example alone: its gradient, `scale` x its loss, replaces
    /// `sampleGradients`; returns the loss (unscaled) and its parts. The loss's random draws come from
    /// SplitMix64(seed: seed). What a rank computes for its share of a step (the runner's data-parallel training).
    public func sampleGradient(_ example: TrainingExample, scale: Float, seed: UInt64 = 0) throws(TrainingError) -> SampleLoss {
        sampleGradients.zero()
        var random = SplitMix64(seed: seed)
        return try sampleTrainer.sampleLoss(model: model, example: example, scale: scale, random: &random, into: sampleGradients)
    }

    /// Iteration `t` from every example's loss and gradient (`sample(b, i)`: micro-batch b,
    /// example i, each asked once, in that order), `validPixels` the normaliser per micro-batch: the
    /// gradients are added in example order into a zeroed sum, then one AdamW step. Micro-batches
    /// with a zero normaliser are skipped. One process computes each sample as it is asked (`step`);
    /// a job of several gathers them first: both add the same values in the same order.
    public func combine(iteration t: Int, validPixels: [Int], batchSize: Int,
                        sample: (Int, Int) throws(TrainingError) -> (loss: SampleLoss, gradient: UnsafeBufferPointer<Float>))
        throws(TrainingError) -> StepResult {
        gradients.zero()
        var loss = 0.0, pixels = 0
        var parts = [Double](repeating: 0, count: sampleTrainer.lossParts.count)
        let count = Double(max(validPixels.count, 1))
        for (b, valid) in validPixels.enumerated() where valid > 0 {
            var sum = 0.0
            var partSums = [Double](repeating: 0, count: parts.count)
            for i in 0 ..< batchSize {
                let (l, g) = try sample(b, i)
                gradients.add(g)
                sum += l.total
                for k in partSums.indices where k < l.parts.count { partSums[k] += l.parts[k] }
            }
            loss += sum / Double(valid)
            for k in parts.indices { parts[k] += partSums[k] / Double(valid) }
            pixels += valid
        }
        loss /= count
        parts = parts.map { $0 / count }
        let lr = schedule.rate(at: t)
        optimiser.apply(to: model.trainableStorage.values, gradients: gradients, learningRate: lr)
        model.parametersChanged()
        return StepResult(loss: loss, learningRate: lr, pixels: pixels, parts: parts)
    }
}

extension Trainer where Sample == SegmentationTrainer {
    /// A linear-head trainer starting from `model` with `optimiser` (fresh or restored), for crops of
    /// cropSize x cropSize, every kernel split over `threads` chunks.
    public convenience init(model: SegmentationModel, optimiser: AdamW, schedule: LearningRateSchedule, cropSize: Int,
                            threads: Int, activationCheckpointing: Bool) throws(TrainingError) {
        let sample = try SegmentationTrainer(model: model, height: cropSize, width: cropSize, threads: threads,
                                             activationCheckpointing: activationCheckpointing)
        try self.init(model: model, sampleTrainer: sample, optimiser: optimiser, schedule: schedule)
    }
}

extension Trainer where Sample == Mask2FormerTrainer {
    /// A Mask2Former trainer starting from `model` (frozen backbone, or `model.training(backbone: true)`)
    /// with `optimiser` and the loss's stream `lossRandom` (fresh or restored), for crops of
    /// cropSize x cropSize, every kernel split over `threads` chunks.
    public convenience init(model: Mask2FormerModel, optimiser: AdamW, schedule: LearningRateSchedule, cropSize: Int,
                            threads: Int, activationCheckpointing: Bool, loss: Mask2FormerLossConfig = Mask2FormerLossConfig(),
                            lossRandom: SplitMix64) throws(TrainingError) {
        let sample = try Mask2FormerTrainer(model: model, height: cropSize, width: cropSize, threads: threads,
                                            activationCheckpointing: activationCheckpointing, loss: loss)
        try self.init(model: model, sampleTrainer: sample, optimiser: optimiser, schedule: schedule, lossRandom: lossRandom)
    }
}
