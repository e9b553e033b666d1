// MultiScaleDeformableAttention.swift — mmcv's MultiScaleDeformableAttention
// as the pixel decoder's encoder uses it: self-attention over the flattened
// multi-scale tokens, every token a query with its own pixel centre as the
// reference point on every level.
//
// For tokens x (N, C) of L levels (level l: H_l x W_l tokens, row-major, the
// levels one after the other) and their positions pos (N, C):
//   value   = value_proj(x)                          (N, C), head h = columns h·d ..< (h+1)·d
//   q       = x + pos
//   offsets = sampling_offsets(q)                    (N, heads·L·P·2), (head, level, point, [x, y])
//   a       = softmax over L·P of attention_weights(q) per head
//   for query i at (row, col) of its level (H_q x W_q): reference
//   r = ((col + 0.5) / W_q, (row + 0.5) / H_q); sample point (level l, point p):
//   loc = r + offset / (W_l, H_l), pixel coordinates loc·(W_l, H_l) - 0.5
//   (grid_sample, align_corners=False); bilinear over the four neighbours, a
//   neighbour outside the map contributing zero (padding_mode="zeros");
//   sampled[i, head h] = Σ_{l,p} a · bilinear(value_l, head h)
//   out = x + output_proj(sampled)                   (mmcv adds the identity)
// The projections are GEMMs over all tokens; the sampling loop runs over the
// queries, split over `threads` chunks, each writing only its own rows.
// Training keeps value, the offsets, the softmaxed weights and the sampled
// heads (DeformableAttentionSaved). The backward pass follows the forward: the
// sampling step's adjoint gives the gradients of the values (scattered onto the
// four taps), of the attention weights (the bilinear samples) and of the
// sampling locations (the bilinear interpolant's slopes; d loc / d offset is 1
// in pixels). It runs one head per task: a head's value columns are its own, and
// every head visits the queries in order, so the scatter has one writer in a
// fixed order whatever the thread count.

import Foundation
import Tensor

/// The height and width of one feature level.
public struct LevelShape: Sendable, Equatable {
    public let height: Int
    public let width: Int
    public init(height: Int, width: Int) {
        self.height = height
        self.width = width
    }
    public var count: Int { height * width }
}

/// What a deformable attention forward keeps for its backward pass (N tokens; the input x and
/// the positions are kept by the caller).
public struct DeformableAttentionSaved {
    /// (N, C) value_proj(x).
    public let value: UnsafeMutablePointer<Float>
    /// (N, C) the sampled heads, output_proj's input.
    public let sampled: UnsafeMutablePointer<Float>
    /// (N, heads·L·P·2) the sampling offsets, bias included.
    public let offsets: UnsafeMutablePointer<Float>
    /// (N, heads·L·P) the attention weights after the softmax.
    public let probabilities: UnsafeMutablePointer<Float>

    public init(value: UnsafeMutablePointer<Float>, sampled: UnsafeMutablePointer<Float>, offsets: UnsafeMutablePointer<Float>,
                probabilities: UnsafeMutablePointer<Float>) {
        self.value = value
        self.sampled = sampled
        self.offsets = offsets
        self.probabilities = probabilities
    }

    /// Floats kept per token.
    public static func perToken(embedDim c: Int, heads: Int, levels: Int, points: Int) -> Int {
        2 * c + heads * levels * points * 3
    }
}

public struct MultiScaleDeformableAttention: Sendable, ParameterWalkable {
    public let embedDim: Int
    public let heads: Int
    public let levels: Int
    public let points: Int
    /// C -> heads·levels·points·2.
    public var samplingOffsets: Linear
    /// C -> heads·levels·points.
    public var attentionWeights: Linear
    /// C -> C.
    public var valueProj: Linear
    /// C -> C.
    public var outputProj: Linear

    /// A layer whose parameters a walk binds later.
    public init(embedDim c: Int, heads: Int, levels: Int, points: Int) {
        precondition(c > 0 && heads > 0 && c % heads == 0 && levels > 0 && points > 0,
                     "MultiScaleDeformableAttention: \(c) channels, \(heads) heads, \(levels) levels, \(points) points")
        embedDim = c
        self.heads = heads
        self.levels = levels
        self.points = points
        samplingOffsets = Linear(inFeatures: c, outFeatures: heads * levels * points * 2)
        attentionWeights = Linear(inFeatures: c, outFeatures: heads * levels * points)
        valueProj = Linear(inFeatures: c, outFeatures: c)
        outputProj = Linear(inFeatures: c, outFeatures: c)
    }

