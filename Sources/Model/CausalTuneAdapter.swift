// CausalTuneAdapter.swift — the adapter applied after every block (method.md §2):
// Causal-Tune (frequency domain) or Rein (spatial), on the patch tokens only.
//
//   causal-tune: Fc = DCT2(f) · M
//                S  = softmax(Fc Tᵀ / √C)                 (N x m, token 0 = sink)
//                Z  = S[:, 1:] MLP_t(T[1:]) + Fc
//                f' = f + s · iDCT2(MLP_f(Z))
//   rein:        the same with f in place of Fc and no transform.
// Tokens are per layer (full m x C, or A·B with rank r); MLP_t (mlp_token2feat),
// MLP_f (mlp_delta_f) and s are shared by all layers. The forward pass keeps
// what a backward pass needs in the arena (see AdapterActivations).

import Tensor

public struct CausalTuneAdapter: Sendable {
    public let config: AdapterConfig
    /// Adapted layers L (one per block).
    public let layers: Int
    public let embedDim: Int
    /// (L, m, C) full tokens, or nil in the low-rank form.
    public var tokens: Tensor?
    /// (L, m, r) and (L, r, C): T_l = A_l B_l, or nil with full tokens.
    public var tokensA: Tensor?
    public var tokensB: Tensor?
    /// The shared scalar s.
    public var scale: Float
    /// MLP_t, C -> C (`mlp_token2feat`).
    public var tokenToFeature: Linear
    /// MLP_f, C -> C (`mlp_delta_f`).
    public var deltaFeature: Linear

    /// Wraps trained or loaded parameters; shapes must match the configuration.
    public init(config: AdapterConfig, layers: Int, embedDim: Int, tokens: Tensor?, tokensA: Tensor?, tokensB: Tensor?,
                scale: Float, tokenToFeature: Linear, deltaFeature: Linear) throws(ModelInputError) {
        let m = config.tokens, r = config.rank, c = embedDim
        if let problem = config.problems().first { throw ModelInputError(problem) }
        guard config.kind != .none else { throw ModelInputError("adapter kind none has no parameters") }
        if r == 0 {
            guard let tokens, tokens.shape == [layers, m, c], tokensA == nil, tokensB == nil else {
                throw ModelInputError("full adapter tokens must be one (L, m, C) = [\(layers), \(m), \(c)] tensor, found \(tokens?.shapeDescription ?? "none")")
            }
        } else {
            guard tokens == nil, let tokensA, let tokensB, tokensA.shape == [layers, m, r], tokensB.shape == [layers, r, c] else {
                throw ModelInputError("low-rank adapter tokens must be A [\(layers), \(m), \(r)] and B [\(layers), \(r), \(c)], found A \(tokensA?.shapeDescription ?? "none"), B \(tokensB?.shapeDescription ?? "none")")
            }
        }
        for (name, linear) in [("mlp_token2feat", tokenToFeature), ("mlp_delta_f", deltaFeature)] {
            guard linear.inFeatures == c, linear.outFeatures == c else {
                throw ModelInputError("\(name) must be Linear \(c) -> \(c), found \(linear.inFeatures) -> \(linear.outFeatures)")
            }
        }
        self.config = config
        self.layers = layers
        self.embedDim = c
        self.tokens = tokens
        self.tokensA = tokensA
        self.tokensB = tokensB
        self.scale = scale
        self.tokenToFeature = tokenToFeature
        self.deltaFeature = deltaFeature
    }

    /// Freshly initialised parameters, as Rein: tokens (and both low-rank factors)
    /// uniform(±√(6 / (3·16² + C))), MLP weights Kaiming-uniform a = √5 (= uniform(±1/√C)),
    /// biases uniform(±1/√C), s = 1e-3.
    public static func initialised(config: AdapterConfig, layers: Int, embedDim c: Int,
                                   using rng: inout some RandomNumberGenerator) throws(ModelInputError) -> CausalTuneAdapter {
        let m = config.tokens, r = config.rank
        let p = AdapterConfig.tokenInitPatch
        let bound = Float((6.0 / Double(3 * p * p + c)).squareRoot())
        func uniform(_ shape: [Int], _ b: Float) -> Tensor {
            Tensor(shape: shape, storage: (0 ..< shape.reduce(1, *)).map { _ in Float.random(in: -b ... b, using: &rng) })
        }
        let tokens = r == 0 ? uniform([layers, m, c], bound) : nil
        let a = r == 0 ? nil : uniform([layers, m, r], bound)
        let b = r == 0 ? nil : uniform([layers, r, c], bound)
        let linearBound = 1 / Float(c).squareRoot()
        let t2f = Linear(weight: uniform([c, c], linearBound), bias: uniform([c], linearBound))
        let df = Linear(weight: uniform([c, c], linearBound), bias: uniform([c], linearBound))
        return try CausalTuneAdapter(config: config, layers: layers, embedDim: c, tokens: tokens, tokensA: a, tokensB: b,
                                     scale: AdapterConfig.scaleInit, tokenToFeature: t2f, deltaFeature: df)
    }

