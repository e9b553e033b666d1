// DINOv2.swift — the DINOv2 ViT forward pass (method.md §1).
//
//   tokens = [CLS + pos_0, registers, patch_embed(image) + pos_grid]   (per image of the batch)
//   for each block: x = block(x)          (afterBlock hook: the adapter's entry point)
//   features = x after block K, or norm(x)
// Weights stay in PyTorch layout; all activations live in the arena.

import CTCore
import Tensor

/// An input the model cannot take (image size, buffer length, block index).
public struct ModelInputError: ReasonedError, Equatable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
}

/// Which hidden state a feature export takes.
public enum FeatureLayer: Sendable, Equatable {
    /// The residual stream after block K (0-based).
    case block(Int)
    /// The final LayerNorm of the last block's output.
    case finalNorm
}

public struct DINOv2: Sendable, ParameterWalkable {
    public let config: DINOv2Config
    public var patchEmbed: PatchEmbedding
    /// (1, 1, C)
    public var clsToken: Parameter
    /// (1, R, C), or nil without registers.
    public var registerTokens: Parameter?
    /// (1, 1 + G·G, C)
    public var posEmbed: Parameter
    public var blocks: [Block]
    public var norm: LayerNorm

    public init(config: DINOv2Config, patchEmbed: PatchEmbedding, clsToken: Parameter, registerTokens: Parameter?,
                posEmbed: Parameter, blocks: [Block], norm: LayerNorm) {
        self.config = config
        self.patchEmbed = patchEmbed
        self.clsToken = clsToken
        self.registerTokens = registerTokens
        self.posEmbed = posEmbed
        self.blocks = blocks
        self.norm = norm
    }

    public init(config: DINOv2Config, patchEmbed: PatchEmbedding, clsToken: Tensor, registerTokens: Tensor?,
                posEmbed: Tensor, blocks: [Block], norm: LayerNorm) {
        self.init(config: config, patchEmbed: patchEmbed, clsToken: Parameter(clsToken), registerTokens: registerTokens.map(Parameter.init),
                  posEmbed: Parameter(posEmbed), blocks: blocks, norm: norm)
    }

    /// A backbone of `config` whose parameters a walk binds later.
    public init(config: DINOv2Config) {
        let c = config.embedDim
        self.init(config: config, patchEmbed: PatchEmbedding(patchSize: config.patchSize, embedDim: c),
                  clsToken: Parameter(unbound: [1, 1, c]),
                  registerTokens: config.registers > 0 ? Parameter(unbound: [1, config.registers, c]) : nil,
                  posEmbed: Parameter(unbound: [1, 1 + config.gridSize * config.gridSize, c]),
                  blocks: (0 ..< config.depth).map { _ in Block(config: config) },
                  norm: LayerNorm(features: c, eps: config.layerNormEps))
    }

    /// Official DINOv2 names (method.md §1), in the order the released state dict lists them.
    public mutating func walkParameters<V: ParameterVisitor>(_ v: inout V, _ scope: ParameterScope) throws(WeightError) {
        try walkParameters(&v, scope, trainableBlocks: blocks.count, trainableNorm: true)
    }

    /// The walk with training limited to blocks 0..<trainableBlocks (later blocks and, unless
    /// `trainableNorm`, the final norm do not reach a segmentation loss; they stay frozen as
    /// PyTorch's AdamW skips parameters without a gradient).
    public mutating func walkParameters<V: ParameterVisitor>(_ v: inout V, _ scope: ParameterScope, trainableBlocks: Int,
                                                             trainableNorm: Bool) throws(WeightError) {
        try v.visit(&clsToken, "cls_token", in: scope, decay: true)
        try v.visit(&posEmbed, "pos_embed", in: scope, decay: true)
        if registerTokens != nil { try v.visit(&registerTokens!, "register_tokens", in: scope, decay: true) }
        try patchEmbed.walkParameters(&v, scope.child("patch_embed.proj"))
        for i in blocks.indices {
            try blocks[i].walkParameters(&v, scope.child("blocks.\(i)").training(scope.trainable && i < trainableBlocks))
        }
        try norm.walkParameters(&v, scope.child("norm").training(scope.trainable && trainableNorm))
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
        let position = PositionEmbedding.resized(posEmbed.tensor, gridSize: config.gridSize, to: a.gridHeight, a.gridWidth,
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
    public func embedBackward(_ dStream: UnsafePointer<Float>, _ a: borrowing DINOv2Activations, gradients: ParameterGradients) {
        let c = config.embedDim, r = config.registers, n = a.gridHeight * a.gridWidth, d = dStream
        let dCls = gradients.of(clsToken), dPos = gradients.of(posEmbed)
        for i in 0 ..< c { dCls[i] += d[i]; dPos[i] += d[i] }
        if let registerTokens {
            let dReg = gradients.of(registerTokens)
            for i in 0 ..< r * c { dReg[i] += d[c + i] }
        }
        let patches = d + (1 + r) * c
        for i in 0 ..< n * c { dPos[c + i] += patches[i] }
        patchEmbed.backward(patches, ld: c, columns: a.columns.baseAddress!, patches: n, gradients: gradients,
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
