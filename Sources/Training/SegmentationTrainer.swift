// SegmentationTrainer.swift — one sample's forward and backward pass through
// the whole segmentation model (method.md §1–4): image -> loss -> gradients of
// every trainable tensor, added into a GradientStore.
//
// Forward: the model's own forward pass (SegmentationModel.forward), asked to
// keep what the backward needs in this trainer's arena; then the
// cross-entropy, whose gradient replaces the logits; then the model's backward
// pass (SegmentationModel.backward, each layer's backward beside its forward),
// adding into the store's buffer, where each layer finds a parameter's gradient
// at that parameter's offset (ParameterGradients). With activation checkpointing each block and adapter is
// recomputed from the kept stream right before its backward pass.
//
// Threading: one sample at a time, every kernel split over the trainer's
// `threads` (docs/threading.md). Results depend only on the inputs and that count.

import CTCore
import Model
import Tensor

public final class SegmentationTrainer {
    public let layout: ParameterLayout
    public let height: Int, width: Int
    public let activationCheckpointing: Bool
    let arena: TrainingActivations
    let trainable: Bool
    let config: SegmentationConfig

    /// A trainer for `model`'s configuration at input size height x width (multiples of the patch size),
    /// every step of its forward and backward passes split over `threads` chunks.
    public init(model: SegmentationModel, height: Int, width: Int, threads: Int,
                activationCheckpointing: Bool = false) throws(TrainingError) {
        layout = try ParameterLayout(model)
        self.height = height
        self.width = width
        self.activationCheckpointing = activationCheckpointing
        trainable = model.config.trainable
        self.config = model.config
        if model.config.adapter.kind == .causalTuneReleased {
            throw TrainingError("the causal-tune-released adapter replays the released code for inference only (its DCT carries no gradient); train causal-tune (the paper's method) or rein")
        }
        if model.config.adapter.queryLink {
            throw TrainingError("the token -> query link (query_link) feeds a Mask2Former head, which ctpipe does not train; train without it")
        }
        let config = model.backbone.config
        guard config.ffn == .mlp else {
            throw TrainingError("training supports backbones with MLP feed-forward blocks (vits14, vitb14, vitl14, tiny), not SwiGLU (vitg14)")
        }
        if trainable, height / config.patchSize != config.gridSize || width / config.patchSize != config.gridSize {
            throw TrainingError("a trainable backbone needs the crop to match the stored position grid (\(config.gridSize) x \(config.gridSize) patches of \(config.patchSize), i.e. \(config.gridSize * config.patchSize) x \(config.gridSize * config.patchSize)); got \(height) x \(width). Convert the weights to that grid (ctpipe convert-weights --patch-size P --grid G) or change the crop size")
        }
        arena = try TrainingActivations(model: model, height: height, width: width, checkpointing: activationCheckpointing,
                                        threads: threads)
    }

    /// Threads every step splits into.
    public var threads: Int { arena.threads }

    /// Bytes of activation memory held.
    public var activationBytes: Int { arena.byteCount }

    /// The upsampled logits (K, H, W) of the last `loss` call.
    public var logits: UnsafeBufferPointer<Float> { UnsafeBufferPointer(arena.activations.logits) }

    /// Forward pass and loss, no gradients: (summed loss over non-ignored pixels, their count).
    public func loss(model: SegmentationModel, image: UnsafeBufferPointer<Float>,
                     labels: UnsafeBufferPointer<UInt8>) throws(TrainingError) -> (loss: Double, count: Int) {
        try forward(model: model, image: image, labels: labels)
        return try CrossEntropyLoss.evaluate(logits: arena.activations.logits.baseAddress!, classes: arena.classes,
                                             pixels: height * width, labels: labels.baseAddress!, scale: 0, gradient: nil,
                                             threads: arena.threads)
    }

    /// Forward and backward pass of one sample. The gradient of `scale` × (summed loss over the
    /// sample's non-ignored pixels) is ADDED into `grads`; returns the summed loss and the count.
    public func accumulateGradients(model: SegmentationModel, image: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<UInt8>,
                                    scale: Float, into grads: GradientStore) throws(TrainingError) -> (loss: Double, count: Int) {
        guard grads.layout == layout, grads.values === model.trainableStorage else {
            throw TrainingError("the gradient store was made for another model (make it with GradientStore(model:))")
        }
        try forward(model: model, image: image, labels: labels)
        let a = arena, logits = a.activations.logits.baseAddress!
        // The logits become their gradient in place.
        let result = try CrossEntropyLoss.evaluate(logits: logits, classes: a.classes, pixels: height * width,
                                                   labels: labels.baseAddress!, scale: scale, gradient: logits, threads: a.threads)
        model.backward(a.activations, saved: a.saved, scratch: a.backwardScratch, recompute: activationCheckpointing,
                       gradients: grads.destinations)
        return result
    }

    /// The model's forward pass, keeping what the backward pass needs.
    func forward(model: SegmentationModel, image: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<UInt8>) throws(TrainingError) {
        let a = arena
        guard image.count == 3 * height * width else {
            throw TrainingError("image has \(image.count) values, expected 3 x \(height) x \(width)")
        }
        guard labels.count == height * width else {
            throw TrainingError("label has \(labels.count) values, expected \(height) x \(width)")
        }
        guard model.config == config else {
            throw TrainingError("the model does not have the configuration this trainer was made for")
        }
        if trainable {
            // The arena holds the position embedding as it was when it was made; a trained one changes.
            model.backbone.posEmbed.withUnsafeBufferPointer {
                a.activations.backbone.position.baseAddress!.update(from: $0.baseAddress!, count: $0.count)
            }
        }
        do { try model.forward(image, a.activations, keep: a.saved) } catch { throw TrainingError(error.reason) }
    }
}

extension SegmentationTrainer: SampleTrainer {
    public typealias Network = SegmentationModel
    public var lossParts: [String] { [] }
    public var drawsRandom: Bool { false }

    /// Non-ignored pixels: the cross-entropy is averaged over those of a micro-batch.
    public func normaliser(of example: TrainingExample) -> Int { CrossEntropyLoss.validPixels(example.label) }

    public func sampleLoss(model: SegmentationModel, example: TrainingExample, scale: Float, random: inout SplitMix64,
                           into grads: GradientStore) throws(TrainingError) -> SampleLoss {
        try example.image.withUnsafeBufferPointer { image throws(TrainingError) in
            try example.label.withUnsafeBufferPointer { label throws(TrainingError) in
                SampleLoss(total: try accumulateGradients(model: model, image: image, labels: label, scale: scale, into: grads).loss)
            }
        }
    }
}
