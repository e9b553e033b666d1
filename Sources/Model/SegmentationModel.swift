// SegmentationModel.swift — backbone + adapter after every block + linear head:
// image (3, H, W), normalised -> logits (K, H, W) (method.md §1–3).
//
// The backbone runs through the last block the head reads; after each block the
// adapter refines the patch tokens (CLS and registers untouched), and the head
// takes LayerNorm'ed copies of the refined patch tokens of its blocks.
// Parameters are immutable here; the parameter-only adapter products
// (PreparedAdapter) are computed once when the model is made.

import Tensor

public struct SegmentationModel: Sendable {
    public let config: SegmentationConfig
    public let backbone: DINOv2
    /// nil for adapter kind `none`.
    public let adapter: CausalTuneAdapter?
    public let head: LinearHead
    public let prepared: PreparedAdapter?

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
    }

    /// A model around existing backbone weights with freshly initialised adapter and head (seeded).
    public static func initialised(backbone: DINOv2, backboneName: String? = nil, backboneWeights: String? = nil,
                                   adapter: AdapterConfig, head: LinearHeadConfig? = nil, seed: UInt64 = 0) throws(ModelInputError) -> SegmentationModel {
        var rng = SeededGenerator(seed: seed)
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
    /// passes over it split every step over `threads` chunks.
    public func makeActivations(height: Int, width: Int, retainForBackward: Bool = false,
                                threads: Int) throws(ModelInputError) -> SegmentationActivations {
        let b = try backbone.makeActivations(height: height, width: width, threads: threads)
        let a = AdapterActivations(config: config.adapter, embedDim: backbone.config.embedDim, layers: backbone.config.depth,
                                   gridHeight: b.gridHeight, gridWidth: b.gridWidth, retainForBackward: retainForBackward,
                                   threads: threads)
        return SegmentationActivations(backbone: b, adapter: a, headBlocks: head.config.blocks.count, classes: classes)
    }

    /// Runs the model on an image (3, H, W), normalised; the logits land in `a.logits` (K, H, W).
    public func forward(_ image: UnsafeBufferPointer<Float>, _ a: borrowing SegmentationActivations) throws(ModelInputError) {
        try forwardPatchLogits(image, a)
        let h = a.backbone.gridHeight, w = a.backbone.gridWidth
        head.upsample(a.patchLogits.baseAddress!, gridHeight: h, gridWidth: w, planes: a.logitPlanes.baseAddress!,
                      height: a.height, width: a.width, into: a.logits.baseAddress!, threads: a.threads)
    }

    /// The forward pass up to the head's patch logits `a.patchLogits` (N, K), before upsampling.
    public func forwardPatchLogits(_ image: UnsafeBufferPointer<Float>, _ a: borrowing SegmentationActivations) throws(ModelInputError) {
        let blocks = head.config.blocks
        let last = blocks.max()!
        let n = a.backbone.gridHeight * a.backbone.gridWidth, c = backbone.config.embedDim
        let first = (1 + backbone.config.registers) * c
        let features = a.headFeatures.baseAddress!
        let adapter = self.adapter, prepared = self.prepared, head = self.head, threads = a.threads
        try backbone.forward(image, a.backbone, through: last) { block, x in
            let patches = x.baseAddress! + first
            if let adapter, let prepared {
                adapter.forward(layer: block, patches: patches, prepared: prepared, a.adapter)
            }
            for (j, b) in blocks.enumerated() where b == block {
                head.normalise(j, patches: patches, rows: n, into: features + j * n * c, threads: threads)
            }
        }
        head.classify(features, rows: n, into: a.patchLogits.baseAddress!, threads: threads)
    }
}
