// GradientStore.swift — one zero-initialised flat float buffer holding the
// gradient of every trainable tensor at the same offset as its value in the
// model's trainable storage (ParameterLayout order); backward passes ADD their
// contributions, looking a tensor's gradient up by its Parameter.
// Owned by one trainer at a time; pointers stay valid for its lifetime.

import Model
import Tensor

public final class GradientStore {
    public let layout: ParameterLayout
    /// The values these are the gradients of (nil: a store used by index only).
    public let values: ParameterStorage?
    private let storage: UnsafeMutableBufferPointer<Float>

    /// Gradients of `model`'s trainable tensors.
    public convenience init(model: SegmentationModel) throws(TrainingError) {
        self.init(layout: try ParameterLayout(model), values: model.trainableStorage)
    }

    /// Gradients of a Mask2Former model's trainable tensors.
    public convenience init(model: Mask2FormerModel) throws(TrainingError) {
        self.init(layout: try ParameterLayout(model), values: model.trainableStorage)
    }

    public init(layout: ParameterLayout, values: ParameterStorage? = nil) {
        precondition(values == nil || values!.count == max(layout.valueCount, 1), "GradientStore: values do not match the layout")
        self.layout = layout
        self.values = values
        storage = .allocate(capacity: max(layout.valueCount, 1))
        storage.initialize(repeating: 0)
    }

    deinit { storage.deallocate() }

    /// The gradient buffer of tensor `index` (layout order).
    public subscript(index: Int) -> UnsafeMutablePointer<Float> { storage.baseAddress! + layout.offsets[index] }

    /// The gradient buffer of a trainable parameter (one viewing this store's values).
    public subscript(parameter: Parameter) -> UnsafeMutablePointer<Float> {
        guard let p = pointer(parameter) else { preconditionFailure("GradientStore: parameter \(parameter.shape) is not trainable") }
        return p
    }

    /// The gradient buffer of `parameter`, or nil when it is not trainable (not in this store's values).
    public func pointer(_ parameter: Parameter) -> UnsafeMutablePointer<Float>? {
        guard let values, parameter.buffer === values else { return nil }
        return storage.baseAddress! + parameter.offset
    }

    /// What the model's backward passes add into (needs the values this store was made for).
    public var destinations: ParameterGradients {
        guard let values else { preconditionFailure("GradientStore: made without the model's values (use GradientStore(model:))") }
        return ParameterGradients(values: values, buffer: storage.baseAddress!)
    }

    /// Values of tensor `index`.
    public func buffer(_ index: Int) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: self[index], count: layout.specs[index].count)
    }

    /// Sets every gradient to zero.
    public func zero() { storage.update(repeating: 0) }

    /// Adds `other` (one value per gradient, layout order) into this store, value by value.
    /// The one place a step sums its samples' gradients (Trainer), so a step that gathers them
    /// from several processes adds exactly as one process does.
    public func add(_ other: UnsafeBufferPointer<Float>) {
        precondition(other.count == layout.valueCount, "GradientStore.add: \(other.count) values, the layout has \(layout.valueCount)")
        for i in 0 ..< other.count { storage[i] += other[i] }
    }

    /// Multiplies every gradient by `factor`.
    public func scale(by factor: Float) {
        for i in 0 ..< storage.count { storage[i] *= factor }
    }

    /// A copy of tensor `index`'s gradient.
    public func tensor(_ index: Int) -> Tensor {
        Tensor(shape: layout.specs[index].shape, storage: Array(buffer(index)))
    }

    /// All values, in layout order.
    public var all: UnsafeMutableBufferPointer<Float> { storage }
}
