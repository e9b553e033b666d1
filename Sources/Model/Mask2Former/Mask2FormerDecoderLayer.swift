// Mask2FormerDecoderLayer.swift — one layer of Mask2Former's transformer
// decoder (mmdet's Mask2FormerTransformerDecoderLayer), post-norm, for one image:
//
//   x = norms.0(x + cross_attn(x + query_pos, memory key, memory value, mask))
//   x = norms.1(x + self_attn(x + query_pos, x + query_pos, x))
//   x = norms.2(x + W2 ReLU(W1 x + b1) + b2)
//
// The memory key is the level's memory + level embedding + sine position, its
// value the memory + level embedding (the decoder builds both once per level).
// The attention mask (Q x N, true = masked) comes from the previous prediction.
//
// A forward that keeps what the backward needs (training) writes the attention
// queries (x + query_pos), the attentions' kept values, each residual sum before
// its norm with the norm's row statistics, the norms' outputs and the FFN's
// hidden activations into a Mask2FormerDecoderLayerSaved. The backward (below
// the forward) runs from d(output) to d(input), adding the gradients of
// query_pos and of the memory key and value; the mask is a constant.

import Tensor

/// What a decoder layer's forward keeps for its backward pass (pointers into a training arena).
public struct Mask2FormerDecoderLayerSaved {
    /// (Q, D) x + query_pos, the cross-attention's query.
    public let crossQuery: UnsafeMutablePointer<Float>
    public let cross: MultiheadAttentionSaved
    /// (Q, D) x + cross-attention, before norms.0; norms.0's statistics; its output x1.
    public let sum0: UnsafeMutablePointer<Float>, norm0: LayerNormSaved, x1: UnsafeMutablePointer<Float>
    /// (Q, D) x1 + query_pos, the self-attention's query and key.
    public let selfQuery: UnsafeMutablePointer<Float>
    public let selfAttention: MultiheadAttentionSaved
    /// (Q, D) x1 + self-attention, before norms.1; its statistics; its output x2.
    public let sum1: UnsafeMutablePointer<Float>, norm1: LayerNormSaved, x2: UnsafeMutablePointer<Float>
    /// (Q, F) ReLU(W1 x2 + b1).
    public let hidden: UnsafeMutablePointer<Float>
    /// (Q, D) x2 + FFN, before norms.2; its statistics.
    public let sum2: UnsafeMutablePointer<Float>, norm2: LayerNormSaved

    /// Floats the kept values of a layer over Q queries and N memory tokens take.
    public static func count(_ layer: Mask2FormerDecoderLayer, queries q: Int, keys n: Int) -> Int {
        let d = layer.embedDim
        return 7 * q * d + 6 * q + q * layer.feedForward
            + MultiheadAttentionSaved.count(queries: q, keys: n, embedDim: d, heads: layer.crossAttention.heads)
            + MultiheadAttentionSaved.count(queries: q, keys: q, embedDim: d, heads: layer.selfAttention.heads)
    }

    /// Carves the buffers from `base` (count(...) floats).
    public init(carving base: UnsafeMutablePointer<Float>, _ layer: Mask2FormerDecoderLayer, queries q: Int, keys n: Int) {
        let d = layer.embedDim
        var next = base
        func take(_ count: Int) -> UnsafeMutablePointer<Float> {
            defer { next += count }
            return next
        }
        crossQuery = take(q * d)
        cross = MultiheadAttentionSaved(carving: take(MultiheadAttentionSaved.count(queries: q, keys: n, embedDim: d,
                                                                                 heads: layer.crossAttention.heads)),
                                        queries: q, keys: n, embedDim: d, heads: layer.crossAttention.heads)
        sum0 = take(q * d)
        norm0 = LayerNormSaved(mean: take(q), rstd: take(q))
        x1 = take(q * d)
        selfQuery = take(q * d)
        selfAttention = MultiheadAttentionSaved(carving: take(MultiheadAttentionSaved.count(queries: q, keys: q, embedDim: d,
                                                                                         heads: layer.selfAttention.heads)),
                                                queries: q, keys: q, embedDim: d, heads: layer.selfAttention.heads)
        sum1 = take(q * d)
        norm1 = LayerNormSaved(mean: take(q), rstd: take(q))
        x2 = take(q * d)
        hidden = take(q * layer.feedForward)
        sum2 = take(q * d)
        norm2 = LayerNormSaved(mean: take(q), rstd: take(q))
    }
}

