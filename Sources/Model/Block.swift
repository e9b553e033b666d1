// Block.swift — one DINOv2 transformer block over the residual stream.
//
//   x = x + ls1 ⊙ proj(Attn(LN1(x)))
//   x = x + ls2 ⊙ FFN(LN2(x))
// Each residual update is one fused pass (output bias, LayerScale, add). The
// LayerNorms, Linear layers and elementwise passes run over all B·T token rows
// of a batch in one pass each (the GEMMs cut per image, see GEMM.linear, so a
// batch gives bit-for-bit what its images give alone); attention is per image.

import Tensor

public struct Block: Sendable {
    public var norm1: LayerNorm
    public var attention: Attention
    /// LayerScale after attention (C).
    public var ls1: Tensor
    public var norm2: LayerNorm
    public var ffn: FeedForward
    /// LayerScale after the feed-forward layer (C).
    public var ls2: Tensor

    public init(norm1: LayerNorm, attention: Attention, ls1: Tensor, norm2: LayerNorm, ffn: FeedForward, ls2: Tensor) {
        self.norm1 = norm1
        self.attention = attention
        self.ls1 = ls1
        self.norm2 = norm2
        self.ffn = ffn
        self.ls2 = ls2
    }

    /// Updates the residual stream in `a.x` (all B·T rows of the batch) in place.
    public func forward(_ a: borrowing DINOv2Activations) {
        let t = a.rows, c = attention.embedDim
        let x = a.x.baseAddress!, normed = a.normed.baseAddress!, projected = a.projected.baseAddress!
        norm1.forward(x, rows: t, into: normed, threads: a.threads)
        attention.forward(normed, tokens: a.tokens, images: a.batch, qkvBuffer: a.qkv.baseAddress!, scores: a.scores.baseAddress!,
                          rowScale: a.rowScale.baseAddress!, slots: a.attentionSlots, into: a.heads.baseAddress!, threads: a.threads)
        attention.proj.forwardNoBias(a.heads.baseAddress!, rows: t, groups: a.batch, into: projected, threads: a.threads)
        Self.residual(x, projected, rows: t, cols: c, bias: attention.proj.bias, gamma: ls1, threads: a.threads)
        norm2.forward(x, rows: t, into: normed, threads: a.threads)
        ffn.forward(normed, tokens: t, groups: a.batch, hidden: a.hidden.baseAddress!, into: projected, threads: a.threads)
        Self.residual(x, projected, rows: t, cols: c, bias: ffn.output.bias, gamma: ls2, threads: a.threads)
    }

    static func residual(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, rows: Int, cols: Int,
                         bias: Tensor, gamma: Tensor, threads: Int) {
        bias.withUnsafeBufferPointer { b in
            gamma.withUnsafeBufferPointer { g in
                ResidualKernel.addScaled(x, y, rows: rows, cols: cols, bias: b.baseAddress!, gamma: g.baseAddress!, threads: threads)
            }
        }
    }
}
