// CausalTuneAdapter.swift — the adapter applied after every block (method.md §2):
// Causal-Tune (frequency domain) or Rein (spatial), on the patch tokens only.
//
//   causal-tune: Fc = M ⊙ Tr(f)
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
// Every buffer is token-major like the stream (R x C frequency rows, N x C
// patches), so Causal-Tune is Rein's token path between its two transforms.
// Backward (below the forward), one path for both. From g = dL/df' (in place:
// g becomes dL/df):
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
    /// `forTraining` (implied by retainForBackward): a backward pass will follow (recomputing
    /// layers when nothing is retained). Forward and backward passes over the arena split over
    /// `threads` chunks.
    public func makeActivations(gridHeight h: Int, gridWidth w: Int, retainForBackward: Bool = false, forTraining: Bool = false,
                                fusedTokenAttention: Bool? = nil, threads: Int) -> AdapterActivations {
        AdapterActivations(config: config, embedDim: embedDim, layers: layers, gridHeight: h, gridWidth: w,
                           retainForBackward: retainForBackward, forTraining: forTraining,
                           fusedTokenAttention: fusedTokenAttention, threads: threads)
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
                case .rein: spatialForward(f, tokens: tokens, values: values, b, a)
                case .causalTuneReleased: releasedForward(f, tokens: tokens, values: values, b, a)
                case .none: preconditionFailure("CausalTuneAdapter.forward: kind none has no adapter")
                }
            }
        }
    }

    /// Causal-Tune in the frequency domain, token-major like the stream (R frequency rows):
    /// Fc = M ⊙ Tr(f); then Rein's token path on Fc: S = softmax(Fc (T/√C)ᵀ), Z = S[:, 1:] V + Fc,
    /// Δ = MLP_f(Z); back to space and the scaled residual: f += s · Tr⁻¹(Δ).
    func frequencyForward(_ f: UnsafeMutablePointer<Float>, tokens: UnsafePointer<Float>, values: UnsafePointer<Float>,
                          _ b: AdapterSlot, _ a: borrowing AdapterActivations) {
        let n = a.gridHeight * a.gridWidth, c = embedDim
        let transform = a.transform!
        transform.forward(f, into: b.features, weights: a.forwardWeights)
        tokenPath(tokens: tokens, values: values, b, n: a.frequencyRows, threads: a.threads, fused: a.tokenAttentionScratch,
                  inPlace: a.inferenceOnly)
        let s = scale
        if a.inferenceOnly {
            // Nothing reads Tr⁻¹(Δ) on its own: its last pass adds s · Tr⁻¹(Δ) into f.
            transform.inverse(destroying: b.delta, into: f, weights: a.inverseWeights, accumulate: s)
            return
        }
        transform.inverse(destroying: b.delta, into: b.spatial, weights: a.inverseWeights)
        let spatial = b.spatial
        Threading.parallelFor(n, threads: a.threads, grain: max(1, 8192 / c)) { range in
            for i in (range.lowerBound * c) ..< (range.upperBound * c) { f[i] += s * spatial[i] }
        }
    }

    /// Rein, token-major: S = softmax(f (T/√C)ᵀ); Z = S[:, 1:] V + f; Δ = MLP_f(Z); f += s · Δ.
    func spatialForward(_ f: UnsafeMutablePointer<Float>, tokens: UnsafePointer<Float>, values: UnsafePointer<Float>,
                        _ b: AdapterSlot, _ a: borrowing AdapterActivations) {
        let c = embedDim, n = a.gridHeight * a.gridWidth, threads = a.threads
        b.features.update(from: f, count: n * c)
        tokenPath(tokens: tokens, values: values, b, n: n, threads: threads, fused: a.tokenAttentionScratch, inPlace: a.inferenceOnly)
        let s = scale, delta = b.delta
        Threading.parallelFor(n, threads: threads, grain: max(1, 8192 / c)) { range in
            for i in (range.lowerBound * c) ..< (range.upperBound * c) { f[i] += s * delta[i] }
        }
    }

    /// The token path on the slot's features F (n x C, token-major: f for Rein, Causal-Tune's
    /// n = R frequency rows): S = softmax(F (T/√C)ᵀ), Z = S[:, 1:] V + F, Δ = MLP_f(Z) into the slot's delta.
    /// With `fused` scratch (an inference arena's, AdapterActivations.tokenAttentionScratch) Z comes from
    /// FusedAttention in one pass per panel of rows (the sink token's value row zero, F the addend) and
    /// S is not kept; otherwise two GEMMs and the softmax between them, S kept in the slot. With `inPlace`
    /// (F and Z then are not kept) Z is formed over F itself either way: one buffer fewer in the caches.
    func tokenPath(tokens: UnsafePointer<Float>, values: UnsafePointer<Float>, _ b: AdapterSlot, n: Int, threads: Int,
                   fused: UnsafeMutablePointer<Float>? = nil, inPlace: Bool = false) {
        let c = embedDim, m = config.tokens
        if let fused {
            let panel = FusedAttention.panel, panels = (n + panel - 1) / panel
            let workers = max(1, min(threads, panels)), stride = FusedAttention.scratchFloats(tokens: m, headDim: c)
            // In place over F: a panel copies its queries into the scratch before it writes a row, and each
            // output element reads its addend (F) right before overwriting it.
            let features = b.features, mixed = inPlace ? b.features : b.mixed
            Threading.forEachWorker(workers) { worker in
                let scratch = fused + worker * stride
                FusedAttention.pack(tokens: m, headDim: c, keys: tokens, ldk: c, values: values, ldv: c, zeroValueRows: 1,
                                    scratch: scratch)
                let rows = min(n, worker * panels / workers * panel) ..< min(n, (worker + 1) * panels / workers * panel)
                FusedAttention.rows(tokens: m, headDim: c, scale2: FusedAttention.log2e, queries: features, ld: c,
                                    range: rows, adding: features, into: mixed, ldo: c, scratch: scratch)
            }
            deltaFeature.forward(mixed, rows: n, into: b.delta, threads: threads)
            return
        }
        GEMM.linear(b.features, rows: n, inFeatures: c, weight: tokens, outFeatures: m, into: b.probabilities, threads: threads)
        SoftmaxKernel.forward(b.probabilities, rows: n, cols: m, ld: m, threads: threads)
        // Z = S[:, 1:] V + F: in place over F where no backward reads F or Z (an inference arena), else into `mixed`.
        let z = inPlace ? b.features : b.mixed
        if !inPlace { b.mixed.update(from: b.features, count: n * c) }
        GEMM.rows(m: n, n: c, k: m - 1, a: b.probabilities + 1, lda: m, b: values, ldb: c, beta: 1, c: z, ldc: c, threads: threads)
        deltaFeature.forward(z, rows: n, into: b.delta, threads: threads)
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
        // Token attention and MLP_f backward into dS, dV, dT and g.
        tokenPathBackward(prepared: prepared, layer: l, gradient: g, slot: slot, a, scratch: scratch, gradients: gradients)
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

    /// Backward of the token path and its transforms, token-major as the forward (R rows of
    /// frequencies for Causal-Tune, the N patches for Rein, whose transform is the identity):
    /// ds = Σ g ⊙ Tr⁻¹(Δ); dΔ = s · Tr(g) (the inverse's adjoint, unmasked); MLP_f; the token
    /// attention (dS, dV, dT); g += Tr⁻¹(M ⊙ dFc) (the masked forward's adjoint).
    /// Scratch: dΔ and dZ (R x C each, R ≤ 2N), the inverse's output (N x C); dS, dV, dT after 6·N·C.
    func tokenPathBackward(prepared: PreparedAdapter, layer l: Int, gradient g: UnsafeMutablePointer<Float>, slot: AdapterSlot,
                           _ a: borrowing AdapterActivations, scratch: UnsafeMutablePointer<Float>, gradients: ParameterGradients) {
        let n = a.gridHeight * a.gridWidth, r = a.frequencyRows, c = embedDim, m = config.tokens
        let dDelta = scratch, dZ = scratch + r * c, spare = scratch + 2 * r * c
        let dS = scratch + 6 * n * c, dV = dS + r * m, dT = dV + m * c
        let transform = config.kind == .causalTune ? a.transform! : nil
        let s = scale

        // ds = Σ g ⊙ Tr⁻¹(Δ) (Rein: Δ); dΔ = s · Tr(g) (Rein: s g).
        let added = transform == nil ? slot.delta : slot.spatial
        var dsSum = 0.0
        for i in 0 ..< n * c { dsSum += Double(g[i]) * Double(added[i]) }
        gradients.of(scaleParameter)[0] += Float(dsSum)
        if let transform {
            a.unmaskedForwardWeights.withUnsafeBufferPointer { transform.forward(g, into: dDelta, weights: $0.baseAddress!) }
            for i in 0 ..< r * c { dDelta[i] *= s }
        } else {
            for i in 0 ..< n * c { dDelta[i] = s * g[i] }
        }

        // MLP_f.
        GradientGEMM.weight(dDelta, ldy: c, rows: r, outFeatures: c, x: slot.mixed, ldx: c, inFeatures: c,
                            into: gradients.of(deltaFeature.weight), threads: a.threads)
        ActivationBackwardKernels.addColumnSums(dDelta, rows: r, cols: c, ld: c, into: gradients.of(deltaFeature.bias), threads: a.threads)
        deltaFeature.weight.withUnsafeBufferPointer {
            GradientGEMM.input(dDelta, ldy: c, rows: r, outFeatures: c, weight: $0.baseAddress!, inFeatures: c, into: dZ, ldx: c, threads: a.threads)
        }

        // Token values and attention weights.
        prepared.values.withUnsafeBufferPointer { v in
            GEMM.rows(m: r, n: m - 1, k: c, a: dZ, lda: c, b: v.baseAddress! + l * (m - 1) * c, ldb: c, transB: true,
                      c: dS + 1, ldc: m, threads: a.threads)
        }
        for i in 0 ..< r { dS[i * m] = 0 }
        GradientGEMM.transposedA(m: m - 1, n: c, k: r, a: slot.probabilities + 1, lda: m, b: dZ, ldb: c, beta: 0, c: dV, ldc: c, threads: a.threads)
        ActivationBackwardKernels.softmaxBackward(dS, probabilities: slot.probabilities, rows: r, cols: m, ld: m, threads: a.threads)

        // dFc (in dZ's place) and dT.
        prepared.scaledTokens.withUnsafeBufferPointer { t in
            GEMM.rows(m: r, n: c, k: m, a: dS, lda: m, b: t.baseAddress! + l * m * c, ldb: c, beta: 1, c: dZ, ldc: c, threads: a.threads)
        }
        GradientGEMM.transposedA(m: m, n: c, k: r, alpha: 1 / Float(c).squareRoot(), a: dS, lda: m, b: slot.features, ldb: c,
                                 beta: 0, c: dT, ldc: c, threads: a.threads)

        // Back to the adapter's input: g += Tr⁻¹(M ⊙ dFc) (Rein: g += dFc).
        var back: UnsafePointer<Float> = UnsafePointer(dZ)
        if let transform {
            a.maskedInverseWeights.withUnsafeBufferPointer { transform.inverse(destroying: dZ, into: spare, weights: $0.baseAddress!) }
            back = UnsafePointer(spare)
        }
        for i in 0 ..< n * c { g[i] += back[i] }
    }
}
