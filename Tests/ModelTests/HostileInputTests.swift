// HostileInputTests.swift — small hostile weight files, built here, that once crashed
// the readers (integer-overflow traps, deep recursion), made them allocate gigabytes,
// or were read silently wrong; each must now fail with a WeightError that says why.

import CTCore
import Foundation
@testable import Model
import Tensor
import Testing

@Suite struct HostileInputTests {
    // MARK: pickle

    func unpickle(_ bytes: [UInt8]) throws -> PickleValue {
        try bytes.withUnsafeBytes { raw in
            var u = Unpickler(raw, path: "test.pkl")
            return try u.load { _ throws(WeightError) in .none }
        }
    }

    func reason(_ body: () throws -> Void) -> String? {
        do { try body(); return nil } catch let error as WeightError { return error.description } catch { return "\(error)" }
    }

    @Test func pickleLengthsNearIntMaxAreTruncation() {
        for op: UInt8 in [0x8D, 0x8E] {   // BINUNICODE8, BINBYTES8
            for length: UInt64 in [UInt64(Int.max), UInt64(Int.max) - 3, 1 << 62] {
                var bytes: [UInt8] = [0x80, 0x04, op]
                withUnsafeBytes(of: length.littleEndian) { bytes += $0 }
                bytes += Array("abc.".utf8)
                let r = reason { _ = try unpickle(bytes) }
                #expect(r?.contains("truncated stream") == true, "\(op) \(length): \(r ?? "no error")")
            }
        }
    }

    @Test func deeplyNestedPicklesAreRefused() {
        let n = 100_000
        let lists: [UInt8] = [0x80, 0x02] + [UInt8](repeating: 0x5D, count: n) + [UInt8](repeating: 0x61, count: n - 1) + [0x2E]
        let tuples: [UInt8] = [0x80, 0x02, 0x29] + [UInt8](repeating: 0x85, count: n) + [0x2E]
        var dicts: [UInt8] = [0x80, 0x02]
        for _ in 0 ..< n { dicts += [0x7D, 0x4B, 0x00] }
        dicts.removeLast(2)
        dicts += [UInt8](repeating: 0x73, count: n - 1) + [0x2E]
        for (kind, bytes) in [("lists", lists), ("tuples", tuples), ("dicts", dicts)] {
            let r = reason { _ = try unpickle(bytes) }
            #expect(r?.contains("nested deeper than 1000 levels") == true, "\(kind): \(r ?? "no error")")
        }
        // 1000 levels are still read.
        let ok: [UInt8] = [0x80, 0x02, 0x29] + [UInt8](repeating: 0x85, count: 999) + [0x2E]
        #expect(reason { _ = try unpickle(ok) } == nil)
    }

    @Test func selfReferencingListIsRefused() {
        // l = []; l.append(l): EMPTY_LIST, DUP, APPEND, STOP.
        let r = reason { _ = try unpickle([0x80, 0x02, 0x5D, 0x32, 0x61, 0x2E]) }
        #expect(r?.contains("already placed inside another value") == true, "\(r ?? "no error")")
    }

    // MARK: .pth

    /// Pickle pieces for a state dict {"w": _rebuild_tensor_v2(storage, offset, size, stride)}.
    static func int(_ v: Int) -> [UInt8] {
        var b: [UInt8] = [0x8A, 8]
        withUnsafeBytes(of: Int64(v).littleEndian) { b += $0 }
        return b
    }

    static func string(_ s: String) -> [UInt8] { [0x8C, UInt8(s.utf8.count)] + Array(s.utf8) }

    static func pth(count: Int, offset: Int = 0, shape: [Int], stride: [Int], storage: [Float],
                    damage: Bool = false) -> [UInt8] {
        var p: [UInt8] = [0x80, 0x02, 0x7D, 0x28] + string("w")
        p += [0x63] + Array("torch._utils\n_rebuild_tensor_v2\n".utf8)
        p += [0x28, 0x28] + string("storage") + [0x63] + Array("torch\nFloatStorage\n".utf8)
        p += string("0") + string("cpu") + int(count) + [0x74, 0x51]
        p += int(offset)
        p += [0x28] + shape.flatMap(int) + [0x74]
        p += [0x28] + stride.flatMap(int) + [0x74]
        p += [0x74, 0x52, 0x75, 0x2E]
        var data = storage.withUnsafeBytes { Array($0) }
        if damage, !data.isEmpty { data[0] ^= 0x40 }
        return Zip64Tests.zip64([("archive/data.pkl", p), ("archive/byteorder", Array("little".utf8)),
                                 ("archive/data/0", data)],
                                crcs: damage ? ["archive/data/0": storage.withUnsafeBytes { Int(ZipArchive.crc32Of($0)) }] : [:])
    }

