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
    /// What the forward keeps, and the backward's scratch (pointers into `storage`).
    let saved: SegmentationSaved
    let backwardScratch: SegmentationBackwardScratch

    private let storage: UnsafeMutableBufferPointer<Float>

    init(model: SegmentationModel, height: Int, width: Int, checkpointing: Bool, threads: Int) throws(TrainingError) {
        let config = model.backbone.config
        let arena: SegmentationActivations
        do {
            arena = try model.makeActivations(height: height, width: width, retainForBackward: !checkpointing, threads: threads)
        } catch { throw TrainingError(error.reason) }
        self.height = height
        self.width = width
        tokens = arena.backbone.tokens
        embedDim = config.embedDim
        classes = model.classes
        self.checkpointing = checkpointing
        self.threads = arena.threads
        let slots = arena.backbone.attentionSlots
        // GELU's output is recomputed into the forward's FFN scratch (T x F for MLP blocks).
        let ffnScratch = arena.backbone.hidden.baseAddress!

        let t = tokens, c = embedDim, f = config.ffnHidden, heads = config.heads
        let n = arena.backbone.gridHeight * arena.backbone.gridWidth
        let j = model.head.config.blocks.count
        let blocksRun = model.head.config.blocks.max()! + 1
        let trainable = model.config.trainable
        let perBlock = 4 * t + 3 * t * c + t * c + heads * t + t * c + t * f + (trainable ? 4 * t * c : 0)
        let sets = checkpointing ? 1 : blocksRun
        let adapterScratch = model.adapter == nil ? 0 : CausalTuneAdapter.backwardScratchCount(config: model.config.adapter, patches: n, embedDim: c)
        let attentionScratch = slots * Attention.backwardScratchPerSlot(tokens: t)
        var sizes: [Int] = []
        sizes.append((blocksRun + 1) * t * c)          // streams
        sizes.append(sets * perBlock)                  // block sets
        sizes.append(trainable ? 0 : 4 * t * c)        // shared normed1/normed2/projected/ffnOut
        sizes.append(2 * j * n)                        // head statistics
        sizes += [t * c, t * c, t * c, t * c, 3 * t * c, t * f]
        sizes.append(attentionScratch)
        sizes.append(j * n * c)
        sizes.append(adapterScratch)
        storage = .allocate(capacity: sizes.reduce(0, +))
        storage.initialize(repeating: 0)
        var cursor = storage.baseAddress!
        func take(_ count: Int) -> UnsafeMutablePointer<Float> { defer { cursor += count }; return cursor }
        let streams = take(sizes[0])
        let setBase = take(sizes[1])
        let shared = take(sizes[2])
        let headMean = take(j * n), headRstd = take(j * n)
        let dStream = take(t * c), dScratch = take(t * c), dNormed = take(t * c), dAttention = take(t * c)
        let dQKV = take(3 * t * c), dHidden = take(t * f)
        let attention = take(attentionScratch)
        let dHeadFeatures = take(j * n * c)
        let adapter = take(adapterScratch)
        var blockSets: [BlockSaved] = []
        for s in 0 ..< sets {
            var p = setBase + s * perBlock
            func next(_ count: Int) -> UnsafeMutablePointer<Float> { defer { p += count }; return p }
            let mean1 = next(t), rstd1 = next(t), mean2 = next(t), rstd2 = next(t)
            let qkv = next(3 * t * c), out = next(t * c), lse = next(heads * t), mid = next(t * c), hidden = next(t * f)
            let normed1 = trainable ? next(t * c) : shared
            let normed2 = trainable ? next(t * c) : shared + t * c
            let projected = trainable ? next(t * c) : shared + 2 * t * c
            let ffnOut = trainable ? next(t * c) : shared + 3 * t * c
            blockSets.append(BlockSaved(norm1: LayerNormSaved(mean: mean1, rstd: rstd1), normed1: normed1, qkv: qkv, attention: out,
                                        logSumExp: lse, projected: projected, mid: mid, norm2: LayerNormSaved(mean: mean2, rstd: rstd2),
                                        normed2: normed2, hidden: hidden, ffnOut: ffnOut))
        }
        saved = SegmentationSaved(streams: streams, streamSize: t * c, blocks: blockSets,
                                  head: (0 ..< j).map { LayerNormSaved(mean: headMean + $0 * n, rstd: headRstd + $0 * n) })
        backwardScratch = SegmentationBackwardScratch(
            dStream: dStream, dHeadFeatures: dHeadFeatures,
            block: BlockBackwardScratch(tokens: t, threads: arena.threads, dScratch: dScratch, dNormed: dNormed, dAttention: dAttention,
                                        dQKV: dQKV, hidden: ffnScratch, dHidden: dHidden, attention: attention, slots: slots),
            adapter: model.adapter == nil ? nil : adapter)
        activations = arena
    }

    deinit { storage.deallocate() }

    /// Bytes held (the model's arena included).
    var byteCount: Int { storage.count * MemoryLayout<Float>.stride + activations.byteCount }
}
