// Pickle.swift — a reader for the pickle subset that `torch.save` writes.
//
// Nothing in the stream is ever executed. The opcodes accepted are those the
// Python pickler emits for dicts, lists, tuples, numbers, strings, bytes, sets
// and objects at protocols 2-5 (torch.save uses 2); any other opcode (the text
// opcodes of protocol 0, INST/OBJ, extension registry, out-of-band buffers) is
// rejected with its name and byte offset. Globals are only recorded by name:
// calling `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2` /
// `_rebuild_parameter`, `_codecs.encode` gives the matching value, and calling
// anything else gives an opaque `.object(name)` (numpy arrays and scalars,
// classes of the training code in an MMSegmentation checkpoint's `meta`, for
// example), which the checkpoint reader rejects only if the tensors it needs
// are behind it. Items added to an opaque object (a dict or list subclass, a
// set) are dropped; integers wider than 64 bits are opaque too.

/// A reference to one storage of the archive (`data/<key>`).
struct TorchStorageRef: Equatable {
    /// The storage class, e.g. `torch.FloatStorage`.
    let typeName: String
    /// The element type, when it is one ctpipe reads (float32/16, bfloat16, float64).
    let dtype: StoredDType?
    let key: String
    let count: Int
}

/// A tensor as `_rebuild_tensor_v2` describes it: a strided view of a storage.
struct TorchTensorRef: Equatable {
    let storage: TorchStorageRef
    let offset: Int
    let shape: [Int]
    let stride: [Int]
}

/// A mutable list or dict (pickle fills them after memoising them). `depth` is the
/// nesting depth of what it holds (1 for a list of scalars); `sealed` is set once it is
/// an item of another container, after which it may not change (see Unpickler.maxDepth).
final class PickleList { var items: [PickleValue] = []; var depth = 1; var sealed = false }
final class PickleDict {
    var items: [(key: PickleValue, value: PickleValue)] = []
    var depth = 1
    var sealed = false
}

indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    case global(String)
    case storage(TorchStorageRef)
    case tensor(TorchTensorRef)
    case object(String)

    /// A short description for error messages.
    var kind: String {
        switch self {
        case .none: "None"
        case .bool: "bool"
        case .int: "int"
        case .float: "float"
        case .string: "str"
        case .bytes: "bytes"
        case .tuple: "tuple"
        case .list: "list"
        case .dict: "dict"
        case .global(let name): "the global \(name)"
        case .storage: "a storage"
        case .tensor: "a tensor"
        case .object(let name): "an object built by \(name)"
        }
    }
}

struct Unpickler {
    /// The deepest nesting of tuples, lists and dicts accepted (a state dict needs 3 or 4).
    /// Deeper streams are refused before the value is built, so that nothing recursive
    /// (releasing a value, describing it) ever walks further than this. A list or dict
    /// becomes read-only once it is placed inside another container, so depths recorded
    /// at that moment stay true and no value can contain itself.
    static let maxDepth = 1000

    /// A value on the stack or in the memo, with the nesting depth of a tuple (lists and
    /// dicts carry theirs, as items are added to them later).
    struct Entry {
        let value: PickleValue
        let tupleDepth: Int
        var depth: Int {
            switch value {
            case .list(let l): l.depth
            case .dict(let d): d.depth
            case .tuple: tupleDepth
            default: 0
            }
        }
    }

    let bytes: UnsafeRawBufferPointer
    let path: String
    private var position = 0
    private var stack: [Entry] = []
    private var marks: [Int] = []
    private var memo: [Int: Entry] = [:]

    init(_ bytes: UnsafeRawBufferPointer, path: String) {
        self.bytes = bytes
        self.path = path
    }

    private func fail(_ reason: String) -> WeightError { WeightError(path: path, reason: "pickle: \(reason)") }

    private mutating func read(_ n: Int) throws(WeightError) -> UnsafeRawBufferPointer {
        guard n >= 0, n <= bytes.count - position else { throw fail("truncated stream at byte \(position)") }
        defer { position += n }
        return UnsafeRawBufferPointer(rebasing: bytes[position ..< position + n])
    }

    private mutating func byte() throws(WeightError) -> UInt8 { try read(1)[0] }
    private mutating func u16() throws(WeightError) -> Int { Int(UInt16(littleEndian: try read(2).loadUnaligned(as: UInt16.self))) }
    private mutating func u32() throws(WeightError) -> Int { Int(UInt32(littleEndian: try read(4).loadUnaligned(as: UInt32.self))) }
    private mutating func i32() throws(WeightError) -> Int { Int(Int32(littleEndian: try read(4).loadUnaligned(as: Int32.self))) }
    private mutating func u64() throws(WeightError) -> Int {
        let v = UInt64(littleEndian: try read(8).loadUnaligned(as: UInt64.self))
        guard v <= UInt64(Int.max) else { throw fail("length \(v) too large at byte \(position)") }
        return Int(v)
    }

