// CausalTuneAdapter.swift — the adapter applied after every block (method.md §2):
// Causal-Tune (frequency domain) or Rein (spatial), on the patch tokens only.
//
//   causal-tune: Fc = Tr(f) · M
//                S  = softmax(Fc Tᵀ / √C)                 (R x m, token 0 = sink)
//                Z  = S[:, 1:] MLP_t(T[1:]) + Fc
//                f' = f + s · Tr⁻¹(MLP_f(Z))
//   rein:        the same with f in place of Fc and no transform.
// The transform Tr (AdapterTransform) is the configured one: the DCT (R = N
// frequency rows), the DFT (R = 2N: the real and imaginary parts are separate
// rows of the same token path; Tr⁻¹ keeps the real part of the inverse) or the
// Haar wavelet (R = N coefficients). M is the mask on the h x w index grid
// (applied to both parts of the DFT).
//   causal-tune-released: the released code's forward (ReleasedCausalTune.swift).
// Tokens are per layer (full m x C, or A·B with rank r); MLP_t (mlp_token2feat),
// MLP_f (mlp_delta_f) and s are shared by all layers. The forward pass keeps
// what a backward pass needs in the arena (see AdapterActivations).
//
// Backward (below the forward). Causal-Tune works channel-major (C x R, the
// transforms' layout, as its forward keeps Fcᵀ, Zᵀ and Tr⁻¹(Δᵀ)); Rein token-major.
// From g = dL/df' (in place: g becomes dL/df):
//   ds  += Σ g ⊙ Tr⁻¹(Δ)
//   dΔ   = Tr(s g)   (the adjoint of each orthonormal inverse is its forward transform;
//                    for the DFT, Re ∘ ifft2's adjoint is fft2 split into its two parts)
//   dW_f += dΔᵀ Z, db_f += Σ dΔ, dZ = dΔ W_f
//   dS[:, 1:] = dZ V_lᵀ (dS[:, 0] = 0),  dV = S[:, 1:]ᵀ dZ
//   dA = S ⊙ (dS - rowsum(dS ⊙ S))                     (softmax backward)
//   dFc = dZ + dA T_l/√C,  dT_l = dAᵀ Fc/√C + [0; dV W_t]
//   dW_t += dVᵀ T_l[1:], db_t += Σ dV;  low rank: dA_l += dT_l B_lᵀ, dB_l += A_lᵀ dT_l
//   g   += Tr⁻¹(M ⊙ dFc)                                (Rein: g += dFc)

import Tensor

public struct CausalTuneAdapter: Sendable, ParameterWalkable {
    public let config: AdapterConfig
    /// Adapted layers L (one per block).
    public let layers: Int
    public let embedDim: Int
    /// (L, m, C) full tokens, or nil in the low-rank form.
    public var tokens: Parameter?
    /// (L, m, r) and (L, r, C): T_l = A_l B_l, or nil with full tokens.
    public var tokensA: Parameter?
    public var tokensB: Parameter?
    /// The shared scalar s (shape []).
    public var scaleParameter: Parameter
    /// MLP_t, C -> C (`mlp_token2feat`).
    public var tokenToFeature: Linear
    /// MLP_f, C -> C (`mlp_delta_f`).
    public var deltaFeature: Linear
    /// The released Causal-Tune module's unused second token set (kind `causal-tune-released` only).
    public var secondBranch: CausalTuneSecondBranch?
    /// Rein's token -> query link (when `config.queryLink`).
    public var queryLink: ReinQueryLink?

    /// The shared scalar s.
    public var scale: Float { scaleParameter.values[0] }

