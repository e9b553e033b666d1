// NPY.swift — NumPy `.npy` arrays (format version 1.0), little-endian, C order.
//
// ctpipe exports decoded pixels and features as .npy so that NumPy, PyTorch or
// any third-party tool can check them; it reads float32 inputs the same way.

import Foundation

/// The element types ctpipe reads and writes.
public enum NPYDType: String, Sendable, Equatable {
    case uint8 = "|u1"
    case uint16 = "<u2"
    case float32 = "<f4"
    case int64 = "<i8"

    public var byteSize: Int {
        switch self {
        case .uint8: 1
        case .uint16: 2
        case .float32: 4
        case .int64: 8
        }
    }
}

/// A NumPy array: shape, dtype and raw little-endian bytes.
public struct NPYArray: Sendable, Equatable {
    public var shape: [Int]
    public var dtype: NPYDType
    public var bytes: [UInt8]

    public init(shape: [Int], dtype: NPYDType, bytes: [UInt8]) {
        precondition(shape.reduce(1, *) * dtype.byteSize == bytes.count, "NPYArray: \(bytes.count) bytes for shape \(shape) of \(dtype)")
        self.shape = shape
        self.dtype = dtype
        self.bytes = bytes
    }

    public init(shape: [Int], uint8 values: [UInt8]) { self.init(shape: shape, dtype: .uint8, bytes: values) }

    public init(shape: [Int], uint16 values: [UInt16]) {
        self.init(shape: shape, dtype: .uint16, bytes: values.withUnsafeBytes { Array($0) })
    }

    public init(shape: [Int], float32 values: [Float]) {
        self.init(shape: shape, dtype: .float32, bytes: values.withUnsafeBytes { Array($0) })
    }

    /// The elements as Float (float32 arrays only).
    public var floats: [Float]? {
        guard dtype == .float32 else { return nil }
        return [Float](unsafeUninitializedCapacity: bytes.count / 4) { buffer, count in
            bytes.withUnsafeBytes { raw in
                _ = raw.copyBytes(to: UnsafeMutableRawBufferPointer(buffer))
            }
            count = bytes.count / 4
        }
    }

    /// The file bytes: magic, version 1.0, padded header dict, data.
    public func encoded() -> [UInt8] {
        let dims = shape.map(String.init).joined(separator: ", ")
        let shapeText = shape.count == 1 ? "(\(dims),)" : "(\(dims))"
        var header = "{'descr': '\(dtype.rawValue)', 'fortran_order': False, 'shape': \(shapeText), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        let length = UInt16(header.utf8.count)
        out += [UInt8(length & 0xFF), UInt8(length >> 8)]
        out += Array(header.utf8)
        out += bytes
        return out
    }

    /// Parses a version 1.x/2.x .npy file of a supported dtype in C order.
    public static func decode(_ file: [UInt8], path: String) throws(FileError) -> NPYArray {
        func fail(_ reason: String) -> FileError { FileError(path: path, reason: "not a usable .npy file: \(reason)") }
        guard file.count >= 10, file[0] == 0x93, Array(file[1 ..< 6]) == Array("NUMPY".utf8) else {
            throw fail("bad magic")
        }
        let major = file[6]
        var offset: Int
        var headerLength: Int
        switch major {
        case 1:
            headerLength = Int(file[8]) | Int(file[9]) << 8
            offset = 10
        case 2, 3:
            guard file.count >= 12 else { throw fail("truncated header") }
            headerLength = Int(file[8]) | Int(file[9]) << 8 | Int(file[10]) << 16 | Int(file[11]) << 24
            offset = 12
        default:
            throw fail("unsupported version \(major)")
        }
        guard headerLength <= file.count - offset,
              let header = String(bytes: file[offset ..< offset + headerLength], encoding: .utf8) else {
            throw fail("truncated header")
        }
        offset += headerLength
        guard let descr = field("descr", in: header),
              let dtype = NPYDType(rawValue: descr.trimmingQuotes) ?? (descr.trimmingQuotes == "<u1" ? .uint8 : nil) else {
            throw fail("unsupported dtype (supported: uint8, uint16, float32, int64 little-endian)")
        }
        guard let order = field("fortran_order", in: header), order == "False" else {
            throw fail("Fortran-order arrays are not supported")
        }
        guard let shapeText = field("shape", in: header) else { throw fail("no shape") }
        let inner = shapeText.dropFirst().dropLast()
        var shape: [Int] = []
        for part in inner.split(separator: ",") {
            let t = part.trimmingCharacters(in: .whitespaces)
            if t.isEmpty { continue }
            guard let v = Int(t), v >= 0 else { throw fail("bad shape \(shapeText)") }
            shape.append(v)
        }
        // The byte count, checked without overflow.
        var count = dtype.byteSize
        for n in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: n)
            guard !overflow else { throw fail("shape \(shape) has too many elements") }
            count = product
        }
        guard file.count - offset == count else {
            throw fail("expected \(count) data bytes for shape \(shape), found \(file.count - offset)")
        }
        return NPYArray(shape: shape, dtype: dtype, bytes: Array(file[offset...]))
    }

    private static func field(_ key: String, in header: String) -> String? {
        guard let range = header.range(of: "'\(key)':") else { return nil }
        var rest = header[range.upperBound...].drop(while: { $0 == " " })
        if rest.first == "(" {
            guard let close = rest.firstIndex(of: ")") else { return nil }
            return String(rest[...close])
        }
        if let end = rest.firstIndex(where: { $0 == "," || $0 == "}" }) { rest = rest[..<end] }
        return rest.trimmingCharacters(in: .whitespaces)
    }
}

extension String {
    fileprivate var trimmingQuotes: String { trimmingCharacters(in: CharacterSet(charactersIn: "'\"")) }
}

