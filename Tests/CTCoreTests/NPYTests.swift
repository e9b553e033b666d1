import CTCore
import Foundation
import Testing

@Suite struct NPYTests {
    @Test func headerIsNumpyCompatible() {
        let array = NPYArray(shape: [2, 3, 1], uint8: [1, 2, 3, 4, 5, 6])
        let bytes = array.encoded()
        #expect(Array(bytes[0 ..< 6]) == [0x93] + Array("NUMPY".utf8))
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        #expect((10 + headerLength) % 64 == 0, "data must start on a 64-byte boundary")
        let header = String(decoding: bytes[10 ..< 10 + headerLength], as: UTF8.self)
        #expect(header.hasPrefix("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3, 1), }"))
        #expect(header.hasSuffix("\n"))
    }

    @Test(arguments: [[5], [2, 2], [1, 2, 3]])
    func roundTrip(shape: [Int]) throws {
        let n = shape.reduce(1, *)
        let values = (0 ..< n).map { Float($0) * 0.5 - 1 }
        let array = NPYArray(shape: shape, float32: values)
        let decoded = try NPYArray.decode(array.encoded(), path: "x.npy")
        #expect(decoded == array)
        #expect(decoded.floats == values)
    }

    @Test func rejectsTruncatedData() {
        var bytes = NPYArray(shape: [4], uint16: [1, 2, 3, 4]).encoded()
        bytes.removeLast()
        #expect(throws: FileError.self) { try NPYArray.decode(bytes, path: "t.npy") }
    }

    /// A version 1.0 file with `header` and no data.
    static func npy(header: String, major: UInt8 = 1) -> [UInt8] {
        let length = header.utf8.count
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [major, 0, UInt8(length & 0xFF), UInt8(length >> 8)]
        if major == 2 { bytes += [0, 0] }
        return bytes + Array(header.utf8)
    }

    @Test func shapesWhoseByteCountOverflowsAreRefused() {
        for shape in ["(4611686018427387904, 4)", "(9223372036854775807,)", "(2147483648, 2147483648, 2)"] {
            let bytes = Self.npy(header: "{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }\n")
            #expect(throws: FileError(path: "o.npy", reason: "not a usable .npy file: shape \(Self.parsed(shape)) has too many elements")) {
                try NPYArray.decode(bytes, path: "o.npy")
            }
        }
    }

    static func parsed(_ shape: String) -> [Int] {
        shape.dropFirst().dropLast().split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    }

    @Test func headerLongerThanTheFileIsTruncation() {
        var bytes = Self.npy(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\n", major: 2)
        bytes[8] = 0xFF; bytes[9] = 0xFF; bytes[10] = 0xFF; bytes[11] = 0xFF
        #expect(throws: FileError(path: "t.npy", reason: "not a usable .npy file: truncated header")) {
            try NPYArray.decode(bytes, path: "t.npy")
        }
    }
}

@Suite struct AtomicFileTests {
    @Test func writesAndReplaces() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-atomic-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/sub/out.bin"
        try AtomicFile.write([1, 2, 3], to: path)
        try AtomicFile.write([4, 5], to: path)
        #expect(try FileBytes.read(path) == [4, 5])
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder + "/sub")
        #expect(leftovers == ["out.bin"], "no temporary files remain")
    }

    @Test func atomicWritesThenSyncTogether() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-atomic-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let paths = [folder + "/a/x.png", folder + "/a/y.png", folder + "/b/z.png"]
        for (i, path) in paths.enumerated() {
            try AtomicFile.write([UInt8(i), 9], to: path, durability: .atomic)
            try AtomicFile.write([UInt8(i), 7], to: path, durability: .atomic)
        }
        try AtomicFile.sync(paths)
        #expect(try paths.map { try FileBytes.read($0) } == [[0, 7], [1, 7], [2, 7]])
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder + "/a").sorted() == ["x.png", "y.png"])
        #expect {
            try AtomicFile.sync([paths[0], folder + "/a/missing.png"])
        } throws: { error in
            (error as? FileError)?.path == folder + "/a/missing.png"
        }
    }

    @Test func missingFileIsNamed() {
        #expect(throws: FileError(path: "/nonexistent/x.png", reason: "file not found")) {
            try FileBytes.read("/nonexistent/x.png")
        }
    }
}

@Suite struct JSONTextTests {
    @Test func escapesWhatJSONRequires() throws {
        let text = "a\"b\\c\nd\te\u{01}f/é"
        let quoted = JSONText.quote(text)
        #expect(quoted == "\"a\\\"b\\\\c\\nd\\te\\u0001f/é\"")
        let decoded = try JSONSerialization.jsonObject(with: Data(quoted.utf8), options: [.fragmentsAllowed]) as? String
        #expect(decoded == text, "Foundation's JSON parser reads it back")
    }
}
