// TrainingActivations.swift — the arena of one training forward + backward
// pass for one input shape.
//
// Kept from the forward pass for the backward pass:
//   streams      (D+1, T, C)  the residual stream entering block l (after adapter l-1);
//                             the last one leaves the last block the head reads
//   per block    LN1/LN2 row statistics, qkv (T, 3C), head outputs O (T, C),
//                attention log-sum-exp (heads, T), x after the attention
//                residual (T, C), fc1 pre-activation (T, F); with a trainable
//                backbone also LN1/LN2 outputs and the attention/FFN outputs
//   adapter      its own retained slots (AdapterActivations)
//   head         LayerNorm'ed features (J, N, C) and statistics, patch logits, logits
// With activation checkpointing only the streams are kept: each block (and its
// adapter) is recomputed from its input during the backward pass into one
// shared set of block buffers, so memory no longer grows with the depth
// beyond one (T, C) stream per block.
// Backward scratch: stream gradient, qkv and hidden gradients, per-worker
// attention blocks, the head's and the adapter's gradient buffers.

import Model
import Tensor

/// The saved internals of one block (pointers into the arena).
struct BlockBuffers {
    let mean1: UnsafeMutablePointer<Float>, rstd1: UnsafeMutablePointer<Float>
    let normed1: UnsafeMutablePointer<Float>
    let qkv: UnsafeMutablePointer<Float>
    let attention: UnsafeMutablePointer<Float>
    let logSumExp: UnsafeMutablePointer<Float>
    let projected: UnsafeMutablePointer<Float>
    let mid: UnsafeMutablePointer<Float>
    let mean2: UnsafeMutablePointer<Float>, rstd2: UnsafeMutablePointer<Float>
    let normed2: UnsafeMutablePointer<Float>
    /// fc1 output without its bias (T, F).
    let hidden: UnsafeMutablePointer<Float>
    let ffnOut: UnsafeMutablePointer<Float>
}

final class TrainingActivations {
    let height: Int, width: Int
    let gridHeight: Int, gridWidth: Int
    let tokens: Int, embedDim: Int, ffnHidden: Int, heads: Int
    /// Patch tokens N and the offset of the first one in the stream ((1 + R)·C).
    let patches: Int, firstPatch: Int
    let blocksRun: Int
    let classes: Int
    let headBlocks: Int
    let adapterTokens: Int
    let checkpointing: Bool
    /// Threads every forward and backward step over this arena splits into.
    let threads: Int
    let attentionSlots: Int
    static let queryBlock = 128

    /// The backbone's embedding arena (image -> tokens, resized position embedding, im2col).
    let backbone: DINOv2Activations
    let adapter: AdapterActivations

    private let storage: UnsafeMutableBufferPointer<Float>
    let streams: UnsafeMutablePointer<Float>
    private let blockSets: [BlockBuffers]
    /// Forward scratch for the GELU output (T, F).
    let activated: UnsafeMutablePointer<Float>
    /// (J, N, C), (J, N), (J, N)
    let headFeatures: UnsafeMutablePointer<Float>, headMean: UnsafeMutablePointer<Float>, headRstd: UnsafeMutablePointer<Float>
    /// (N, K), (K, N), (K, H, W) — the logits become their gradient in place.
    let patchLogits: UnsafeMutablePointer<Float>, planes: UnsafeMutablePointer<Float>, logits: UnsafeMutablePointer<Float>
    // Backward scratch.
    let dStream: UnsafeMutablePointer<Float>, dScratch: UnsafeMutablePointer<Float>, dNormed: UnsafeMutablePointer<Float>
    let dAttention: UnsafeMutablePointer<Float>, dQKV: UnsafeMutablePointer<Float>, dHidden: UnsafeMutablePointer<Float>
    let attentionScratch: UnsafeMutablePointer<Float>
    let dHeadFeatures: UnsafeMutablePointer<Float>
    let adapterScratch: UnsafeMutablePointer<Float>

