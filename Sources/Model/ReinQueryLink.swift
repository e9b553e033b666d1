// ReinQueryLink.swift — Rein's link from the adapter tokens to the Mask2Former
// queries (`link_token_to_query`): the second output of the adapted backbone,
// which the head takes as its query embedding (and, through its `querys2feat`,
// its initial query features).
//
//   P = transform(T_l) for every layer l          (L, m, Q)   T_l: the layer's tokens (A_l·B_l low rank)
//   per token i and channel q: [max_l P, mean_l P, P_{L-1}]  -> (m, 3Q), laid out q-major (3q + k)
//   queries = merge(that)                          (m, Q)
// Parameter-only: computed once per parameter set. Names under `backbone.reins.`:
// transform.{weight,bias} (Q, C), (Q); merge.{weight,bias} (Q, 3Q), (Q).

import Tensor

public struct ReinQueryLink: Sendable, ParameterWalkable {
    /// C -> Q (`transform`).
    public var transform: Linear
    /// 3Q -> Q (`merge`).
    public var merge: Linear

    /// Query width Q.
    public var queryDim: Int { transform.outFeatures }

    /// A link whose parameters a walk binds later.
    public init(embedDim c: Int, queryDim q: Int) {
        transform = Linear(inFeatures: c, outFeatures: q)
        merge = Linear(inFeatures: 3 * q, outFeatures: q)
    }

    /// Rein's names, relative to the adapter's scope (`backbone.reins.`).
    public mutating func walkParameters<V: ParameterVisitor>(_ v: inout V, _ scope: ParameterScope) throws(WeightError) {
        try transform.walkParameters(&v, scope.child("transform"))
        try merge.walkParameters(&v, scope.child("merge"))
    }

    /// The m x Q queries of `adapter`'s tokens (one per token, the sink included).
    /// Computed on the calling thread alone.
    public func queries(_ adapter: CausalTuneAdapter) throws(ModelInputError) -> Tensor {
        let c = adapter.embedDim, m = adapter.config.tokens, layers = adapter.layers, q = queryDim
        guard transform.inFeatures == c, merge.inFeatures == 3 * q, merge.outFeatures == q else {
            throw ModelInputError("the query link (transform \(transform.inFeatures) -> \(q), merge \(merge.inFeatures) -> \(merge.outFeatures)) does not fit adapter tokens of width \(c) (expected transform \(c) -> Q, merge 3Q -> Q)")
        }
        guard layers > 0 else { throw ModelInputError("the adapter has no layers") }
        // P (L, m, Q).
        var projected = [Float](repeating: 0, count: layers * m * q)
        projected.withUnsafeMutableBufferPointer { p in
            for l in 0 ..< layers {
                adapter.layerTokens(l).withUnsafeBufferPointer { t in
                    transform.forward(t.baseAddress!, rows: m, into: p.baseAddress! + l * m * q, threads: 1)
                }
            }
        }
        // (m, 3Q): max, mean and last over the layers, q-major.
        var pooled = [Float](repeating: 0, count: m * 3 * q)
        for i in 0 ..< m {
            for ch in 0 ..< q {
                var largest = -Float.infinity, sum: Float = 0
                for l in 0 ..< layers {
                    let v = projected[(l * m + i) * q + ch]
                    largest = max(largest, v)
                    sum += v
                }
                let out = (i * q + ch) * 3
                pooled[out] = largest
                pooled[out + 1] = sum / Float(layers)
                pooled[out + 2] = projected[((layers - 1) * m + i) * q + ch]
            }
        }
        var queries = [Float](repeating: 0, count: m * q)
        pooled.withUnsafeBufferPointer { x in
            queries.withUnsafeMutableBufferPointer { merge.forward(x.baseAddress!, rows: m, into: $0.baseAddress!, threads: 1) }
        }
        return Tensor(shape: [m, q], storage: queries)
    }
}
