// FormatUnitTests.swift — the pieces of the weight readers: half-precision
// upcasts, the pickle subset, safetensors encode/parse.

import Foundation
@testable import Model
import Tensor
import Testing

@Suite struct FormatUnitTests {
    @Test func float16Bits() {
        #expect(HalfPrecision.float(fromHalf: 0x3C00) == 1)
        #expect(HalfPrecision.float(fromHalf: 0xC000) == -2)
        #expect(HalfPrecision.float(fromHalf: 0x3555) == 0.333_251_953_125)
        #expect(HalfPrecision.float(fromHalf: 0x0001) == Float(sign: .plus, exponent: -24, significand: 1))
        #expect(HalfPrecision.float(fromHalf: 0x8200) == -Float(sign: .plus, exponent: -15, significand: 1))
        #expect(HalfPrecision.float(fromHalf: 0x7BFF) == 65504)
        #expect(HalfPrecision.float(fromHalf: 0x7C00) == .infinity)
        #expect(HalfPrecision.float(fromHalf: 0x7E00).isNaN)
        #expect(HalfPrecision.float(fromHalf: 0x8000).sign == .minus)
    }

    @Test func bfloat16Bits() {
        #expect(HalfPrecision.float(fromBFloat: 0x3F80) == 1)
        #expect(HalfPrecision.float(fromBFloat: 0xC0A0) == -5)
        #expect(HalfPrecision.float(fromBFloat: 0x7F80) == .infinity)
    }

    func unpickle(_ bytes: [UInt8]) throws -> PickleValue {
        try bytes.withUnsafeBytes { raw in
            var u = Unpickler(raw, path: "test.pkl")
            return try u.load { _ throws(WeightError) in .none }
        }
    }

    @Test func pickleNumbersAndContainers() throws {
        // [1, -1, 300, 70000, -2**40, 1.5, 'é', True, None] at protocol 2 (LONG1 for the big negative).
        let bytes: [UInt8] = [0x80, 0x02, 0x5D, 0x71, 0x00, 0x28, 0x4B, 0x01, 0x4A, 0xFF, 0xFF, 0xFF, 0xFF,
                              0x4D, 0x2C, 0x01, 0x4A, 0x70, 0x11, 0x01, 0x00,
                              0x8A, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF,
                              0x47, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0,
                              0x58, 0x02, 0x00, 0x00, 0x00, 0xC3, 0xA9, 0x88, 0x4E, 0x65, 0x2E]
        guard case .list(let list) = try unpickle(bytes) else { Issue.record("not a list"); return }
        let items = list.items
        #expect(items.count == 9)
        if case .int(let v) = items[0] { #expect(v == 1) } else { Issue.record("item 0") }
        if case .int(let v) = items[1] { #expect(v == -1) } else { Issue.record("item 1") }
        if case .int(let v) = items[2] { #expect(v == 300) } else { Issue.record("item 2") }
        if case .int(let v) = items[3] { #expect(v == 70000) } else { Issue.record("item 3") }
        if case .int(let v) = items[4] { #expect(v == -(1 << 40)) } else { Issue.record("item 4") }
        if case .float(let v) = items[5] { #expect(v == 1.5) } else { Issue.record("item 5") }
        if case .string(let v) = items[6] { #expect(v == "é") } else { Issue.record("item 6") }
        if case .bool(let v) = items[7] { #expect(v) } else { Issue.record("item 7") }
        if case .none = items[8] {} else { Issue.record("item 8") }
    }

    @Test func pickleRejectsTextOpcodesAndTruncation() {
        #expect(throws: WeightError.self) { _ = try unpickle([0x80, 0x02, 0x53, 0x27, 0x61, 0x27, 0x0A, 0x2E]) }  // STRING
        #expect(throws: WeightError.self) { _ = try unpickle([0x80, 0x02, 0x58, 0x05, 0x00]) }                     // truncated
        #expect(throws: WeightError.self) { _ = try unpickle([0x80, 0x02, 0x68, 0x03, 0x2E]) }                     // unset memo
    }

    @Test func safetensorsRoundTrip() throws {
        let file = SafeTensorsFile(tensors: ["a.weight": Tensor(shape: [2, 3], storage: [1, 2, 3, 4, 5, 6]),
                                             "b": Tensor(shape: [], storage: [7]), "z\"q": Tensor(zeros: [0, 4])],
                                   metadata: ["ctpipe.config": "{\"x\": \"1\\n\"}", "format": "pt"])
        let bytes = SafeTensors.encode(file)
        let headerLength = bytes.withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        #expect((8 + headerLength) % 8 == 0)
        let parsed = try bytes.withUnsafeBytes { try SafeTensors.parse($0, path: "mem") }
        #expect(parsed.tensors == file.tensors)
        #expect(parsed.metadata == file.metadata)
    }

    @Test func safetensorsErrorsNameTheTensor() throws {
        func parse(_ header: String, data: Int) throws {
            var bytes = [UInt8]()
            withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes += $0 }
            bytes += Array(header.utf8) + [UInt8](repeating: 0, count: data)
            _ = try bytes.withUnsafeBytes { raw in try SafeTensors.parse(raw, path: "x.safetensors") }
        }
        #expect(throws: WeightError(path: "x.safetensors", tensor: "t", reason: "unsupported dtype I64 (supported: F32, F16, BF16, F64)")) {
            try parse(#"{"t":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#, data: 8)
        }
        #expect(throws: WeightError(path: "x.safetensors", tensor: "t", reason: "data_offsets [0, 16] outside the 8 data bytes")) {
            try parse(#"{"t":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: 8)
        }
        #expect(throws: WeightError(path: "x.safetensors", tensor: "t", reason: "8 bytes for shape [3] of F32")) {
            try parse(#"{"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: 8)
        }
        #expect(throws: WeightError.self) { try parse("not json", data: 0) }
    }
}
