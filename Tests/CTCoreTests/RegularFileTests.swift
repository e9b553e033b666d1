// RegularFileTests.swift — RegularFile and FileBytes read regular files only:
// a FIFO, a folder or a missing path is refused by name, a FIFO without
// blocking; reads at an offset and size limits hold.

import CTCore
import Foundation
import TestSupport
import Testing

@Suite struct RegularFileTests {
    @Test func aFIFOIsRefusedPromptlyByName() throws {
        let fifo = try FIFO(named: "weights.bin")
        defer { fifo.remove() }
        let path = fifo.path
        let opened = try #require(fifo.failure { _ = try RegularFile(path: path) }, "RegularFile blocked on a FIFO")
        #expect(opened == "\(path): \(RegularFile.notRegularReason)")
        let read = try #require(fifo.failure { _ = try FileBytes.read(path, limit: 16) }, "FileBytes blocked on a FIFO")
        #expect(read == "\(path): \(RegularFile.notRegularReason)")
    }

    @Test func foldersAndMissingPathsAreRefusedByName() throws {
        let folder = try TemporaryFolder("regular")
        defer { folder.remove() }
        #expect(throws: FileError(path: folder.path, reason: "is a folder, expected a file")) { try RegularFile(path: folder.path) }
        #expect(throws: FileError(path: folder.path + "/none", reason: "file not found")) { try RegularFile(path: folder.path + "/none") }
    }

    @Test func readsAtOffsetsAndKeepsToTheLimit() throws {
        let folder = try TemporaryFolder("regular")
        defer { folder.remove() }
        let path = folder.path + "/data.bin"
        let bytes = (0 ..< 100).map { UInt8($0) }
        try AtomicFile.write(bytes, to: path)
        let file = try RegularFile(path: path)
        #expect(file.size == 100)
        #expect(try file.read(4, at: 0) == [0, 1, 2, 3])
        #expect(try file.read(10, at: 95) == [95, 96, 97, 98, 99])
        #expect(try file.read(10, at: 100).isEmpty)
        #expect(try file.read(10, at: Int.max).isEmpty)
        #expect(try file.readAll() == bytes)
        #expect(try FileBytes.read(path, limit: 100) == bytes)
        #expect(throws: FileError(path: path, reason: "is 100 bytes, more than the 99 this file may have")) {
            try FileBytes.read(path, limit: 99)
        }
    }
}