    /// mmcv names: sampling_offsets, attention_weights, value_proj, output_proj.
    public mutating func walkParameters<V: ParameterVisitor>(_ v: inout V, _ scope: ParameterScope) throws(WeightError) {
        try samplingOffsets.walkParameters(&v, scope.child("sampling_offsets"))
        try attentionWeights.walkParameters(&v, scope.child("attention_weights"))
        try valueProj.walkParameters(&v, scope.child("value_proj"))
        try outputProj.walkParameters(&v, scope.child("output_proj"))
    }

    /// Floats of scratch `forward` needs per token.
    public var scratchPerToken: Int { 3 * embedDim + heads * levels * points * 3 }

    /// x (N, C) -> out (N, C) = x + output_proj(deformable attention), token-major; N = Σ shapes' counts.
    /// `pos` (N, C): the positions added to the queries. `scratch`: N · scratchPerToken floats.
    /// `out` must not overlap x, pos or scratch. With `keep` the value, offsets, softmaxed weights and
    /// sampled heads are written there instead of the scratch (the same values).
    public func forward(_ x: UnsafePointer<Float>, position pos: UnsafePointer<Float>, shapes: [LevelShape],
                        scratch: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>, threads: Int,
                        keep: DeformableAttentionSaved? = nil) {
        precondition(shapes.count == levels, "MultiScaleDeformableAttention: \(shapes.count) levels, built for \(levels)")
        let c = embedDim, n = shapes.reduce(0) { $0 + $1.count }
        let lp = levels * points, hlp = heads * lp
        let query = scratch, value = keep?.value ?? query + n * c, sampled = keep?.sampled ?? query + 2 * n * c
        let offsets = keep?.offsets ?? query + 3 * n * c, logits = keep?.probabilities ?? query + 3 * n * c + n * hlp * 2
        Self.addRows(x, pos, count: n * c, into: query, threads: threads)
        valueProj.forward(x, rows: n, into: value, threads: threads)
        samplingOffsets.forward(query, rows: n, into: offsets, threads: threads)
        attentionWeights.forward(query, rows: n, into: logits, threads: threads)
        sample(value: value, offsets: offsets, logits: logits, shapes: shapes, into: sampled, normalise: keep != nil,
               threads: threads)
        outputProj.forward(sampled, rows: n, into: out, threads: threads)
        Self.addRows(out, x, count: n * c, into: out, threads: threads)
    }

    /// out[i] = a[i] + b[i], i < count; out may alias a or b.
    static func addRows(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int, into out: UnsafeMutablePointer<Float>,
                        threads: Int) {
        Threading.parallelFor(count, threads: threads, grain: 16384) { range in
            for i in range { out[i] = a[i] + b[i] }
        }
    }

    /// The sampling step: sampled (N, C) from value (N, C), offsets (N, heads·L·P·2) and the attention
    /// logits (N, heads·L·P; exponentiated in place, and divided by their sum when `normalise`).
    func sample(value: UnsafePointer<Float>, offsets: UnsafePointer<Float>, logits: UnsafeMutablePointer<Float>,
                shapes: [LevelShape], into sampled: UnsafeMutablePointer<Float>, normalise: Bool = false, threads: Int) {
        let c = embedDim, d = c / heads, heads = self.heads, levels = self.levels, points = self.points
        let lp = levels * points, hlp = heads * lp
        var starts = [Int](), start = 0
        for s in shapes { starts.append(start); start += s.count }
        let n = start
        let heights = shapes.map(\.height), widths = shapes.map(\.width)
        Threading.parallelFor(n, threads: threads, grain: 16) { range in
            // The query's level and position within it, advanced query by query.
            var level = 0
            while level + 1 < levels && starts[level + 1] <= range.lowerBound { level += 1 }
            for i in range {
                while level + 1 < levels && starts[level + 1] <= i { level += 1 }
                let local = i - starts[level], wq = widths[level]
                let refX = (Float(local % wq) + 0.5) / Float(wq), refY = (Float(local / wq) + 0.5) / Float(heights[level])
                for h in 0 ..< heads {
                    let a = logits + i * hlp + h * lp
                    var top = a[0]
                    for j in 1 ..< lp { top = max(top, a[j]) }
                    var total: Float = 0
                    for j in 0 ..< lp { a[j] = expf(a[j] - top); total += a[j] }
                    let inverse = 1 / total
                    if normalise { for j in 0 ..< lp { a[j] *= inverse } }
                    let scale: Float = normalise ? 1 : inverse
                    let acc = sampled + i * c + h * d
                    acc.update(repeating: 0, count: d)
                    for l in 0 ..< levels {
                        let hl = heights[l], wl = widths[l], fw = Float(wl), fh = Float(hl)
                        let base = value + starts[l] * c + h * d
                        for p in 0 ..< points {
                            let j = l * points + p
                            let o = offsets + i * hlp * 2 + (h * lp + j) * 2
                            let px = (refX + o[0] / fw) * fw - 0.5, py = (refY + o[1] / fh) * fh - 0.5
                            // Entirely outside (or not a number): all four neighbours are padding.
                            guard px > -1 && px < fw && py > -1 && py < fh else { continue }
                            let fx = px.rounded(.down), fy = py.rounded(.down)
                            let x0 = Int(fx), y0 = Int(fy), tx = px - fx, ty = py - fy
                            let weight = a[j] * scale
                            let top = y0 >= 0, bottom = y0 + 1 < hl, left = x0 >= 0, right = x0 + 1 < wl
                            let row = base + y0 * wl * c
                            if top && left { Self.addTap(row + x0 * c, weight * (1 - ty) * (1 - tx), into: acc, count: d) }
                            if top && right { Self.addTap(row + (x0 + 1) * c, weight * (1 - ty) * tx, into: acc, count: d) }
                            if bottom && left { Self.addTap(row + (wl + x0) * c, weight * ty * (1 - tx), into: acc, count: d) }
                            if bottom && right { Self.addTap(row + (wl + x0 + 1) * c, weight * ty * tx, into: acc, count: d) }
                        }
                    }
                }
            }
        }
    }

