// AdapterConfig.swift — the choices of the adapter after every block
// (method.md §2): kind, frequency transform and filter, cut-offs, token count
// and rank, and Rein's token -> query link of the released Mask2Former models.

import Tensor

/// Which adapter refines the patch tokens after each block.
public enum AdapterKind: String, Sendable, Codable, CaseIterable {
    /// DCT -> mask -> token attention refinement -> inverse DCT (method.md §2.1).
    case causalTune = "causal-tune"
    /// The same refinement on the spatial tokens, no transform, no filter (Rein).
    case rein
    /// The released Causal-Tune code's forward, replayed exactly for its checkpoints
    /// (docs/causal-tune.md, "Released adapters"); inference only.
    case causalTuneReleased = "causal-tune-released"
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

/// The frequency transform of the `causal-tune` adapter (method.md §2.2; docs/causal-tune.md, "Transforms").
public enum FrequencyTransform: String, Sendable, Codable, CaseIterable {
    /// The orthonormal 2-D DCT-II (method.md §2.1).
    case dct
    /// The orthonormal 2-D DFT: the token path on its real and imaginary parts, the real part of the inverse.
    case fft
    /// The orthonormal 2-D Haar wavelet transform to full depth (grid sides powers of two).
    case haar
}

public struct AdapterConfig: Sendable, Equatable, Codable {
    public var kind: AdapterKind
    /// The frequency transform (kind `causal-tune` only; the others are `dct`, which they do not use or fix).
    public var transform: FrequencyTransform
    public var filter: FrequencyFilter
    /// Low cut-off dl of the Gaussian band-pass (normalised frequency radius).
    public var dl: Double
    /// High cut-off dh.
    public var dh: Double
    /// Tokens m per layer (token 0 is the value-less sink).
    public var tokens: Int
    /// Low-rank factorisation rank r of the tokens (T = A·B); 0 = full m x C tokens.
    public var rank: Int
    /// Rein's token -> query link (`link_token_to_query`): the adapter also holds
    /// `transform` (C -> q) and `merge` (3q -> q) and yields m queries of width q.
    public var queryLink: Bool
    /// The query width q of the link (Rein's `query_dims`).
    public var queryDims: Int

    public init(kind: AdapterKind = .causalTune, transform: FrequencyTransform = .dct, filter: FrequencyFilter = .bandpass,
                dl: Double = 0.2, dh: Double = 0.7, tokens: Int = 100, rank: Int = 0, queryLink: Bool = false, queryDims: Int = 256) {
        self.kind = kind
        self.transform = transform
        self.filter = filter
        self.dl = dl
        self.dh = dh
        self.tokens = tokens
        self.rank = rank
        self.queryLink = queryLink
        self.queryDims = queryDims
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case kind, transform, filter, dl, dh, tokens, rank, queryLink = "query_link", queryDims = "query_dims"
    }

    /// The keys of the first format are required; the transform is optional (absent: dct, what
    /// checkpoints from before it was a choice computed) and the query link's (off when absent).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kind = try c.decode(AdapterKind.self, forKey: .kind)
        if let name = try c.decodeIfPresent(String.self, forKey: .transform) {
            guard let value = FrequencyTransform(rawValue: name) else {
                throw DecodingError.dataCorruptedError(forKey: .transform, in: c, debugDescription:
                    "adapter transform \"\(name)\" is not one of \(FrequencyTransform.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            transform = value
        } else {
            transform = .dct
        }
        filter = try c.decode(FrequencyFilter.self, forKey: .filter)
        dl = try c.decode(Double.self, forKey: .dl)
        dh = try c.decode(Double.self, forKey: .dh)
        tokens = try c.decode(Int.self, forKey: .tokens)
        rank = try c.decode(Int.self, forKey: .rank)
        queryLink = try c.decodeIfPresent(Bool.self, forKey: .queryLink) ?? false
        queryDims = try c.decodeIfPresent(Int.self, forKey: .queryDims) ?? 256
    }

    /// A `causal-tune` adapter always records its transform; the other kinds have none to record.
    /// The query link's keys are written only when it is on, so configurations without it read as before.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        if kind == .causalTune { try c.encode(transform, forKey: .transform) }
        try c.encode(filter, forKey: .filter)
        try c.encode(dl, forKey: .dl)
        try c.encode(dh, forKey: .dh)
        try c.encode(tokens, forKey: .tokens)
        try c.encode(rank, forKey: .rank)
        if queryLink {
            try c.encode(queryLink, forKey: .queryLink)
            try c.encode(queryDims, forKey: .queryDims)
        }
    }

    /// The initial value of the shared scale s (method.md §2.1).
    public static let scaleInit: Float = 1e-3
    /// p_ref of the token initialisation bounds (Rein).
    public static let tokenInitPatch = 16

    /// Rein's uniform initialisation bound of the tokens: √(6 / (3·16² + C)) for full
    /// tokens (`Reins`), √(6 / (3·16² + √(C·r))) for both low-rank factors (`LoRAReins`).
    public static func tokenInitBound(embedDim c: Int, rank r: Int) -> Float {
        let p = Double(tokenInitPatch * tokenInitPatch)
        let width = r == 0 ? Double(c) : (Double(c) * Double(r)).squareRoot()
        return Float((6.0 / (3 * p + width)).squareRoot())
    }


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
        } else if transform != .dct {
            out.append("the \(transform.rawValue) transform belongs to the causal-tune adapter; adapter \(kind.rawValue) has no choice of transform")
        }
        if queryLink {
            if kind == .none { out.append("the token -> query link needs adapter tokens (kind none has none)") }
            if queryDims < 1 { out.append("query_dims must be positive, got \(queryDims)") }
        }
        return out
    }

    /// Why this adapter cannot follow a backbone with `registers` register tokens (nil: it can).
    /// The released Causal-Tune code reshapes every token after CLS into a square grid.
    public func registersProblem(_ registers: Int) -> String? {
        guard kind == .causalTuneReleased, registers != 0 else { return nil }
        return "the causal-tune-released adapter replays code that reshapes every token after CLS into a square grid: backbones with register tokens are not supported (this one has \(registers))"
    }

    /// Why this adapter cannot run on an h x w patch grid (nil: it can). The released
    /// Causal-Tune code takes the grid side as ⌊√N⌋, so only square grids are replayed; the
    /// Haar transform needs sides that are powers of two.
    public func gridProblem(height h: Int, width w: Int) -> String? {
        if kind == .causalTuneReleased, h != w {
            return "the causal-tune-released adapter replays code that assumes a square patch grid; got \(h) x \(w) patches (use square inputs, e.g. slide windows)"
        }
        if kind == .causalTune, transform == .haar, !Haar2.supports(height: h, width: w) {
            return "the haar transform needs a patch grid whose sides are powers of two (e.g. 16 x 16, 32 x 32, 32 x 64); got \(h) x \(w) patches"
        }
        return nil
    }
}
