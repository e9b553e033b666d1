// Parameter.swift — a model's weight tensor as a view into a flat float buffer.
//
// Layers hold `Parameter`s, not arrays: each is a shape plus an offset into a
// `ParameterStorage` that many parameters share. A loaded backbone keeps all
// its tensors in one storage; a trainer moves the trainable ones into one
// contiguous storage (in the model's parameter-walk order), so its gradients
// and optimiser moments are buffers of the same layout and AdamW updates the
// values in place: a training step neither copies parameters nor rebuilds the
// model. A `Parameter` is a value (shape, storage, offset); the values it views
// are shared by every copy of the model holding it. Whoever writes them (the
// trainer, between its steps) must own the model at that time.

/// A flat float buffer shared by the parameters that view it.
public final class ParameterStorage: @unchecked Sendable {
    /// Every value, in the order the parameters were bound.
    public let values: UnsafeMutableBufferPointer<Float>

    /// `count` zeros; or, with `filledByCaller`, untouched memory that the caller writes in full
    /// before anything reads it (a loader: the pages of a large model then become resident one
    /// tensor at a time, as the file's copies are released).
    public init(count: Int, filledByCaller: Bool = false) {
        values = .allocate(capacity: max(count, 1))
        if !filledByCaller { values.initialize(repeating: 0) }
    }

    deinit { values.deallocate() }

    public var count: Int { values.count }
}

/// A shaped view of `count` values in a `ParameterStorage`.
public struct Parameter: Sendable, Equatable {
    /// Extent of each axis, outermost first (`[]`: a scalar).
    public let shape: [Int]
    /// Number of values.
    public let count: Int
    /// The buffer viewed (nil while unbound: a parameter declared by shape only).
    public let buffer: ParameterStorage?
    /// Index of the first value in `storage`.
    public let offset: Int

    /// A parameter of `shape` with no values yet (bound later by a parameter walk).
    public init(unbound shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Parameter: negative extent in \(shape)")
        self.shape = shape
        count = shape.reduce(1, *)
        buffer = nil
        offset = 0
    }

    /// A view of `storage[offset ..< offset + count]`.
    public init(shape: [Int], storage: ParameterStorage, offset: Int) {
        let count = shape.reduce(1, *)
        precondition(shape.allSatisfy { $0 >= 0 } && offset >= 0 && offset + count <= storage.count,
                     "Parameter: \(shape) at \(offset) does not fit a storage of \(storage.count)")
        self.shape = shape
        self.count = count
        self.buffer = storage
        self.offset = offset
    }

    /// A parameter with its own storage holding a copy of `tensor`.
    public init(_ tensor: Tensor) {
        let storage = ParameterStorage(count: tensor.count)
        tensor.withUnsafeBufferPointer { _ = storage.values.update(fromContentsOf: $0) }
        self.init(shape: tensor.shape, storage: storage, offset: 0)
    }

    /// Whether the parameter views values.
    public var isBound: Bool { buffer != nil }

    /// The values viewed. Traps on an unbound parameter (a programming error: every
    /// model is bound by its loader, initialiser or trainer before it runs).
    @inlinable
    public var values: UnsafeMutableBufferPointer<Float> {
        guard let buffer else { preconditionFailure("Parameter \(shape): read before it was bound") }
        return UnsafeMutableBufferPointer(rebasing: buffer.values[offset ..< offset + count])
    }

    /// Reads the values through a pointer (no copy).
    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(values))
    }

    /// A copy of the values as a tensor.
    public var tensor: Tensor { Tensor(shape: shape, storage: Array(values)) }

    /// A copy of the values (as `Tensor.storage`).
    public var storage: [Float] { Array(values) }

    /// Same shape and values (wherever they are stored).
    public static func == (a: Parameter, b: Parameter) -> Bool {
        guard a.isBound, b.isBound else { return a.shape == b.shape && a.isBound == b.isBound }
        return a.shape == b.shape && (a.buffer === b.buffer && a.offset == b.offset || a.values.elementsEqual(b.values))
    }

    /// The shape written as PyTorch prints it, e.g. `[384, 3, 14, 14]`.
    public var shapeDescription: String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }
}
