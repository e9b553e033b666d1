// ParameterWalk.swift — the one description of a model's parameters.
//
// Every layer lists its parameter tensors once, in `walkParameters`: name,
// shape, weight-decay group, and (when a file stores it differently) the file
// shape. Everything else is derived from that walk by a visitor:
//   * loading a state dict (DINOv2 weights, ctpipe and MMSeg checkpoints):
//     `ParameterReader` binds every parameter to one flat storage and fills it
//     from the file's tensors, checking each by name and shape, then nothing
//     may be left over;
//   * saving: `ParameterWriter` collects name -> tensor;
//   * the training layout (which tensors train, their order, decay groups):
//     `ParameterList`, and `ParameterRebinder` moves the trainable ones into one
//     contiguous storage that gradients and optimiser moments mirror.
// Names are the checkpoint names (method.md §6): official DINOv2 names under
// `backbone.`, Rein / Causal-Tune names under `backbone.reins.` and `decode_head.`.
// Adding a tensor to a layer is one line in its walk.

import CTCore
import Tensor

/// Where a layer's parameters sit in the model: their name prefix and whether training updates them.
public struct ParameterScope: Sendable, Equatable {
    public var prefix: String
    public var trainable: Bool

    public init(prefix: String = "", trainable: Bool = false) {
        self.prefix = prefix
        self.trainable = trainable
    }

    /// The scope of a sub-layer `name` (`prefix` + name + ".").
    public func child(_ name: String) -> ParameterScope {
        ParameterScope(prefix: prefix + name + ".", trainable: trainable)
    }

    /// The scope with training switched on or off.
    public func training(_ on: Bool) -> ParameterScope { ParameterScope(prefix: prefix, trainable: on) }

    /// The full name of leaf tensor `name`.
    public func name(_ name: String) -> String { prefix + name }
}

/// What a walk tells about one parameter tensor.
public struct ParameterInfo: Sendable, Equatable {
    /// The checkpoint name.
    public let name: String
    public let shape: [Int]
    /// In AdamW's weight-decay group (method.md §4: no decay on norms, adapter tokens and s).
    public let decay: Bool
    /// Updated by training (adapter and head; the backbone only when fine-tuned).
    public let trainable: Bool
    /// Other shapes a file may store it under (the head classifier as a 1x1 convolution, s as [1]);
    /// the first is the one ctpipe writes.
    public let fileShapes: [[Int]]

    public var count: Int { shape.reduce(1, *) }
    /// The shape ctpipe writes to files.
    public var writtenShape: [Int] { fileShapes.first ?? shape }
}

/// Sees every parameter of a walk, in walk order, and may rebind it.
public protocol ParameterVisitor {
    mutating func visit(_ parameter: inout Parameter, _ info: ParameterInfo) throws(WeightError)
}

/// A layer (or model) whose parameters can be walked.
public protocol ParameterWalkable {
    mutating func walkParameters<V: ParameterVisitor>(_ visitor: inout V, _ scope: ParameterScope) throws(WeightError)
}

extension ParameterVisitor {
    /// Visits `parameter` as tensor `name` of `scope`.
    public mutating func visit(_ parameter: inout Parameter, _ name: String, in scope: ParameterScope, decay: Bool,
                               fileShapes: [[Int]] = []) throws(WeightError) {
        try visit(&parameter, ParameterInfo(name: scope.name(name), shape: parameter.shape, decay: decay,
                                            trainable: scope.trainable, fileShapes: fileShapes))
    }
}

extension ParameterWalkable {
    /// Every parameter's description, in walk order.
    public func parameterInfos(_ scope: ParameterScope = .init()) -> [ParameterInfo] {
        var list = ParameterList()
        var copy = self
        try? copy.walkParameters(&list, scope)
        return list.infos
    }

    /// Every parameter's values by checkpoint name (copies, in the shape ctpipe writes).
    public func stateDict(_ scope: ParameterScope = .init(), where keep: @escaping (ParameterInfo) -> Bool = { _ in true }) -> [String: Tensor] {
        var writer = ParameterWriter(keep: keep)
        var copy = self
        try? copy.walkParameters(&writer, scope)
        return writer.tensors
    }

    /// Binds every parameter to one new storage, filled from `tensors` by name (see ParameterReader).
    public mutating func readParameters(_ scope: ParameterScope = .init(), from reader: inout ParameterReader) throws(WeightError) {
        let total = parameterInfos(scope).filter(reader.include).reduce(0) { $0 + $1.count }
        reader.storage = ParameterStorage(count: total, filledByCaller: true)
        reader.offset = 0
        try walkParameters(&reader, scope)
    }
}

/// Collects the walk's descriptions.
public struct ParameterList: ParameterVisitor {
    public private(set) var infos: [ParameterInfo] = []
    public init() {}
    public mutating func visit(_ parameter: inout Parameter, _ info: ParameterInfo) throws(WeightError) { infos.append(info) }

