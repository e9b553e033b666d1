// Mask2FormerTrainer.swift — one sample's forward and backward pass through a
// Rein / Causal-Tune model with the Mask2Former head (docs/mask2former.md,
// "Training"): image -> the L + 1 predictions -> the Mask2Former loss ->
// gradients of every trainable tensor, added into a GradientStore laid out like
// `model.trainableStorage`.
//
// Forward: Mask2FormerModel.forward(keep:) — the adapted backbone (the same
// training forward as the linear-head model's), the feature pyramid, the pixel
// decoder and the transformer decoder, every prediction kept. Loss:
// Mask2FormerLoss.evaluate with Rein's settings (by default), each image
// normalised by its own counts (Mask2FormerAverageFactors.perSample), its
// points drawn from the caller's SplitMix64; the logits' gradients of
// `scale` x the loss land in the model's training buffers. Backward:
// Mask2FormerModel.backward — decoder, pixel decoder, query link, pyramid,
// then blocks and adapters in reverse (input gradients only for a frozen
// backbone; parameter gradients too after `training(backbone: true)`).
// With activation checkpointing the blocks are recomputed from the kept streams.
//
// Threading: one sample at a time, every kernel split over the trainer's
// `threads`. Results depend only on the inputs, the random stream and that count.

import CTCore
import Model
import Tensor

public final class Mask2FormerTrainer {
    public let layout: ParameterLayout
    public let height: Int, width: Int
    public let activationCheckpointing: Bool
    /// The loss's settings (Rein's by default).
    public let lossConfig: Mask2FormerLossConfig
    let workspace: Mask2FormerWorkspace
    let buffers: Mask2FormerTrainingBuffers
    let config: Mask2FormerConfig
    let trainsBackbone: Bool

    /// A trainer for `model`'s configuration at input size height x width (multiples of the patch size),
    /// every step of its forward and backward passes split over `threads` chunks.
    public init(model: Mask2FormerModel, height: Int, width: Int, threads: Int, activationCheckpointing: Bool = false,
                loss: Mask2FormerLossConfig = Mask2FormerLossConfig()) throws(TrainingError) {
        layout = try ParameterLayout(model)
        try loss.validate()
        if model.config.adapter.kind == .causalTuneReleased {
            throw TrainingError("the causal-tune-released adapter replays the released code for inference only (its DCT carries no gradient); train causal-tune (the paper's method) or rein")
        }
        let b = model.backbone.config
        guard b.ffn == .mlp else {
            throw TrainingError("training supports backbones with MLP feed-forward blocks (vits14, vitb14, vitl14, tiny), not SwiGLU (vitg14)")
        }
        if model.trainsBackbone, height / b.patchSize != b.gridSize || width / b.patchSize != b.gridSize {
            throw TrainingError("a trainable backbone needs the crop to match the stored position grid (\(b.gridSize) x \(b.gridSize) patches of \(b.patchSize), i.e. \(b.gridSize * b.patchSize) x \(b.gridSize * b.patchSize)); got \(height) x \(width). Convert the weights to that grid (ctpipe convert-weights --patch-size P --grid G) or change the crop size")
        }
        self.height = height
        self.width = width
        self.activationCheckpointing = activationCheckpointing
        lossConfig = loss
        config = model.config
        trainsBackbone = model.trainsBackbone
        do {
            workspace = try model.makeWorkspace(height: height, width: width, retainForBackward: !activationCheckpointing,
                                                forTraining: true, threads: threads)
        } catch { throw TrainingError("input \(height) x \(width): \(error.reason)") }
        buffers = model.makeTrainingBuffers(for: workspace, checkpointing: activationCheckpointing)
    }

    /// Threads every step splits into.
    public var threads: Int { workspace.threads }

    /// Bytes of activation memory held (the workspace and the training buffers).
    public var activationBytes: Int { workspace.byteCount + buffers.byteCount }

    /// The prediction shape the loss sees: Q queries, K classes, the mask logits at stride 4.
    public var predictionShape: Mask2FormerPredictionShape {
        Mask2FormerPredictionShape(queries: buffers.queries, classes: buffers.classes, maskHeight: buffers.maskHeight,
                                   maskWidth: buffers.maskWidth)
    }

