// Mask2FormerTraining.swift — the training forward and backward of the whole
// Mask2Former model for one image (docs/mask2former.md, "Training").
//
// Forward (`forward(_:_:keep:)`): DINOv2 with the adapter after every block,
// each block keeping its internals (DINOv2.adaptedForward, shared with the
// linear-head model); the patch tokens after the out_indices blocks fill the
// feature pyramid; the pixel decoder and the transformer decoder run with their
// `keep:` (every one of the L + 1 predictions kept: the loss supervises all).
// The loss (Training.Mask2FormerLoss) then writes the gradients of the
// predictions' logits into `classGradients` / `maskGradients`.
// Backward (`backward`): the transformer decoder -> the mask features, the
// memory levels and the queries; the pixel decoder -> the four pyramid maps;
// the query link -> the adapter's tokens; then the blocks and adapters in
// reverse from the last out index down to block 0, each pyramid level's
// gradient added onto the stream after its block through the resize's adjoint.
// A frozen backbone gives input gradients only (and stops after adapter 0); a
// fine-tuned one (`training(backbone: true)`) adds its blocks' and embeddings'
// gradients. Activation checkpointing: only the streams are kept; each block
// and its adapter are recomputed right before their backward pass.

import Tensor

/// What a Mask2Former model's training forward keeps for its backward pass, the loss's gradient
/// buffers and the backward's scratch, for one window size and one workspace. Allocated once.
public final class Mask2FormerTrainingBuffers {
    final class DecoderBox {
        let buffers: Mask2FormerDecoderTrainingBuffers
        init(_ b: consuming Mask2FormerDecoderTrainingBuffers) { buffers = b }
    }

    public let checkpointing: Bool
    /// Predictions L + 1, queries Q, classes K (without "no object"), the mask logits' plane.
    public let predictions: Int, queries: Int, classes: Int, maskHeight: Int, maskWidth: Int
    let backbone: BackboneTrainingBuffers
    let pixel: PixelDecoderSaved
    let decoder: DecoderBox
    /// ((L+1), Q, K+1) and ((L+1), Q, H0, W0): the loss writes the gradients of the predictions here.
    public let classGradients: UnsafeMutablePointer<Float>, maskGradients: UnsafeMutablePointer<Float>
    let dMaskFeatures: UnsafeMutablePointer<Float>, dMultiScale: UnsafeMutablePointer<Float>, dQueries: UnsafeMutablePointer<Float>
    private let storage: UnsafeMutableBufferPointer<Float>
    private let workspace: ObjectIdentifier

    init(model: Mask2FormerModel, workspace w: Mask2FormerWorkspace, checkpointing: Bool) {
        self.checkpointing = checkpointing
        let d = model.config.decoder
        predictions = d.layers + 1
        queries = d.queries
        classes = d.classes
        maskHeight = w.pixel.maskShape.height
        maskWidth = w.pixel.maskShape.width
        backbone = BackboneTrainingBuffers(config: model.backbone.config, activations: w.backbone.activations,
                                           adapter: model.config.adapter, blocksRun: model.blocksRun, trainable: model.trainsBackbone,
                                           headBlocks: 0, checkpointing: checkpointing)
        pixel = PixelDecoderSaved(decoder: model.pixelDecoder, workspace: w.pixel)
        decoder = DecoderBox(model.decoder.makeTrainingBuffers(for: w.decoderActivations.activations))
        let plane = maskHeight * maskWidth
        let counts = [predictions * queries * (classes + 1), predictions * queries * plane, d.maskChannels * plane,
                      w.pixel.multiScaleRows * d.embedDim, queries * d.embedDim]
        storage = .allocate(capacity: counts.reduce(0, +))
        storage.initialize(repeating: 0)
        var cursor = storage.baseAddress!
        func take(_ count: Int) -> UnsafeMutablePointer<Float> { defer { cursor += count }; return cursor }
        classGradients = take(counts[0])
        maskGradients = take(counts[1])
        dMaskFeatures = take(counts[2])
        dMultiScale = take(counts[3])
        dQueries = take(counts[4])
        workspace = ObjectIdentifier(w)
    }

    deinit { storage.deallocate() }

    /// ((L+1), Q, K+1): the class logits of prediction p = 0 (before the first decoder layer) ... L.
    public var classLogits: UnsafePointer<Float> { UnsafePointer(decoder.buffers.saved.classLogits) }
    /// ((L+1), Q, H0, W0): their mask logits.
    public var maskLogits: UnsafePointer<Float> { UnsafePointer(decoder.buffers.saved.maskLogits) }

    /// Bytes held (the workspace's not included).
    public var byteCount: Int {
        backbone.byteCount + pixel.byteCount + decoder.buffers.byteCount + storage.count * MemoryLayout<Float>.stride
    }

    func fits(_ w: Mask2FormerWorkspace) -> Bool { ObjectIdentifier(w) == workspace }
}