    /// An adapter of `config` whose parameters a walk binds later.
    public init(config: AdapterConfig, layers: Int, embedDim c: Int) throws(ModelInputError) {
        let m = config.tokens, r = config.rank
        try self.init(config: config, layers: layers, embedDim: c,
                      tokens: r == 0 ? Parameter(unbound: [layers, m, c]) : nil,
                      tokensA: r == 0 ? nil : Parameter(unbound: [layers, m, r]), tokensB: r == 0 ? nil : Parameter(unbound: [layers, r, c]),
                      scale: Parameter(unbound: []), tokenToFeature: Linear(inFeatures: c, outFeatures: c),
                      deltaFeature: Linear(inFeatures: c, outFeatures: c),
                      secondBranch: config.kind == .causalTuneReleased ? CausalTuneSecondBranch(layers: layers, tokens: m, embedDim: c) : nil,
                      queryLink: config.queryLink ? ReinQueryLink(embedDim: c, queryDims: config.queryDims) : nil)
    }

    /// Rein / Causal-Tune names (under `backbone.reins.`). No weight decay on the tokens and s
    /// (method.md §4); s may be stored as [1]. Then the released Causal-Tune module's second
    /// token set and Rein's query link, when present.
    public mutating func walkParameters<V: ParameterVisitor>(_ v: inout V, _ scope: ParameterScope) throws(WeightError) {
        if tokens != nil { try v.visit(&tokens!, "learnable_tokens", in: scope, decay: false) }
        if tokensA != nil { try v.visit(&tokensA!, "learnable_tokens_a", in: scope, decay: false) }
        if tokensB != nil { try v.visit(&tokensB!, "learnable_tokens_b", in: scope, decay: false) }
        try v.visit(&scaleParameter, "scale", in: scope, decay: false, fileShapes: [[], [1]])
        try tokenToFeature.walkParameters(&v, scope.child("mlp_token2feat"))
        try deltaFeature.walkParameters(&v, scope.child("mlp_delta_f"))
        if secondBranch != nil { try secondBranch!.walkParameters(&v, scope) }
        if queryLink != nil { try queryLink!.walkParameters(&v, scope) }
    }

    /// Wraps trained or loaded parameters; shapes must match the configuration.
    public init(config: AdapterConfig, layers: Int, embedDim: Int, tokens: Tensor?, tokensA: Tensor?, tokensB: Tensor?,
                scale: Float, tokenToFeature: Linear, deltaFeature: Linear, secondBranch: CausalTuneSecondBranch? = nil,
                queryLink: ReinQueryLink? = nil) throws(ModelInputError) {
        try self.init(config: config, layers: layers, embedDim: embedDim, tokens: tokens.map(Parameter.init),
                      tokensA: tokensA.map(Parameter.init), tokensB: tokensB.map(Parameter.init),
                      scale: Parameter(Tensor(shape: [], storage: [scale])), tokenToFeature: tokenToFeature, deltaFeature: deltaFeature,
                      secondBranch: secondBranch, queryLink: queryLink)
    }

    /// Wraps trained or loaded parameters; shapes must match the configuration.
    public init(config: AdapterConfig, layers: Int, embedDim: Int, tokens: Parameter?, tokensA: Parameter?, tokensB: Parameter?,
                scale: Parameter, tokenToFeature: Linear, deltaFeature: Linear, secondBranch: CausalTuneSecondBranch? = nil,
                queryLink: ReinQueryLink? = nil) throws(ModelInputError) {
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
        if config.kind == .causalTuneReleased {
            guard let secondBranch, secondBranch.layers == layers, secondBranch.tokens == m, secondBranch.embedDim == c else {
                throw ModelInputError("a causal-tune-released adapter holds the released module's second token set: learnable_tokens2 [\(layers), \(m), \(c)], mlp_token2feat2 and mlp_delta_f2 (Linear \(c) -> \(c))")
            }
        } else if secondBranch != nil {
            throw ModelInputError("only a causal-tune-released adapter holds a second token set")
        }
        if config.queryLink {
            guard let queryLink, queryLink.embedDim == c, queryLink.queryDims == config.queryDims else {
                throw ModelInputError("the token -> query link must be transform Linear \(c) -> \(config.queryDims) and merge Linear \(3 * config.queryDims) -> \(config.queryDims), found \(queryLink.map { "transform \($0.embedDim) -> \($0.queryDims)" } ?? "none")")
            }
        } else if queryLink != nil {
            throw ModelInputError("the configuration has no token -> query link (query_link false), but link layers were given")
        }
        self.config = config
        self.layers = layers
        self.embedDim = c
        self.secondBranch = secondBranch
        self.queryLink = queryLink
        self.tokens = tokens
        self.tokensA = tokensA
        self.tokensB = tokensB
        guard scale.shape == [] else { throw ModelInputError("the adapter scale s must be a scalar, found \(scale.shapeDescription)") }
        self.scaleParameter = scale
        self.tokenToFeature = tokenToFeature
        self.deltaFeature = deltaFeature
    }

