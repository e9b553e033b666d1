// AdaptedBackboneTraining.swift — the training forward and backward of DINOv2
// with the adapter after every block, shared by every head (the linear head's
// SegmentationModel and the Mask2Former model): one block + adapter step with
// an optional `keep:`, the descent through blocks and adapters in reverse, and
// the buffers both keep (BackboneTrainingBuffers).
//
// Forward (training): stream 0 = embed(image); stream l + 1 = adapter_l(block_l(stream l)),
// each block keeping its internals (or, with activation checkpointing, only the
// streams: each block is recomputed right before its backward pass).
// Backward: from the last block a head reads down to block 0: the head's
// gradient at block l is added onto the stream gradient after that block
// (`headGradient(l, dStream)`), then the adapter's backward (in place on the
// patch rows), then the block's (input gradients; parameter gradients too when
// the backbone trains). A frozen backbone stops after the adapter of block 0;
// a trainable one continues into the embeddings.

import Tensor

/// What a training forward of the adapted backbone keeps (streams, block internals, the head's
/// LayerNorm statistics when it has any) and the scratch of its backward pass, for one input size.
/// Allocated once per trainer; `byteCount` says how much it holds.
public final class BackboneTrainingBuffers {
    public let saved: SegmentationSaved
    public let scratch: SegmentationBackwardScratch
    private let storage: UnsafeMutableBufferPointer<Float>

    /// Buffers for a backbone of `config` over the arena `a` (one image), running blocks
    /// 0 ..< blocksRun with `adapter` (nil: none) after each; `headBlocks` LayerNorm'ed
    /// feature sets of the linear head (0 for heads that keep their own); `trainable`: the
    /// blocks' parameters train (their normed inputs and branch outputs are kept per block).
    public init(config: DINOv2Config, activations a: borrowing DINOv2Activations, adapter: AdapterConfig?, blocksRun: Int,
                trainable: Bool, headBlocks j: Int, checkpointing: Bool) {
        let slots = a.attentionSlots
        // GELU's output is recomputed into the forward's FFN scratch (T x F for MLP blocks).
        let ffnScratch = a.hidden.baseAddress!
        let t = a.tokens, c = config.embedDim, f = config.ffnHidden, heads = config.heads
        let n = a.gridHeight * a.gridWidth
        let perBlock = 4 * t + 3 * t * c + t * c + heads * t + t * c + t * f + (trainable ? 4 * t * c : 0)
        let sets = checkpointing ? 1 : blocksRun
        let adapterScratch = adapter.map { CausalTuneAdapter.backwardScratchCount(config: $0, patches: n, embedDim: c) } ?? 0
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
        storage = .allocate(capacity: max(sizes.reduce(0, +), 1))
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
        let adapterBuffer = take(adapterScratch)
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
        scratch = SegmentationBackwardScratch(
            dStream: dStream, dHeadFeatures: dHeadFeatures,
            block: BlockBackwardScratch(tokens: t, threads: a.threads, dScratch: dScratch, dNormed: dNormed, dAttention: dAttention,
                                        dQKV: dQKV, hidden: ffnScratch, dHidden: dHidden, attention: attention, slots: slots),
            adapter: adapter == nil ? nil : adapterBuffer)
    }

    deinit { storage.deallocate() }

    /// Bytes held.
    public var byteCount: Int { storage.count * MemoryLayout<Float>.stride }
}

extension DINOv2 {
    /// Block l and the adapter after it (on the patch tokens): out = adapter_l(block_l(x)).
    /// Without `keep` out may be x (in place).
    public func adaptedLayer(_ l: Int, _ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
                             _ a: borrowing DINOv2Activations, adapter: CausalTuneAdapter?, prepared: PreparedAdapter?,
                             _ adapterActivations: borrowing AdapterActivations, keep: BlockSaved? = nil) {
        blocks[l].forward(x, into: out, a.blockScratch, keep: keep)
        if let adapter, let prepared {
            adapter.forward(layer: l, patches: out + (1 + config.registers) * config.embedDim, prepared: prepared, adapterActivations)
        }
    }

    /// The training forward from the image through block `last` (one image): stream 0 is the
    /// embedding, block l reads kept stream l and writes stream l + 1 (its adapter applied), keeping
    /// its internals in `saved.block(l)`. `afterLayer(l, stream)` sees stream l + 1 (the heads read it).
    public func adaptedForward(_ image: UnsafeBufferPointer<Float>, through last: Int, _ a: borrowing DINOv2Activations,
                               adapter: CausalTuneAdapter?, prepared: PreparedAdapter?,
                               _ adapterActivations: borrowing AdapterActivations, saved: SegmentationSaved,
                               afterLayer: (Int, UnsafeMutablePointer<Float>) -> Void) throws(ModelInputError) {
        try embed(image, a)
        saved.stream(0).update(from: a.x.baseAddress!, count: a.rows * config.embedDim)
        for l in 0 ..< last + 1 {
            adaptedLayer(l, saved.stream(l), into: saved.stream(l + 1), a, adapter: adapter, prepared: prepared, adapterActivations,
                         keep: saved.block(l))
            afterLayer(l, saved.stream(l + 1))
        }
    }

    /// Backward of a kept forward through blocks `last` ... 0 (see the file comment). `scratch.dStream`
    /// is zeroed first; `headGradient(l, dStream)` adds the head's gradient of the stream after block l
    /// (T x C) before that block's adapter and block run backward. `trainable`: the blocks' (and the
    /// embeddings') parameter gradients are added too, and the descent continues through block 0.
    /// `recompute` (activation checkpointing): each block and its adapter are recomputed from the
    /// kept stream right before their backward (same kernels, same inputs: the same values).
    public func adaptedBackward(from last: Int, _ a: borrowing DINOv2Activations, adapter: CausalTuneAdapter?,
                                prepared: PreparedAdapter?, _ adapterActivations: borrowing AdapterActivations,
                                saved: SegmentationSaved, scratch: SegmentationBackwardScratch, recompute: Bool, trainable: Bool,
                                gradients: ParameterGradients, headGradient: (Int, UnsafeMutablePointer<Float>) -> Void) {
        let c = config.embedDim, first = (1 + config.registers) * c
        scratch.dStream.update(repeating: 0, count: a.tokens * c)
        let dPatches = scratch.dStream + first
        for l in stride(from: last, through: 0, by: -1) {
            headGradient(l, scratch.dStream)
            let needBlock = l > 0 || trainable
            if recompute && (adapter != nil || needBlock) {
                adaptedLayer(l, saved.stream(l), into: a.x.baseAddress!, a, adapter: adapter, prepared: prepared, adapterActivations,
                             keep: saved.block(l))
            }
            if let adapter, let prepared {
                guard let adapterScratch = scratch.adapter else {
                    preconditionFailure("DINOv2.adaptedBackward: a model with an adapter needs adapter scratch")
                }
                adapter.backward(layer: l, gradient: dPatches, prepared: prepared, adapterActivations, scratch: adapterScratch,
                                 gradients: gradients)
            }
            if needBlock {
                blocks[l].backward(scratch.dStream, input: saved.stream(l), saved: saved.block(l), scratch.block,
                                   gradients: trainable ? gradients : nil)
            }
        }
        if trainable { embedBackward(scratch.dStream, a, gradients: gradients) }
    }
}
