// TrainingActivations.swift — the arena of one training forward + backward
// pass for one input shape.
//
// The model's own arena (SegmentationActivations: embedding, block scratch,
// adapter slots, head features and logits), plus what the forward keeps for
// the backward (SegmentationSaved):
//   streams      (D+1, T, C)  the residual stream entering block l (after adapter l-1);
//                             the last one leaves the last block the head reads
//   per block    LN1/LN2 row statistics, qkv (T, 3C), head outputs O (T, C),
//                attention log-sum-exp (heads, T), x after the attention
//                residual (T, C), fc1 pre-activation (T, F); with a trainable
//                backbone also LN1/LN2 outputs and the attention/FFN outputs
//                (frozen: one shared set of those, the backward reads none)
//   adapter      its own retained slots (AdapterActivations)
//   head         the LayerNorm statistics of the head's blocks
// With activation checkpointing only the streams are kept: each block (and its
// adapter) is recomputed from its input during the backward pass into one
// shared set of block buffers, so memory no longer grows with the depth
// beyond one (T, C) stream per block.
// Backward scratch (SegmentationBackwardScratch): stream gradient, qkv and
// hidden gradients, per-worker attention blocks, the head's and the adapter's
// gradient buffers.

import Model
import Tensor

final class TrainingActivations {
    let height: Int, width: Int
    let tokens: Int, embedDim: Int
    let classes: Int
    let checkpointing: Bool
    /// Threads every forward and backward step over this arena splits into.
    let threads: Int

    /// The model's arena (kept adapter slots unless blocks are recomputed).
    let activations: SegmentationActivations
    /// What the forward keeps, and the backward's scratch (Model.BackboneTrainingBuffers, shared with
    /// the Mask2Former trainer).
    let buffers: BackboneTrainingBuffers
    var saved: SegmentationSaved { buffers.saved }
    var backwardScratch: SegmentationBackwardScratch { buffers.scratch }

    init(model: SegmentationModel, height: Int, width: Int, checkpointing: Bool, threads: Int) throws(TrainingError) {
        let arena: SegmentationActivations
        do {
            arena = try model.makeActivations(height: height, width: width, retainForBackward: !checkpointing, forTraining: true,
                                              threads: threads)
        } catch { throw TrainingError(error.reason) }
        self.height = height
        self.width = width
        tokens = arena.backbone.tokens
        embedDim = model.backbone.config.embedDim
        classes = model.classes
        self.checkpointing = checkpointing
        self.threads = arena.threads
        buffers = BackboneTrainingBuffers(config: model.backbone.config, activations: arena.backbone,
                                          adapter: model.adapter == nil ? nil : model.config.adapter,
                                          blocksRun: model.head.config.blocks.max()! + 1, trainable: model.config.trainable,
                                          headBlocks: model.head.config.blocks.count, checkpointing: checkpointing)
        activations = arena
    }

    /// Bytes held (the model's arena included).
    var byteCount: Int { buffers.byteCount + activations.byteCount }
}