    /// Freshly initialised parameters, as Rein: full tokens uniform(±√(6 / (3·16² + C))), both
    /// low-rank factors uniform(±√(6 / (3·16² + √(C·r)))) (LoRAReins), MLP weights Kaiming-uniform
    /// a = √5 (= uniform(±1/√C)), biases uniform(±1/√C), s = 1e-3; then, when the kind or the
    /// configuration has them, the released second token set and the query link (drawn after the rest).
    public static func initialised(config: AdapterConfig, layers: Int, embedDim c: Int,
                                   using rng: inout some RandomNumberGenerator) throws(ModelInputError) -> CausalTuneAdapter {
        let m = config.tokens, r = config.rank
        let bound = AdapterConfig.tokenInitBound(embedDim: c, rank: r)
        func uniform(_ shape: [Int], _ b: Float) -> Tensor {
            Tensor(shape: shape, storage: (0 ..< shape.reduce(1, *)).map { _ in Float.random(in: -b ... b, using: &rng) })
        }
        let tokens = r == 0 ? uniform([layers, m, c], bound) : nil
        let a = r == 0 ? nil : uniform([layers, m, r], bound)
        let b = r == 0 ? nil : uniform([layers, r, c], bound)
        let linearBound = 1 / Float(c).squareRoot()
        let t2f = Linear(weight: uniform([c, c], linearBound), bias: uniform([c], linearBound))
        let df = Linear(weight: uniform([c, c], linearBound), bias: uniform([c], linearBound))
        var second: CausalTuneSecondBranch?
        if config.kind == .causalTuneReleased {
            let fullBound = AdapterConfig.tokenInitBound(embedDim: c, rank: 0)
            second = try CausalTuneSecondBranch(
                tokens: Parameter(uniform([layers, m, c], fullBound)),
                tokenToFeature: Linear(weight: uniform([c, c], linearBound), bias: uniform([c], linearBound)),
                deltaFeature: Linear(weight: uniform([c, c], linearBound), bias: uniform([c], linearBound)))
        }
        let link = config.queryLink ? ReinQueryLink.initialised(embedDim: c, queryDims: config.queryDims, using: &rng) : nil
        return try CausalTuneAdapter(config: config, layers: layers, embedDim: c, tokens: tokens, tokensA: a, tokensB: b,
                                     scale: AdapterConfig.scaleInit, tokenToFeature: t2f, deltaFeature: df,
                                     secondBranch: second, queryLink: link)
    }

    /// T_l (m x C): the stored tokens, or A_l · B_l.
    public func layerTokens(_ l: Int) -> [Float] {
        let m = config.tokens, c = embedDim
        if let tokens { return Array(tokens.values[(l * m * c) ..< ((l + 1) * m * c)]) }
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
    /// V_l = MLP_t(T_l[1:]) for every layer, and the link's queries. Recompute after changing parameters.
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
        return PreparedAdapter(tokens: m, embedDim: c, scaledTokens: scaled, values: values, queries: queries(threads: 1) ?? [])
    }

    /// Every layer's tokens T_l, (L, m, C) row-major.
    public func allTokens() -> [Float] {
        (0 ..< layers).flatMap { layerTokens($0) }
    }

