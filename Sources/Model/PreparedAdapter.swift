// PreparedAdapter.swift — the parameter-only products of the adapter, computed
// once per parameter set instead of once per image: the tokens pre-divided by
// √C (the attention logits' temperature) and the token values MLP_t(T[1:]).

/// Per-layer T_l/√C (L, m, C) and V_l = MLP_t(T_l[1:]) (L, m-1, C), flattened.
public struct PreparedAdapter: Sendable {
    public let tokens: Int
    public let embedDim: Int
    public let scaledTokens: [Float]
    public let values: [Float]
}
