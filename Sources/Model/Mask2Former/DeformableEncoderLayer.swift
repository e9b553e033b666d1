// DeformableEncoderLayer.swift — one layer of the pixel decoder's encoder
// (mmdet DeformableDetrTransformerEncoderLayer, post-norm):
//   x = norms.0(x + output_proj(deformable attention(x, pos)))
//   x = norms.1(x + ffn.layers.1(ReLU(ffn.layers.0.0(x))))
// LayerNorm eps 1e-5 (mmdet's LN default). Token-major (N, C) throughout.
// Training keeps the layer's input, the attention's buffers, both norms'
// inputs and statistics, the first norm's output and the ReLU's output
// (DeformableEncoderLayerSaved); the backward pass follows the forward.

import Tensor

/// What an encoder layer's forward keeps for its backward pass (N tokens).
public struct DeformableEncoderLayerSaved {
    /// (N, C) the layer's input.
    public let input: UnsafeMutablePointer<Float>
    public let attention: DeformableAttentionSaved
    /// (N, C) x + attention: norms.0's input.
    public let attended: UnsafeMutablePointer<Float>
    public let norm0: LayerNormSaved
    /// (N, C) norms.0's output: the FFN's input.
    public let normed: UnsafeMutablePointer<Float>
    /// (N, F) ReLU(fc1): fc2's input.
    public let hidden: UnsafeMutablePointer<Float>
    /// (N, C) normed + FFN: norms.1's input.
    public let fed: UnsafeMutablePointer<Float>
    public let norm1: LayerNormSaved

    /// Carves the buffers of `layer` over N tokens from `cursor`, advancing it by N · perToken(layer).
    public init(layer: DeformableEncoderLayer, tokens n: Int, from cursor: inout UnsafeMutablePointer<Float>) {
        let a = layer.selfAttention, c = layer.embedDim, f = layer.ffnIn.outFeatures, hlp = a.heads * a.levels * a.points
        func take(_ count: Int) -> UnsafeMutablePointer<Float> {
            defer { cursor += count }
            return cursor
        }
        input = take(n * c)
        attention = DeformableAttentionSaved(value: take(n * c), sampled: take(n * c), offsets: take(n * hlp * 2),
                                             probabilities: take(n * hlp))
        attended = take(n * c)
        norm0 = LayerNormSaved(mean: take(n), rstd: take(n))
        normed = take(n * c)
        hidden = take(n * f)
        fed = take(n * c)
        norm1 = LayerNormSaved(mean: take(n), rstd: take(n))
    }

    /// Floats kept per token.
    public static func perToken(_ layer: DeformableEncoderLayer) -> Int {
        let a = layer.selfAttention
        return DeformableAttentionSaved.perToken(embedDim: a.embedDim, heads: a.heads, levels: a.levels, points: a.points)
            + 4 * layer.embedDim + layer.ffnIn.outFeatures + 4
    }
}

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

    /// Floats of scratch `backward` needs per token.
    public var backwardScratchPerToken: Int { embedDim + ffnIn.outFeatures + selfAttention.backwardScratchPerToken }

    /// x (N, C) updated in place; `pos` (N, C) the queries' positions; `scratch`: N · scratchPerToken floats.
    /// With `keep` the intermediate values are written there (the same values; the output is still x).
    public func forward(_ x: UnsafeMutablePointer<Float>, position pos: UnsafePointer<Float>, shapes: [LevelShape],
                        scratch: UnsafeMutablePointer<Float>, threads: Int, keep: DeformableEncoderLayerSaved? = nil) {
        let c = embedDim, n = shapes.reduce(0) { $0 + $1.count }, f = ffnIn.outFeatures
        let y = scratch, work = scratch + n * c
        if let keep { keep.input.update(from: x, count: n * c) }
        let attended = keep?.attended ?? y
        selfAttention.forward(x, position: pos, shapes: shapes, scratch: work, into: attended, threads: threads, keep: keep?.attention)
        let normed = keep?.normed ?? x
        norms[0].forward(attended, rows: n, into: normed, threads: threads, keep: keep?.norm0)
        let hidden = keep?.hidden ?? work
        ffnIn.forward(normed, rows: n, into: hidden, threads: threads)
        Threading.parallelFor(n, threads: threads, grain: max(1, 16384 / f)) { range in
            for i in range.lowerBound * f ..< range.upperBound * f { hidden[i] = max(hidden[i], 0) }
        }
        let fed = keep?.fed ?? y
        ffnOut.forward(hidden, rows: n, into: fed, threads: threads)
        Threading.parallelFor(n, threads: threads, grain: max(1, 16384 / c)) { range in
            for i in range.lowerBound * c ..< range.upperBound * c { fed[i] += normed[i] }
        }
        norms[1].forward(fed, rows: n, into: x, threads: threads, keep: keep?.norm1)
    }

    /// Backward from the output's gradient in `dx` (N, C), overwritten with the input's; the queries'
    /// share of the gradient is added into dPosition (N, C), parameter gradients into `gradients`.
    /// `pos`: the forward's positions; `scratch`: N · backwardScratchPerToken floats.
    public func backward(_ dx: UnsafeMutablePointer<Float>, position pos: UnsafePointer<Float>, shapes: [LevelShape],
                         saved: DeformableEncoderLayerSaved, scratch: UnsafeMutablePointer<Float>,
                         position dPosition: UnsafeMutablePointer<Float>, gradients: ParameterGradients?, threads: Int) {
        let c = embedDim, n = shapes.reduce(0) { $0 + $1.count }, f = ffnIn.outFeatures
        let dY = scratch, dHidden = dY + n * c, attentionScratch = dHidden + n * f
        norms[1].backward(dx, input: saved.fed, saved: saved.norm1, rows: n, into: dY, accumulate: false, gradients: gradients,
                          threads: threads)
        ffnOut.backward(dY, ldy: c, input: saved.hidden, ldx: f, rows: n, into: dHidden, gradients: gradients, threads: threads)
        let hidden = saved.hidden
        Threading.parallelFor(n, threads: threads, grain: max(1, 16384 / f)) { range in
            for i in range.lowerBound * f ..< range.upperBound * f where hidden[i] <= 0 { dHidden[i] = 0 }
        }
        ffnIn.backward(dHidden, ldy: f, input: saved.normed, ldx: c, rows: n, into: nil, gradients: gradients, threads: threads)
        ffnIn.weight.withUnsafeBufferPointer {
            GradientGEMM.input(dHidden, ldy: f, rows: n, outFeatures: f, weight: $0.baseAddress!, inFeatures: c, into: dY, ldx: c,
                               beta: 1, threads: threads)
        }
        norms[0].backward(dY, input: saved.attended, saved: saved.norm0, rows: n, into: dY, accumulate: false, gradients: gradients,
                          threads: threads)
        selfAttention.backward(dY, input: saved.input, position: pos, shapes: shapes, saved: saved.attention, scratch: attentionScratch,
                               into: dx, position: dPosition, gradients: gradients, threads: threads)
    }
}
