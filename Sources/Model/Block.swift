// Block.swift — one DINOv2 transformer block over the residual stream: the
// forward pass and, below it, the backward pass.
//
//   mid = x + ls1 ⊙ proj(Attn(LN1(x)))
//   out = mid + ls2 ⊙ FFN(LN2(mid))
// Inference (nothing kept) updates the stream in place, each residual update
// one fused pass (output bias, LayerScale, add). The LayerNorms, Linear layers
// and elementwise passes run over all B·T token rows of a batch in one pass
// each (the GEMMs cut per image, see GEMM.linear, so a batch gives bit-for-bit
// what its images give alone); attention is per image.
// A forward that keeps what the backward needs (training, one image) writes
// the LayerNorm statistics and outputs, qkv, the head outputs and softmax
// log-sum-exp, the projection and FFN outputs with their biases, mid and fc1's
// pre-activation into a BlockSaved, and `out` is a separate buffer.
// Backward from dout (in the stream gradient, overwritten with dx): activation
// gradients always; parameter gradients (added) when destinations are given.

import Tensor

/// What a block's forward keeps for its backward pass (pointers into a training arena).
public struct BlockSaved {
    public let norm1: LayerNormSaved
    /// (T, C) LN1(x).
    public let normed1: UnsafeMutablePointer<Float>
    /// (T, 3C) q | k | v.
    public let qkv: UnsafeMutablePointer<Float>
    /// (T, C) concatenated head outputs O.
    public let attention: UnsafeMutablePointer<Float>
    /// (heads, T) softmax log-sum-exp.
    public let logSumExp: UnsafeMutablePointer<Float>
    /// (T, C) output projection, bias included.
    public let projected: UnsafeMutablePointer<Float>
    /// (T, C) x after the attention residual.
    public let mid: UnsafeMutablePointer<Float>
    public let norm2: LayerNormSaved
    /// (T, C) LN2(mid).
    public let normed2: UnsafeMutablePointer<Float>
    /// (T, F) fc1 output without its bias.
    public let hidden: UnsafeMutablePointer<Float>
    /// (T, C) FFN output, bias included.
    public let ffnOut: UnsafeMutablePointer<Float>

    public init(norm1: LayerNormSaved, normed1: UnsafeMutablePointer<Float>, qkv: UnsafeMutablePointer<Float>,
                attention: UnsafeMutablePointer<Float>, logSumExp: UnsafeMutablePointer<Float>,
                projected: UnsafeMutablePointer<Float>, mid: UnsafeMutablePointer<Float>, norm2: LayerNormSaved,
                normed2: UnsafeMutablePointer<Float>, hidden: UnsafeMutablePointer<Float>, ffnOut: UnsafeMutablePointer<Float>) {
        self.norm1 = norm1
        self.normed1 = normed1
        self.qkv = qkv
        self.attention = attention
        self.logSumExp = logSumExp
        self.projected = projected
        self.mid = mid
        self.norm2 = norm2
        self.normed2 = normed2
        self.hidden = hidden
        self.ffnOut = ffnOut
    }
}

/// The scratch a block's forward writes (an activation arena's buffers) and its thread count.
public struct BlockScratch {
    /// T tokens per image, B images.
    public let tokens: Int, images: Int
    public let threads: Int
    /// (B·T, C) LayerNorm outputs.
    public let normed: UnsafeMutablePointer<Float>
    /// (B·T, 3C)
    public let qkv: UnsafeMutablePointer<Float>
    /// (slots, scoresPerSlot) and (slots, queryBlock) attention scratch.
    public let scores: UnsafeMutablePointer<Float>, rowScale: UnsafeMutablePointer<Float>
    public let slots: Int
    /// (B·T, C) head outputs, (B·T, C) projection / FFN output.
    public let heads: UnsafeMutablePointer<Float>, projected: UnsafeMutablePointer<Float>
    /// (B·T, FFN scratch per token) hidden activations.
    public let hidden: UnsafeMutablePointer<Float>