    init(model: SegmentationModel, height: Int, width: Int, checkpointing: Bool, threads: Int) throws(TrainingError) {
        let config = model.backbone.config
        let dino: DINOv2Activations
        do { dino = try model.backbone.makeActivations(height: height, width: width, threads: threads) } catch {
            throw TrainingError(error.reason)
        }
        self.height = height
        self.width = width
        gridHeight = dino.gridHeight
        gridWidth = dino.gridWidth
        tokens = dino.tokens
        embedDim = config.embedDim
        ffnHidden = config.ffnHidden
        heads = config.heads
        patches = gridHeight * gridWidth
        firstPatch = (1 + config.registers) * config.embedDim
        blocksRun = model.head.config.blocks.max()! + 1
        classes = model.classes
        headBlocks = model.head.config.blocks.count
        adapterTokens = model.config.adapter.tokens
        self.checkpointing = checkpointing
        self.threads = dino.threads
        attentionSlots = dino.threads
        backbone = dino
        adapter = AdapterActivations(config: model.config.adapter, embedDim: config.embedDim, layers: config.depth,
                                     gridHeight: gridHeight, gridWidth: gridWidth, retainForBackward: !checkpointing,
                                     threads: threads)

        let t = tokens, c = embedDim, f = ffnHidden, n = patches, k = classes, j = headBlocks, m = adapterTokens
        let trainable = model.config.trainable
        let perBlock = 4 * t + 3 * t * c + t * c + heads * t + t * c + t * f + (trainable ? 4 * t * c : 0)
        let sets = checkpointing ? 1 : blocksRun
        let qb = min(Self.queryBlock, t)
        var sizes: [Int] = []
        sizes.append((blocksRun + 1) * t * c)          // streams
        sizes.append(sets * perBlock)                  // block sets
        sizes.append(trainable ? 0 : 4 * t * c)        // shared normed1/normed2/projected/ffnOut
        sizes.append(t * f)                            // activated
        sizes += [j * n * c, j * n, j * n, n * k, k * n, k * height * width]
        sizes += [t * c, t * c, t * c, t * c, 3 * t * c, t * f]
        sizes.append(attentionSlots * 2 * qb * t)
        sizes.append(j * n * c)
        sizes.append(model.adapter == nil ? 0 : 6 * n * c + n * m + 2 * m * c)
        storage = .allocate(capacity: sizes.reduce(0, +))
        storage.initialize(repeating: 0)
        var cursor = storage.baseAddress!
        func take(_ count: Int) -> UnsafeMutablePointer<Float> { defer { cursor += count }; return cursor }
        streams = take(sizes[0])
        let setBase = take(sizes[1])
        let shared = take(sizes[2])
        activated = take(sizes[3])
        headFeatures = take(j * n * c); headMean = take(j * n); headRstd = take(j * n)
        patchLogits = take(n * k); planes = take(k * n); logits = take(k * height * width)
        dStream = take(t * c); dScratch = take(t * c); dNormed = take(t * c); dAttention = take(t * c)
        dQKV = take(3 * t * c); dHidden = take(t * f)
        attentionScratch = take(sizes[16])
        dHeadFeatures = take(j * n * c)
        adapterScratch = take(sizes[18])
        var setsOut: [BlockBuffers] = []
        for s in 0 ..< sets {
            var p = setBase + s * perBlock
            func next(_ count: Int) -> UnsafeMutablePointer<Float> { defer { p += count }; return p }
            let mean1 = next(t), rstd1 = next(t), mean2 = next(t), rstd2 = next(t)
            let qkv = next(3 * t * c), attention = next(t * c), lse = next(heads * t), mid = next(t * c), hidden = next(t * f)
            let normed1 = trainable ? next(t * c) : shared
            let normed2 = trainable ? next(t * c) : shared + t * c
            let projected = trainable ? next(t * c) : shared + 2 * t * c
            let ffnOut = trainable ? next(t * c) : shared + 3 * t * c
            setsOut.append(BlockBuffers(mean1: mean1, rstd1: rstd1, normed1: normed1, qkv: qkv, attention: attention,
                                        logSumExp: lse, projected: projected, mid: mid, mean2: mean2, rstd2: rstd2,
                                        normed2: normed2, hidden: hidden, ffnOut: ffnOut))
        }
        blockSets = setsOut
    }

    deinit { storage.deallocate() }

    /// The stream entering block l (l = blocksRun: leaving the last block, after its adapter).
    func stream(_ l: Int) -> UnsafeMutablePointer<Float> { streams + l * tokens * embedDim }

    /// The saved buffers of block l (the one shared set under activation checkpointing).
    func block(_ l: Int) -> BlockBuffers { blockSets[checkpointing ? 0 : l] }

    /// Bytes held (the backbone's and the adapter's arenas included).
    var byteCount: Int { storage.count * MemoryLayout<Float>.stride + backbone.byteCount + adapter.byteCount }
}