    /// acc[k] += f · v[k], k < count.
    @inline(__always)
    static func addTap(_ v: UnsafePointer<Float>, _ f: Float, into acc: UnsafeMutablePointer<Float>, count: Int) {
        for k in 0 ..< count { acc[k] += f * v[k] }
    }

    /// Floats of scratch `backward` needs per token.
    public var backwardScratchPerToken: Int { 4 * embedDim + heads * levels * points * 3 }

    /// Backward of out = x + output_proj(deformable attention(x, pos)) from dOut (N, C): dx (N, C) is
    /// overwritten with the input gradient (the identity, value_proj and the query's share), the
    /// query's share is added into dPosition (N, C), parameter gradients into `gradients`.
    /// x, pos: the forward's inputs; `saved`: what it kept; `scratch`: N · backwardScratchPerToken
    /// floats. dx must not overlap dOut.
    public func backward(_ dOut: UnsafePointer<Float>, input x: UnsafePointer<Float>, position pos: UnsafePointer<Float>,
                         shapes: [LevelShape], saved: DeformableAttentionSaved, scratch: UnsafeMutablePointer<Float>,
                         into dx: UnsafeMutablePointer<Float>, position dPosition: UnsafeMutablePointer<Float>,
                         gradients: ParameterGradients?, threads: Int) {
        precondition(shapes.count == levels, "MultiScaleDeformableAttention: \(shapes.count) levels, built for \(levels)")
        let c = embedDim, n = shapes.reduce(0) { $0 + $1.count }, hlp = heads * levels * points
        let dSampled = scratch, dValue = dSampled + n * c, query = dValue + n * c, dQuery = query + n * c
        let dOffsets = dQuery + n * c, dLogits = dOffsets + n * hlp * 2
        outputProj.backward(dOut, ldy: c, input: saved.sampled, ldx: c, rows: n, into: dSampled, gradients: gradients, threads: threads)
        sampleBackward(dSampled, value: saved.value, offsets: saved.offsets, probabilities: saved.probabilities, shapes: shapes,
                       value: dValue, offsets: dOffsets, logits: dLogits, threads: threads)
        valueProj.backward(dValue, ldy: c, input: x, ldx: c, rows: n, into: dx, gradients: gradients, threads: threads)
        Self.addRows(dx, dOut, count: n * c, into: dx, threads: threads)
        Self.addRows(x, pos, count: n * c, into: query, threads: threads)
        samplingOffsets.backward(dOffsets, ldy: 2 * hlp, input: query, ldx: c, rows: n, into: dQuery, gradients: gradients,
                                 threads: threads)
        attentionWeights.backward(dLogits, ldy: hlp, input: query, ldx: c, rows: n, into: nil, gradients: gradients, threads: threads)
        attentionWeights.weight.withUnsafeBufferPointer {
            GradientGEMM.input(dLogits, ldy: hlp, rows: n, outFeatures: hlp, weight: $0.baseAddress!, inFeatures: c, into: dQuery,
                               ldx: c, beta: 1, threads: threads)
        }
        Self.addRows(dx, dQuery, count: n * c, into: dx, threads: threads)
        Self.addRows(dPosition, dQuery, count: n * c, into: dPosition, threads: threads)
    }