public struct Mask2FormerDecoderLayer: Sendable, ParameterWalkable {
    public let embedDim: Int
    public let feedForward: Int
    /// Queries attend the level's memory.
    public var crossAttention: MultiheadAttention
    /// Queries attend each other.
    public var selfAttention: MultiheadAttention
    /// D -> FFN width, then ReLU.
    public var feedForwardIn: Linear
    /// FFN width -> D.
    public var feedForwardOut: Linear
    /// After the cross-attention, the self-attention and the FFN.
    public var norms: [LayerNorm]

    /// A layer whose parameters a walk binds later (LayerNorm eps: nn.LayerNorm's 1e-5).
    public init(embedDim d: Int, heads: Int, feedForward f: Int, layerNormEps: Float = 1e-5) throws(ModelInputError) {
        guard f > 0 else { throw ModelInputError("the decoder layer's feed-forward width must be positive, got \(f)") }
        embedDim = d
        feedForward = f
        crossAttention = try MultiheadAttention(embedDim: d, heads: heads)
        selfAttention = try MultiheadAttention(embedDim: d, heads: heads)
        feedForwardIn = Linear(inFeatures: d, outFeatures: f)
        feedForwardOut = Linear(inFeatures: f, outFeatures: d)
        norms = (0 ..< 3).map { _ in LayerNorm(features: d, eps: layerNormEps) }
    }

    /// mmdet's names: cross_attn.attn, self_attn.attn (mmcv MultiheadAttention around nn.MultiheadAttention),
    /// ffn.layers.0.0 and ffn.layers.1 (mmcv FFN), norms.{0,1,2}.
    public mutating func walkParameters<V: ParameterVisitor>(_ v: inout V, _ scope: ParameterScope) throws(WeightError) {
        try selfAttention.walkParameters(&v, scope.child("self_attn.attn"))
        try crossAttention.walkParameters(&v, scope.child("cross_attn.attn"))
        try feedForwardIn.walkParameters(&v, scope.child("ffn.layers.0.0"))
        try feedForwardOut.walkParameters(&v, scope.child("ffn.layers.1"))
        for j in norms.indices { try norms[j].walkParameters(&v, scope.child("norms.\(j)")) }
    }

    /// Floats of scratch a forward over `queries` queries and `keys` memory tokens needs.
    public func scratchCount(queries q: Int, keys n: Int) -> Int {
        q * embedDim + max(crossAttention.scratchCount(queries: q, keys: n), selfAttention.scratchCount(queries: q, keys: q),
                           q * feedForward)
    }

    /// Updates the queries x (Q x D) in place. queryPos (Q x D); memoryKey and
    /// memoryValue (N x D); mask (Q x N, true = masked, no row fully masked) or nil.
    /// `scratch`: scratchCount(queries:keys:) floats. With `keep` (training) the
    /// internals go there and the attentions run their training kernels.
    public func forward(_ x: UnsafeMutablePointer<Float>, queryPos: UnsafePointer<Float>, queries q: Int,
                        memoryKey: UnsafePointer<Float>, memoryValue: UnsafePointer<Float>, keys n: Int,
                        mask: UnsafePointer<Bool>?, scratch: UnsafeMutablePointer<Float>, threads: Int,
                        keep: Mask2FormerDecoderLayerSaved? = nil) {
        let c = embedDim, f = feedForward
        let rest = scratch + q * c
        let withPos = keep?.crossQuery ?? scratch
        Self.add(x, queryPos, count: q * c, into: withPos)
        let sum0 = keep?.sum0 ?? x
        if let keep { keep.sum0.update(from: x, count: q * c) }
        crossAttention.forward(query: withPos, key: memoryKey, value: memoryValue, queries: q, keys: n, mask: mask,
                               scratch: rest, into: sum0, accumulate: true, threads: threads, keep: keep?.cross)
        let x1 = keep?.x1 ?? x
        norms[0].forward(sum0, rows: q, into: x1, threads: threads, keep: keep?.norm0)
        let withPos1 = keep?.selfQuery ?? scratch
        Self.add(x1, queryPos, count: q * c, into: withPos1)
        let sum1 = keep?.sum1 ?? x
        if let keep { keep.sum1.update(from: x1, count: q * c) }
        selfAttention.forward(query: withPos1, key: withPos1, value: x1, queries: q, keys: q, mask: nil,
                              scratch: rest, into: sum1, accumulate: true, threads: threads, keep: keep?.selfAttention)
        let x2 = keep?.x2 ?? x
        norms[1].forward(sum1, rows: q, into: x2, threads: threads, keep: keep?.norm1)
        let hidden = keep?.hidden ?? rest
        feedForwardIn.forwardNoBias(x2, rows: q, into: hidden, threads: threads)
        feedForwardIn.bias.withUnsafeBufferPointer { b in
            let b = b.baseAddress!
            Threading.parallelFor(q, threads: threads, grain: max(1, 4096 / f)) { range in
                for r in range {
                    let p = hidden + r * f
                    for i in 0 ..< f { p[i] = max(p[i] + b[i], 0) }
                }
            }
        }
        let sum2 = keep?.sum2 ?? x
        if let keep { keep.sum2.update(from: x2, count: q * c) }
        feedForwardOut.weight.withUnsafeBufferPointer { w in
            GEMM.linear(hidden, rows: q, inFeatures: f, weight: w.baseAddress!, outFeatures: c, into: sum2, beta: 1, threads: threads)
        }
        feedForwardOut.bias.withUnsafeBufferPointer { ActivationKernels.addBias(sum2, rows: q, cols: c, bias: $0.baseAddress!, threads: threads) }
        norms[2].forward(sum2, rows: q, into: x, threads: threads, keep: keep?.norm2)
    }

