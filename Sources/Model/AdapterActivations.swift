// AdapterActivations.swift — the adapter's arena for one patch-grid shape.
//
// Per layer slot (one slot per layer when kept for a backward pass, one shared
// slot otherwise), N x C buffers features (Fc, or f for Rein), mixed (Z, the
// input of MLP_f), delta (Δ; scratch of the inverse DCT) and spatial
// (iDCT2(Δ)), and (N, m) probabilities (S, with the sink column). Causal-Tune
// keeps its N x C buffers channel-major (C, N) — the DCT's layout — Rein
// token-major (N, C). Also the per-frequency weights: forward DCT scale · mask
// and the inverse DCT scale (the forward's), the unmasked forward scale and the
// masked inverse scale (the backward's). The thread count the arena is made
// with splits every adapter step and fixes the DCT's channel groups.
// The released Causal-Tune replay (kind causal-tune-released) keeps its N x C
// buffers token-major like Rein, has the DCT weights scale · (1 - its mask),
// and a shared spectrum scratch for the inverse DFT; its spatial buffer holds
// Re(iDFT2(Δ)) before the clamp.
// ~Copyable like DINOv2Activations: one owner, no silent resize.

import Tensor

/// The buffers of one layer slot.
public struct AdapterSlot {
    /// Fc = DCT2(f)·M (Causal-Tune, (C, N)) or f (Rein, (N, C)).
    public let features: UnsafeMutablePointer<Float>
    /// (N, m) softmax over the tokens, column 0 the sink.
    public let probabilities: UnsafeMutablePointer<Float>
    /// Z = S[:, 1:] V + Fc, the input of MLP_f (same layout as `features`).
    public let mixed: UnsafeMutablePointer<Float>
    /// Δ = MLP_f(Z) (same layout; Causal-Tune overwrites it with the inverse DCT's scaling).
    public let delta: UnsafeMutablePointer<Float>
    /// (C, N) iDCT2(Δ) (Causal-Tune; before that, scratch for fᵀ), Re(iDFT2(Δ)) (causal-tune-released).
    public let spatial: UnsafeMutablePointer<Float>
}

public struct AdapterActivations: ~Copyable {
    public let gridHeight: Int, gridWidth: Int
    public let retainsForBackward: Bool
    /// Threads every adapter step over this arena splits into.
    public let threads: Int
    /// The transform (nil for Rein).
    public let dct: DCT2?
    /// The released replay's inverse transform (causal-tune-released only).
    public let realDFT: RealDFT2?
    /// Its spectrum scratch (causal-tune-released only).
    public let spectrum: UnsafeMutablePointer<Float>?
    /// (N) forward DCT scale times the mask M.
    public let forwardWeights: UnsafeMutablePointer<Float>
    /// (N) inverse DCT pre-scale.
    public let inverseWeights: UnsafeMutablePointer<Float>
    /// (N) the mask M itself.
    public let mask: [Float]
    /// (N) forward DCT scale without the mask (the backward's dΔ = DCT2(s g)); empty for Rein.
    public let unmaskedForwardWeights: [Float]
    /// (N) inverse DCT pre-scale times the mask (the backward's iDCT2(M ⊙ dFc)); empty for Rein.
    public let maskedInverseWeights: [Float]
    private let storage: UnsafeMutableBufferPointer<Float>
    private let slots: [AdapterSlot]

    /// An arena for `config` (empty for kind `none`).
    public init(config: AdapterConfig, embedDim c: Int, layers: Int, gridHeight h: Int, gridWidth w: Int, retainForBackward: Bool, threads: Int) {
        gridHeight = h
        gridWidth = w
        retainsForBackward = retainForBackward
        self.threads = max(1, threads)
        let n = h * w, m = config.tokens
        let transform = config.kind == .causalTune, released = config.kind == .causalTuneReleased
        precondition(!released || h == w, "AdapterActivations: \(config.gridProblem(height: h, width: w) ?? "")")
        let perSlot = n * c * (transform || released ? 4 : 3) + n * m
        let slotCount = config.kind == .none ? 0 : retainForBackward ? layers : 1
        let inverse = released ? RealDFT2(height: h, width: w, channels: c, threads: threads) : nil
        let spectrumCount = inverse?.scratchCount ?? 0
        storage = .allocate(capacity: 2 * n + spectrumCount + perSlot * slotCount)
        storage.initialize(repeating: 0)
        let base = storage.baseAddress!
        forwardWeights = base
        inverseWeights = base + n
        realDFT = inverse
        spectrum = released ? base + 2 * n : nil
        let mask = transform ? FrequencyMask.values(config.filter, dl: config.dl, dh: config.dh, height: h, width: w)
            : released ? FrequencyMask.releasedCausalTuneKept(height: h, width: w) : [Float](repeating: 1, count: n)
        self.mask = mask
        if released {
            let d = DCT2(height: h, width: w, channels: c, threads: threads)
            let f = d.forwardScale()
            for k in 0 ..< n { forwardWeights[k] = f[k] * mask[k] }
            dct = d
            unmaskedForwardWeights = []
            maskedInverseWeights = []
        } else if transform {
            let d = DCT2(height: h, width: w, channels: c, threads: threads)
            let f = d.forwardScale(), i = d.inverseScale()
            for k in 0 ..< n { forwardWeights[k] = f[k] * mask[k]; inverseWeights[k] = i[k] }
            dct = d
            unmaskedForwardWeights = f
            maskedInverseWeights = (0 ..< n).map { i[$0] * mask[$0] }
        } else {
            dct = nil
            unmaskedForwardWeights = []
            maskedInverseWeights = []
        }
        var slots: [AdapterSlot] = []
        for s in 0 ..< slotCount {
            let p = base + 2 * n + spectrumCount + s * perSlot
            slots.append(AdapterSlot(features: p, probabilities: p + n * c, mixed: p + n * c + n * m,
                                     delta: p + 2 * n * c + n * m,
                                     spatial: transform || released ? p + 3 * n * c + n * m : p + 2 * n * c + n * m))
        }
        self.slots = slots
    }

    deinit { storage.deallocate() }

    /// The buffers layer `layer` writes.
    public func slot(_ layer: Int) -> AdapterSlot { slots[retainsForBackward ? layer : 0] }

    /// Bytes held.
    public var byteCount: Int { storage.count * MemoryLayout<Float>.stride }
}
