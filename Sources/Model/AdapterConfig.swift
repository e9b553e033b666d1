// AdapterConfig.swift — the choices of the adapter after every block
// (method.md §2): kind, frequency filter, cut-offs, token count and rank.

/// Which adapter refines the patch tokens after each block.
public enum AdapterKind: String, Sendable, Codable, CaseIterable {
    /// DCT -> mask -> token attention refinement -> inverse DCT (method.md §2.1).
    case causalTune = "causal-tune"
    /// The same refinement on the spatial tokens, no transform, no filter (Rein).
    case rein
    /// No adapter: frozen backbone + head.
    case none
}

/// The Causal-Tune frequency mask M (method.md §2.2); the kept ("causal") part is F·M.
public enum FrequencyFilter: String, Sendable, Codable, CaseIterable {
    /// (1 - exp(-D²/2dl²)) · exp(-D²/2dh²)
    case bandpass
    /// 1 - exp(-D²/2dl²)
    case lowcut
    /// exp(-D²/2dh²)
    case highcut
    /// M = 1
    case none
    /// The piecewise mask of the authors' released code.
    case released
}

public struct AdapterConfig: Sendable, Equatable, Codable {
    public var kind: AdapterKind
    public var filter: FrequencyFilter
    /// Low cut-off dl of the Gaussian band-pass (normalised frequency radius).
    public var dl: Double
    /// High cut-off dh.
    public var dh: Double
    /// Tokens m per layer (token 0 is the value-less sink).
    public var tokens: Int
    /// Low-rank factorisation rank r of the tokens (T = A·B); 0 = full m x C tokens.
    public var rank: Int

    public init(kind: AdapterKind = .causalTune, filter: FrequencyFilter = .bandpass, dl: Double = 0.2, dh: Double = 0.7,
                tokens: Int = 100, rank: Int = 0) {
        self.kind = kind
        self.filter = filter
        self.dl = dl
        self.dh = dh
        self.tokens = tokens
        self.rank = rank
    }

    /// The initial value of the shared scale s (method.md §2.1).
    public static let scaleInit: Float = 1e-3
    /// p_ref of the token initialisation bound sqrt(6 / (3 p_ref² + C)) (Rein).
    public static let tokenInitPatch = 16

    /// Problems with the values, in words (empty when valid).
    public func problems() -> [String] {
        var out: [String] = []
        if kind != .none {
            if tokens < 2 { out.append("adapter tokens must be at least 2 (token 0 is the sink), got \(tokens)") }
            if rank < 0 { out.append("adapter rank must be 0 (full tokens) or positive, got \(rank)") }
        }
        if kind == .causalTune {
            if !(dl > 0) || !dl.isFinite { out.append("dl must be a positive number, got \(dl)") }
            if !(dh > 0) || !dh.isFinite { out.append("dh must be a positive number, got \(dh)") }
        }
        return out
    }
}
