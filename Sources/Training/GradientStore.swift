// GradientStore.swift — one zero-initialised float buffer per trainable tensor
// (ParameterLayout order), where backward passes ADD their contributions.
// Owned by one trainer at a time; pointers stay valid for its lifetime.

import Tensor

public final class GradientStore {
    public let layout: ParameterLayout
    private let storage: UnsafeMutableBufferPointer<Float>
    private let offsets: [Int]

    public init(layout: ParameterLayout) {
        self.layout = layout
        var offsets: [Int] = []
        var total = 0
        for spec in layout.specs {
            offsets.append(total)
            total += spec.count
        }
        self.offsets = offsets
        storage = .allocate(capacity: max(total, 1))
        storage.initialize(repeating: 0)
    }

    deinit { storage.deallocate() }

    /// The gradient buffer of tensor `index`.
    public subscript(index: Int) -> UnsafeMutablePointer<Float> { storage.baseAddress! + offsets[index] }

    /// The gradient buffer of tensor `index`, or nil for an absent tensor.
    public func pointer(_ index: Int?) -> UnsafeMutablePointer<Float>? { index.map { self[$0] } }

    /// Values of tensor `index`.
    public func buffer(_ index: Int) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: self[index], count: layout.specs[index].count)
    }

    /// Sets every gradient to zero.
    public func zero() { storage.update(repeating: 0) }

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