    func pthError(_ bytes: [UInt8]) -> String? {
        reason { _ = try bytes.withUnsafeBytes { raw in try TorchCheckpoint.parse(raw, path: "x.pth") } }
    }

    @Test func validHandBuiltCheckpointLoads() throws {
        let bytes = Self.pth(count: 6, shape: [2, 3], stride: [1, 2], storage: [1, 2, 3, 4, 5, 6])
        let contents = try bytes.withUnsafeBytes { raw in try TorchCheckpoint.parse(raw, path: "x.pth") }
        #expect(contents.tensors["w"] == Tensor(shape: [2, 3], storage: [1, 3, 5, 2, 4, 6]))
    }

    @Test func pthSizesThatOverflowAreRefused() {
        // A storage count whose byte size overflows.
        let r1 = pthError(Self.pth(count: Int.max / 2, shape: [1], stride: [1], storage: [1]))
        #expect(r1?.contains("storage data/0 has 4 bytes") == true, "\(r1 ?? "no error")")
        // A shape whose element count overflows.
        let r2 = pthError(Self.pth(count: 1, shape: [1 << 40, 1 << 40], stride: [0, 0], storage: [1]))
        #expect(r2?.contains("more elements than its storage of 1") == true, "\(r2 ?? "no error")")
        // Empty, but with sizes whose product (zeros aside) overflows.
        let r5 = pthError(Self.pth(count: 1, shape: [1 << 62, 0, 4], stride: [0, 0, 0], storage: [1]))
        #expect(r5?.contains("more elements than its storage of 1") == true, "\(r5 ?? "no error")")
        // Strides whose reach overflows.
        let r3 = pthError(Self.pth(count: 4, shape: [2, 2], stride: [Int.max, 1], storage: [1, 2, 3, 4]))
        #expect(r3?.contains("outside its storage of 4 elements") == true, "\(r3 ?? "no error")")
        // A negative storage count.
        let r4 = pthError(Self.pth(count: -1, shape: [1], stride: [1], storage: [1]))
        #expect(r4?.contains("negative element count") == true, "\(r4 ?? "no error")")
    }

    @Test func strideZeroViewCannotOutgrowItsStorage() {
        // One stored float viewed as 10^9 elements (4 GB) through stride 0.
        let r = pthError(Self.pth(count: 1, shape: [1_000_000_000], stride: [0], storage: [1]))
        #expect(r?.contains("more elements than its storage of 1") == true, "\(r ?? "no error")")
    }

    @Test func negativeStridesAndOffsetsAreRefused() {
        let r = pthError(Self.pth(count: 3, offset: 2, shape: [3], stride: [-1], storage: [1, 2, 3]))
        #expect(r?.contains("negative stride") == true, "\(r ?? "no error")")
        let r2 = pthError(Self.pth(count: 3, offset: -1, shape: [1], stride: [1], storage: [1, 2, 3]))
        #expect(r2?.contains("negative offset") == true, "\(r2 ?? "no error")")
    }

    @Test func flippedBytesFailTheCRC() {
        let r = pthError(Self.pth(count: 2, shape: [2], stride: [1], storage: [1, 2], damage: true))
        #expect(r?.contains("entry 'archive/data/0' is damaged (CRC-32") == true, "\(r ?? "no error")")
    }

    // MARK: zip64 fields

    /// A one-entry zip64 archive with one 8-byte field replaced.
    static func patched(_ field: (_ bytes: [UInt8]) -> Int, _ value: UInt64) -> [UInt8] {
        var bytes = Zip64Tests.zip64([("archive/data.pkl", [0x80, 0x02, 0x7D, 0x2E])])
        let at = field(bytes)
        withUnsafeBytes(of: value.littleEndian) { for i in 0 ..< 8 { bytes[at + i] = $0[i] } }
        return bytes
    }

