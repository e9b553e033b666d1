// ReinQueryLink.swift — Rein's token -> query link (`link_token_to_query`, the
// released `Reins.return_auto`): the Mask2Former queries made from the adapter's
// tokens of every layer.
//
//   P_l = transform(T_l)                          (m x q per layer, Linear C -> q)
//   per token i and query channel j, over the layers l:
//     x[i, 3j] = max_l P_l[i, j], x[i, 3j + 1] = mean_l P_l[i, j], x[i, 3j + 2] = P_{L-1}[i, j]
//   queries = merge(x)                            (m x q, Linear 3q -> q)
//
// The three statistics sit next to each other per channel (the released code
// concatenates them on a last axis of size 3 and flattens (q, 3)). All m tokens
// take part, the sink token 0 included. The tensors live in the adapter's scope
// (`backbone.reins.transform`, `backbone.reins.merge`), as in the released module.
//
// Backward (below the forward; the queries' gradient dQ, m x q): merge's
// gradients and dx = dQ W_merge; then dP_l[i, j] gets dx[i, 3j] when l is the
// first layer holding the maximum (F.max_pool1d's backward: the first maximum
// on ties, as the forward picks it), dx[i, 3j + 1] / L for every l, and
// dx[i, 3j + 2] when l = L - 1; transform's gradients and dT = dP W_transform.
// The projections are recomputed from the tokens, so nothing is kept.

import Tensor

public struct ReinQueryLink: Sendable, ParameterWalkable {
    public let embedDim: Int
    /// The query width q (Rein's `query_dims`, 256 in the released models).
    public let queryDims: Int
    /// C -> q (`transform`).
    public var transform: Linear
    /// 3q -> q (`merge`).
    public var merge: Linear

    /// A link whose parameters a walk binds later.
    public init(embedDim c: Int, queryDims q: Int) {
        self.embedDim = c
        self.queryDims = q
        transform = Linear(inFeatures: c, outFeatures: q)
        merge = Linear(inFeatures: 3 * q, outFeatures: q)
    }

    /// Wraps loaded or trained layers; their sizes must be C -> q and 3q -> q.
    public init(transform: Linear, merge: Linear) throws(ModelInputError) {
        let q = transform.outFeatures
        guard merge.inFeatures == 3 * q, merge.outFeatures == q else {
            throw ModelInputError("the query link's merge must be Linear \(3 * q) -> \(q) for a transform \(transform.inFeatures) -> \(q), found \(merge.inFeatures) -> \(merge.outFeatures)")
        }
        embedDim = transform.inFeatures
        queryDims = q
        self.transform = transform
        self.merge = merge
    }

    /// `transform.{weight,bias}`, `merge.{weight,bias}` under the adapter's scope.
    public mutating func walkParameters<V: ParameterVisitor>(_ v: inout V, _ scope: ParameterScope) throws(WeightError) {
        try transform.walkParameters(&v, scope.child("transform"))
        try merge.walkParameters(&v, scope.child("merge"))
    }

    /// PyTorch's default nn.Linear initialisation: weight and bias uniform(±1/√fan_in).
    public static func initialised(embedDim c: Int, queryDims q: Int, using rng: inout some RandomNumberGenerator) -> ReinQueryLink {
        func linear(_ inFeatures: Int, _ outFeatures: Int) -> Linear {
            let b = 1 / Float(inFeatures).squareRoot()
            let w = Tensor(shape: [outFeatures, inFeatures], storage: (0 ..< outFeatures * inFeatures).map { _ in Float.random(in: -b ... b, using: &rng) })
            let bias = Tensor(shape: [outFeatures], storage: (0 ..< outFeatures).map { _ in Float.random(in: -b ... b, using: &rng) })
            return Linear(weight: w, bias: bias)
        }
        let t = linear(c, q), m = linear(3 * q, q)
        return try! ReinQueryLink(transform: t, merge: m)
    }

