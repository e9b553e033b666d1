// PreparedAdapter.swift — the parameter-only products of the adapter, computed
// once per parameter set instead of once per image: the tokens pre-divided by
// √C (the attention logits' temperature), the token values MLP_t(T[1:]), and
// the query link's queries.

/// Per-layer T_l/√C (L, m, C) and V_l = MLP_t(T_l[1:]) (L, m-1, C), flattened; the
/// link's queries (m, q) when the adapter has Rein's token -> query link (else empty).
public struct PreparedAdapter: Sendable {
    public let tokens: Int
    public let embedDim: Int
    public let scaledTokens: [Float]
    public let values: [Float]
    public let queries: [Float]
}