    /// T_l (m x C): the stored tokens, or A_l · B_l.
    public func layerTokens(_ l: Int) -> [Float] {
        let m = config.tokens, c = embedDim
        if let tokens { return Array(tokens.storage[(l * m * c) ..< ((l + 1) * m * c)]) }
        let r = config.rank
        var out = [Float](repeating: 0, count: m * c)
        tokensA!.withUnsafeBufferPointer { a in
            tokensB!.withUnsafeBufferPointer { b in
                out.withUnsafeMutableBufferPointer { t in
                    GEMM.sgemm(m: m, n: c, k: r, a: a.baseAddress! + l * m * r, lda: r, b: b.baseAddress! + l * r * c, ldb: c,
                               c: t.baseAddress!, ldc: c)
                }
            }
        }
        return out
    }

    /// What every forward pass uses and only the parameters determine: T_l / √C and
    /// V_l = MLP_t(T_l[1:]) for every layer. Recompute after changing parameters.
    /// Computed on the calling thread alone, so the values depend on the parameters only.
    public func prepare() -> PreparedAdapter {
        let m = config.tokens, c = embedDim
        var scaled = [Float](repeating: 0, count: layers * m * c)
        var values = [Float](repeating: 0, count: layers * (m - 1) * c)
        let inv = 1 / Float(c).squareRoot()
        for l in 0 ..< layers {
            let t = layerTokens(l)
            for i in 0 ..< m * c { scaled[l * m * c + i] = t[i] * inv }
            t.withUnsafeBufferPointer { t in
                values.withUnsafeMutableBufferPointer { v in
                    tokenToFeature.forward(t.baseAddress! + c, rows: m - 1, into: v.baseAddress! + l * (m - 1) * c, threads: 1)
                }
            }
        }
        return PreparedAdapter(tokens: m, embedDim: c, scaledTokens: scaled, values: values)
    }

    /// An arena for an h x w patch grid. With `retainForBackward` every layer keeps
    /// its own intermediate buffers (for a backward pass); otherwise layers share one set.
    /// Forward and backward passes over the arena split over `threads` chunks.
    public func makeActivations(gridHeight h: Int, gridWidth w: Int, retainForBackward: Bool = false, threads: Int) -> AdapterActivations {
        AdapterActivations(config: config, embedDim: embedDim, layers: layers, gridHeight: h, gridWidth: w,
                           retainForBackward: retainForBackward, threads: threads)
    }

    /// Refines the patch tokens `f` (N x C, N = h·w of the arena, row-major grid) after block
    /// `layer`, in place: f += s · iDCT2(Δ) (Causal-Tune) or f += s · Δ (Rein).
    public func forward(layer: Int, patches f: UnsafeMutablePointer<Float>, prepared: PreparedAdapter,
                        _ a: borrowing AdapterActivations) {
        precondition(layer >= 0 && layer < layers, "CausalTuneAdapter.forward: layer \(layer) of \(layers)")
        precondition(prepared.tokens == config.tokens && prepared.embedDim == embedDim, "CausalTuneAdapter.forward: stale PreparedAdapter")
        let b = a.slot(layer)
        prepared.scaledTokens.withUnsafeBufferPointer { t in
            prepared.values.withUnsafeBufferPointer { v in
                let m = config.tokens, c = embedDim
                let tokens = t.baseAddress! + layer * m * c, values = v.baseAddress! + layer * (m - 1) * c
                if config.kind == .causalTune {
                    frequencyForward(f, tokens: tokens, values: values, b, a)
                } else {
                    spatialForward(f, tokens: tokens, values: values, b, n: a.gridHeight * a.gridWidth, threads: a.threads)
                }
            }
        }
    }