    /// Rein's queries (m x q, row-major) from every layer's tokens through the link; nil without one.
    public func queries(threads: Int) -> [Float]? {
        guard let queryLink else { return nil }
        return allTokens().withUnsafeBufferPointer {
            queryLink.queries(tokens: $0.baseAddress!, layers: layers, count: config.tokens, threads: threads)
        }
    }

    /// An arena for an h x w patch grid. With `retainForBackward` every layer keeps
    /// its own intermediate buffers (for a backward pass); otherwise layers share one set.
    /// Forward and backward passes over the arena split over `threads` chunks.
    public func makeActivations(gridHeight h: Int, gridWidth w: Int, retainForBackward: Bool = false, threads: Int) -> AdapterActivations {
        AdapterActivations(config: config, embedDim: embedDim, layers: layers, gridHeight: h, gridWidth: w,
                           retainForBackward: retainForBackward, threads: threads)
    }

    /// Refines the patch tokens `f` (N x C, N = h·w of the arena, row-major grid) after block
    /// `layer`, in place: f += s · Tr⁻¹(Δ) (Causal-Tune), f += s · Δ (Rein), or the released
    /// Causal-Tune forward (square grids).
    public func forward(layer: Int, patches f: UnsafeMutablePointer<Float>, prepared: PreparedAdapter,
                        _ a: borrowing AdapterActivations) {
        precondition(layer >= 0 && layer < layers, "CausalTuneAdapter.forward: layer \(layer) of \(layers)")
        precondition(prepared.tokens == config.tokens && prepared.embedDim == embedDim, "CausalTuneAdapter.forward: stale PreparedAdapter")
        let b = a.slot(layer)
        prepared.scaledTokens.withUnsafeBufferPointer { t in
            prepared.values.withUnsafeBufferPointer { v in
                let m = config.tokens, c = embedDim
                let tokens = t.baseAddress! + layer * m * c, values = v.baseAddress! + layer * (m - 1) * c
                switch config.kind {
                case .causalTune: frequencyForward(f, tokens: tokens, values: values, b, a)
                case .rein: spatialForward(f, tokens: tokens, values: values, b, n: a.gridHeight * a.gridWidth, threads: a.threads)
                case .causalTuneReleased: releasedForward(f, tokens: tokens, values: values, b, a)
                case .none: preconditionFailure("CausalTuneAdapter.forward: kind none has no adapter")
                }
            }
        }
    }

    /// Causal-Tune, channel-major in the frequency domain (the transforms' fast layout), R rows:
    /// Fcᵀ = Tr(fᵀ)·M (C x R); S = softmax(Fc (T/√C)ᵀ) (R x m); Zᵀ = Fcᵀ + Vᵀ S[:, 1:]ᵀ;
    /// Δᵀ = W_f Zᵀ + b_f; f += s · Tr⁻¹(Δᵀ)ᵀ.
    func frequencyForward(_ f: UnsafeMutablePointer<Float>, tokens: UnsafePointer<Float>, values: UnsafePointer<Float>,
                          _ b: AdapterSlot, _ a: borrowing AdapterActivations) {
        let n = a.gridHeight * a.gridWidth, r = a.frequencyRows, c = embedDim, m = config.tokens
        let transform = a.transform!
        // fᵀ into the spatial buffer (free until step 5), then Fcᵀ = Tr(fᵀ) · M.
        Transpose.apply(f, rows: n, cols: c, into: b.spatial, threads: a.threads)
        transform.forward(b.spatial, into: b.features, weights: a.forwardWeights)
        // S (R x m) = Fc (T/√C)ᵀ, then the softmax over the tokens.
        GEMM.rows(m: r, n: m, k: c, a: b.features, lda: r, transA: true, b: tokens, ldb: c, transB: true,
                  c: b.probabilities, ldc: m, threads: a.threads)
        SoftmaxKernel.forward(b.probabilities, rows: r, cols: m, ld: m, threads: a.threads)
        // Zᵀ (C x R) = Fcᵀ + Vᵀ S[:, 1:]ᵀ.
        b.mixed.update(from: b.features, count: r * c)
        GEMM.rows(m: c, n: r, k: m - 1, a: values, lda: c, transA: true, b: b.probabilities + 1, ldb: m, transB: true,
                  beta: 1, c: b.mixed, ldc: r, threads: a.threads)
        // Δᵀ (C x R) = W_f Zᵀ + b_f.
        deltaFeature.weight.withUnsafeBufferPointer { w in
            GEMM.rows(m: c, n: r, k: c, a: w.baseAddress!, lda: c, b: b.mixed, ldb: r, c: b.delta, ldc: r, threads: a.threads)
        }
        deltaFeature.bias.withUnsafeBufferPointer { bias in
            let delta = b.delta
            Threading.parallelFor(c, threads: a.threads, grain: max(1, 8192 / r)) { range in
                for ch in range {
                    let row = delta + ch * r, v = bias[ch]
                    for i in 0 ..< r { row[i] += v }
                }
            }
        }
        // Back to space and the scaled residual: f += s · Tr⁻¹(Δᵀ)ᵀ.
        transform.inverse(destroying: b.delta, into: b.spatial, weights: a.inverseWeights)
        Transpose.addScaled(b.spatial, rows: n, cols: c, alpha: scale, into: f, threads: a.threads)
    }

