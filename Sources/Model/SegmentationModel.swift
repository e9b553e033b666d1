// SegmentationModel.swift — backbone + adapter after every block + linear head:
// image (3, H, W), normalised -> logits (K, H, W) (method.md §1–3).
//
// The backbone runs through the last block the head reads; after each block the
// adapter refines the patch tokens (CLS and registers untouched), and the head
// takes LayerNorm'ed copies of the refined patch tokens of its blocks.
// The parameter-only adapter products (PreparedAdapter) are computed when the
// model is made; whoever changes parameter values in place (the trainer) calls
// `parametersChanged()` afterwards.
// Parameter walk order (the training layout): adapter, head, backbone.
// One forward serves inference and training: asked to keep what the backward
// needs (SegmentationSaved), every layer also writes its internals and picks
// its training kernels; the backward pass follows the forward below.

import CTCore
import Tensor

public struct SegmentationModel: Sendable, ParameterWalkable {
    public let config: SegmentationConfig
    public private(set) var backbone: DINOv2
    /// nil for adapter kind `none`.
    public private(set) var adapter: CausalTuneAdapter?
    public private(set) var head: LinearHead
    public private(set) var prepared: PreparedAdapter?
    /// The trainable parameters' values, one flat buffer in walk order (adapter, head, and the
    /// fine-tuned backbone blocks): what gradients and optimiser moments mirror.
    public private(set) var trainableStorage: ParameterStorage

    /// The name prefixes of the parts (method.md §6).
    public static let backboneScope = ParameterScope(prefix: "backbone.")
    public static let adapterScope = ParameterScope(prefix: "backbone.reins.", trainable: true)
    public static let headScope = ParameterScope(prefix: "decode_head.", trainable: true)

    /// Whether checkpoint name `name` belongs to the backbone (not to the adapter under `backbone.reins.`).
    public static func isBackboneParameter(_ name: String) -> Bool {
        name.hasPrefix(backboneScope.prefix) && !name.hasPrefix(adapterScope.prefix)
    }

    /// Blocks a training forward pass runs: 0 ... the last block the head reads.
    public var blocksRun: Int { head.config.blocks.max()! + 1 }

    /// Adapter, head, then the backbone (trainable through `blocksRun` when fine-tuned; its final norm never).
    public mutating func walkParameters<V: ParameterVisitor>(_ v: inout V, _ scope: ParameterScope) throws(WeightError) {
        if adapter != nil { try adapter!.walkParameters(&v, Self.adapterScope) }
        try head.walkParameters(&v, Self.headScope)
        try backbone.walkParameters(&v, Self.backboneScope.training(config.trainable), trainableBlocks: blocksRun, trainableNorm: false)
    }

    /// Recomputes what depends on parameter values only (after they changed in place).
    public mutating func parametersChanged() {
        prepared = adapter?.prepare()
    }

    public init(config: SegmentationConfig, backbone: DINOv2, adapter: CausalTuneAdapter?, head: LinearHead) throws(ModelInputError) {
        if let problem = config.problems().first { throw ModelInputError(problem) }
        let b = backbone.config, c = config.backbone
        guard b.embedDim == c.embedDim, b.depth == c.depth, b.patchSize == c.patchSize, b.registers == c.registers,
              b.heads == c.heads, b.ffn == c.ffn else {
            throw ModelInputError("the backbone weights (C \(b.embedDim), \(b.depth) blocks, patch \(b.patchSize), \(b.registers) registers, \(b.heads) heads) do not match the configuration (C \(c.embedDim), \(c.depth) blocks, patch \(c.patchSize), \(c.registers) registers, \(c.heads) heads)")
        }
        if let problem = config.adapter.registersProblem(b.registers) { throw ModelInputError(problem) }
        switch (config.adapter.kind, adapter) {
        case (.none, nil): break
        case (.none, _?): throw ModelInputError("adapter kind none takes no adapter parameters")
        case (_, nil): throw ModelInputError("adapter kind \(config.adapter.kind.rawValue) needs adapter parameters")
        case (_, let a?):
            guard a.config == config.adapter, a.layers == b.depth, a.embedDim == b.embedDim else {
                throw ModelInputError("the adapter parameters (\(a.layers) layers, C \(a.embedDim)) do not match the configuration (\(b.depth) layers, C \(b.embedDim))")
            }
        }
        guard head.config == config.head, head.embedDim == b.embedDim else {
            throw ModelInputError("the head does not match the configuration")
        }
        var stored = config
        stored.backbone = backbone.config
        self.config = stored
        self.backbone = backbone
        self.adapter = adapter
        self.head = head
        prepared = adapter?.prepare()
        trainableStorage = ParameterStorage(count: 0)
        var rebinder = ParameterRebinder(count: ParameterList.count(of: self) { $0.trainable }, select: \.trainable)
        try? walkParameters(&rebinder, .init())
        trainableStorage = rebinder.storage
    }