    private mutating func line() throws(WeightError) -> String {
        var end = position
        while end < bytes.count, bytes[end] != 0x0A { end += 1 }
        guard end < bytes.count else { throw fail("unterminated line at byte \(position)") }
        let s = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[position ..< end]), as: UTF8.self)
        position = end + 1
        return s
    }

    private mutating func popEntry() throws(WeightError) -> Entry {
        guard let v = stack.popLast(), stack.count >= (marks.last ?? 0) else { throw fail("stack underflow at byte \(position)") }
        return v
    }

    private mutating func pop() throws(WeightError) -> PickleValue { try popEntry().value }

    private mutating func popMarkEntries() throws(WeightError) -> [Entry] {
        guard let mark = marks.popLast(), mark <= stack.count else { throw fail("MARK missing at byte \(position)") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    private mutating func popMark() throws(WeightError) -> [PickleValue] { try popMarkEntries().map(\.value) }

    private mutating func top() throws(WeightError) -> PickleValue {
        guard let v = stack.last else { throw fail("stack underflow at byte \(position)") }
        return v.value
    }

    private mutating func push(_ v: PickleValue) { stack.append(Entry(value: v, tupleDepth: 0)) }

    /// Marks `items` as placed inside a container and returns the container's depth.
    private func seal(_ items: [Entry], into base: Int, at: Int) throws(WeightError) -> Int {
        var depth = base
        for item in items {
            switch item.value {
            case .list(let l): l.sealed = true
            case .dict(let d): d.sealed = true
            default: break
            }
            depth = max(depth, item.depth + 1)
        }
        guard depth <= Self.maxDepth else {
            throw fail("values nested deeper than \(Self.maxDepth) levels at byte \(at); a checkpoint never is")
        }
        return depth
    }

    private mutating func pushTuple(_ items: [Entry], at: Int) throws(WeightError) {
        let depth = try seal(items, into: 1, at: at)
        stack.append(Entry(value: .tuple(items.map(\.value)), tupleDepth: depth))
    }

    private func unsealed(_ sealed: Bool, _ op: String, at: Int) throws(WeightError) {
        guard !sealed else {
            throw fail("\(op) changes a list or dict already placed inside another value at byte \(at) (a self-referencing structure?)")
        }
    }

    /// Runs the stream to STOP and returns the top-level object.
    mutating func load(persistentLoad: (PickleValue) throws(WeightError) -> PickleValue) throws(WeightError) -> PickleValue {
        while true {
            let at = position
            let op = try byte()
            switch op {
            case 0x80: _ = try byte()                                    // PROTO
            case 0x95: _ = try read(8)                                   // FRAME
            case UInt8(ascii: "."):                                      // STOP
                guard stack.count == 1, marks.isEmpty else { throw fail("STOP with \(stack.count) values on the stack") }
                return stack[0].value
            case UInt8(ascii: "("): marks.append(stack.count)            // MARK
            case UInt8(ascii: "}"): push(.dict(PickleDict()))    // EMPTY_DICT
            case UInt8(ascii: "]"): push(.list(PickleList()))    // EMPTY_LIST
            case UInt8(ascii: ")"): try pushTuple([], at: at)             // EMPTY_TUPLE
            case UInt8(ascii: "t"): try pushTuple(try popMarkEntries(), at: at)  // TUPLE
            case 0x85: let a = try popEntry(); try pushTuple([a], at: at)      // TUPLE1
            case 0x86: let b = try popEntry(), a = try popEntry(); try pushTuple([a, b], at: at)
            case 0x87: let c = try popEntry(), b = try popEntry(), a = try popEntry(); try pushTuple([a, b, c], at: at)
            case UInt8(ascii: "N"): push(.none)
            case 0x88: push(.bool(true))                         // NEWTRUE
            case 0x89: push(.bool(false))                        // NEWFALSE
            case UInt8(ascii: "K"): push(.int(Int(try byte())))  // BININT1
            case UInt8(ascii: "M"): push(.int(try u16()))        // BININT2
            case UInt8(ascii: "J"): push(.int(try i32()))        // BININT
            case 0x8A: push(try long(count: Int(try byte())))    // LONG1
            case 0x8B: push(try long(count: try i32()))          // LONG4
            case UInt8(ascii: "G"):                                      // BINFLOAT (big-endian)
                push(.float(Double(bitPattern: UInt64(bigEndian: try read(8).loadUnaligned(as: UInt64.self)))))
            case UInt8(ascii: "X"): push(.string(try text(count: try u32())))      // BINUNICODE
            case 0x8C: push(.string(try text(count: Int(try byte()))))            // SHORT_BINUNICODE
            case 0x8D: push(.string(try text(count: try u64())))                  // BINUNICODE8
            case UInt8(ascii: "B"): push(.bytes(Array(try read(try u32()))))      // BINBYTES
            case UInt8(ascii: "C"): push(.bytes(Array(try read(Int(try byte()))))) // SHORT_BINBYTES
            case 0x8E: push(.bytes(Array(try read(try u64()))))                   // BINBYTES8
            case UInt8(ascii: "c"):                                      // GLOBAL
                let module = try line(), name = try line()
                push(.global(module + "." + name))
            case 0x93:                                                   // STACK_GLOBAL
                guard case .string(let name) = try pop(), case .string(let module) = try pop() else {
                    throw fail("STACK_GLOBAL without two strings at byte \(at)")
                }
                push(.global(module + "." + name))
            case UInt8(ascii: "q"): memo[Int(try byte())] = try topEntry()    // BINPUT
            case UInt8(ascii: "r"): memo[try u32()] = try topEntry()          // LONG_BINPUT
            case 0x94: memo[memo.count] = try topEntry()                      // MEMOIZE
            case UInt8(ascii: "h"): stack.append(try recall(Int(try byte()), at: at))  // BINGET
            case UInt8(ascii: "j"): stack.append(try recall(try u32(), at: at))        // LONG_BINGET
            case UInt8(ascii: "0"): _ = try pop()                        // POP
            case UInt8(ascii: "1"): _ = try popMark()                    // POP_MARK
            case UInt8(ascii: "a"):                                      // APPEND
                let v = try popEntry()
                switch try top() {
                case .list(let list):
                    // The items are sealed before the target is checked, so a list appended to itself is refused.
                    let depth = try seal([v], into: list.depth, at: at)
                    try unsealed(list.sealed, "APPEND", at: at)
                    list.depth = depth
                    list.items.append(v.value)
                case .object: break                                      // a list subclass stays opaque
                case let other: throw fail("APPEND to \(other.kind) at byte \(at)")
                }
            case UInt8(ascii: "e"):                                      // APPENDS
                let items = try popMarkEntries()
                switch try top() {
                case .list(let list):
                    let depth = try seal(items, into: list.depth, at: at)
                    try unsealed(list.sealed, "APPENDS", at: at)
                    list.depth = depth
                    list.items += items.map(\.value)
                case .object: break
                case let other: throw fail("APPENDS to \(other.kind) at byte \(at)")
                }
            case UInt8(ascii: "s"):                                      // SETITEM
                let v = try popEntry(), k = try popEntry()
                switch try top() {
                case .dict(let dict):
                    let depth = try seal([k, v], into: dict.depth, at: at)
                    try unsealed(dict.sealed, "SETITEM", at: at)
                    dict.depth = depth
                    dict.items.append((k.value, v.value))
                case .object: break                                      // a dict subclass stays opaque
                case let other: throw fail("SETITEM on \(other.kind) at byte \(at)")
                }
            case UInt8(ascii: "u"):                                      // SETITEMS
                let items = try popMarkEntries()
                guard items.count % 2 == 0 else { throw fail("SETITEMS with an odd number of values at byte \(at)") }
                switch try top() {
                case .dict(let dict):
                    let depth = try seal(items, into: dict.depth, at: at)
                    try unsealed(dict.sealed, "SETITEMS", at: at)
                    dict.depth = depth
                    for i in stride(from: 0, to: items.count, by: 2) { dict.items.append((items[i].value, items[i + 1].value)) }
                case .object: break
                case let other: throw fail("SETITEMS on \(other.kind) at byte \(at)")
                }
            case 0x8F: push(.object("builtins.set"))             // EMPTY_SET
            case 0x90:                                                   // ADDITEMS
                _ = try popMark()
                guard case .object = try top() else { throw fail("ADDITEMS on \(try top().kind) at byte \(at)") }
            case 0x91: _ = try popMark(); push(.object("builtins.frozenset"))  // FROZENSET
            case UInt8(ascii: "2"): stack.append(try topEntry())              // DUP
            case UInt8(ascii: "R"):                                      // REDUCE
                let args = try pop(), callable = try pop()
                push(try call(callable, args, at: at))
            case 0x81:                                                   // NEWOBJ
                _ = try pop()
                let cls = try pop()
                guard case .global(let name) = cls else { throw fail("NEWOBJ on \(cls.kind) at byte \(at)") }
                push(.object(name))
            case 0x92:                                                   // NEWOBJ_EX
                _ = try pop(); _ = try pop()
                let cls = try pop()
                guard case .global(let name) = cls else { throw fail("NEWOBJ_EX on \(cls.kind) at byte \(at)") }
                push(.object(name))
            case UInt8(ascii: "b"): _ = try pop()                        // BUILD: object state is not needed
            case UInt8(ascii: "Q"): push(try persistentLoad(try pop()))  // BINPERSID
            default:
                throw fail("unsupported opcode \(Self.describe(op)) at byte \(at); torch.save never writes it, so this is not a PyTorch checkpoint (or a corrupt one)")
            }
        }
    }

    private mutating func topEntry() throws(WeightError) -> Entry {
        guard let v = stack.last else { throw fail("stack underflow at byte \(position)") }
        return v
    }

    private func recall(_ key: Int, at: Int) throws(WeightError) -> Entry {
        guard let v = memo[key] else { throw fail("memo key \(key) unset at byte \(at)") }
        return v
    }

    private mutating func text(count: Int) throws(WeightError) -> String {
        String(decoding: try read(count), as: UTF8.self)
    }

    /// A little-endian two's-complement integer; wider than 64 bits it is skipped and opaque.
    private mutating func long(count: Int) throws(WeightError) -> PickleValue {
        guard count >= 0 else { throw fail("integer of \(count) bytes at byte \(position)") }
        let raw = try read(count)
        guard count <= 8 else { return .object("builtins.int of \(count) bytes") }
        var v: UInt64 = 0
        for i in 0 ..< count { v |= UInt64(raw[i]) << (8 * UInt64(i)) }
        if count > 0, count < 8, raw[count - 1] & 0x80 != 0 { v |= ~0 << (8 * UInt64(count)) }   // sign-extend
        return .int(Int(Int64(bitPattern: v)))
    }

    /// REDUCE: the few callables with a meaning here; anything else is opaque.
    private func call(_ callable: PickleValue, _ args: PickleValue, at: Int) throws(WeightError) -> PickleValue {
        guard case .global(let name) = callable else { return .object("a call of \(callable.kind)") }
        guard case .tuple(let a) = args else { throw fail("REDUCE with non-tuple arguments at byte \(at)") }
        switch name {
        case "collections.OrderedDict":
            return .dict(PickleDict())
        case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor":
            guard a.count >= 4, case .storage(let storage) = a[0], case .int(let offset) = a[1],
                  case .tuple(let sizes) = a[2], case .tuple(let strides) = a[3] else {
                throw fail("\(name) with unexpected arguments at byte \(at)")
            }
            var shape: [Int] = [], stride: [Int] = []
            for s in sizes { guard case .int(let v) = s, v >= 0 else { throw fail("bad tensor size at byte \(at)") }; shape.append(v) }
            for s in strides { guard case .int(let v) = s else { throw fail("bad tensor stride at byte \(at)") }; stride.append(v) }
            guard shape.count == stride.count else { throw fail("tensor size and stride differ in rank at byte \(at)") }
            return .tensor(TorchTensorRef(storage: storage, offset: offset, shape: shape, stride: stride))
        case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
            guard let first = a.first, case .tensor = first else { throw fail("\(name) without a tensor at byte \(at)") }
            return first
        case "_codecs.encode":
            guard a.count >= 1, case .string(let s) = a[0] else { return .object(name) }
            return .bytes(s.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) })   // latin-1
        default:
            return .object(name)
        }
    }

    static func describe(_ op: UInt8) -> String {
        let names: [UInt8: String] = [
            0x49: "INT", 0x4C: "LONG", 0x53: "STRING", 0x54: "BINSTRING", 0x55: "SHORT_BINSTRING",
            0x56: "UNICODE", 0x46: "FLOAT", 0x69: "INST", 0x6F: "OBJ", 0x50: "PERSID", 0x67: "GET",
            0x70: "PUT", 0x64: "DICT", 0x6C: "LIST", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4",
            0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
        ]
        let hex = String(op, radix: 16, uppercase: true)
        let printable = op >= 0x20 && op < 0x7F ? " '\(Character(Unicode.Scalar(op)))'" : ""
        return "\(names[op] ?? "unknown")\(printable) (0x\(hex.count == 1 ? "0" + hex : hex))"
    }
}