    /// Rein, token-major: S = softmax(f (T/√C)ᵀ); Z = S[:, 1:] V + f; Δ = MLP_f(Z); f += s · Δ.
    func spatialForward(_ f: UnsafeMutablePointer<Float>, tokens: UnsafePointer<Float>, values: UnsafePointer<Float>,
                        _ b: AdapterSlot, n: Int, threads: Int) {
        let c = embedDim
        b.features.update(from: f, count: n * c)
        tokenPath(tokens: tokens, values: values, b, n: n, threads: threads)
        let s = scale, delta = b.delta
        Threading.parallelFor(n, threads: threads, grain: max(1, 8192 / c)) { range in
            for i in (range.lowerBound * c) ..< (range.upperBound * c) { f[i] += s * delta[i] }
        }
    }

    /// Rein's token path on the slot's features F (N x C, token-major): S = softmax(F (T/√C)ᵀ),
    /// Z = S[:, 1:] V + F, Δ = MLP_f(Z) into the slot's delta.
    func tokenPath(tokens: UnsafePointer<Float>, values: UnsafePointer<Float>, _ b: AdapterSlot, n: Int, threads: Int) {
        let c = embedDim, m = config.tokens
        GEMM.linear(b.features, rows: n, inFeatures: c, weight: tokens, outFeatures: m, into: b.probabilities, threads: threads)
        SoftmaxKernel.forward(b.probabilities, rows: n, cols: m, ld: m, threads: threads)
        b.mixed.update(from: b.features, count: n * c)
        GEMM.rows(m: n, n: c, k: m - 1, a: b.probabilities + 1, lda: m, b: values, ldb: c, beta: 1, c: b.mixed, ldc: c, threads: threads)
        deltaFeature.forward(b.mixed, rows: n, into: b.delta, threads: threads)
    }

    /// Floats of scratch `backward` needs for N patches and C channels: 6·N·C (the transposed
    /// gradient, dΔ and dZ of R x C each — R ≤ 2N — and the inverse's output), dS (R x m), dV and dT.
    public static func backwardScratchCount(config: AdapterConfig, patches n: Int, embedDim c: Int) -> Int {
        let r = config.kind == .causalTune ? AdapterTransform.rows(config.transform, patches: n) : n, m = config.tokens
        return 6 * n * c + r * m + 2 * m * c
    }