    public init(tokens: Int, images: Int, threads: Int, normed: UnsafeMutablePointer<Float>, qkv: UnsafeMutablePointer<Float>,
                scores: UnsafeMutablePointer<Float>, rowScale: UnsafeMutablePointer<Float>, slots: Int,
                heads: UnsafeMutablePointer<Float>, projected: UnsafeMutablePointer<Float>, hidden: UnsafeMutablePointer<Float>) {
        self.tokens = tokens
        self.images = images
        self.threads = threads
        self.normed = normed
        self.qkv = qkv
        self.scores = scores
        self.rowScale = rowScale
        self.slots = slots
        self.heads = heads
        self.projected = projected
        self.hidden = hidden
    }

    /// Token rows B·T.
    public var rows: Int { tokens * images }
}

/// The scratch of a block's backward pass (one image of T tokens).
public struct BlockBackwardScratch {
    public let tokens: Int
    public let threads: Int
    /// (T, C) each.
    public let dScratch: UnsafeMutablePointer<Float>, dNormed: UnsafeMutablePointer<Float>, dAttention: UnsafeMutablePointer<Float>
    /// (T, 3C)
    public let dQKV: UnsafeMutablePointer<Float>
    /// (T, F) each: GELU's output again, and its gradient.
    public let hidden: UnsafeMutablePointer<Float>, dHidden: UnsafeMutablePointer<Float>
    /// (slots, Attention.backwardScratchPerSlot)
    public let attention: UnsafeMutablePointer<Float>
    public let slots: Int

