// SafeTensors.swift — the safetensors format (HuggingFace): read and write.
//
// Layout: u64 little-endian header length N, N bytes of JSON
// {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}},
// then the raw little-endian data (offsets relative to the end of the header).
// Reading accepts F32, F16, BF16 and F64 and upcasts to float32; writing emits
// F32 with names sorted and the header padded to 8 bytes, as the reference
// Python writer does. ctpipe's own checkpoints use this format (method.md §6).

import CTCore
import Foundation
import Tensor

/// The tensors and string metadata of one safetensors file.
public struct SafeTensorsFile: Sendable {
    public var tensors: [String: Tensor]
    public var metadata: [String: String]

    public init(tensors: [String: Tensor], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }
}

public enum SafeTensors {
    /// Reads a whole file.
    public static func read(_ path: String) throws(WeightError) -> SafeTensorsFile {
        let file = try MappedFile(path: path)
        return try parse(file.bytes, path: path, afterCopy: file.release)
    }

    /// The `__metadata__` of a safetensors file, read from its header alone (no tensor is decoded).
    public static func metadata(_ path: String) throws(WeightError) -> [String: String] {
        let file = try MappedFile(path: path)
        return try withExtendedLifetime(file) { () throws(WeightError) in try header(file.bytes, path: path).metadata }
    }

