// AdapterActivations.swift — the adapter's arena for one patch-grid shape.
//
// Per layer slot (one slot per layer when kept for a backward pass, one shared
// slot otherwise), R x C buffers features (Fc, or f for Rein), mixed (Z, the
// input of MLP_f; an inference arena forms Z over Fc instead, so a forward pass
// touches one buffer fewer) and delta (Δ; scratch of the inverse transform), the N x C
// buffer spatial (Tr⁻¹(Δ)), and (R, m) probabilities (S, with the sink column),
// where R is the number of frequency rows: N, or 2N for the fft transform's
// real and imaginary parts (AdapterTransform). Every buffer is token-major,
// one row per grid cell or frequency, like the residual stream.
// An inference arena also holds the fused token attention's scratch
// (FusedAttention, where it runs), one share per thread.
// Also the per-frequency weights (N, on the h x w index grid): forward scale ·
// mask and the inverse scale (the forward's), the unmasked forward scale and
// the masked inverse scale (the backward's), and the transform's scratch. The
// thread count the arena is made with splits every adapter step.
// The released Causal-Tune replay (kind causal-tune-released) reads the stream
// as channel-major planes (its DCT is DCT2 on those planes), has the DCT
// weights scale · (1 - its mask), and a shared spectrum scratch for the
// inverse DFT; its spatial buffer holds Re(iDFT2(Δ)) before the clamp.
// ~Copyable like DINOv2Activations: one owner, no silent resize.

import Tensor

/// The buffers of one layer slot.
public struct AdapterSlot {
    /// (R, C) Fc = M ⊙ Tr(f) (Causal-Tune) or f (Rein).
    public let features: UnsafeMutablePointer<Float>
    /// (R, m) softmax over the tokens, column 0 the sink.
    public let probabilities: UnsafeMutablePointer<Float>
    /// (R, C) Z = S[:, 1:] V + Fc, the input of MLP_f.
    public let mixed: UnsafeMutablePointer<Float>
    /// (R, C) Δ = MLP_f(Z) (Causal-Tune's inverse transform may overwrite it).
    public let delta: UnsafeMutablePointer<Float>
    /// (N, C) Tr⁻¹(Δ) (Causal-Tune), Re(iDFT2(Δ)) (causal-tune-released).
    public let spatial: UnsafeMutablePointer<Float>
}

public struct AdapterActivations: ~Copyable {
    public let gridHeight: Int, gridWidth: Int
    public let retainsForBackward: Bool
    /// Threads every adapter step over this arena splits into.
    public let threads: Int
    /// The frequency transform (Causal-Tune: the configured one; nil otherwise).
    public let transform: AdapterTransform?
    /// The released replay's DCT of channel-major planes (causal-tune-released only).
    public let releasedDCT: DCT2?
    /// Frequency rows R per channel (N for Rein and the released replay).
    public let frequencyRows: Int
    /// The released replay's inverse transform (causal-tune-released only).
    public let realDFT: RealDFT2?
    /// Its spectrum scratch (causal-tune-released only).
    public let spectrum: UnsafeMutablePointer<Float>?
    /// (N) forward transform scale times the mask M.
    public let forwardWeights: UnsafeMutablePointer<Float>
    /// (N) inverse transform scale.
    public let inverseWeights: UnsafeMutablePointer<Float>
    /// (N) the mask M itself.
    public let mask: [Float]
    /// (N) forward scale without the mask (the backward's dΔ = Tr(s g)); empty for Rein.
    public let unmaskedForwardWeights: [Float]
    /// (N) inverse scale times the mask (the backward's Tr⁻¹(M ⊙ dFc)); empty for Rein.
    public let maskedInverseWeights: [Float]
    /// Scratch of the fused token attention (FusedAttention, `threads` workers' worth) when the arena
    /// serves inference only (nothing retained, no backward), the kernel runs in this process and the
    /// channels are at most `fusedTokenAttentionMaxChannels`; nil otherwise.
    public let tokenAttentionScratch: UnsafeMutablePointer<Float>?
    /// No backward pass reads this arena (nothing retained, not made for training): the forward may
    /// skip what only a backward needs (S, Tr⁻¹(Δ) on its own before the residual).
    public let inferenceOnly: Bool
    private let storage: UnsafeMutableBufferPointer<Float>
    private let slots: [AdapterSlot]

