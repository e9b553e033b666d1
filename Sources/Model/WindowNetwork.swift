// WindowNetwork.swift — what slide inference needs of a network: scores of
// crop x crop windows, which Inference.Segmenter averages over the image. The
// linear-head model scores a window with its logits; the Mask2Former model with
// its class-weighted mask probabilities (mmseg's Mask2FormerHead.predict). Each
// worker owns its arenas (one per window size); the network itself is shared.

import Tensor

/// A network slide inference can run.
public protocol WindowNetwork: Sendable {
    /// Classes K.
    var classes: Int { get }
    /// Window sides must be multiples of it.
    var patchSize: Int { get }
    /// What logs and reports say about the network.
    var summary: NetworkSummary { get }
    /// A worker's buffers for windows of side x side, its kernels split over `threads`.
    func makeWindowArena(side: Int, threads: Int) throws(ModelInputError) -> any WindowArena
    /// The backbone and the adapter after its blocks (features exports read them).
    var adaptedBackbone: AdaptedBackbone { get }
}

/// A backbone with the adapter that refines its patch tokens after every block.
public struct AdaptedBackbone: Sendable {
    public var backbone: DINOv2
    /// nil without an adapter.
    public var adapter: CausalTuneAdapter?
    public var prepared: PreparedAdapter?

    public init(backbone: DINOv2, adapter: CausalTuneAdapter?, prepared: PreparedAdapter?) {
        (self.backbone, self.adapter, self.prepared) = (backbone, adapter, prepared)
    }
}

/// One worker's buffers for one window size. Not shared between threads.
public protocol WindowArena: AnyObject {
    /// The scores (K, side, side) of one normalised window (3, side, side); valid until the next call.
    func scores(_ window: UnsafeBufferPointer<Float>) throws(ModelInputError) -> UnsafePointer<Float>
}

/// A network described in words.
public struct NetworkSummary: Sendable, Equatable {
    public var adapter: String
    public var backbone: String
    public var head: String
    public var classes: Int

    public init(adapter: String, backbone: String, head: String, classes: Int) {
        (self.adapter, self.backbone, self.head, self.classes) = (adapter, backbone, head, classes)
    }
}

extension SegmentationModel: WindowNetwork {
    public var patchSize: Int { backbone.config.patchSize }

    public var summary: NetworkSummary {
        NetworkSummary(adapter: config.adapter.kind.rawValue, backbone: config.backboneName ?? "\(config.backbone.embedDim)-wide",
                       head: "linear", classes: classes)
    }

    public var adaptedBackbone: AdaptedBackbone { AdaptedBackbone(backbone: backbone, adapter: adapter, prepared: prepared) }

    public func makeWindowArena(side: Int, threads: Int) throws(ModelInputError) -> any WindowArena {
        LinearHeadWindowArena(model: self, activations: try makeActivations(height: side, width: side, threads: threads))
    }
}

/// The linear-head model's window arena: its activations; the scores are the logits.
final class LinearHeadWindowArena: WindowArena {
    let model: SegmentationModel
    let activations: SegmentationActivations

    init(model: SegmentationModel, activations: consuming SegmentationActivations) {
        self.model = model
        self.activations = activations
    }

    func scores(_ window: UnsafeBufferPointer<Float>) throws(ModelInputError) -> UnsafePointer<Float> {
        try model.forward(window, activations)
        return UnsafePointer(activations.logits.baseAddress!)
    }
}

extension Mask2FormerModel: WindowNetwork {
    public var patchSize: Int { backbone.config.patchSize }

    public var summary: NetworkSummary {
        NetworkSummary(adapter: config.adapter.kind.rawValue, backbone: "\(backbone.config.embedDim)-wide, \(backbone.config.depth) blocks",
                       head: "mask2former", classes: classes)
    }

    public var adaptedBackbone: AdaptedBackbone { AdaptedBackbone(backbone: backbone, adapter: adapter, prepared: prepared) }

    public func makeWindowArena(side: Int, threads: Int) throws(ModelInputError) -> any WindowArena {
        Mask2FormerWindowArena(model: self, workspace: try makeWorkspace(height: side, width: side, threads: threads))
    }
}

/// The Mask2Former model's window arena: its workspace; the scores are the semantic scores.
final class Mask2FormerWindowArena: WindowArena {
    let model: Mask2FormerModel
    let workspace: Mask2FormerWorkspace

    init(model: Mask2FormerModel, workspace: Mask2FormerWorkspace) {
        self.model = model
        self.workspace = workspace
    }

    func scores(_ window: UnsafeBufferPointer<Float>) throws(ModelInputError) -> UnsafePointer<Float> {
        try model.scores(window, workspace)
        return UnsafePointer(workspace.scores.baseAddress!)
    }
}