    /// Number of values in the parameters of `layer` that `select` picks.
    public static func count(of layer: some ParameterWalkable, where select: (ParameterInfo) -> Bool = { _ in true }) -> Int {
        layer.parameterInfos().filter(select).reduce(0) { $0 + $1.count }
    }
}

/// Copies the values out, by checkpoint name.
public struct ParameterWriter: ParameterVisitor {
    public private(set) var tensors: [String: Tensor] = [:]
    let keep: (ParameterInfo) -> Bool
    public init(keep: @escaping (ParameterInfo) -> Bool = { _ in true }) { self.keep = keep }
    public mutating func visit(_ parameter: inout Parameter, _ info: ParameterInfo) throws(WeightError) {
        guard keep(info) else { return }
        tensors[info.name] = Tensor(shape: info.writtenShape, storage: Array(parameter.values))
    }
}

/// Fills parameters from a file's tensors: each expected tensor must be present
/// (under the names `sourceNames` gives; several are concatenated along the
/// first axis) with the expected shape or one of its file shapes. Each tensor
/// is released from `tensors` once copied, so the file's values and the
/// model's are not both held in full. `unused` lists what is left afterwards.
public struct ParameterReader: ParameterVisitor {
    /// The file's tensors not yet taken.
    public private(set) var tensors: [String: Tensor]
    /// The file (for messages).
    public let path: String
    /// How names are shown in messages (e.g. with the prefix the file uses).
    let shown: (String) -> String
    /// File-side name(s) of a checkpoint name.
    let sourceNames: (String) -> [String]
    /// Only parameters this accepts are read; the others are left unbound.
    let include: (ParameterInfo) -> Bool
    var storage = ParameterStorage(count: 0)
    var offset = 0
    /// Bytes of file copies freed since the heap last returned memory to the system.
    var freedBytes = 0
    static let releaseEvery = 64 << 20

    public init(tensors: [String: Tensor], path: String, shown: @escaping (String) -> String = { $0 },
                sourceNames: @escaping (String) -> [String] = { [$0] },
                include: @escaping (ParameterInfo) -> Bool = { _ in true }) {
        self.tensors = tensors
        self.path = path
        self.shown = shown
        self.sourceNames = sourceNames
        self.include = include
    }

    /// Names of the file's tensors no parameter took, sorted.
    public var unused: [String] { tensors.keys.sorted() }

    public mutating func visit(_ parameter: inout Parameter, _ info: ParameterInfo) throws(WeightError) {
        guard include(info) else { return }
        let names = sourceNames(info.name)
        let shapes = [info.shape] + info.fileShapes
        let parts = names.count
        let bound = Parameter(shape: info.shape, storage: storage, offset: offset)
        var filled = 0
        for name in names {
            let expected = parts == 1 ? shapes : shapes.map { [$0[0] / parts] + $0.dropFirst() }
            guard let t = tensors.removeValue(forKey: name) else {
                throw WeightError(path: path, tensor: shown(name), reason: "missing (expected shape \(Self.describe(expected[0])))")
            }
            guard expected.contains(t.shape) else {
                throw WeightError(path: path, tensor: shown(name),
                                  reason: "expected shape \(Self.describe(expected[0])), found \(t.shapeDescription)")
            }
            t.withUnsafeBufferPointer { source in
                (bound.values.baseAddress! + filled).update(from: source.baseAddress!, count: source.count)
            }
            filled += t.count
            freedBytes += t.count * MemoryLayout<Float>.size
        }
        offset += info.count
        parameter = bound
        if freedBytes >= Self.releaseEvery {
            FreedMemory.release()
            freedBytes = 0
        }
    }

    static func describe(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }
}

/// Moves the parameters `select` picks into one new contiguous storage (copying
/// their values), in walk order; the others stay where they are. A trainer uses it
/// so that the trainable values form one flat buffer.
public struct ParameterRebinder: ParameterVisitor {
    public let storage: ParameterStorage
    let select: (ParameterInfo) -> Bool
    var offset = 0

    public init(count: Int, select: @escaping (ParameterInfo) -> Bool) {
        storage = ParameterStorage(count: count)
        self.select = select
    }

    public mutating func visit(_ parameter: inout Parameter, _ info: ParameterInfo) throws(WeightError) {
        guard select(info) else { return }
        let moved = Parameter(shape: info.shape, storage: storage, offset: offset)
        // Copied inside the old parameter's own method call: `parameter.values` alone hands out a
        // pointer, after which the optimiser may release the old storage (its last reference) before
        // the copy reads it — a use after free that AddressSanitizer showed in release builds.
        parameter.withUnsafeBufferPointer { _ = moved.values.update(fromContentsOf: $0) }
        parameter = moved
        offset += info.count
    }
}