    /// Causal-Tune, channel-major in the frequency domain (the DCT's fast layout):
    /// Fcᵀ = DCT2(fᵀ)·M (C x N); S = softmax(Fc (T/√C)ᵀ) (N x m); Zᵀ = Fcᵀ + Vᵀ S[:, 1:]ᵀ;
    /// Δᵀ = W_f Zᵀ + b_f; f += s · iDCT2(Δᵀ)ᵀ.
    func frequencyForward(_ f: UnsafeMutablePointer<Float>, tokens: UnsafePointer<Float>, values: UnsafePointer<Float>,
                          _ b: AdapterSlot, _ a: borrowing AdapterActivations) {
        let n = a.gridHeight * a.gridWidth, c = embedDim, m = config.tokens
        let dct = a.dct!
        // fᵀ into the spatial buffer (free until step 5), then Fcᵀ = DCT2(fᵀ) · M.
        Transpose.apply(f, rows: n, cols: c, into: b.spatial, threads: a.threads)
        dct.forward(b.spatial, into: b.features, weights: a.forwardWeights)
        // S (N x m) = Fc (T/√C)ᵀ, then the softmax over the tokens.
        GEMM.rows(m: n, n: m, k: c, a: b.features, lda: n, transA: true, b: tokens, ldb: c, transB: true,
                  c: b.probabilities, ldc: m, threads: a.threads)
        SoftmaxKernel.forward(b.probabilities, rows: n, cols: m, ld: m, threads: a.threads)
        // Zᵀ (C x N) = Fcᵀ + Vᵀ S[:, 1:]ᵀ.
        b.mixed.update(from: b.features, count: n * c)
        GEMM.rows(m: c, n: n, k: m - 1, a: values, lda: c, transA: true, b: b.probabilities + 1, ldb: m, transB: true,
                  beta: 1, c: b.mixed, ldc: n, threads: a.threads)
        // Δᵀ (C x N) = W_f Zᵀ + b_f.
        deltaFeature.weight.withUnsafeBufferPointer { w in
            GEMM.rows(m: c, n: n, k: c, a: w.baseAddress!, lda: c, b: b.mixed, ldb: n, c: b.delta, ldc: n, threads: a.threads)
        }
        deltaFeature.bias.withUnsafeBufferPointer { bias in
            let delta = b.delta
            Threading.parallelFor(c, threads: a.threads, grain: max(1, 8192 / n)) { range in
                for ch in range {
                    let row = delta + ch * n, v = bias[ch]
                    for i in 0 ..< n { row[i] += v }
                }
            }
        }
        // Back to space and the scaled residual: f += s · iDCT2(Δᵀ)ᵀ.
        dct.inverse(destroying: b.delta, into: b.spatial, scale: a.inverseWeights)
        Transpose.addScaled(b.spatial, rows: n, cols: c, alpha: scale, into: f, threads: a.threads)
    }

    /// Rein, token-major: S = softmax(f (T/√C)ᵀ); Z = S[:, 1:] V + f; Δ = MLP_f(Z); f += s · Δ.
    func spatialForward(_ f: UnsafeMutablePointer<Float>, tokens: UnsafePointer<Float>, values: UnsafePointer<Float>,
                        _ b: AdapterSlot, n: Int, threads: Int) {
        let c = embedDim, m = config.tokens
        b.features.update(from: f, count: n * c)
        GEMM.linear(b.features, rows: n, inFeatures: c, weight: tokens, outFeatures: m, into: b.probabilities, threads: threads)
        SoftmaxKernel.forward(b.probabilities, rows: n, cols: m, ld: m, threads: threads)
        b.mixed.update(from: b.features, count: n * c)
        GEMM.rows(m: n, n: c, k: m - 1, a: b.probabilities + 1, lda: m, b: values, ldb: c, beta: 1, c: b.mixed, ldc: c, threads: threads)
        deltaFeature.forward(b.mixed, rows: n, into: b.delta, threads: threads)
        let s = scale, delta = b.delta
        Threading.parallelFor(n, threads: threads, grain: max(1, 8192 / c)) { range in
            for i in (range.lowerBound * c) ..< (range.upperBound * c) { f[i] += s * delta[i] }
        }
    }
}
