// Tensor.swift — a shaped, contiguous float32 array: the value type weights
// and exported features travel in.
//
// Row-major (C order), no strides: a view of another layout is always a copy,
// made explicitly. Activations inside a forward pass do not use this type; they
// live in arenas of raw buffers (see the Model target).

/// A dense float32 array in row-major order.
public struct Tensor: Sendable, Equatable {
    /// Extent of each axis, outermost first. `[]` is a scalar holding one value.
    public let shape: [Int]
    /// The elements, `shape.reduce(1, *)` of them.
    public var storage: [Float]

    /// Wraps `storage` (which must hold exactly `shape.reduce(1, *)` values).
    public init(shape: [Int], storage: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative extent in \(shape)")
        precondition(storage.count == shape.reduce(1, *),
                     "Tensor: \(storage.count) values for shape \(shape)")
        self.shape = shape
        self.storage = storage
    }

    /// A tensor of zeros.
    public init(zeros shape: [Int]) {
        self.init(shape: shape, storage: [Float](repeating: 0, count: shape.reduce(1, *)))
    }

    /// Number of elements.
    public var count: Int { storage.count }

    /// The same values under another shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(newShape.reduce(1, *) == count, "Tensor.reshaped: \(shape) cannot become \(newShape)")
        return Tensor(shape: newShape, storage: storage)
    }

    /// Reads the elements through a pointer (no copy).
    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try storage.withUnsafeBufferPointer(body)
    }

    /// Writes the elements through a pointer (copies first only if the storage is shared).
    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try storage.withUnsafeMutableBufferPointer { try body($0) }
    }

    /// The shape written as PyTorch prints it, e.g. `[384, 3, 14, 14]`.
    public var shapeDescription: String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }
}