    /// The sampling step's adjoint: from dSampled (N, C) and the forward's value, offsets and softmaxed
    /// weights, writes dValue (N, C), dOffsets (N, heads·L·P·2) and the logits' gradient (N, heads·L·P).
    /// One head per task (see the file comment).
    func sampleBackward(_ dSampled: UnsafePointer<Float>, value: UnsafePointer<Float>, offsets: UnsafePointer<Float>,
                        probabilities: UnsafePointer<Float>, shapes: [LevelShape], value dValue: UnsafeMutablePointer<Float>,
                        offsets dOffsets: UnsafeMutablePointer<Float>, logits dLogits: UnsafeMutablePointer<Float>, threads: Int) {
        let c = embedDim, d = c / heads, levels = self.levels, points = self.points
        let lp = levels * points, hlp = heads * lp
        var starts = [Int](), start = 0
        for s in shapes { starts.append(start); start += s.count }
        let n = start
        let heights = shapes.map(\.height), widths = shapes.map(\.width)
        Threading.parallelFor(heads, threads: threads) { range in
            for h in range {
                for i in 0 ..< n { (dValue + i * c + h * d).update(repeating: 0, count: d) }
                var level = 0
                for i in 0 ..< n {
                    while level + 1 < levels && starts[level + 1] <= i { level += 1 }
                    let local = i - starts[level], wq = widths[level]
                    let refX = (Float(local % wq) + 0.5) / Float(wq), refY = (Float(local / wq) + 0.5) / Float(heights[level])
                    let p = probabilities + i * hlp + h * lp, dp = dLogits + i * hlp + h * lp
                    let g = dSampled + i * c + h * d
                    for l in 0 ..< levels {
                        let hl = heights[l], wl = widths[l], fw = Float(wl), fh = Float(hl)
                        let base = value + starts[l] * c + h * d, dBase = dValue + starts[l] * c + h * d
                        for q in 0 ..< points {
                            let j = l * points + q
                            let o = offsets + i * hlp * 2 + (h * lp + j) * 2, dOff = dOffsets + i * hlp * 2 + (h * lp + j) * 2
                            dOff[0] = 0
                            dOff[1] = 0
                            dp[j] = 0
                            let px = (refX + o[0] / fw) * fw - 0.5, py = (refY + o[1] / fh) * fh - 0.5
                            guard px > -1 && px < fw && py > -1 && py < fh else { continue }
                            let fx = px.rounded(.down), fy = py.rounded(.down)
                            let x0 = Int(fx), y0 = Int(fy), tx = px - fx, ty = py - fy
                            let top = y0 >= 0, bottom = y0 + 1 < hl, left = x0 >= 0, right = x0 + 1 < wl
                            let weight = p[j]
                            // ⟨dSampled, v⟩ at each tap inside the map (zero padding outside).
                            let t00 = top && left ? y0 * wl + x0 : -1, t01 = top && right ? y0 * wl + x0 + 1 : -1
                            let t10 = bottom && left ? (y0 + 1) * wl + x0 : -1, t11 = bottom && right ? (y0 + 1) * wl + x0 + 1 : -1
                            let s00 = t00 >= 0 ? Self.dot(g, base + t00 * c, count: d) : 0
                            let s01 = t01 >= 0 ? Self.dot(g, base + t01 * c, count: d) : 0
                            let s10 = t10 >= 0 ? Self.dot(g, base + t10 * c, count: d) : 0
                            let s11 = t11 >= 0 ? Self.dot(g, base + t11 * c, count: d) : 0
                            dp[j] = (1 - ty) * ((1 - tx) * s00 + tx * s01) + ty * ((1 - tx) * s10 + tx * s11)
                            dOff[0] = weight * ((1 - ty) * (s01 - s00) + ty * (s11 - s10))
                            dOff[1] = weight * ((1 - tx) * (s10 - s00) + tx * (s11 - s01))
                            if t00 >= 0 { Self.addTap(g, weight * (1 - ty) * (1 - tx), into: dBase + t00 * c, count: d) }
                            if t01 >= 0 { Self.addTap(g, weight * (1 - ty) * tx, into: dBase + t01 * c, count: d) }
                            if t10 >= 0 { Self.addTap(g, weight * ty * (1 - tx), into: dBase + t10 * c, count: d) }
                            if t11 >= 0 { Self.addTap(g, weight * ty * tx, into: dBase + t11 * c, count: d) }
                        }
                    }
                    ActivationBackwardKernels.softmaxBackwardRow(dp, p, cols: lp)
                }
            }
        }
    }

    /// Σ_k a[k] · b[k], k < count.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var s: Float = 0
        for k in 0 ..< count { s += a[k] * b[k] }
        return s
    }
}