    /// The queries (m x q, row-major) from the tokens of every layer, `tokens` (L, m, C) row-major.
    public func queries(tokens: UnsafePointer<Float>, layers: Int, count m: Int, threads: Int) -> [Float] {
        precondition(layers > 0 && m > 0, "ReinQueryLink.queries: \(layers) layers, \(m) tokens")
        let q = queryDims
        var projected = [Float](repeating: 0, count: layers * m * q)
        var stats = [Float](repeating: 0, count: m * 3 * q)
        var out = [Float](repeating: 0, count: m * q)
        projected.withUnsafeMutableBufferPointer { p in
            transform.forward(tokens, rows: layers * m, into: p.baseAddress!, threads: threads)
            stats.withUnsafeMutableBufferPointer { s in
                Self.statistics(p.baseAddress!, layers: layers, count: m, queryDims: q, into: s.baseAddress!, top: nil)
                out.withUnsafeMutableBufferPointer { merge.forward(s.baseAddress!, rows: m, into: $0.baseAddress!, threads: threads) }
            }
        }
        return out
    }

    /// s (m x 3q) = [max, mean, last] over the layers of the projections p (L, m, q), per
    /// channel; `top` (m x q), when given, gets the layer of each maximum (the first on
    /// ties; a NaN wins, as PyTorch's max pooling).
    static func statistics(_ p: UnsafePointer<Float>, layers: Int, count m: Int, queryDims q: Int,
                           into s: UnsafeMutablePointer<Float>, top: UnsafeMutablePointer<Int>?) {
        for i in 0 ..< m {
            for j in 0 ..< q {
                var best = -Float.infinity, at = 0, sum: Float = 0
                for l in 0 ..< layers {
                    let v = p[(l * m + i) * q + j]
                    if v > best || v.isNaN { best = v; at = l }
                    sum += v
                }
                let row = s + i * 3 * q + 3 * j
                row[0] = best
                row[1] = sum / Float(layers)
                row[2] = p[((layers - 1) * m + i) * q + j]
                top?[i * q + j] = at
            }
        }
    }

    /// Backward of `queries` from dQueries (m x q): the gradients of transform and merge
    /// are added into `gradients` (when trainable; nil: none), and dTokens (L, m, C),
    /// the gradient of every layer's tokens, is overwritten.
    public func backward(_ dQueries: UnsafePointer<Float>, tokens: UnsafePointer<Float>, layers: Int, count m: Int,
                         into dTokens: UnsafeMutablePointer<Float>, gradients: ParameterGradients?, threads: Int) {
        precondition(layers > 0 && m > 0, "ReinQueryLink.backward: \(layers) layers, \(m) tokens")
        let q = queryDims
        var projected = [Float](repeating: 0, count: layers * m * q)
        var stats = [Float](repeating: 0, count: m * 3 * q)
        var dStats = [Float](repeating: 0, count: m * 3 * q)
        var top = [Int](repeating: 0, count: m * q)
        projected.withUnsafeMutableBufferPointer { p in
            let p = p.baseAddress!
            transform.forward(tokens, rows: layers * m, into: p, threads: threads)
            stats.withUnsafeMutableBufferPointer { s in
                dStats.withUnsafeMutableBufferPointer { ds in
                    top.withUnsafeMutableBufferPointer { t in
                        Self.statistics(p, layers: layers, count: m, queryDims: q, into: s.baseAddress!, top: t.baseAddress!)
                        merge.backward(dQueries, ldy: q, input: s.baseAddress!, ldx: 3 * q, rows: m, into: ds.baseAddress!,
                                       gradients: gradients, threads: threads)
                        // The projections' gradient, in their place.
                        let inverse = 1 / Float(layers)
                        for i in 0 ..< m {
                            for j in 0 ..< q {
                                let row = ds.baseAddress! + i * 3 * q + 3 * j
                                for l in 0 ..< layers { p[(l * m + i) * q + j] = row[1] * inverse }
                                p[(t[i * q + j] * m + i) * q + j] += row[0]
                                p[((layers - 1) * m + i) * q + j] += row[2]
                            }
                        }
                    }
                }
            }
            transform.backward(p, ldy: q, input: tokens, ldx: embedDim, rows: layers * m, into: dTokens, gradients: gradients,
                               threads: threads)
        }
    }
}