    @Test func zip64FieldsNearIntMaxAreRefused() {
        // Offsets in the zip64 end record (its position is in the locator, 20 bytes before the 22-byte end).
        func record(_ b: [UInt8]) -> Int {
            b.withUnsafeBytes { Int($0.loadUnaligned(fromByteOffset: b.count - 22 - 20 + 8, as: UInt64.self)) }
        }
        // The zip64 extra of the central directory entry: size, compressed size, local offset (the last 24 bytes
        // before the zip64 end record).
        func extra(_ b: [UInt8]) -> Int { record(b) - 24 }
        let cases: [(String, [UInt8], String)] = [
            ("entry count", Self.patched({ record($0) + 32 }, UInt64(Int.max)), "entries cannot fit"),
            ("negative entry count", Self.patched({ record($0) + 32 }, UInt64.max), "entries cannot fit"),
            ("directory size", Self.patched({ record($0) + 40 }, UInt64(Int.max)), "outside the file"),
            ("directory offset", Self.patched({ record($0) + 48 }, UInt64(Int.max) - 8), "outside the file"),
            ("negative directory offset", Self.patched({ record($0) + 48 }, UInt64.max - 8), "outside the file"),
            ("record offset", Self.patched({ $0.count - 22 - 20 + 8 }, UInt64(Int.max) - 10), "zip64 end record missing"),
            ("entry size", Self.patched({ extra($0) }, UInt64(Int.max) - 2), "run past the end of the file"),
            ("negative entry size", Self.patched({ extra($0) }, UInt64.max), "run past the end of the file"),
            ("local offset", Self.patched({ extra($0) + 16 }, UInt64(Int.max) - 5), "bad local header offset"),
        ]
        for (name, bytes, expected) in cases {
            let r = reason { _ = try bytes.withUnsafeBytes { raw in try ZipArchive(raw, path: "x.pth") } }
            #expect(r?.contains(expected) == true, "\(name): \(r ?? "no error")")
        }
    }

    // MARK: safetensors

    func safetensorsError(_ header: String, data: Int) -> String? {
        var bytes = [UInt8]()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes += $0 }
        bytes += Array(header.utf8) + [UInt8](repeating: 0, count: data)
        return reason { _ = try bytes.withUnsafeBytes { raw in try SafeTensors.parse(raw, path: "x.safetensors") } }
    }

    @Test func safetensorsShapeOverflowIsRefused() {
        let r = safetensorsError(#"{"t":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,0]}}"#, data: 0)
        #expect(r?.contains("has too many elements") == true, "\(r ?? "no error")")
        let r2 = safetensorsError(#"{"t":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,0]}}"#, data: 0)
        #expect(r2?.contains("has too many elements") == true, "\(r2 ?? "no error")")
        // Empty, but with sizes whose product (zeros aside) overflows.
        let r3 = safetensorsError(#"{"t":{"dtype":"F32","shape":[4611686018427387904,0,4],"data_offsets":[0,0]}}"#, data: 0)
        #expect(r3?.contains("has too many elements") == true, "\(r3 ?? "no error")")
    }

    @Test func safetensorsRangesMustTileTheData() {
        let overlap = safetensorsError(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, data: 12)
        #expect(overlap?.contains("overlap the previous tensor") == true, "\(overlap ?? "no error")")
        let alias = safetensorsError(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: 8)
        #expect(alias?.contains("overlap the previous tensor") == true, "\(alias ?? "no error")")
        let gap = safetensorsError(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: 8)
        #expect(gap?.contains("leave the bytes 0..<4 unused") == true, "\(gap ?? "no error")")
        let tail = safetensorsError(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: 8)
        #expect(tail?.contains("cover 4 of the 8 data bytes") == true, "\(tail ?? "no error")")
        let fraction = safetensorsError(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0.5,4.5]}}"#, data: 8)
        #expect(fraction?.contains("non-negative whole numbers") == true, "\(fraction ?? "no error")")
        let fractionalShape = safetensorsError(#"{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#, data: 4)
        #expect(fractionalShape?.contains("non-negative whole numbers") == true, "\(fractionalShape ?? "no error")")
        // In order, back to back, covering the data: read (header order does not matter).
        let ok = safetensorsError(#"{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"e":{"dtype":"F32","shape":[0],"data_offsets":[8,8]}}"#, data: 8)
        #expect(ok == nil, "\(ok ?? "")")
    }

    // MARK: DINOv2 block indices

    @Test func hugeBlockIndexIsRefusedBeforeAnyWork() throws {
        let tensors = try WeightErrorTests.hubTensors()
        for index in ["9223372036854775807", "99999999999", "40"] {
            var bad = tensors
            bad["encoder.layer.\(index).norm1.weight"] = Tensor(shape: [1], storage: [0])
            let started = Date()
            let error = try WeightErrorTests.loadError(bad)
            #expect(error?.reason.contains("block index \(index) but") == true, "\(index): \(error?.description ?? "no error")")
            #expect(Date().timeIntervalSince(started) < 10)
        }
    }
}
