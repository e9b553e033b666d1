// AdapterBackward.swift — the backward pass of the Causal-Tune / Rein adapter
// at one layer (method.md §2), from the slot its forward pass retained.
//
// Causal-Tune works channel-major (C x N, the DCT's layout, as its forward
// keeps Fcᵀ, Zᵀ and iDCT2(Δᵀ)); Rein token-major (N x C).
// Forward (per layer l):  Fc = M ⊙ DCT2(f)            (Rein: Fc = f)
//                         S  = softmax(Fc T_lᵀ/√C)
//                         Z  = S[:, 1:] V_l + Fc,  V_l = T_l[1:] W_tᵀ + b_t
//                         Δ  = Z W_fᵀ + b_f
//                         f' = f + s · iDCT2(Δ)       (Rein: f + s · Δ)
// Backward from g = dL/df' (in place: g becomes dL/df):
//   ds  += Σ g ⊙ iDCT2(Δ)
//   dΔ   = DCT2(s g)   (the adjoint of the orthonormal inverse is the forward transform)
//   dW_f += dΔᵀ Z, db_f += Σ dΔ, dZ = dΔ W_f
//   dS[:, 1:] = dZ V_lᵀ (dS[:, 0] = 0),  dV = S[:, 1:]ᵀ dZ
//   dA = S ⊙ (dS - rowsum(dS ⊙ S))                     (softmax backward)
//   dFc = dZ + dA T_l/√C,  dT_l = dAᵀ Fc/√C + [0; dV W_t]
//   dW_t += dVᵀ T_l[1:], db_t += Σ dV;  low rank: dA_l += dT_l B_lᵀ, dB_l += A_lᵀ dT_l
//   g   += iDCT2(M ⊙ dFc)                              (Rein: g += dFc)

import Model
import Tensor

/// Per-grid transform weights the adapter's backward pass needs.
struct AdapterBackwardWeights {
    /// The orthonormal forward DCT scale, unmasked (N).
    let forwardScale: [Float]
    /// The inverse DCT pre-scale times the mask M (N).
    let maskedInverse: [Float]

    init(_ a: borrowing AdapterActivations) {
        if let dct = a.dct {
            forwardScale = dct.forwardScale()
            let inverse = dct.inverseScale()
            maskedInverse = (0 ..< inverse.count).map { inverse[$0] * a.mask[$0] }
        } else {
            forwardScale = []
            maskedInverse = []
        }
    }
}

enum AdapterBackward {
    static func backward(_ adapter: CausalTuneAdapter, prepared: PreparedAdapter, layer l: Int, gradient g: UnsafeMutablePointer<Float>,
                         arena a: TrainingActivations, weights: AdapterBackwardWeights, grads: GradientStore) {
        let layout = grads.layout
        let n = a.patches, c = a.embedDim, m = adapter.config.tokens
        let slot = a.adapter.slot(l)
        let scratch = a.adapterScratch
        let dS = scratch + 6 * n * c, dV = dS + n * m, dT = dV + m * c
        // Token attention and MLP_f backward into dZ / dFc (layout per kind), dS, dV, dT.
        if adapter.config.kind == .causalTune {
            frequencyBackward(adapter, prepared: prepared, layer: l, gradient: g, slot: slot, arena: a, weights: weights, grads: grads)
        } else {
            spatialBackward(adapter, prepared: prepared, layer: l, gradient: g, slot: slot, arena: a, grads: grads)
        }
        // Tokens: dT[1:] += dV W_t, MLP_t's gradients, then the (full or low-rank) token tensors.
        adapter.tokenToFeature.weight.withUnsafeBufferPointer { w in
            GEMM.rows(m: m - 1, n: c, k: c, a: dV, lda: c, b: w.baseAddress!, ldb: c, beta: 1, c: dT + c, ldc: c, threads: a.threads)
        }
        let tokens = adapter.layerTokens(l)
        tokens.withUnsafeBufferPointer { t in
            GradientGEMM.weight(dV, ldy: c, rows: m - 1, outFeatures: c, x: t.baseAddress! + c, ldx: c, inFeatures: c,
                                into: grads[layout.tokenToFeatureWeight!], threads: a.threads)
        }
        ActivationBackwardKernels.addColumnSums(dV, rows: m - 1, cols: c, ld: c, into: grads[layout.tokenToFeatureBias!], threads: a.threads)
        if let i = layout.tokens {
            let out = grads[i] + l * m * c
            for k in 0 ..< m * c { out[k] += dT[k] }
        } else {
            let r = adapter.config.rank
            adapter.tokensA!.withUnsafeBufferPointer { ta in
                adapter.tokensB!.withUnsafeBufferPointer { tb in
                    GEMM.sgemm(transB: true, m: m, n: r, k: c, a: dT, lda: c, b: tb.baseAddress! + l * r * c, ldb: c,
                               beta: 1, c: grads[layout.tokensA!] + l * m * r, ldc: r)
                    GEMM.sgemm(transA: true, m: r, n: c, k: m, a: ta.baseAddress! + l * m * r, lda: r, b: dT, ldb: c,
                               beta: 1, c: grads[layout.tokensB!] + l * r * c, ldc: c)
                }
            }
        }
    }

