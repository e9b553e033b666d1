// DINOv2Config.swift — the architecture of a DINOv2 ViT, as inferred from its weights.
//
// Everything except the head count is read off tensor shapes (see
// DINOv2Weights); the head count is not recorded in the weights, so it comes
// from the caller, HF's config.json, a ctpipe checkpoint's metadata, or the
// DINOv2 rule heads = C / 64 (true for every released size).

/// How the stored position grid is resized to another patch grid (method.md §1.2).
public enum PositionInterpolation: String, Sendable, Codable, CaseIterable {
    /// Official models without registers: `scale_factor=((h+0.1)/G, (w+0.1)/G)`, bicubic, no antialias.
    case offset
    /// Official `_reg` models (and HF Dinov2WithRegistersModel): `size=(h, w)`, bicubic, antialias.
    case antialiased
    /// HF Dinov2Model: `size=(h, w)`, bicubic, no antialias.
    case size
}

/// The feed-forward layer of each block.
public enum FeedForwardKind: String, Sendable, Codable {
    /// fc1 -> exact GELU -> fc2 (vits14, vitb14, vitl14).
    case mlp
    /// w12 -> SiLU(x1) * x2 -> w3 (vitg14).
    case swiglu
}

public struct DINOv2Config: Sendable, Equatable, Codable {
    /// Embedding width C.
    public var embedDim: Int
    /// Number of transformer blocks L.
    public var depth: Int
    /// Attention heads (C must be a multiple).
    public var heads: Int
    /// Patch side p (14 released, 16 after conversion).
    public var patchSize: Int
    /// Register tokens R (0 or 4).
    public var registers: Int
    /// Side G of the stored position grid (37 for the released weights).
    public var gridSize: Int
    /// Hidden width of the feed-forward layer (4C for MLP; the SwiGLU hidden size).
    public var ffnHidden: Int
    public var ffn: FeedForwardKind
    /// Position-grid resize rule.
    public var interpolation: PositionInterpolation
    public var layerNormEps: Float

    public init(embedDim: Int, depth: Int, heads: Int, patchSize: Int, registers: Int, gridSize: Int,
                ffnHidden: Int, ffn: FeedForwardKind = .mlp, interpolation: PositionInterpolation? = nil,
                layerNormEps: Float = 1e-6) {
        self.embedDim = embedDim
        self.depth = depth
        self.heads = heads
        self.patchSize = patchSize
        self.registers = registers
        self.gridSize = gridSize
        self.ffnHidden = ffnHidden
        self.ffn = ffn
        self.interpolation = interpolation ?? (registers > 0 ? .antialiased : .offset)
        self.layerNormEps = layerNormEps
    }

    /// The released architectures (method.md §1), with or without 4 registers.
    public static func named(_ name: String) -> DINOv2Config? {
        let base = name.hasSuffix("_reg") ? String(name.dropLast(4)) : name
        let registers = name.hasSuffix("_reg") ? 4 : 0
        switch base {
        case "vits14": return DINOv2Config(embedDim: 384, depth: 12, heads: 6, patchSize: 14, registers: registers, gridSize: 37, ffnHidden: 1536)
        case "vitb14": return DINOv2Config(embedDim: 768, depth: 12, heads: 12, patchSize: 14, registers: registers, gridSize: 37, ffnHidden: 3072)
        case "vitl14": return DINOv2Config(embedDim: 1024, depth: 24, heads: 16, patchSize: 14, registers: registers, gridSize: 37, ffnHidden: 4096)
        case "vitg14": return DINOv2Config(embedDim: 1536, depth: 40, heads: 24, patchSize: 14, registers: registers, gridSize: 37, ffnHidden: 4096, ffn: .swiglu)
        // A small ViT for the demo and tests (no released weights: randomly initialised).
        case "tiny": return DINOv2Config(embedDim: 192, depth: 6, heads: 3, patchSize: 16, registers: registers, gridSize: 8, ffnHidden: 768)
        default: return nil
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case embedDim = "embed_dim", depth, heads, patchSize = "patch_size", registers, gridSize = "grid_size"
        case ffnHidden = "ffn_hidden", ffn, interpolation, layerNormEps = "layer_norm_eps"
    }

    /// Channels per head.
    public var headDim: Int { embedDim / heads }

    /// Tokens for an image of height x width: CLS, registers, patches.
    public func tokenCount(height: Int, width: Int) -> Int {
        1 + registers + (height / patchSize) * (width / patchSize)
    }

    /// Multiply-adds x 2 of one forward pass (GEMMs and attention products only).
    public func flops(height: Int, width: Int) -> Double {
        let n = Double((height / patchSize) * (width / patchSize))
        let t = Double(tokenCount(height: height, width: width))
        let c = Double(embedDim)
        let patch = 2 * n * c * Double(3 * patchSize * patchSize)
        let ffnFlops = ffn == .mlp ? 2 * t * c * Double(ffnHidden) * 2 : 2 * t * c * Double(ffnHidden) * 3
        let perBlock = 2 * t * c * 3 * c + 2 * t * t * c * 2 + 2 * t * c * c + ffnFlops
        return patch + Double(depth) * perBlock
    }
}
