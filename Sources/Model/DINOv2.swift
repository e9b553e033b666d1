// DINOv2.swift — the DINOv2 ViT forward pass (method.md §1).
//
//   tokens = [CLS + pos_0, registers, patch_embed(image) + pos_grid]
//   for each block: x = block(x)          (afterBlock hook: the adapter's entry point)
//   features = x after block K, or norm(x)
// Weights stay in PyTorch layout; all activations live in the arena.

import Tensor

/// An input the model cannot take (image size, buffer length, block index).
public struct ModelInputError: Error, CustomStringConvertible, Sendable, Equatable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// Which hidden state a feature export takes.
public enum FeatureLayer: Sendable, Equatable {
    /// The residual stream after block K (0-based).
    case block(Int)
    /// The final LayerNorm of the last block's output.
    case finalNorm
}

public struct DINOv2: Sendable {
    public let config: DINOv2Config
    public var patchEmbed: PatchEmbedding
    /// (1, 1, C)
    public var clsToken: Tensor
    /// (1, R, C), or nil without registers.
    public var registerTokens: Tensor?
    /// (1, 1 + G·G, C)
    public var posEmbed: Tensor
    public var blocks: [Block]
    public var norm: LayerNorm

    public init(config: DINOv2Config, patchEmbed: PatchEmbedding, clsToken: Tensor, registerTokens: Tensor?,
                posEmbed: Tensor, blocks: [Block], norm: LayerNorm) {
        self.config = config
        self.patchEmbed = patchEmbed
        self.clsToken = clsToken
        self.registerTokens = registerTokens
        self.posEmbed = posEmbed
        self.blocks = blocks
        self.norm = norm
    }

    /// An arena for images of height x width (both multiples of the patch size),
    /// with the position embedding already resized to that grid. Attention
    /// scratch is sized for the current kernel thread count (Threading); a
    /// later, larger count still runs, on as many attention workers as the arena has slots.
    public func makeActivations(height: Int, width: Int) throws(ModelInputError) -> DINOv2Activations {
        let p = config.patchSize
        guard height > 0, width > 0, height % p == 0, width % p == 0 else {
            throw ModelInputError("image size \(height)x\(width) is not a positive multiple of the patch size \(p)")
        }
        let scratch = blocks.map(\.ffn.scratchPerToken).max() ?? 0
        let a = DINOv2Activations(config: config, height: height, width: width, ffnScratchPerToken: scratch,
                                  attentionSlots: Threading.kernelThreads)
        let position = PositionEmbedding.resized(posEmbed, gridSize: config.gridSize, to: a.gridHeight, a.gridWidth,
                                                 interpolation: config.interpolation)
        _ = a.position.update(fromContentsOf: position)
        return a
    }

    /// Fills the residual stream `a.x` from an image (3, H, W), already normalised.
    public func embed(_ image: UnsafeBufferPointer<Float>, _ a: borrowing DINOv2Activations) throws(ModelInputError) {
        guard image.count == 3 * a.height * a.width else {
            throw ModelInputError("image has \(image.count) values, expected 3 x \(a.height) x \(a.width)")
        }
        let c = config.embedDim, r = config.registers, n = a.gridHeight * a.gridWidth
        let x = a.x.baseAddress!, pos = a.position.baseAddress!
        let patches = x + (1 + r) * c
        patchEmbed.forward(image.baseAddress!, height: a.height, width: a.width, columns: a.columns.baseAddress!,
                           into: patches)
        for i in 0 ..< n * c { patches[i] += pos[c + i] }
        clsToken.withUnsafeBufferPointer { cls in for i in 0 ..< c { x[i] = cls[i] + pos[i] } }
        if let registerTokens {
            registerTokens.withUnsafeBufferPointer { reg in (x + c).update(from: reg.baseAddress!, count: r * c) }
        }
    }

    /// Runs the network on an image (3, H, W) through block `lastBlock` (default: all).
    /// `afterBlock(i, x)` sees (and may change) the residual stream (T x C) after block i.
    public func forward(_ image: UnsafeBufferPointer<Float>, _ a: borrowing DINOv2Activations, through lastBlock: Int? = nil,
                        afterBlock: (Int, UnsafeMutableBufferPointer<Float>) -> Void = { _, _ in }) throws(ModelInputError) {
        let last = lastBlock ?? blocks.count - 1
        guard last >= -1, last < blocks.count else {
            throw ModelInputError("block \(last) does not exist (the model has blocks 0...\(blocks.count - 1))")
        }
        try embed(image, a)
        for i in 0 ..< last + 1 {
            blocks[i].forward(a)
            afterBlock(i, a.x)
        }
    }

    /// `a.normed` = the final LayerNorm of `a.x`.
    public func applyFinalNorm(_ a: borrowing DINOv2Activations) {
        norm.forward(a.x.baseAddress!, rows: a.tokens, into: a.normed.baseAddress!)
    }

    /// The (T, C) features of an image at `layer`: [CLS, registers, patches row-major].
    public func features(_ image: UnsafeBufferPointer<Float>, _ a: borrowing DINOv2Activations,
                         at layer: FeatureLayer) throws(ModelInputError) -> Tensor {
        switch layer {
        case .block(let k):
            guard k >= 0 else { throw ModelInputError("block index \(k) is negative") }
            try forward(image, a, through: k)
            return Tensor(shape: [a.tokens, config.embedDim], storage: Array(a.x))
        case .finalNorm:
            try forward(image, a)
            applyFinalNorm(a)
            return Tensor(shape: [a.tokens, config.embedDim], storage: Array(a.normed))
        }
    }
}