    /// Forward pass and loss, no gradients (the random draws are those `accumulateGradients` makes).
    public func loss(model: Mask2FormerModel, image: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<UInt8>,
                     random: inout SplitMix64) throws(TrainingError) -> Mask2FormerLossResult {
        let targets = try forward(model: model, image: image, labels: labels)
        return try evaluate(targets, scale: 0, gradients: false, random: &random)
    }

    /// Forward and backward pass of one sample. The gradient of `scale` × its loss (normalised by its own
    /// counts) is ADDED into `grads`; returns every prediction's loss terms.
    public func accumulateGradients(model: Mask2FormerModel, image: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<UInt8>,
                                    scale: Float, random: inout SplitMix64,
                                    into grads: GradientStore) throws(TrainingError) -> Mask2FormerLossResult {
        guard grads.layout == layout, grads.values === model.trainableStorage else {
            throw TrainingError("the gradient store was made for another model (make it with GradientStore(model:))")
        }
        let targets = try forward(model: model, image: image, labels: labels)
        let result = try evaluate(targets, scale: scale, gradients: true, random: &random)
        model.backward(workspace, buffers, gradients: grads.destinations)
        return result
    }

    /// The model's forward pass, keeping what the backward pass needs; the label's targets.
    func forward(model: Mask2FormerModel, image: UnsafeBufferPointer<Float>,
                 labels: UnsafeBufferPointer<UInt8>) throws(TrainingError) -> Mask2FormerTargets {
        guard image.count == 3 * height * width else {
            throw TrainingError("image has \(image.count) values, expected 3 x \(height) x \(width)")
        }
        guard labels.count == height * width else {
            throw TrainingError("label has \(labels.count) values, expected \(height) x \(width)")
        }
        guard model.config == config, model.trainsBackbone == trainsBackbone else {
            throw TrainingError("the model does not have the configuration this trainer was made for")
        }
        let targets = try Mask2FormerTargets(label: Array(labels), height: height, width: width, classCount: config.decoder.classes)
        do { try model.forward(image, workspace, keep: buffers) } catch { throw TrainingError(error.reason) }
        return targets
    }

    /// The loss of the kept predictions; with `gradients` the logits' gradients go to the buffers.
    func evaluate(_ targets: Mask2FormerTargets, scale: Float, gradients: Bool,
                  random: inout SplitMix64) throws(TrainingError) -> Mask2FormerLossResult {
        let shape = predictionShape, p = buffers.predictions
        let classStride = shape.classLogitCount, maskStride = shape.maskLogitCount
        let factors = Mask2FormerAverageFactors.perSample(targets, queries: shape.queries, config: lossConfig)
        return try Mask2FormerLoss.evaluate(
            classLogits: (0 ..< p).map { buffers.classLogits + $0 * classStride },
            maskLogits: (0 ..< p).map { buffers.maskLogits + $0 * maskStride },
            shape: shape, targets: targets, config: lossConfig, factors: factors, scale: scale,
            classGradients: gradients ? (0 ..< p).map { buffers.classGradients + $0 * classStride } : nil,
            maskGradients: gradients ? (0 ..< p).map { buffers.maskGradients + $0 * maskStride } : nil,
            random: &random, threads: threads)
    }
}

extension Mask2FormerTrainer: SampleTrainer {
    public typealias Network = Mask2FormerModel
    /// The last prediction's terms (mmdet's loss_cls, loss_mask, loss_dice; weighted).
    public var lossParts: [String] { ["loss_cls", "loss_mask", "loss_dice"] }
    public var drawsRandom: Bool { true }

    /// One per image: each image's loss is normalised by its own counts, the step averages the images.
    public func normaliser(of example: TrainingExample) -> Int { 1 }

    public func sampleLoss(model: Mask2FormerModel, example: TrainingExample, scale: Float, random: inout SplitMix64,
                           into grads: GradientStore) throws(TrainingError) -> SampleLoss {
        let result = try example.image.withUnsafeBufferPointer { image throws(TrainingError) in
            try example.label.withUnsafeBufferPointer { label throws(TrainingError) in
                try accumulateGradients(model: model, image: image, labels: label, scale: scale, random: &random, into: grads)
            }
        }
        let last = result.outputs.last
        return SampleLoss(total: result.total, parts: [last?.classLoss ?? 0, last?.maskLoss ?? 0, last?.diceLoss ?? 0])
    }
}
