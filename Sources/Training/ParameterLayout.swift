// ParameterLayout.swift — the trainable tensors of a segmentation model, as the
// model's parameter walk lists them (Model/ParameterWalk.swift): adapter
// (tokens or A, B; s; MLP_t; MLP_f), head (norms, classifier), then — with a
// trainable backbone — cls token, position embedding, registers, patch
// embedding and every block up to the last one the head reads (later blocks
// and the final norm do not reach the loss and are left out, as PyTorch's AdamW
// skips parameters without a gradient). Decay groups come from the walk too.
// The values themselves sit in the model's one trainable storage, in this
// order; gradients and optimiser moments use the same offsets. A Mask2Former
// model lays out the same way: adapter (query link included), the whole head,
// then the fine-tuned backbone blocks (docs/mask2former.md, "Training layout").

import Model
import Tensor

/// One trainable tensor.
public struct ParameterSpec: Sendable, Equatable {
    /// The checkpoint name (method.md §6).
    public let name: String
    public let shape: [Int]
    /// In the weight-decay group.
    public let decay: Bool
    public var count: Int { shape.reduce(1, *) }
    public init(name: String, shape: [Int], decay: Bool) {
        self.name = name
        self.shape = shape
        self.decay = decay
    }
}

/// The trainable tensors of one model configuration and where each one sits in the flat buffers.
public struct ParameterLayout: Sendable, Equatable {
    public let specs: [ParameterSpec]
    /// Index of each tensor's first value in the flat buffers.
    public let offsets: [Int]

    /// The layout of `model`'s trainable tensors (the backbone's too when its configuration says trainable).
    public init(_ model: SegmentationModel) throws(TrainingError) {
        if model.config.trainable, model.backbone.config.ffn != .mlp {
            throw TrainingError("training the backbone is supported for MLP feed-forward blocks (vits14, vitb14, vitl14, tiny); this backbone has SwiGLU blocks")
        }
        try self.init(specs: model.parameterInfos().filter(\.trainable).map {
            ParameterSpec(name: $0.name, shape: $0.shape, decay: $0.decay)
        })
    }

    /// The layout of a Mask2Former model's trainable tensors: adapter (query link included), head,
    /// and the backbone's blocks when it is fine-tuned (`Mask2FormerModel.training(backbone:)`).
    public init(_ model: Mask2FormerModel) throws(TrainingError) {
        if model.trainsBackbone, model.backbone.config.ffn != .mlp {
            throw TrainingError("training the backbone is supported for MLP feed-forward blocks (vits14, vitb14, vitl14, tiny); this backbone has SwiGLU blocks")
        }
        try self.init(specs: model.parameterInfos().filter(\.trainable).map {
            ParameterSpec(name: $0.name, shape: $0.shape, decay: $0.decay)
        })
    }

    /// A plain list of tensors with no model behind it (optimiser tests, tools).
    public init(specs: [ParameterSpec]) throws(TrainingError) {
        guard Set(specs.map(\.name)).count == specs.count else { throw TrainingError("parameter names must be unique") }
        self.specs = specs
        var offsets: [Int] = [], total = 0
        for spec in specs {
            offsets.append(total)
            total += spec.count
        }
        self.offsets = offsets
    }

    /// Number of trainable tensors.
    public var count: Int { specs.count }
    /// Number of trainable values.
    public var valueCount: Int { specs.reduce(0) { $0 + $1.count } }

    /// Copies of the tensors in flat `values` (layout order), e.g. a model's trainable storage.
    public func tensors(in values: UnsafeBufferPointer<Float>) -> [Tensor] {
        zip(specs, offsets).map { Tensor(shape: $0.shape, storage: Array(values[$1 ..< $1 + $0.count])) }
    }

    /// Copies of `model`'s trainable tensors, in layout order.
    public func tensors(of model: SegmentationModel) -> [Tensor] {
        tensors(in: UnsafeBufferPointer(model.trainableStorage.values))
    }

    /// Copies of a Mask2Former model's trainable tensors, in layout order.
    public func tensors(of model: Mask2FormerModel) -> [Tensor] {
        tensors(in: UnsafeBufferPointer(model.trainableStorage.values))
    }
}