    /// Backward of `forward` at `layer` from g = dL/df' (N x C, in place: g becomes dL/df),
    /// from the slot the forward kept in `a`; parameter gradients are added into `gradients`.
    /// `scratch`: backwardScratchCount floats.
    public func backward(layer l: Int, gradient g: UnsafeMutablePointer<Float>, prepared: PreparedAdapter,
                         _ a: borrowing AdapterActivations, scratch: UnsafeMutablePointer<Float>, gradients: ParameterGradients) {
        precondition(config.kind != .causalTuneReleased, "CausalTuneAdapter.backward: causal-tune-released is inference only")
        let n = a.gridHeight * a.gridWidth, r = a.frequencyRows, c = embedDim, m = config.tokens
        let slot = a.slot(l)
        let dS = scratch + 6 * n * c, dV = dS + r * m, dT = dV + m * c
        // Token attention and MLP_f backward into dZ / dFc (layout per kind), dS, dV, dT.
        if config.kind == .causalTune {
            frequencyBackward(prepared: prepared, layer: l, gradient: g, slot: slot, a, scratch: scratch, gradients: gradients)
        } else {
            spatialBackward(prepared: prepared, layer: l, gradient: g, slot: slot, a, scratch: scratch, gradients: gradients)
        }
        // Tokens: dT[1:] += dV W_t, MLP_t's gradients, then the (full or low-rank) token tensors.
        tokenToFeature.weight.withUnsafeBufferPointer { w in
            GEMM.rows(m: m - 1, n: c, k: c, a: dV, lda: c, b: w.baseAddress!, ldb: c, beta: 1, c: dT + c, ldc: c, threads: a.threads)
        }
        let tokens = layerTokens(l)
        tokens.withUnsafeBufferPointer { t in
            GradientGEMM.weight(dV, ldy: c, rows: m - 1, outFeatures: c, x: t.baseAddress! + c, ldx: c, inFeatures: c,
                                into: gradients.of(tokenToFeature.weight), threads: a.threads)
        }
        ActivationBackwardKernels.addColumnSums(dV, rows: m - 1, cols: c, ld: c, into: gradients.of(tokenToFeature.bias), threads: a.threads)
        addTokenGradient(layer: l, dT, gradients: gradients)
    }

    /// Adds dT_l (m x C), a gradient of layer l's tokens T_l, into the token tensors' gradients:
    /// full tokens dT_l itself; low rank dA_l += dT_l B_lᵀ, dB_l += A_lᵀ dT_l.
    public func addTokenGradient(layer l: Int, _ dT: UnsafePointer<Float>, gradients: ParameterGradients) {
        let m = config.tokens, c = embedDim
        if let tokens = self.tokens {
            let out = gradients.of(tokens) + l * m * c
            for k in 0 ..< m * c { out[k] += dT[k] }
        } else {
            let k = config.rank
            tokensA!.withUnsafeBufferPointer { ta in
                tokensB!.withUnsafeBufferPointer { tb in
                    GEMM.sgemm(transB: true, m: m, n: k, k: c, a: dT, lda: c, b: tb.baseAddress! + l * k * c, ldb: c,
                               beta: 1, c: gradients.of(tokensA!) + l * m * k, ldc: k)
                    GEMM.sgemm(transA: true, m: k, n: c, k: m, a: ta.baseAddress! + l * m * k, lda: k, b: dT, ldb: c,
                               beta: 1, c: gradients.of(tokensB!) + l * k * c, ldc: c)
                }
            }
        }
    }

    /// Backward of the link's queries (`queries`, Rein's Mask2Former queries) from their
    /// gradient dQueries (m x q): the link's transform and merge gradients and every layer's
    /// token gradients (full or low rank) are added into `gradients`.
    public func queryBackward(_ dQueries: UnsafePointer<Float>, gradients: ParameterGradients, threads: Int) {
        guard let queryLink else { preconditionFailure("CausalTuneAdapter.queryBackward: the adapter has no token -> query link") }
        let m = config.tokens, c = embedDim
        var dTokens = [Float](repeating: 0, count: layers * m * c)
        allTokens().withUnsafeBufferPointer { t in
            dTokens.withUnsafeMutableBufferPointer {
                queryLink.backward(dQueries, tokens: t.baseAddress!, layers: layers, count: m, into: $0.baseAddress!,
                                   gradients: gradients, threads: threads)
            }
        }
        dTokens.withUnsafeBufferPointer { d in
            for l in 0 ..< layers { addTokenGradient(layer: l, d.baseAddress! + l * m * c, gradients: gradients) }
        }
    }