    /// Floats of scratch `backward` needs over Q queries, N memory tokens and `threads` threads.
    public func backwardScratchCount(queries q: Int, keys n: Int, threads: Int) -> Int {
        q * embedDim + q * feedForward + max(crossAttention.backwardScratchCount(queries: q, keys: n, threads: threads),
                                             selfAttention.backwardScratchCount(queries: q, keys: q, threads: threads))
    }

    /// Backward of a kept forward from dx = d(output) (Q x D), overwritten with
    /// d(input). The gradients of query_pos (Q x D) and of the memory key and value
    /// (N x D; they may be one buffer) are added into; parameter gradients into
    /// `gradients` when given. memoryKey, memoryValue and mask are the forward's.
    /// `scratch`: backwardScratchCount floats.
    public func backward(_ dx: UnsafeMutablePointer<Float>, queries q: Int, memoryKey: UnsafePointer<Float>,
                         memoryValue: UnsafePointer<Float>, keys n: Int, mask: UnsafePointer<Bool>?,
                         saved s: Mask2FormerDecoderLayerSaved, scratch: UnsafeMutablePointer<Float>,
                         dQueryPos: UnsafeMutablePointer<Float>, dMemoryKey: UnsafeMutablePointer<Float>,
                         dMemoryValue: UnsafeMutablePointer<Float>, gradients g: ParameterGradients?, threads: Int) {
        let c = embedDim, f = feedForward
        let dPos = scratch, dHidden = dPos + q * c, rest = dHidden + q * f
        // x3 = norms.2(x2 + W2 h + b2), h = ReLU(W1 x2 + b1).
        norms[2].backward(dx, input: s.sum2, saved: s.norm2, rows: q, into: dx, accumulate: false, gradients: g, threads: threads)
        feedForwardOut.backward(dx, ldy: c, input: s.hidden, ldx: f, rows: q, into: dHidden, gradients: g, threads: threads)
        for i in 0 ..< q * f where s.hidden[i] <= 0 { dHidden[i] = 0 }
        feedForwardIn.backward(dHidden, ldy: f, input: s.x2, ldx: c, rows: q, into: dx, accumulate: true, gradients: g,
                               threads: threads)
        // x2 = norms.1(x1 + self_attn(x1 + pos, x1 + pos, x1)).
        norms[1].backward(dx, input: s.sum1, saved: s.norm1, rows: q, into: dx, accumulate: false, gradients: g, threads: threads)
        dPos.update(repeating: 0, count: q * c)
        selfAttention.backward(dx, query: s.selfQuery, key: s.selfQuery, value: s.x1, queries: q, keys: q, mask: nil,
                               saved: s.selfAttention, scratch: rest, dQuery: dPos, dKey: dPos, dValue: dx, gradients: g,
                               threads: threads)
        Self.addInPlace(dx, dPos, count: q * c)
        Self.addInPlace(dQueryPos, dPos, count: q * c)
        // x1 = norms.0(x + cross_attn(x + pos, key, value, mask)).
        norms[0].backward(dx, input: s.sum0, saved: s.norm0, rows: q, into: dx, accumulate: false, gradients: g, threads: threads)
        dPos.update(repeating: 0, count: q * c)
        crossAttention.backward(dx, query: s.crossQuery, key: memoryKey, value: memoryValue, queries: q, keys: n, mask: mask,
                                saved: s.cross, scratch: rest, dQuery: dPos, dKey: dMemoryKey, dValue: dMemoryValue,
                                gradients: g, threads: threads)
        Self.addInPlace(dx, dPos, count: q * c)
        Self.addInPlace(dQueryPos, dPos, count: q * c)
    }

    static func addInPlace(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
        for i in 0 ..< count { y[i] += x[i] }
    }

    static func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int, into y: UnsafeMutablePointer<Float>) {
        for i in 0 ..< count { y[i] = a[i] + b[i] }
    }
}