    /// An arena for `config` (empty for kind `none`). The grid must suit the configuration
    /// (`config.gridProblem`; checked by the models that make arenas).
    /// `forTraining`: a backward pass will read the slots even though nothing is retained (layers
    /// recomputed under activation checkpointing), so the token attention keeps S (no fused kernel).
    /// `fusedTokenAttention`: whether an inference arena runs the fused token attention where the
    /// kernel runs (nil: for streams up to `fusedTokenAttentionMaxChannels` wide; benchmarks compare).
    public init(config: AdapterConfig, embedDim c: Int, layers: Int, gridHeight h: Int, gridWidth w: Int, retainForBackward: Bool,
                forTraining: Bool = false, fusedTokenAttention: Bool? = nil, threads: Int) {
        gridHeight = h
        gridWidth = w
        retainsForBackward = retainForBackward
        let inference = !retainForBackward && !forTraining
        inferenceOnly = inference
        // Locals, not self's properties, feed the sizes below: reading a stored property of this
        // ~Copyable struct before all are set miscompiled in release builds (Swift 6.3.1).
        let workers = max(1, threads)
        self.threads = workers
        let n = h * w, m = config.tokens
        let frequency = config.kind == .causalTune, released = config.kind == .causalTuneReleased
        precondition(config.gridProblem(height: h, width: w) == nil, "AdapterActivations: \(config.gridProblem(height: h, width: w) ?? "")")
        let kind: FrequencyTransform = frequency ? config.transform : .dct
        let rows = frequency ? AdapterTransform.rows(kind, patches: n) : n
        frequencyRows = rows
        let perSlot = frequency || released ? 3 * rows * c + n * c + rows * m : 3 * n * c + n * m
        let slotCount = config.kind == .none ? 0 : retainForBackward ? layers : 1
        let inverse = released ? RealDFT2(height: h, width: w, channels: c, threads: threads) : nil
        let spectrumCount = inverse?.scratchCount ?? 0
        let transformScratch = frequency ? AdapterTransform.scratchCount(kind, height: h, width: w, channels: c) : 0
        let fused = config.kind != .none && inference && FusedAttention.enabled
            && (fusedTokenAttention ?? (c <= Self.fusedTokenAttentionMaxChannels))
        let tokenAttentionCount = fused ? workers * FusedAttention.scratchFloats(tokens: m, headDim: c) : 0
        let fixed = 2 * n + spectrumCount + transformScratch + tokenAttentionCount
        storage = Threading.zeroedFloats(fixed + perSlot * slotCount, threads: workers)
        let base = storage.baseAddress!
        forwardWeights = base
        inverseWeights = base + n
        realDFT = inverse
        spectrum = released ? base + 2 * n : nil
        tokenAttentionScratch = fused ? base + 2 * n + spectrumCount + transformScratch : nil
        let mask = frequency ? FrequencyMask.values(config.filter, dl: config.dl, dh: config.dh, height: h, width: w)
            : released ? FrequencyMask.releasedCausalTuneKept(height: h, width: w) : [Float](repeating: 1, count: n)
        self.mask = mask
        if frequency {
            let t = AdapterTransform(kind, height: h, width: w, channels: c, threads: threads,
                                     scratch: base + 2 * n + spectrumCount)
            let f = t.forwardScale(), i = t.inverseScale()
            for k in 0 ..< n { forwardWeights[k] = f[k] * mask[k]; inverseWeights[k] = i[k] }
            transform = t
            releasedDCT = nil
            unmaskedForwardWeights = f
            maskedInverseWeights = (0 ..< n).map { i[$0] * mask[$0] }
        } else if released {
            let t = DCT2(height: h, width: w, channels: c, threads: threads)
            let f = t.forwardScale(), i = t.inverseScale()
            for k in 0 ..< n { forwardWeights[k] = f[k] * mask[k]; inverseWeights[k] = i[k] }
            transform = nil
            releasedDCT = t
            unmaskedForwardWeights = []
            maskedInverseWeights = []
        } else {
            transform = nil
            releasedDCT = nil
            unmaskedForwardWeights = []
            maskedInverseWeights = []
        }
        var slots: [AdapterSlot] = []
        for s in 0 ..< slotCount {
            let p = base + fixed + s * perSlot
            if frequency || released {
                slots.append(AdapterSlot(features: p, probabilities: p + rows * c, mixed: p + rows * c + rows * m,
                                         delta: p + 2 * rows * c + rows * m, spatial: p + 3 * rows * c + rows * m))
            } else {
                slots.append(AdapterSlot(features: p, probabilities: p + n * c, mixed: p + n * c + n * m,
                                         delta: p + 2 * n * c + n * m, spatial: p + 2 * n * c + n * m))
            }
        }
        self.slots = slots
    }

    /// The widest stream the token attention runs fused on. Measured at 512 × 512, 2 threads
    /// (`ctbench segmentation`): vits (C = 384) 2–3 ms faster per forward fused than with its two
    /// GEMMs and softmax; vitl (C = 1024) no faster (a panel's 48 x C queries then leave L1 and L2's
    /// comfortable share), so wider streams keep the GEMMs.
    public static let fusedTokenAttentionMaxChannels = 512

    deinit { storage.deallocate() }

    /// The buffers layer `layer` writes.
    public func slot(_ layer: Int) -> AdapterSlot { slots[retainsForBackward ? layer : 0] }

    /// Bytes held.
    public var byteCount: Int { storage.count * MemoryLayout<Float>.stride }
}
