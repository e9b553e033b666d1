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
    /// `out` must not overlap x, pos or scratch.
    public func forward(_ x: UnsafePointer<Float>, position pos: UnsafePointer<Float>, shapes: [LevelShape],
                        scratch: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>, threads: Int) {
        precondition(shapes.count == levels, "MultiScaleDeformableAttention: \(shapes.count) levels, built for \(levels)")
        let c = embedDim, n = shapes.reduce(0) { $0 + $1.count }
        let lp = levels * points, hlp = heads * lp
        let query = scratch, value = query + n * c, sampled = value + n * c
        let offsets = sampled + n * c, logits = offsets + n * hlp * 2
        Threading.parallelFor(n, threads: threads, grain: max(1, 16384 / c)) { range in
            for i in range.lowerBound * c ..< range.upperBound * c { query[i] = x[i] + pos[i] }
        }
        valueProj.forward(x, rows: n, into: value, threads: threads)
        samplingOffsets.forward(query, rows: n, into: offsets, threads: threads)
        attentionWeights.forward(query, rows: n, into: logits, threads: threads)
        sample(value: value, offsets: offsets, logits: logits, shapes: shapes, into: sampled, threads: threads)
        outputProj.forward(sampled, rows: n, into: out, threads: threads)
        Threading.parallelFor(n, threads: threads, grain: max(1, 16384 / c)) { range in
            for i in range.lowerBound * c ..< range.upperBound * c { out[i] += x[i] }
        }
    }

    /// The sampling step: sampled (N, C) from value (N, C), offsets (N, heads·L·P·2) and the attention
    /// logits (N, heads·L·P; softmaxed in place).
    func sample(value: UnsafePointer<Float>, offsets: UnsafePointer<Float>, logits: UnsafeMutablePointer<Float>,
                shapes: [LevelShape], into sampled: UnsafeMutablePointer<Float>, threads: Int) {
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
                            let weight = a[j] * inverse
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
}