    public init(tokens: Int, threads: Int, dScratch: UnsafeMutablePointer<Float>, dNormed: UnsafeMutablePointer<Float>,
                dAttention: UnsafeMutablePointer<Float>, dQKV: UnsafeMutablePointer<Float>, hidden: UnsafeMutablePointer<Float>,
                dHidden: UnsafeMutablePointer<Float>, attention: UnsafeMutablePointer<Float>, slots: Int) {
        self.tokens = tokens
        self.threads = threads
        self.dScratch = dScratch
        self.dNormed = dNormed
        self.dAttention = dAttention
        self.dQKV = dQKV
        self.hidden = hidden
        self.dHidden = dHidden
        self.attention = attention
        self.slots = slots
    }
}

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

    /// out (B·T rows x C) = block(x). Without `keep` the inference kernels run and
    /// the stream is updated in place (out may be x; otherwise x is copied to out
    /// first). With `keep` (one image) the internals go there and `out` must not alias x.
    public func forward(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, _ w: BlockScratch,
                        keep: BlockSaved? = nil) {
        let t = w.rows, c = attention.embedDim, threads = w.threads
        let normed1 = keep?.normed1 ?? w.normed
        norm1.forward(x, rows: t, into: normed1, threads: threads, keep: keep?.norm1)
        let heads = keep?.attention ?? w.heads
        attention.forward(normed1, tokens: w.tokens, images: w.images, qkvBuffer: keep?.qkv ?? w.qkv, scores: w.scores,
                          rowScale: w.rowScale, slots: w.slots, into: heads, threads: threads, keep: keep?.logSumExp)
        let projected = keep?.projected ?? w.projected
        attention.proj.forwardNoBias(heads, rows: t, groups: w.images, into: projected, threads: threads)
        if keep == nil && UnsafePointer(out) != x { out.update(from: x, count: t * c) }
        let mid = keep?.mid ?? out
        Self.residual(x, projected, into: mid, rows: t, cols: c, bias: attention.proj.bias, gamma: ls1, fused: keep == nil,
                      threads: threads)
        let normed2 = keep?.normed2 ?? w.normed
        norm2.forward(mid, rows: t, into: normed2, threads: threads, keep: keep?.norm2)
        let ffnOut = keep?.ffnOut ?? w.projected
        ffn.forward(normed2, tokens: t, groups: w.images, hidden: w.hidden, into: ffnOut, threads: threads, keep: keep?.hidden)
        Self.residual(mid, ffnOut, into: out, rows: t, cols: c, bias: ffn.output.bias, gamma: ls2, fused: keep == nil,
                      threads: threads)
    }

    /// out = x + gamma ⊙ (y + bias). `fused` (inference, out already holds x): one
    /// pass in place. Otherwise (kept for a backward pass) y gets its bias first —
    /// it is kept with it — then out = x + gamma ⊙ y.
    static func residual(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>,
                         rows: Int, cols: Int, bias: Parameter, gamma: Parameter, fused: Bool, threads: Int) {
        bias.withUnsafeBufferPointer { b in
            gamma.withUnsafeBufferPointer { g in
                if fused {
                    ResidualKernel.addScaled(out, y, rows: rows, cols: cols, bias: b.baseAddress!, gamma: g.baseAddress!, threads: threads)
                } else {
                    ActivationKernels.addBias(y, rows: rows, cols: cols, bias: b.baseAddress!, threads: threads)
                    ActivationBackwardKernels.scaledResidual(x, y, gamma: g.baseAddress!, rows: rows, cols: cols, into: out,
                                                             threads: threads)
                }
            }
        }
    }

    /// Backward of one image's block from dStream = d(out) (T x C), overwritten with d(x).
    /// `x` is the forward's input, `s` what it kept. Parameter gradients are added into
    /// `gradients` when given. Blocks with SwiGLU feed-forward layers have no backward pass.
    public func backward(_ dStream: UnsafeMutablePointer<Float>, input x: UnsafePointer<Float>, saved s: BlockSaved,
                         _ b: BlockBackwardScratch, gradients g: ParameterGradients?) {
        guard case .mlp = ffn else { return }
        let t = b.tokens, c = attention.embedDim, threads = b.threads
        let dx = dStream, dy = b.dScratch

        // Feed-forward residual: out = mid + ls2 ⊙ y.
        ls2.withUnsafeBufferPointer {
            ActivationBackwardKernels.scaleColumns(dx, gamma: $0.baseAddress!, rows: t, cols: c, into: dy, threads: threads)
        }
        if let dGamma = g?[ls2] {
            ActivationBackwardKernels.addColumnProducts(dx, s.ffnOut, rows: t, cols: c, into: dGamma, threads: threads)
        }
        ffn.backward(dy, input: s.normed2, preActivation: s.hidden, tokens: t, hidden: b.hidden, dHidden: b.dHidden,
                     into: b.dNormed, gradients: g, threads: threads)
        norm2.backward(b.dNormed, input: s.mid, saved: s.norm2, rows: t, into: dx, accumulate: true, gradients: g,
                       threads: threads)

        // Attention residual: mid = x + ls1 ⊙ p.
        ls1.withUnsafeBufferPointer {
            ActivationBackwardKernels.scaleColumns(dx, gamma: $0.baseAddress!, rows: t, cols: c, into: dy, threads: threads)
        }
        if let dGamma = g?[ls1] {
            ActivationBackwardKernels.addColumnProducts(dx, s.projected, rows: t, cols: c, into: dGamma, threads: threads)
        }
        attention.proj.backward(dy, ldy: c, input: s.attention, ldx: c, rows: t, into: b.dAttention, gradients: g,
                                threads: threads)
        attention.backward(b.dAttention, input: s.normed1, qkv: s.qkv, out: s.attention, logSumExp: s.logSumExp, tokens: t,
                           dqkv: b.dQKV, scratch: b.attention, slots: b.slots, into: b.dNormed, gradients: g, threads: threads)
        norm1.backward(b.dNormed, input: x, saved: s.norm1, rows: t, into: dx, accumulate: true, gradients: g,
                       threads: threads)
    }
}
