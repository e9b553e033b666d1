// PickleWriter.swift — protocol-2 pickles of the values a `torch.save` state
// dict file holds, with the opcodes Python's pickler emits for them.
//
// A tensor pickles as torch does:
//   torch._utils._rebuild_tensor_v2(<persistent id>, offset, size, stride,
//                                   requires_grad=False, OrderedDict())
// with the persistent id `('storage', torch.FloatStorage, key, 'cpu', numel)`
// (BINPERSID), the storage's bytes being the archive entry `data/<key>`.
// Only plain values are written (dicts, ordered dicts, lists, tuples, strings,
// numbers, booleans, None), so `torch.load(weights_only=True)` accepts the file.
// Nothing is memoised: every global is written where it is used.

/// A value to pickle.
public indirect enum PickleOutput: Sendable, Equatable {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case tuple([PickleOutput])
    case list([PickleOutput])
    /// A dict with string keys, in this order.
    case dict([(String, PickleOutput)])
    /// A `collections.OrderedDict` with string keys, in this order.
    case orderedDict([(String, PickleOutput)])
    /// A contiguous float32 tensor of `shape` viewing all of storage `key` (`data/<key>`).
    case floatTensor(key: String, shape: [Int])

    public static func == (a: PickleOutput, b: PickleOutput) -> Bool {
        switch (a, b) {
        case (.none, .none): true
        case let (.bool(x), .bool(y)): x == y
        case let (.int(x), .int(y)): x == y
        case let (.float(x), .float(y)): x == y
        case let (.string(x), .string(y)): x == y
        case let (.tuple(x), .tuple(y)), let (.list(x), .list(y)): x == y
        case let (.dict(x), .dict(y)), let (.orderedDict(x), .orderedDict(y)):
            x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case let (.floatTensor(k1, s1), .floatTensor(k2, s2)): k1 == k2 && s1 == s2
        default: false
        }
    }
}

public enum PickleWriter {
    /// The pickle of `value` (PROTO 2 ... STOP).
    public static func encode(_ value: PickleOutput) -> [UInt8] {
        var out: [UInt8] = [0x80, 2]
        write(value, into: &out)
        out.append(UInt8(ascii: "."))
        return out
    }

    static func write(_ value: PickleOutput, into out: inout [UInt8]) {
        switch value {
        case .none: out.append(UInt8(ascii: "N"))
        case .bool(let b): out.append(b ? 0x88 : 0x89)
        case .int(let i): int(i, into: &out)
        case .float(let d):
            out.append(UInt8(ascii: "G"))
            withUnsafeBytes(of: d.bitPattern.bigEndian) { out += $0 }
        case .string(let s):
            let utf8 = Array(s.utf8)
            out.append(UInt8(ascii: "X"))
            withUnsafeBytes(of: UInt32(utf8.count).littleEndian) { out += $0 }
            out += utf8
        case .tuple(let items): tuple(items, into: &out)
        case .list(let items):
            out.append(UInt8(ascii: "]"))
            if !items.isEmpty {
                out.append(UInt8(ascii: "("))
                for item in items { write(item, into: &out) }
                out.append(UInt8(ascii: "e"))          // APPENDS
            }
        case .dict(let items):
            out.append(UInt8(ascii: "}"))
            setItems(items, into: &out)
        case .orderedDict(let items):
            global("collections", "OrderedDict", into: &out)
            out += [UInt8(ascii: ")"), UInt8(ascii: "R")]
            setItems(items, into: &out)
        case .floatTensor(let key, let shape):
            var stride = [Int](repeating: 1, count: shape.count)
            for i in stride.indices.dropLast().reversed() { stride[i] = stride[i + 1] * shape[i + 1] }
            let numel = shape.reduce(1, *)
            global("torch._utils", "_rebuild_tensor_v2", into: &out)
            out.append(UInt8(ascii: "("))
            // The storage: a persistent id.
            out.append(UInt8(ascii: "("))
            write(.string("storage"), into: &out)
            global("torch", "FloatStorage", into: &out)
            write(.string(key), into: &out)
            write(.string("cpu"), into: &out)
            int(numel, into: &out)
            out.append(UInt8(ascii: "t"))
            out.append(UInt8(ascii: "Q"))              // BINPERSID
            int(0, into: &out)
            tuple(shape.map { .int($0) }, into: &out)
            tuple(stride.map { .int($0) }, into: &out)
            out.append(0x89)                           // requires_grad False
            write(.orderedDict([]), into: &out)        // backward hooks
            out += [UInt8(ascii: "t"), UInt8(ascii: "R")]
        }
    }

    static func setItems(_ items: [(String, PickleOutput)], into out: inout [UInt8]) {
        guard !items.isEmpty else { return }
        out.append(UInt8(ascii: "("))
        for (key, value) in items {
            write(.string(key), into: &out)
            write(value, into: &out)
        }
        out.append(UInt8(ascii: "u"))                  // SETITEMS
    }

    static func tuple(_ items: [PickleOutput], into out: inout [UInt8]) {
        switch items.count {
        case 0: out.append(UInt8(ascii: ")"))
        case 1 ... 3:
            for item in items { write(item, into: &out) }
            out.append([0x85, 0x86, 0x87][items.count - 1])
        default:
            out.append(UInt8(ascii: "("))
            for item in items { write(item, into: &out) }
            out.append(UInt8(ascii: "t"))
        }
    }

    static func global(_ module: String, _ name: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "c"))
        out += Array(module.utf8) + [0x0A] + Array(name.utf8) + [0x0A]
    }

    /// BININT1 / BININT2 / BININT / LONG1, as Python picks them.
    static func int(_ i: Int, into out: inout [UInt8]) {
        if i >= 0, i < 256 {
            out += [UInt8(ascii: "K"), UInt8(i)]
        } else if i >= 0, i < 65536 {
            out.append(UInt8(ascii: "M"))
            withUnsafeBytes(of: UInt16(i).littleEndian) { out += $0 }
        } else if i >= Int(Int32.min), i <= Int(Int32.max) {
            out.append(UInt8(ascii: "J"))
            withUnsafeBytes(of: Int32(i).littleEndian) { out += $0 }
        } else {
            // LONG1: the shortest little-endian two's complement.
            var bytes: [UInt8] = []
            withUnsafeBytes(of: i.littleEndian) { bytes = Array($0) }
            while bytes.count > 1 {
                let last = bytes[bytes.count - 1], previous = bytes[bytes.count - 2]
                if (last == 0 && previous & 0x80 == 0) || (last == 0xFF && previous & 0x80 != 0) { bytes.removeLast() } else { break }
            }
            out += [0x8A, UInt8(bytes.count)] + bytes
        }
    }
}
