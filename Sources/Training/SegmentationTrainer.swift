// SegmentationTrainer.swift — one sample's forward and backward pass through
// the whole segmentation model (method.md §1–4): image -> loss -> gradients of
// every trainable tensor, added into a GradientStore.
//
// Forward: embed; for each block up to the last one the head reads: the block
// (internals kept), the adapter (its slot kept), the head's LayerNorm at the
// head's blocks; classifier; bilinear upsampling; cross-entropy.
// Backward, from the last block down: the head's contribution at its blocks,
// the adapter's backward (parameter gradients, and the gradient through its
// DCT / attention path back to its input), then the block's backward
// (activation gradients; weight gradients with a trainable backbone). With a
// frozen backbone the descent stops after the adapter of block 0; with a
// trainable one it continues through block 0 into the embeddings.
// With activation checkpointing each block and adapter is recomputed from
// the kept stream right before its backward pass.
//
// Threading: one sample at a time, every kernel split over the trainer's
// `threads` (docs/threading.md). Results depend only on the inputs and that count.

import Model
import Tensor

public final class SegmentationTrainer {
    public let layout: ParameterLayout
    public let height: Int, width: Int
    public let activationCheckpointing: Bool
    let arena: TrainingActivations
    let adapterWeights: AdapterBackwardWeights
    let trainable: Bool

    /// A trainer for `model`'s configuration at input size height x width (multiples of the patch size),
    /// every step of its forward and backward passes split over `threads` chunks.
    public init(model: SegmentationModel, height: Int, width: Int, threads: Int,
                activationCheckpointing: Bool = false) throws(TrainingError) {
        layout = try ParameterLayout(model)
        self.height = height
        self.width = width
        self.activationCheckpointing = activationCheckpointing
        trainable = model.config.trainable
        let config = model.backbone.config
        guard config.ffn == .mlp else {
            throw TrainingError("training supports backbones with MLP feed-forward blocks (vits14, vitb14, vitl14, tiny), not SwiGLU (vitg14)")
        }
        if trainable, height / config.patchSize != config.gridSize || width / config.patchSize != config.gridSize {
            throw TrainingError("a trainable backbone needs the crop to match the stored position grid (\(config.gridSize) x \(config.gridSize) patches of \(config.patchSize), i.e. \(config.gridSize * config.patchSize) x \(config.gridSize * config.patchSize)); got \(height) x \(width). Convert the weights to that grid (ctpipe convert-weights --patch-size P --grid G) or change the crop size")
        }
        arena = try TrainingActivations(model: model, height: height, width: width, checkpointing: activationCheckpointing,
                                        threads: threads)
        adapterWeights = AdapterBackwardWeights(arena.adapter)
    }

    /// Threads every step splits into.
    public var threads: Int { arena.threads }

    /// Bytes of activation memory held.
    public var activationBytes: Int { arena.byteCount }