    /// Causal-Tune, channel-major as its forward (Fcᵀ, Zᵀ are C x R, Tr⁻¹(Δᵀ) C x N in the slot).
    func frequencyBackward(prepared: PreparedAdapter, layer l: Int, gradient g: UnsafeMutablePointer<Float>, slot: AdapterSlot,
                           _ a: borrowing AdapterActivations, scratch: UnsafeMutablePointer<Float>, gradients: ParameterGradients) {
        let n = a.gridHeight * a.gridWidth, r = a.frequencyRows, c = embedDim, m = config.tokens
        // gᵀ (C x N), dΔᵀ and dZᵀ (C x R each, R ≤ 2N), the inverse's output (C x N): 6·N·C at most.
        let gT = scratch, dDeltaT = scratch + n * c, dZT = dDeltaT + r * c, spareT = dZT + r * c
        let dS = scratch + 6 * n * c, dV = dS + r * m, dT = dV + m * c
        let transform = a.transform!

        // ds = Σ g ⊙ Tr⁻¹(Δ); dΔᵀ = Tr(s gᵀ).
        Transpose.apply(g, rows: n, cols: c, into: gT, threads: a.threads)
        var dsSum = 0.0
        let spatial = slot.spatial
        for i in 0 ..< n * c { dsSum += Double(gT[i]) * Double(spatial[i]) }
        gradients.of(scaleParameter)[0] += Float(dsSum)
        let s = scale
        for i in 0 ..< n * c { gT[i] *= s }
        a.unmaskedForwardWeights.withUnsafeBufferPointer { transform.forward(gT, into: dDeltaT, weights: $0.baseAddress!) }

        // MLP_f: Δᵀ = W_f Zᵀ + b_f.
        GEMM.rows(m: c, n: c, k: r, a: dDeltaT, lda: r, b: slot.mixed, ldb: r, transB: true, beta: 1,
                  c: gradients.of(deltaFeature.weight), ldc: c, threads: a.threads)
        let db = gradients.of(deltaFeature.bias)
        for ch in 0 ..< c {
            let row = dDeltaT + ch * r
            var sum: Float = 0
            for i in 0 ..< r { sum += row[i] }
            db[ch] += sum
        }
        deltaFeature.weight.withUnsafeBufferPointer { w in
            GEMM.rows(m: c, n: r, k: c, a: w.baseAddress!, lda: c, transA: true, b: dDeltaT, ldb: r, c: dZT, ldc: r, threads: a.threads)
        }

        // Zᵀ = Fcᵀ + Vᵀ S[:, 1:]ᵀ: dS[:, 1:] = dZ Vᵀ, dV = S[:, 1:]ᵀ dZ.
        prepared.values.withUnsafeBufferPointer { v in
            GEMM.rows(m: r, n: m - 1, k: c, a: dZT, lda: r, transA: true, b: v.baseAddress! + l * (m - 1) * c, ldb: c,
                      transB: true, c: dS + 1, ldc: m, threads: a.threads)
        }
        for i in 0 ..< r { dS[i * m] = 0 }
        GEMM.rows(m: m - 1, n: c, k: r, a: slot.probabilities + 1, lda: m, transA: true, b: dZT, ldb: r, transB: true,
                  c: dV, ldc: c, threads: a.threads)
        ActivationBackwardKernels.softmaxBackward(dS, probabilities: slot.probabilities, rows: r, cols: m, ld: m, threads: a.threads)

        // dFcᵀ (in dZᵀ's place) += (T/√C)ᵀ dAᵀ;  dT = dAᵀ Fc / √C.
        prepared.scaledTokens.withUnsafeBufferPointer { t in
            GEMM.rows(m: c, n: r, k: m, a: t.baseAddress! + l * m * c, lda: c, transA: true, b: dS, ldb: m, transB: true,
                      beta: 1, c: dZT, ldc: r, threads: a.threads)
        }
        GEMM.rows(m: m, n: c, k: r, a: dS, lda: m, transA: true, b: slot.features, ldb: r, transB: true, c: dT, ldc: c, threads: a.threads)
        let inv = 1 / Float(c).squareRoot()
        for k in 0 ..< m * c { dT[k] *= inv }

        // Back to the adapter's input: g += Tr⁻¹(M ⊙ dFcᵀ)ᵀ.
        a.maskedInverseWeights.withUnsafeBufferPointer { transform.inverse(destroying: dZT, into: spareT, weights: $0.baseAddress!) }
        Transpose.addScaled(spareT, rows: n, cols: c, alpha: 1, into: g, threads: a.threads)
    }