    /// A model around existing backbone weights with freshly initialised adapter and head (seeded).
    public static func initialised(backbone: DINOv2, backboneName: String? = nil, backboneWeights: String? = nil,
                                   adapter: AdapterConfig, head: LinearHeadConfig? = nil, seed: UInt64 = 0) throws(ModelInputError) -> SegmentationModel {
        var rng = SplitMix64(seed: seed)
        let config = SegmentationConfig(backboneName: backboneName, backbone: backbone.config, backboneWeights: backboneWeights,
                                        adapter: adapter, head: head)
        if let problem = config.problems().first { throw ModelInputError(problem) }
        let a = adapter.kind == .none ? nil
            : try CausalTuneAdapter.initialised(config: adapter, layers: backbone.config.depth, embedDim: backbone.config.embedDim, using: &rng)
        let h = try LinearHead.initialised(config: config.head, embedDim: backbone.config.embedDim, using: &rng)
        return try SegmentationModel(config: config, backbone: backbone, adapter: a, head: h)
    }

    /// Classes K.
    public var classes: Int { head.config.classes }

    /// An arena for inputs of height x width (multiples of the patch size); forward
    /// passes over it split every step over `threads` chunks. `forTraining`: backward
    /// passes will follow (see AdapterActivations).
    public func makeActivations(height: Int, width: Int, retainForBackward: Bool = false, forTraining: Bool = false,
                                threads: Int) throws(ModelInputError) -> SegmentationActivations {
        let b = try backbone.makeActivations(height: height, width: width, threads: threads)
        if let problem = config.adapter.gridProblem(height: b.gridHeight, width: b.gridWidth) {
            throw ModelInputError("input \(height) x \(width): \(problem)")
        }
        let a = AdapterActivations(config: config.adapter, embedDim: backbone.config.embedDim, layers: backbone.config.depth,
                                   gridHeight: b.gridHeight, gridWidth: b.gridWidth, retainForBackward: retainForBackward,
                                   forTraining: forTraining, threads: threads)
        return SegmentationActivations(backbone: b, adapter: a, headBlocks: head.config.blocks.count, classes: classes)
    }

    /// Runs the model on an image (3, H, W), normalised; the logits land in `a.logits` (K, H, W).
    /// With `keep` (training, batch 1; `a` made with retainForBackward unless its blocks are
    /// recomputed) every layer also keeps what its backward pass needs (see `backward`).
    public func forward(_ image: UnsafeBufferPointer<Float>, _ a: borrowing SegmentationActivations,
                        keep: SegmentationSaved? = nil) throws(ModelInputError) {
        try forwardPatchLogits(image, a, keep: keep)
        let h = a.backbone.gridHeight, w = a.backbone.gridWidth
        head.upsample(a.patchLogits.baseAddress!, gridHeight: h, gridWidth: w, planes: a.logitPlanes.baseAddress!,
                      height: a.height, width: a.width, into: a.logits.baseAddress!, threads: a.threads)
    }