    /// The tensor shapes and `__metadata__` of a safetensors file's header (no tensor is decoded).
    /// Entries without a shape of whole non-negative numbers are left out: `parse` refuses them.
    static func header(_ bytes: UnsafeRawBufferPointer, path: String) throws(WeightError) -> WeightFileHeader {
        guard sniff(bytes) else { throw WeightError(path: path, reason: "not a safetensors file") }
        let headerLength = Int(UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self)))   // sniff bounds it by the file
        guard let json = try? JSONSerialization.jsonObject(with: Data(bytes[8 ..< 8 + headerLength])) as? [String: Any] else {
            throw WeightError(path: path, reason: "not a safetensors file: the header is not a JSON object")
        }
        var header = WeightFileHeader(shapes: [:], metadata: (json["__metadata__"] as? [String: Any] ?? [:]).compactMapValues { $0 as? String })
        for (name, value) in json where name != "__metadata__" {
            guard let raw = (value as? [String: Any])?["shape"] as? [Any] else { continue }
            let shape = raw.compactMap { ($0 as? NSNumber).flatMap { Int(exactly: $0) } }
            if shape.count == raw.count, shape.allSatisfy({ $0 >= 0 }) { header.shapes[name] = shape }
        }
        return header
    }

    /// True when `bytes` start like a safetensors file (a plausible header length and `{`).
    public static func sniff(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 9 else { return false }
        let n = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        return n > 1 && n <= UInt64(bytes.count - 8) && bytes[8] == UInt8(ascii: "{")
    }

    /// Parses the bytes of a safetensors file; `path` names it in errors.
    /// `afterCopy` is told each tensor's bytes once they are copied out (a mapped
    /// file releases them, see MappedFile.release).
    public static func parse(_ bytes: UnsafeRawBufferPointer, path: String,
                             afterCopy: (UnsafeRawBufferPointer) -> Void = { _ in }) throws(WeightError) -> SafeTensorsFile {
        func fail(_ reason: String, _ tensor: String? = nil) -> WeightError {
            WeightError(path: path, tensor: tensor, reason: reason)
        }
        guard bytes.count >= 8 else { throw fail("not a safetensors file: \(bytes.count) bytes") }
        let headerLength = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw fail("not a safetensors file: header length \(headerLength) exceeds the file size \(bytes.count)")
        }
        let dataStart = 8 + Int(headerLength)
        let headerData = Data(bytes[8 ..< dataStart])
        guard let json = try? JSONSerialization.jsonObject(with: headerData), let header = json as? [String: Any] else {
            throw fail("not a safetensors file: the header is not a JSON object")
        }
        let dataCount = bytes.count - dataStart
        var result = SafeTensorsFile(tensors: [:])
        // The entries are checked first, then laid end to end by offset: as the safetensors
        // library requires, each tensor is exactly its byte range and the ranges, in order,
        // cover the data section exactly (no overlap, no alias, no gap).
        var planned: [(name: String, dtype: StoredDType, shape: [Int], count: Int, begin: Int, end: Int)] = []
        for (name, value) in header {
            if name == "__metadata__" {
                guard let metadata = value as? [String: Any] else { throw fail("__metadata__ is not an object") }
                for (k, v) in metadata {
                    guard let s = v as? String else { throw fail("__metadata__ value '\(k)' is not a string") }
                    result.metadata[k] = s
                }
                continue
            }
            guard let entry = value as? [String: Any], let dtypeName = entry["dtype"] as? String,
                  let shapeAny = entry["shape"] as? [Any], let offsetsAny = entry["data_offsets"] as? [Any],
                  offsetsAny.count == 2 else {
                throw fail("malformed header entry (needs dtype, shape, data_offsets)", name)
            }
            guard let dtype = StoredDType(rawValue: dtypeName) else {
                throw fail("unsupported dtype \(dtypeName) (supported: F32, F16, BF16, F64)", name)
            }
            // Whole numbers only: a fractional 1.5 is not silently read as 1.
            let shape = shapeAny.compactMap { ($0 as? NSNumber).flatMap { Int(exactly: $0) } }
            let offsets = offsetsAny.compactMap { ($0 as? NSNumber).flatMap { Int(exactly: $0) } }
            guard shape.count == shapeAny.count, shape.allSatisfy({ $0 >= 0 }), offsets.count == 2 else {
                throw fail("malformed shape or data_offsets (non-negative whole numbers needed): shape \(shapeAny), data_offsets \(offsetsAny)", name)
            }
            // Checked with zeros read as 1 too: an empty tensor with absurd sizes would trap
            // whatever multiplies them later.
            var count = 1, extent = 1
            for n in shape {
                let (product, overflow) = extent.multipliedReportingOverflow(by: max(n, 1))
                guard !overflow else { throw fail("shape \(shape) has too many elements", name) }
                extent = product
                count *= n   // |count| <= extent at every step
            }
            let (byteCount, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
            guard !overflow else { throw fail("shape \(shape) has too many elements", name) }
            guard offsets[0] >= 0, offsets[1] >= offsets[0], offsets[1] <= dataCount else {
                throw fail("data_offsets \(offsets) outside the \(dataCount) data bytes", name)
            }
            guard offsets[1] - offsets[0] == byteCount else {
                throw fail("\(offsets[1] - offsets[0]) bytes for shape \(shape) of \(dtypeName)", name)
            }
            planned.append((name, dtype, shape, count, offsets[0], offsets[1]))
        }
        planned.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var expected = 0
        for t in planned {
            guard t.begin == expected else {
                throw fail(t.begin < expected
                    ? "data_offsets [\(t.begin), \(t.end)] overlap the previous tensor's bytes (which end at \(expected))"
                    : "data_offsets [\(t.begin), \(t.end)] leave the bytes \(expected)..<\(t.begin) unused", t.name)
            }
            expected = t.end
        }
        guard expected == dataCount else {
            throw fail("the tensors cover \(expected) of the \(dataCount) data bytes (the data section must be covered exactly)")
        }
        for t in planned {
            let values = t.dtype.decode(bytes.baseAddress! + dataStart + t.begin, count: t.count)
            result.tensors[t.name] = Tensor(shape: t.shape, storage: values)
            afterCopy(UnsafeRawBufferPointer(rebasing: bytes[(dataStart + t.begin) ..< (dataStart + t.end)]))
        }
        return result
    }

    /// The bytes of a safetensors file holding `tensors` as F32 (names sorted).
    public static func encode(_ file: SafeTensorsFile) -> [UInt8] {
        let names = file.tensors.keys.sorted()
        var header = "{"
        if !file.metadata.isEmpty {
            let entries = file.metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(file.metadata[$0]!))" }
            header += "\"__metadata__\":{" + entries.joined(separator: ",") + "}"
        }
        var offset = 0
        for name in names {
            let t = file.tensors[name]!
            if header.count > 1 { header += "," }
            let shape = t.shape.map(String.init).joined(separator: ",")
            header += "\(jsonString(name)):{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + 4 * t.count)]}"
            offset += 4 * t.count
        }
        header += "}"
        var headerBytes = Array(header.utf8)
        while (8 + headerBytes.count) % 8 != 0 { headerBytes.append(UInt8(ascii: " ")) }
        var out = [UInt8]()
        out.reserveCapacity(8 + headerBytes.count + offset)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { out += $0 }
        out += headerBytes
        for name in names {
            file.tensors[name]!.withUnsafeBufferPointer { out += UnsafeRawBufferPointer($0) }
        }
        return out
    }

    /// Writes a safetensors file atomically.
    public static func write(_ file: SafeTensorsFile, to path: String) throws(WeightError) {
        do { try AtomicFile.write(encode(file), to: path) } catch {
            throw WeightError(path: path, reason: error.reason)
        }
    }

    static func jsonString(_ s: String) -> String { JSONText.quote(s) }
}