extension Mask2FormerModel {
    /// Training buffers for forwards and backward passes over `workspace` (made with
    /// `retainForBackward` unless `checkpointing`).
    public func makeTrainingBuffers(for workspace: Mask2FormerWorkspace, checkpointing: Bool) -> Mask2FormerTrainingBuffers {
        Mask2FormerTrainingBuffers(model: self, workspace: workspace, checkpointing: checkpointing)
    }

    /// The training forward of one normalised window (3, H, W): every prediction's logits land in
    /// `keep.classLogits` / `keep.maskLogits`, with what `backward` needs.
    public func forward(_ image: UnsafeBufferPointer<Float>, _ w: Mask2FormerWorkspace,
                        keep t: Mask2FormerTrainingBuffers) throws(ModelInputError) {
        guard t.fits(w) else { throw ModelInputError("Mask2Former training buffers made for another workspace") }
        let b = backbone.config, first = (1 + b.registers) * b.embedDim
        if trainsBackbone {
            // The arena holds the position embedding as it was when it was made; a trained one changes.
            backbone.posEmbed.withUnsafeBufferPointer {
                w.backbone.activations.position.baseAddress!.update(from: $0.baseAddress!, count: $0.count)
            }
        }
        let outIndices = config.outIndices
        try backbone.adaptedForward(image, through: blocksRun - 1, w.backbone.activations, adapter: adapter, prepared: prepared,
                                    w.adapter.activations, saved: t.backbone.saved) { l, stream in
            if let j = outIndices.firstIndex(of: l) { w.pyramid.pyramid.fill(level: j, image: 0, patches: stream + first) }
        }
        let maps = (0 ..< 4).map { UnsafePointer(w.pyramid.pyramid.levels[$0].baseAddress!) }
        pixelDecoder.forward(features: maps, workspace: w.pixel, maskFeatures: w.maskFeatures.baseAddress!,
                             multiScale: w.memory.baseAddress!, keep: t.pixel)
        let memory = memoryLevels(w.memory.baseAddress!, w).map { UnsafePointer($0) }
        prepared.queries.withUnsafeBufferPointer { q in
            decoder.forward(queryEmbed: q.baseAddress!, memory: memory, maskFeatures: w.maskFeatures.baseAddress!,
                            activations: w.decoderActivations.activations, keep: t.decoder.buffers.saved)
        }
    }

    /// The memory levels (lowest resolution first) inside a multi-scale buffer of the workspace's rows.
    func memoryLevels(_ base: UnsafeMutablePointer<Float>, _ w: Mask2FormerWorkspace) -> [UnsafeMutablePointer<Float>] {
        var levels: [UnsafeMutablePointer<Float>] = [], row = 0
        for shape in w.pixel.encoderShapes {
            levels.append(base + row * config.decoder.embedDim)
            row += shape.count
        }
        return levels
    }

    /// Backward of the kept forward (`forward(_:_:keep: t)` over `w`, parameters unchanged since), from
    /// the gradients of every prediction in `t.classGradients` / `t.maskGradients`: adds every trainable
    /// parameter's gradient into `gradients` (see the file comment for the order).
    public func backward(_ w: Mask2FormerWorkspace, _ t: Mask2FormerTrainingBuffers, gradients: ParameterGradients) {
        precondition(t.fits(w), "Mask2FormerModel.backward: training buffers made for another workspace")
        let maps = (0 ..< 4).map { UnsafePointer(w.pyramid.pyramid.levels[$0].baseAddress!) }
        prepared.queries.withUnsafeBufferPointer { q in
            decoder.backward(classGradients: t.classGradients, maskGradients: t.maskGradients, queryEmbed: q.baseAddress!,
                             maskFeatures: w.maskFeatures.baseAddress!, activations: w.decoderActivations.activations,
                             buffers: t.decoder.buffers, dQueryEmbed: t.dQueries, dMemory: memoryLevels(t.dMultiScale, w),
                             dMaskFeatures: t.dMaskFeatures, gradients: gradients)
        }
        pixelDecoder.backward(maskFeatures: t.dMaskFeatures, multiScale: t.dMultiScale, features: maps, workspace: w.pixel,
                              saved: t.pixel, gradients: gradients)
        adapter.queryBackward(t.dQueries, gradients: gradients, threads: w.threads)
        let outIndices = config.outIndices, prefix = 1 + backbone.config.registers
        let pixel = t.pixel
        backbone.adaptedBackward(from: blocksRun - 1, w.backbone.activations, adapter: adapter, prepared: prepared,
                                 w.adapter.activations, saved: t.backbone.saved, scratch: t.backbone.scratch,
                                 recompute: t.checkpointing, trainable: trainsBackbone, gradients: gradients) { l, dStream in
            if let j = outIndices.firstIndex(of: l) {
                w.pyramid.pyramid.addGradient(level: j, pixel.inputGradients[j].baseAddress!, intoStream: dStream, prefixTokens: prefix)
            }
        }
    }
}
