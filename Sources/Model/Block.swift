// Block.swift — one DINOv2 transformer block over the residual stream.
//
//   x = x + ls1 ⊙ proj(Attn(LN1(x)))
//   x = x + ls2 ⊙ FFN(LN2(x))
// Each residual update is one fused pass (output bias, LayerScale, add). The
// LayerNorms, Linear layers and elementwise passes run over all B·T token rows
// of a batch in one pass each (the GEMMs cut per image, see GEMM.linear, so a
// batch gives bit-for-bit what its images give alone); attention is per image.

import Tensor

public struct Block: Sendable, ParameterWalkable {
    public var norm1: LayerNorm
    public var attention: Attention
    /// LayerScale after attention (C).
    public var ls1: Parameter
    public var norm2: LayerNorm
    public var ffn: FeedForward
    /// LayerScale after the feed-forward layer (C).
    public var ls2: Parameter

    /// A block of `config` whose parameters a walk binds later.
    public init(config: DINOv2Config) {
        let c = config.embedDim
        self.init(norm1: LayerNorm(features: c, eps: config.layerNormEps), attention: Attention(embedDim: c, heads: config.heads),
                  ls1: Parameter(unbound: [c]), norm2: LayerNorm(features: c, eps: config.layerNormEps),
                  ffn: FeedForward(kind: config.ffn, embedDim: c, hidden: config.ffnHidden), ls2: Parameter(unbound: [c]))
    }

    public init(norm1: LayerNorm, attention: Attention, ls1: Tensor, norm2: LayerNorm, ffn: FeedForward, ls2: Tensor) {
        self.init(norm1: norm1, attention: attention, ls1: Parameter(ls1), norm2: norm2, ffn: ffn, ls2: Parameter(ls2))
    }

    /// Official DINOv2 names: norm1, attn.{qkv,proj}, ls1.gamma, norm2, mlp.{fc1,fc2 | w12,w3}, ls2.gamma.
    public mutating func walkParameters<V: ParameterVisitor>(_ v: inout V, _ scope: ParameterScope) throws(WeightError) {
        try norm1.walkParameters(&v, scope.child("norm1"))
        try attention.walkParameters(&v, scope.child("attn"))
        try v.visit(&ls1, "ls1.gamma", in: scope, decay: true)
        try norm2.walkParameters(&v, scope.child("norm2"))
        try ffn.walkParameters(&v, scope.child("mlp"))
        try v.visit(&ls2, "ls2.gamma", in: scope, decay: true)
    }

    public init(norm1: LayerNorm, attention: Attention, ls1: Parameter, norm2: LayerNorm, ffn: FeedForward, ls2: Parameter) {
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
        norm1.forward(x, rows: t, into: normed)
        attention.forward(normed, tokens: a.tokens, images: a.batch, qkvBuffer: a.qkv.baseAddress!, scores: a.scores.baseAddress!,
                          rowScale: a.rowScale.baseAddress!, slots: a.attentionSlots, into: a.heads.baseAddress!)
        attention.proj.forwardNoBias(a.heads.baseAddress!, rows: t, groups: a.batch, into: projected)
        Self.residual(x, projected, rows: t, cols: c, bias: attention.proj.bias, gamma: ls1)
        norm2.forward(x, rows: t, into: normed)
        ffn.forward(normed, tokens: t, groups: a.batch, hidden: a.hidden.baseAddress!, into: projected)
        Self.residual(x, projected, rows: t, cols: c, bias: ffn.output.bias, gamma: ls2)
    }

    static func residual(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, rows: Int, cols: Int,
                         bias: Parameter, gamma: Parameter) {
        bias.withUnsafeBufferPointer { b in
            gamma.withUnsafeBufferPointer { g in
                ResidualKernel.addScaled(x, y, rows: rows, cols: cols, bias: b.baseAddress!, gamma: g.baseAddress!)
            }
        }
    }
}
