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

    /// An arena for inputs of height x width (multiples of the patch size).
    public func makeActivations(height: Int, width: Int, retainForBackward: Bool = false) throws(ModelInputError) -> SegmentationActivations {
        let b = try backbone.makeActivations(height: height, width: width)
        let a = AdapterActivations(config: config.adapter, embedDim: backbone.config.embedDim, layers: backbone.config.depth,
                                   gridHeight: b.gridHeight, gridWidth: b.gridWidth, retainForBackward: retainForBackward)
        return SegmentationActivations(backbone: b, adapter: a, headBlocks: head.config.blocks.count, classes: classes)
    }

    /// Runs the model on an image (3, H, W), normalised; the logits land in `a.logits` (K, H, W).
    public func forward(_ image: UnsafeBufferPointer<Float>, _ a: borrowing SegmentationActivations) throws(ModelInputError) {
        try forwardPatchLogits(image, a)
        let h = a.backbone.gridHeight, w = a.backbone.gridWidth
        head.upsample(a.patchLogits.baseAddress!, gridHeight: h, gridWidth: w, planes: a.logitPlanes.baseAddress!,
                      height: a.height, width: a.width, into: a.logits.baseAddress!)
    }

    /// The forward pass up to the head's patch logits `a.patchLogits` (N, K), before upsampling.
    public func forwardPatchLogits(_ image: UnsafeBufferPointer<Float>, _ a: borrowing SegmentationActivations) throws(ModelInputError) {
        let blocks = head.config.blocks
        let last = blocks.max()!
        let n = a.backbone.gridHeight * a.backbone.gridWidth, c = backbone.config.embedDim
        let first = (1 + backbone.config.registers) * c
        let features = a.headFeatures.baseAddress!
        let adapter = self.adapter, prepared = self.prepared, head = self.head
        try backbone.forward(image, a.backbone, through: last) { block, x in
            let patches = x.baseAddress! + first
            if let adapter, let prepared {
                adapter.forward(layer: block, patches: patches, prepared: prepared, a.adapter)
            }
            for (j, b) in blocks.enumerated() where b == block {
                head.normalise(j, patches: patches, rows: n, into: features + j * n * c)
            }
        }
        head.classify(features, rows: n, into: a.patchLogits.baseAddress!)
    }
}