    /// Rein, token-major (Fc = f, Z, Δ are N x C in the slot).
    func spatialBackward(prepared: PreparedAdapter, layer l: Int, gradient g: UnsafeMutablePointer<Float>, slot: AdapterSlot,
                         _ a: borrowing AdapterActivations, scratch: UnsafeMutablePointer<Float>, gradients: ParameterGradients) {
        let n = a.gridHeight * a.gridWidth, c = embedDim, m = config.tokens
        let dDelta = scratch + n * c, dZ = scratch + 2 * n * c
        let dS = scratch + 6 * n * c, dV = dS + n * m, dT = dV + m * c
        let s = scale

        // ds = Σ g ⊙ Δ; dΔ = s g.
        var dsSum = 0.0
        for i in 0 ..< n * c { dsSum += Double(g[i]) * Double(slot.delta[i]) }
        gradients.of(scaleParameter)[0] += Float(dsSum)
        for i in 0 ..< n * c { dDelta[i] = s * g[i] }

        // MLP_f.
        GradientGEMM.weight(dDelta, ldy: c, rows: n, outFeatures: c, x: slot.mixed, ldx: c, inFeatures: c,
                            into: gradients.of(deltaFeature.weight), threads: a.threads)
        ActivationBackwardKernels.addColumnSums(dDelta, rows: n, cols: c, ld: c, into: gradients.of(deltaFeature.bias), threads: a.threads)
        deltaFeature.weight.withUnsafeBufferPointer {
            GradientGEMM.input(dDelta, ldy: c, rows: n, outFeatures: c, weight: $0.baseAddress!, inFeatures: c, into: dZ, ldx: c, threads: a.threads)
        }

        // Token values and attention weights.
        prepared.values.withUnsafeBufferPointer { v in
            GEMM.rows(m: n, n: m - 1, k: c, a: dZ, lda: c, b: v.baseAddress! + l * (m - 1) * c, ldb: c, transB: true,
                      c: dS + 1, ldc: m, threads: a.threads)
        }
        for r in 0 ..< n { dS[r * m] = 0 }
        GradientGEMM.transposedA(m: m - 1, n: c, k: n, a: slot.probabilities + 1, lda: m, b: dZ, ldb: c, beta: 0, c: dV, ldc: c, threads: a.threads)
        ActivationBackwardKernels.softmaxBackward(dS, probabilities: slot.probabilities, rows: n, cols: m, ld: m, threads: a.threads)

        // dFc (in dZ's place) and dT.
        prepared.scaledTokens.withUnsafeBufferPointer { t in
            GEMM.rows(m: n, n: c, k: m, a: dS, lda: m, b: t.baseAddress! + l * m * c, ldb: c, beta: 1, c: dZ, ldc: c, threads: a.threads)
        }
        GradientGEMM.transposedA(m: m, n: c, k: n, alpha: 1 / Float(c).squareRoot(), a: dS, lda: m, b: slot.features, ldb: c,
                                 beta: 0, c: dT, ldc: c, threads: a.threads)

        // Back to the adapter's input: g += dFc.
        for i in 0 ..< n * c { g[i] += dZ[i] }
    }
}
