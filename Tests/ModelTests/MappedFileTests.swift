// MappedFileTests.swift — releasing copied-out pages of a mapped weight file
// keeps its contents readable (they are read back from the file), and loading
// through the releasing readers gives the same tensors as parsing in memory.

import Foundation
@testable import Model
import Tensor
import TestSupport
import Testing

struct MappedFileTests {
    @Test func releasedPagesReadBackUnchanged() throws {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let bytes = (0 ..< 5 * page + 123).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-mapped-\(UUID().uuidString).bin")
        try Data(bytes).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let file = try MappedFile(path: url.path)
        #expect(file.count == bytes.count)
        #expect(Array(file.bytes) == bytes)
        file.release(UnsafeRawBufferPointer(rebasing: file.bytes[100 ..< 4 * page + 5]))   // pages 1...3 dropped
        file.release(file.bytes)                                                          // everything
        file.release(UnsafeRawBufferPointer(start: nil, count: 0))                        // nothing
        #expect(Array(file.bytes) == bytes)
    }

    @Test func loadingReleasesNothingItStillNeeds() throws {
        let path = fixtures.path("backbone/small/model.safetensors")
        let inMemory = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let parsed = try inMemory.withUnsafeBytes { try SafeTensors.parse($0, path: path) }
        let read = try SafeTensors.read(path)
        #expect(read.tensors == parsed.tensors)
        #expect(read.metadata == parsed.metadata)
    }
}