    /// The forward pass up to the head's patch logits `a.patchLogits` (N, K), before upsampling.
    /// Without `keep` the residual stream is updated in place in `a.backbone.x`; with it block l
    /// reads kept stream l and writes stream l + 1.
    public func forwardPatchLogits(_ image: UnsafeBufferPointer<Float>, _ a: borrowing SegmentationActivations,
                                   keep: SegmentationSaved? = nil) throws(ModelInputError) {
        let blocks = head.config.blocks
        let last = blocks.max()!
        let n = a.backbone.gridHeight * a.backbone.gridWidth, c = backbone.config.embedDim
        let first = (1 + backbone.config.registers) * c
        let features = a.headFeatures.baseAddress!, threads = a.threads
        try backbone.embed(image, a.backbone)
        let x = a.backbone.x.baseAddress!
        if let keep { keep.stream(0).update(from: x, count: a.backbone.rows * c) }
        for l in 0 ..< last + 1 {
            let output = keep?.stream(l + 1) ?? x
            forwardLayer(l, keep?.stream(l) ?? x, into: output, a, keep: keep?.block(l))
            for (j, b) in blocks.enumerated() where b == l {
                head.normalise(j, patches: output + first, rows: n, into: features + j * n * c, threads: threads,
                               keep: keep?.head[j])
            }
        }
        head.classify(features, rows: n, into: a.patchLogits.baseAddress!, threads: threads)
    }

    /// Block l and the adapter after it (on the patch tokens): out = adapter_l(block_l(x)).
    /// Without `keep` out may be x (in place).
    public func forwardLayer(_ l: Int, _ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
                             _ a: borrowing SegmentationActivations, keep: BlockSaved? = nil) {
        backbone.adaptedLayer(l, x, into: out, a.backbone, adapter: adapter, prepared: prepared, a.adapter, keep: keep)
    }

    /// Backward of the forward that kept `saved`, from d(loss)/d(logits) in `a.logits` (K, H, W;
    /// the arena's head buffers become scratch): adds every parameter gradient into `gradients`.
    /// From the last block the head reads down: the head's contribution at its blocks, the
    /// adapter's backward, then the block's (activation gradients; parameter gradients with a
    /// trainable backbone). With a frozen backbone the descent stops after the adapter of
    /// block 0; with a trainable one it continues through block 0 into the embeddings.
    /// `recompute` (activation checkpointing): each block and its adapter are recomputed from
    /// the kept stream right before their backward (same kernels, same inputs: the same values).
    public func backward(_ a: borrowing SegmentationActivations, saved: SegmentationSaved, scratch: SegmentationBackwardScratch,
                         recompute: Bool, gradients: ParameterGradients) {
        let h = a.backbone.gridHeight, w = a.backbone.gridWidth, n = h * w, c = backbone.config.embedDim
        let first = (1 + backbone.config.registers) * c, threads = a.threads
        head.backward(a.logits.baseAddress!, features: a.headFeatures.baseAddress!, gridHeight: h, gridWidth: w,
                      height: a.height, width: a.width, planes: a.logitPlanes.baseAddress!, dPatchLogits: a.patchLogits.baseAddress!,
                      into: scratch.dHeadFeatures, gradients: gradients, threads: threads)
        let blocks = head.config.blocks
        let dHeadFeatures = scratch.dHeadFeatures
        backbone.adaptedBackward(from: blocks.max()!, a.backbone, adapter: adapter, prepared: prepared, a.adapter, saved: saved,
                                 scratch: scratch, recompute: recompute, trainable: config.trainable,
                                 gradients: gradients) { l, dStream in
            for (j, b) in blocks.enumerated() where b == l {
                head.normBackward(j, dHeadFeatures + j * n * c, patches: saved.stream(l + 1) + first, saved: saved.head[j],
                                  rows: n, into: dStream + first, gradients: gradients, threads: threads)
            }
        }
    }
}
