// DINOv2.swift — the DINOv2 ViT forward pass (method.md §1).
//
//   tokens = [CLS + pos_0, registers, patch_embed(image) + pos_grid]   (per image of the batch)
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

/// Where the backward pass of the token embedding adds its gradients.
public struct EmbeddingGradients {
    /// (C), (1 + G·G, C), (R, C) or nil without registers.
    public let clsToken: UnsafeMutablePointer<Float>
    public let posEmbed: UnsafeMutablePointer<Float>
    public let registerTokens: UnsafeMutablePointer<Float>?
    /// The patch embedding's weight (C, 3, p, p) and bias (C).
    public let patchEmbed: LinearGradients

    public init(clsToken: UnsafeMutablePointer<Float>, posEmbed: UnsafeMutablePointer<Float>,
                registerTokens: UnsafeMutablePointer<Float>?, patchEmbed: LinearGradients) {
        self.clsToken = clsToken
        self.posEmbed = posEmbed
        self.registerTokens = registerTokens
        self.patchEmbed = patchEmbed
    }
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

    /// An arena for batches of `batch` images of height x width (both multiples
    /// of the patch size), with the position embedding already resized to that
    /// grid. Every step of a forward pass over the arena splits over `threads`
    /// chunks (attention scratch has one slot per thread).
    public func makeActivations(height: Int, width: Int, batch: Int = 1, threads: Int) throws(ModelInputError) -> DINOv2Activations {
        let p = config.patchSize
        guard height > 0, width > 0, height % p == 0, width % p == 0 else {
            throw ModelInputError("image size \(height)x\(width) is not a positive multiple of the patch size \(p)")
        }
        guard batch > 0 else { throw ModelInputError("batch size \(batch) is not positive") }
        let scratch = blocks.map(\.ffn.scratchPerToken).max() ?? 0
        let a = DINOv2Activations(config: config, height: height, width: width, batch: batch, ffnScratchPerToken: scratch,
                                  threads: threads)
        let position = PositionEmbedding.resized(posEmbed, gridSize: config.gridSize, to: a.gridHeight, a.gridWidth,
                                                 interpolation: config.interpolation)
        _ = a.position.update(fromContentsOf: position)
        return a
    }

    /// Fills the residual stream `a.x` from B images (B, 3, H, W), already normalised.
    public func embed(_ images: UnsafeBufferPointer<Float>, _ a: borrowing DINOv2Activations) throws(ModelInputError) {
        let pixels = 3 * a.height * a.width
        guard images.count == a.batch * pixels else {
            throw ModelInputError(a.batch == 1
                ? "image has \(images.count) values, expected 3 x \(a.height) x \(a.width)"
                : "batch has \(images.count) values, expected \(a.batch) x 3 x \(a.height) x \(a.width)")
        }
        let c = config.embedDim, r = config.registers, n = a.gridHeight * a.gridWidth, t = a.tokens
        let pos = a.position.baseAddress!
        for b in 0 ..< a.batch {
            let x = a.x.baseAddress! + b * t * c
            let patches = x + (1 + r) * c
            patchEmbed.forward(images.baseAddress! + b * pixels, height: a.height, width: a.width,
                               columns: a.columns.baseAddress!, into: patches, threads: a.threads)
            for i in 0 ..< n * c { patches[i] += pos[c + i] }
            clsToken.withUnsafeBufferPointer { cls in for i in 0 ..< c { x[i] = cls[i] + pos[i] } }
            if let registerTokens {
                registerTokens.withUnsafeBufferPointer { reg in (x + c).update(from: reg.baseAddress!, count: r * c) }
            }
        }
    }

    /// Backward of `embed` for one image (batch 1, the position embedding at its
    /// stored grid): adds the gradients of the CLS token, the position embedding,
    /// the registers and the patch embedding from dStream (T, C), the gradient of
    /// the stream `embed` filled.
    public func embedBackward(_ dStream: UnsafePointer<Float>, _ a: borrowing DINOv2Activations, gradients: EmbeddingGradients) {
        let c = config.embedDim, r = config.registers, n = a.gridHeight * a.gridWidth, d = dStream
        let dCls = gradients.clsToken, dPos = gradients.posEmbed
        for i in 0 ..< c { dCls[i] += d[i]; dPos[i] += d[i] }
        if let dReg = gradients.registerTokens {
            for i in 0 ..< r * c { dReg[i] += d[c + i] }
        }
        let patches = d + (1 + r) * c
        for i in 0 ..< n * c { dPos[c + i] += patches[i] }
        patchEmbed.backward(patches, ld: c, columns: a.columns.baseAddress!, patches: n, gradients: gradients.patchEmbed,
                            threads: a.threads)
    }

    /// Runs the network on the arena's batch of B images (B, 3, H, W) through
    /// block `lastBlock` (default: all). `afterBlock(i, x)` sees (and may change)
    /// the residual stream (B·T x C, image after image) after block i.
    public func forward(_ image: UnsafeBufferPointer<Float>, _ a: borrowing DINOv2Activations, through lastBlock: Int? = nil,
                        afterBlock: (Int, UnsafeMutableBufferPointer<Float>) -> Void = { _, _ in }) throws(ModelInputError) {
        let last = lastBlock ?? blocks.count - 1
        guard last >= -1, last < blocks.count else {
            throw ModelInputError("block \(last) does not exist (the model has blocks 0...\(blocks.count - 1))")
        }
        try embed(image, a)
        let x = a.x.baseAddress!, scratch = a.blockScratch
        for i in 0 ..< last + 1 {
            blocks[i].forward(x, into: x, scratch)
            afterBlock(i, a.x)
        }
    }

    /// `a.normed` = the final LayerNorm of `a.x` (all B·T rows).
    public func applyFinalNorm(_ a: borrowing DINOv2Activations) {
        norm.forward(a.x.baseAddress!, rows: a.rows, into: a.normed.baseAddress!, threads: a.threads)
    }

    /// The features at `layer`: (T, C) for one image, (B, T, C) for a batch;
    /// tokens [CLS, registers, patches row-major].
    public func features(_ image: UnsafeBufferPointer<Float>, _ a: borrowing DINOv2Activations,
                         at layer: FeatureLayer) throws(ModelInputError) -> Tensor {
        switch layer {
        case .block(let k):
            guard k >= 0 else { throw ModelInputError("block index \(k) is negative") }
            try forward(image, a, through: k)
            return Tensor(shape: Self.featureShape(a, config.embedDim), storage: Array(a.x))
        case .finalNorm:
            try forward(image, a)
            applyFinalNorm(a)
            return Tensor(shape: Self.featureShape(a, config.embedDim), storage: Array(a.normed))
        }
    }

    static func featureShape(_ a: borrowing DINOv2Activations, _ c: Int) -> [Int] {
        a.batch == 1 ? [a.tokens, c] : [a.batch, a.tokens, c]
    }
}