    /// The upsampled logits (K, H, W) of the last `loss` call.
    public var logits: UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(start: arena.logits, count: arena.classes * height * width)
    }

    /// Forward pass and loss, no gradients: (summed loss over non-ignored pixels, their count).
    public func loss(model: SegmentationModel, image: UnsafeBufferPointer<Float>,
                     labels: UnsafeBufferPointer<UInt8>) throws(TrainingError) -> (loss: Double, count: Int) {
        try forward(model: model, image: image, labels: labels)
        return try CrossEntropyLoss.evaluate(logits: arena.logits, classes: arena.classes, pixels: height * width,
                                             labels: labels.baseAddress!, scale: 0, gradient: nil, threads: arena.threads)
    }

    /// Forward and backward pass of one sample. The gradient of `scale` × (summed loss over the
    /// sample's non-ignored pixels) is ADDED into `grads`; returns the summed loss and the count.
    public func accumulateGradients(model: SegmentationModel, image: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<UInt8>,
                                    scale: Float, into grads: GradientStore) throws(TrainingError) -> (loss: Double, count: Int) {
        guard grads.layout == layout else { throw TrainingError("the gradient store was made for another model layout") }
        try forward(model: model, image: image, labels: labels)
        let a = arena
        let result = try CrossEntropyLoss.evaluate(logits: a.logits, classes: a.classes, pixels: height * width,
                                                   labels: labels.baseAddress!, scale: scale, gradient: a.logits, threads: a.threads)
        try backward(model: model, grads: grads)
        return result
    }

    func forward(model: SegmentationModel, image: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<UInt8>) throws(TrainingError) {
        let a = arena
        guard image.count == 3 * height * width else {
            throw TrainingError("image has \(image.count) values, expected 3 x \(height) x \(width)")
        }
        guard labels.count == height * width else {
            throw TrainingError("label has \(labels.count) values, expected \(height) x \(width)")
        }
        guard (try? ParameterLayout(model)) == layout else {
            throw TrainingError("the model does not have the configuration this trainer was made for")
        }
        if trainable {
            // The arena holds the position embedding as it was when it was made; a trained one changes.
            model.backbone.posEmbed.withUnsafeBufferPointer { a.backbone.position.baseAddress!.update(from: $0.baseAddress!, count: $0.count) }
        }
        do { try model.backbone.embed(image, a.backbone) } catch { throw TrainingError(error.reason) }
        a.stream(0).update(from: a.backbone.x.baseAddress!, count: a.tokens * a.embedDim)
        let blocks = model.head.config.blocks
        for l in 0 ..< a.blocksRun {
            try runBlock(model, l, into: a.stream(l + 1))
            for (j, b) in blocks.enumerated() where b == l {
                HeadTraining.normalise(model.head, j, patches: a.stream(l + 1) + a.firstPatch, arena: a)
            }
        }
        HeadTraining.classify(model.head, arena: a)
    }

    /// Block l and its adapter from the kept stream l into `out`.
    func runBlock(_ model: SegmentationModel, _ l: Int, into out: UnsafeMutablePointer<Float>) throws(TrainingError) {
        let a = arena
        try BlockTraining.forward(model.backbone.blocks[l], input: a.stream(l), output: out, saved: a.block(l), arena: a)
        if let adapter = model.adapter, let prepared = model.prepared {
            adapter.forward(layer: l, patches: out + a.firstPatch, prepared: prepared, a.adapter)
        }
    }

    func backward(model: SegmentationModel, grads: GradientStore) throws(TrainingError) {
        let a = arena
        HeadTraining.backward(model.head, arena: a, grads: grads)
        a.dStream.update(repeating: 0, count: a.tokens * a.embedDim)
        let blocks = model.head.config.blocks
        let dPatches = a.dStream + a.firstPatch
        for l in stride(from: a.blocksRun - 1, through: 0, by: -1) {
            for (j, b) in blocks.enumerated() where b == l {
                HeadTraining.normBackward(model.head, j, patches: a.stream(l + 1) + a.firstPatch, arena: a, into: dPatches, grads: grads)
            }
            let needBlock = l > 0 || trainable
            if activationCheckpointing && (model.adapter != nil || needBlock) {
                // Recompute block l and its adapter (same kernels, same inputs: the same values).
                try runBlock(model, l, into: a.backbone.x.baseAddress!)
            }
            if let adapter = model.adapter, let prepared = model.prepared {
                AdapterBackward.backward(adapter, prepared: prepared, layer: l, gradient: dPatches, arena: a, weights: adapterWeights,
                                         grads: grads)
            }
            if needBlock {
                BlockTraining.backward(model.backbone.blocks[l], input: a.stream(l), saved: a.block(l), arena: a, grads: grads,
                                       indices: layout.backbone?.blocks[l])
            }
        }
        if let b = layout.backbone { embeddingBackward(model, b, grads) }
    }

    /// stream0 = [cls + pos_0, registers, patch_embed(image) + pos_grid]: gradients of the embeddings.
    func embeddingBackward(_ model: SegmentationModel, _ b: BackboneParameterIndices, _ grads: GradientStore) {
        let a = arena
        let c = a.embedDim, n = a.patches, d = a.dStream
        let dCls = grads[b.clsToken], dPos = grads[b.posEmbed]
        for i in 0 ..< c { dCls[i] += d[i]; dPos[i] += d[i] }
        if let r = b.registerTokens {
            let dReg = grads[r], count = a.firstPatch - c
            for i in 0 ..< count { dReg[i] += d[c + i] }
        }
        let patches = d + a.firstPatch
        for i in 0 ..< n * c { dPos[c + i] += patches[i] }
        let p = model.backbone.config.patchSize
        GradientGEMM.weight(patches, ldy: c, rows: n, outFeatures: c, x: a.backbone.columns.baseAddress!, ldx: 3 * p * p,
                            inFeatures: 3 * p * p, into: grads[b.patchWeight], threads: a.threads)
        ActivationBackwardKernels.addColumnSums(patches, rows: n, cols: c, ld: c, into: grads[b.patchBias], threads: a.threads)
    }
}