    /// Causal-Tune, channel-major as its forward (Fcᵀ, Zᵀ, iDCT2(Δᵀ) are C x N in the slot).
    static func frequencyBackward(_ adapter: CausalTuneAdapter, prepared: PreparedAdapter, layer l: Int, gradient g: UnsafeMutablePointer<Float>,
                                  slot: AdapterSlot, arena a: TrainingActivations, weights: AdapterBackwardWeights, grads: GradientStore) {
        let layout = grads.layout
        let n = a.patches, c = a.embedDim, m = adapter.config.tokens
        let scratch = a.adapterScratch
        let gT = scratch, dDeltaT = scratch + n * c, dZT = scratch + 2 * n * c, spareT = scratch + 3 * n * c
        let dS = scratch + 6 * n * c, dV = dS + n * m, dT = dV + m * c
        let dct = a.adapter.dct!

        // ds = Σ g ⊙ iDCT2(Δ); dΔᵀ = DCT2(s gᵀ).
        Transpose.apply(g, rows: n, cols: c, into: gT, threads: a.threads)
        var dsSum = 0.0
        let spatial = slot.spatial
        for i in 0 ..< n * c { dsSum += Double(gT[i]) * Double(spatial[i]) }
        grads[layout.scale!][0] += Float(dsSum)
        let s = adapter.scale
        for i in 0 ..< n * c { gT[i] *= s }
        weights.forwardScale.withUnsafeBufferPointer { dct.forward(gT, into: dDeltaT, weights: $0.baseAddress!) }

        // MLP_f: Δᵀ = W_f Zᵀ + b_f.
        GEMM.rows(m: c, n: c, k: n, a: dDeltaT, lda: n, b: slot.mixed, ldb: n, transB: true, beta: 1,
                  c: grads[layout.deltaFeatureWeight!], ldc: c, threads: a.threads)
        let db = grads[layout.deltaFeatureBias!]
        for ch in 0 ..< c {
            let row = dDeltaT + ch * n
            var sum: Float = 0
            for i in 0 ..< n { sum += row[i] }
            db[ch] += sum
        }
        adapter.deltaFeature.weight.withUnsafeBufferPointer { w in
            GEMM.rows(m: c, n: n, k: c, a: w.baseAddress!, lda: c, transA: true, b: dDeltaT, ldb: n, c: dZT, ldc: n, threads: a.threads)
        }

        // Zᵀ = Fcᵀ + Vᵀ S[:, 1:]ᵀ: dS[:, 1:] = dZ Vᵀ, dV = S[:, 1:]ᵀ dZ.
        prepared.values.withUnsafeBufferPointer { v in
            GEMM.rows(m: n, n: m - 1, k: c, a: dZT, lda: n, transA: true, b: v.baseAddress! + l * (m - 1) * c, ldb: c,
                      transB: true, c: dS + 1, ldc: m, threads: a.threads)
        }
        for r in 0 ..< n { dS[r * m] = 0 }
        GEMM.rows(m: m - 1, n: c, k: n, a: slot.probabilities + 1, lda: m, transA: true, b: dZT, ldb: n, transB: true,
                  c: dV, ldc: c, threads: a.threads)
        ActivationBackwardKernels.softmaxBackward(dS, probabilities: slot.probabilities, rows: n, cols: m, ld: m, threads: a.threads)

        // dFcᵀ (in dZᵀ's place) += (T/√C)ᵀ dAᵀ;  dT = dAᵀ Fc / √C.
        prepared.scaledTokens.withUnsafeBufferPointer { t in
            GEMM.rows(m: c, n: n, k: m, a: t.baseAddress! + l * m * c, lda: c, transA: true, b: dS, ldb: m, transB: true,
                      beta: 1, c: dZT, ldc: n, threads: a.threads)
        }
        GEMM.rows(m: m, n: c, k: n, a: dS, lda: m, transA: true, b: slot.features, ldb: n, transB: true, c: dT, ldc: c, threads: a.threads)
        let inv = 1 / Float(c).squareRoot()
        for k in 0 ..< m * c { dT[k] *= inv }

        // Back to the adapter's input: g += iDCT2(M ⊙ dFcᵀ)ᵀ.
        weights.maskedInverse.withUnsafeBufferPointer { dct.inverse(destroying: dZT, into: spareT, scale: $0.baseAddress!) }
        Transpose.addScaled(spareT, rows: n, cols: c, alpha: 1, into: g, threads: a.threads)
    }

    /// Rein, token-major (Fc = f, Z, Δ are N x C in the slot).
    static func spatialBackward(_ adapter: CausalTuneAdapter, prepared: PreparedAdapter, layer l: Int, gradient g: UnsafeMutablePointer<Float>,
                                slot: AdapterSlot, arena a: TrainingActivations, grads: GradientStore) {
        let layout = grads.layout
        let n = a.patches, c = a.embedDim, m = adapter.config.tokens
        let scratch = a.adapterScratch
        let dDelta = scratch + n * c, dZ = scratch + 2 * n * c
        let dS = scratch + 6 * n * c, dV = dS + n * m, dT = dV + m * c
        let s = adapter.scale

        // ds = Σ g ⊙ Δ; dΔ = s g.
        var dsSum = 0.0
        for i in 0 ..< n * c { dsSum += Double(g[i]) * Double(slot.delta[i]) }
        grads[layout.scale!][0] += Float(dsSum)
        for i in 0 ..< n * c { dDelta[i] = s * g[i] }

        // MLP_f.
        GradientGEMM.weight(dDelta, ldy: c, rows: n, outFeatures: c, x: slot.mixed, ldx: c, inFeatures: c,
                            into: grads[layout.deltaFeatureWeight!], threads: a.threads)
        ActivationBackwardKernels.addColumnSums(dDelta, rows: n, cols: c, ld: c, into: grads[layout.deltaFeatureBias!], threads: a.threads)
        adapter.deltaFeature.weight.withUnsafeBufferPointer {
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
