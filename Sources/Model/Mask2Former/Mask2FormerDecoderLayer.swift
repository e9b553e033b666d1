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

import Tensor

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
    /// `scratch`: scratchCount(queries:keys:) floats.
    public func forward(_ x: UnsafeMutablePointer<Float>, queryPos: UnsafePointer<Float>, queries q: Int,
                        memoryKey: UnsafePointer<Float>, memoryValue: UnsafePointer<Float>, keys n: Int,
                        mask: UnsafePointer<Bool>?, scratch: UnsafeMutablePointer<Float>, threads: Int) {
        let c = embedDim, f = feedForward
        let withPos = scratch, rest = scratch + q * c
        Self.add(x, queryPos, count: q * c, into: withPos)
        crossAttention.forward(query: withPos, key: memoryKey, value: memoryValue, queries: q, keys: n, mask: mask,
                               scratch: rest, into: x, accumulate: true, threads: threads)
        norms[0].forward(x, rows: q, into: x, threads: threads)
        Self.add(x, queryPos, count: q * c, into: withPos)
        selfAttention.forward(query: withPos, key: withPos, value: x, queries: q, keys: q, mask: nil,
                              scratch: rest, into: x, accumulate: true, threads: threads)
        norms[1].forward(x, rows: q, into: x, threads: threads)
        let hidden = rest
        feedForwardIn.forwardNoBias(x, rows: q, into: hidden, threads: threads)
        feedForwardIn.bias.withUnsafeBufferPointer { b in
            let b = b.baseAddress!
            Threading.parallelFor(q, threads: threads, grain: max(1, 4096 / f)) { range in
                for r in range {
                    let p = hidden + r * f
                    for i in 0 ..< f { p[i] = max(p[i] + b[i], 0) }
                }
            }
        }
        feedForwardOut.weight.withUnsafeBufferPointer { w in
            GEMM.linear(hidden, rows: q, inFeatures: f, weight: w.baseAddress!, outFeatures: c, into: x, beta: 1, threads: threads)
        }
        feedForwardOut.bias.withUnsafeBufferPointer { ActivationKernels.addBias(x, rows: q, cols: c, bias: $0.baseAddress!, threads: threads) }
        norms[2].forward(x, rows: q, into: x, threads: threads)
    }

    static func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int, into y: UnsafeMutablePointer<Float>) {
        for i in 0 ..< count { y[i] = a[i] + b[i] }
    }
}
