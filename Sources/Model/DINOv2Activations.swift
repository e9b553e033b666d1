// DINOv2Activations.swift — the activation arena of one input shape and batch size.
//
// One allocation, sliced into named buffers with their shapes below; created
// once per (height, width, batch) by `DINOv2.makeActivations` and reused for
// every batch of that shape, so a forward pass allocates nothing. A batch of B
// images is stored image after image: the token rows of image b are rows
// b·T ..< (b+1)·T of every (B·T, ·) buffer, so the Linear layers run once over
// all B·T rows while attention stays per image. A new shape means a new arena,
// never a silent resize. Owned by one worker at a time (~Copyable).

import Tensor

public struct DINOv2Activations: ~Copyable {
    public let height: Int, width: Int
    /// Patch grid h x w.
    public let gridHeight: Int, gridWidth: Int
    /// T = 1 + R + h·w, the tokens of one image.
    public let tokens: Int
    /// Images B processed together.
    public let batch: Int
    public let embedDim: Int
    private let storage: UnsafeMutableBufferPointer<Float>

    /// (B·T, C) the residual stream: per image [CLS, registers, patches row-major].
    public let x: UnsafeMutableBufferPointer<Float>
    /// (B·T, C) LayerNorm output (also the final-norm features).
    public let normed: UnsafeMutableBufferPointer<Float>
    /// (B·T, 3C) q | k | v.
    public let qkv: UnsafeMutableBufferPointer<Float>
    /// (slots, min(128, T), T) attention weights of one query block per worker slot.
    public let scores: UnsafeMutableBufferPointer<Float>
    /// (slots, 128) 1 / softmax denominators of those rows.
    public let rowScale: UnsafeMutableBufferPointer<Float>
    /// Threads every step of a forward pass over this arena splits into.
    public let threads: Int
    /// Attention worker slots (one per thread).
    public var attentionSlots: Int { threads }
    /// (B·T, C) concatenated head outputs.
    public let heads: UnsafeMutableBufferPointer<Float>
    /// (B·T, C) output projection / FFN output before the residual update.
    public let projected: UnsafeMutableBufferPointer<Float>
    /// (B·T, FFN scratch) FFN hidden activations.
    public let hidden: UnsafeMutableBufferPointer<Float>
    /// (h·w, 3p²) im2col of the patch embedding (one image at a time).
    public let columns: UnsafeMutableBufferPointer<Float>
    /// (1 + h·w, C) position embedding resized to this grid.
    public let position: UnsafeMutableBufferPointer<Float>

    init(config: DINOv2Config, height: Int, width: Int, batch: Int, ffnScratchPerToken: Int, threads: Int) {
        let p = config.patchSize, c = config.embedDim
        self.height = height
        self.width = width
        gridHeight = height / p
        gridWidth = width / p
        let n = gridHeight * gridWidth
        tokens = 1 + config.registers + n
        self.batch = batch
        embedDim = c
        let rows = batch * tokens
        self.threads = max(1, threads)
        let attentionSlots = self.threads
        let sizes = [rows * c, rows * c, rows * 3 * c, attentionSlots * Attention.scoresPerSlot(tokens: tokens, headDim: c / config.heads),
                     attentionSlots * Attention.queryBlock, rows * c, rows * c, rows * ffnScratchPerToken,
                     n * 3 * p * p, (1 + n) * c]
        storage = Threading.zeroedFloats(sizes.reduce(0, +), threads: threads)
        var slices: [UnsafeMutableBufferPointer<Float>] = []
        var offset = 0
        for size in sizes {
            slices.append(UnsafeMutableBufferPointer(rebasing: storage[offset ..< offset + size]))
            offset += size
        }
        x = slices[0]; normed = slices[1]; qkv = slices[2]; scores = slices[3]; rowScale = slices[4]
        heads = slices[5]; projected = slices[6]; hidden = slices[7]; columns = slices[8]; position = slices[9]
    }

    deinit { storage.deallocate() }

    /// Token rows of the whole batch, B·T.
    public var rows: Int { batch * tokens }

    /// The block scratch of this arena (every block of a forward pass writes it).
    public var blockScratch: BlockScratch {
        BlockScratch(tokens: tokens, images: batch, threads: threads, normed: normed.baseAddress!, qkv: qkv.baseAddress!,
                     scores: scores.baseAddress!, rowScale: rowScale.baseAddress!, slots: attentionSlots,
                     heads: heads.baseAddress!, projected: projected.baseAddress!, hidden: hidden.baseAddress!)
    }

    /// Bytes held.
    public var byteCount: Int { storage.count * MemoryLayout<Float>.stride }
}
