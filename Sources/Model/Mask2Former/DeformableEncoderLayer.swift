// DeformableEncoderLayer.swift — one layer of the pixel decoder's encoder
// (mmdet DeformableDetrTransformerEncoderLayer, post-norm):
//   x = norms.0(x + output_proj(deformable attention(x, pos)))
//   x = norms.1(x + ffn.layers.1(ReLU(ffn.layers.0.0(x))))
// LayerNorm eps 1e-5 (mmdet's LN default). Token-major (N, C) throughout.

import Tensor

public struct DeformableEncoderLayer: Sendable, ParameterWalkable {
    public var selfAttention: MultiScaleDeformableAttention
    /// C -> F (mmcv FFN `layers.0.0`, followed by ReLU).
    public var ffnIn: Linear
    /// F -> C (mmcv FFN `layers.1`).
    public var ffnOut: Linear
    /// After the attention and after the FFN.
    public var norms: [LayerNorm]

    /// A layer whose parameters a walk binds later.
    public init(embedDim c: Int, heads: Int, levels: Int, points: Int, feedforward f: Int) {
        selfAttention = MultiScaleDeformableAttention(embedDim: c, heads: heads, levels: levels, points: points)
        ffnIn = Linear(inFeatures: c, outFeatures: f)
        ffnOut = Linear(inFeatures: f, outFeatures: c)
        norms = [LayerNorm(features: c, eps: 1e-5), LayerNorm(features: c, eps: 1e-5)]
    }

    /// mmdet names: self_attn.*, ffn.layers.0.0.*, ffn.layers.1.*, norms.{0,1}.*.
    public mutating func walkParameters<V: ParameterVisitor>(_ v: inout V, _ scope: ParameterScope) throws(WeightError) {
        try selfAttention.walkParameters(&v, scope.child("self_attn"))
        try ffnIn.walkParameters(&v, scope.child("ffn.layers.0.0"))
        try ffnOut.walkParameters(&v, scope.child("ffn.layers.1"))
        for i in norms.indices { try norms[i].walkParameters(&v, scope.child("norms.\(i)")) }
    }

    public var embedDim: Int { selfAttention.embedDim }

    /// Floats of scratch `forward` needs per token.
    public var scratchPerToken: Int { embedDim + max(selfAttention.scratchPerToken, ffnIn.outFeatures) }

    /// x (N, C) updated in place; `pos` (N, C) the queries' positions; `scratch`: N · scratchPerToken floats.
    public func forward(_ x: UnsafeMutablePointer<Float>, position pos: UnsafePointer<Float>, shapes: [LevelShape],
                        scratch: UnsafeMutablePointer<Float>, threads: Int) {
        let c = embedDim, n = shapes.reduce(0) { $0 + $1.count }, f = ffnIn.outFeatures
        let y = scratch, work = scratch + n * c
        selfAttention.forward(x, position: pos, shapes: shapes, scratch: work, into: y, threads: threads)
        norms[0].forward(y, rows: n, into: x, threads: threads)
        ffnIn.forward(x, rows: n, into: work, threads: threads)
        Threading.parallelFor(n, threads: threads, grain: max(1, 16384 / f)) { range in
            for i in range.lowerBound * f ..< range.upperBound * f { work[i] = max(work[i], 0) }
        }
        ffnOut.forward(work, rows: n, into: y, threads: threads)
        Threading.parallelFor(n, threads: threads, grain: max(1, 16384 / c)) { range in
            for i in range.lowerBound * c ..< range.upperBound * c { y[i] += x[i] }
        }
        norms[1].forward(y, rows: n, into: x, threads: threads)
    }
}
