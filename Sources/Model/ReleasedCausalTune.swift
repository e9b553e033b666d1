// ReleasedCausalTune.swift — adapter kind `causal-tune-released`: the forward of
// the authors' released Causal-Tune code, replayed exactly so that its
// checkpoints give the numbers they were trained to give (docs/causal-tune.md,
// "Released adapters"). Inference only.
//
// For one image the patch tokens f (N x C, token-major, N = h·w, h = w) go
// through:
//   1. the memory of f read as C planes of N values (the released code reshapes
//      (N, B, C) to (B, C, h, w) without permuting): plane p is f's flat values
//      p·N ..< (p+1)·N, an h x w grid;
//   2. the orthonormal 2-D DCT-II of every plane, times 1 - w(max(u, v)), the
//      `MAD_decompose` mask (FrequencyMask.releasedCausalTuneKept);
//   3. those C·N values read back as N x C token-major rows (the inverse reshape),
//      Fc, and Rein's token path on them: S = softmax(Fc Tᵀ/√C),
//      Δ = MLP_f(S[:, 1:] MLP_t(T[1:]) + Fc)  (N x C);
//   4. Δ's memory read as C planes of h x w again, R = clamp(Re(iDFT2_ortho(plane)), 0, 255);
//   5. f += s · R, elementwise over the same flat memory.
// With a batch B > 1 the released reshapes mix the images' tokens; slide
// inference runs one window at a time (B = 1), which is what is replayed.
//
// The released module also holds a second token set (`learnable_tokens2`,
// `mlp_token2feat2`, `mlp_delta_f2`) that its forward never uses; it is read
// and written with the checkpoint (CausalTuneSecondBranch) and otherwise ignored.

import Tensor

/// The released Causal-Tune module's unused second token set, kept so its checkpoints load and save whole.
public struct CausalTuneSecondBranch: Sendable, ParameterWalkable {
    public let layers: Int, tokens: Int, embedDim: Int
    /// (L, m, C) `learnable_tokens2`.
    public var secondTokens: Parameter
    /// C -> C `mlp_token2feat2`.
    public var tokenToFeature: Linear
    /// C -> C `mlp_delta_f2`.
    public var deltaFeature: Linear

    /// A branch whose parameters a walk binds later.
    public init(layers: Int, tokens m: Int, embedDim c: Int) {
        self.layers = layers
        tokens = m
        embedDim = c
        secondTokens = Parameter(unbound: [layers, m, c])
        tokenToFeature = Linear(inFeatures: c, outFeatures: c)
        deltaFeature = Linear(inFeatures: c, outFeatures: c)
    }

    /// Wraps loaded or initialised tensors: tokens (L, m, C), two Linear C -> C.
    public init(tokens: Parameter, tokenToFeature: Linear, deltaFeature: Linear) throws(ModelInputError) {
        let c = tokenToFeature.inFeatures
        guard tokens.shape.count == 3, tokens.shape[2] == c,
              tokenToFeature.outFeatures == c, deltaFeature.inFeatures == c, deltaFeature.outFeatures == c else {
            throw ModelInputError("the second token set must be learnable_tokens2 (L, m, C) with mlp_token2feat2 and mlp_delta_f2 Linear C -> C; found tokens \(tokens.shapeDescription), \(tokenToFeature.inFeatures) -> \(tokenToFeature.outFeatures), \(deltaFeature.inFeatures) -> \(deltaFeature.outFeatures)")
        }
        layers = tokens.shape[0]
        self.tokens = tokens.shape[1]
        embedDim = c
        secondTokens = tokens
        self.tokenToFeature = tokenToFeature
        self.deltaFeature = deltaFeature
    }

    /// `learnable_tokens2`, `mlp_token2feat2.*`, `mlp_delta_f2.*` under the adapter's scope.
    public mutating func walkParameters<V: ParameterVisitor>(_ v: inout V, _ scope: ParameterScope) throws(WeightError) {
        try v.visit(&secondTokens, "learnable_tokens2", in: scope, decay: false)
        try tokenToFeature.walkParameters(&v, scope.child("mlp_token2feat2"))
        try deltaFeature.walkParameters(&v, scope.child("mlp_delta_f2"))
    }
}

extension CausalTuneAdapter {
    /// The released Causal-Tune forward (file comment, steps 1–5) on one image's patch tokens.
    func releasedForward(_ f: UnsafeMutablePointer<Float>, tokens: UnsafePointer<Float>, values: UnsafePointer<Float>,
                         _ b: AdapterSlot, _ a: borrowing AdapterActivations) {
        precondition(a.gridHeight == a.gridWidth, "CausalTuneAdapter: causal-tune-released needs a square grid, got \(a.gridHeight) x \(a.gridWidth)")
        let n = a.gridHeight * a.gridWidth, c = embedDim, threads = a.threads
        // 1–3: f's memory as C planes, DCT · (1 - mask), read back token-major as Fc; Rein's token path.
        a.releasedDCT!.forward(f, into: b.features, weights: a.forwardWeights)
        tokenPath(tokens: tokens, values: values, b, n: n, threads: threads, fused: a.tokenAttentionScratch)
        // 4: Δ's memory as C planes, the real part of the orthonormal inverse DFT.
        a.realDFT!.realPart(b.delta, into: b.spatial, scratch: a.spectrum!)
        // 5: f += s · clamp(R, 0, 255).
        let s = scale, r = b.spatial
        Threading.parallelFor(n * c, threads: threads, grain: 8192) { range in
            for i in range { f[i] += s * min(max(r[i], 0), 255) }
        }
    }
}
