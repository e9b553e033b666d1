// RunFolderLockTests.swift — one process per run folder: a whole run, a resume or
// a merge excludes every other; the shards of a job array share the folder.

import CTCore
import Foundation
import RunFolder
import Testing

@Suite struct RunFolderLockTests {
    static func folder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-lock-\(UUID())").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func aSecondExclusiveHolderIsRefusedNamingTheFirst() throws {
        let path = try Self.folder()
        let first = try RunFolderLock(folder: path, mode: .exclusive)
        #expect { try RunFolderLock(folder: path, mode: .exclusive) } throws: {
            "\($0)".contains("in use by another ctpipe process (pid \(getpid()))")
        }
        #expect(throws: FileError.self) { try RunFolderLock(folder: path, mode: .shared) }
        withExtendedLifetime(first) {}
    }

    @Test func shardsShareAFolderAndKeepOutAWholeRun() throws {
        let path = try Self.folder()
        let a = try RunFolderLock(folder: path, mode: .shared)
        let b = try RunFolderLock(folder: path, mode: .shared)
        #expect(throws: FileError.self) { try RunFolderLock(folder: path, mode: .exclusive) }
        withExtendedLifetime((a, b)) {}
    }

    @Test func theLockEndsWithItsHolder() throws {
        let path = try Self.folder()
        do { _ = try RunFolderLock(folder: path, mode: .exclusive) }
        let again = try RunFolderLock(folder: path, mode: .exclusive)
        withExtendedLifetime(again) {}
    }
}

@Suite struct LeftoverTests {
    @Test func halfWrittenFilesOfAKilledRunAreRemovedAndFinishedOnesKept() throws {
        let folder = try RunFolderLockTests.folder()
        try FileManager.default.createDirectory(atPath: folder + "/outputs/city/trainid", withIntermediateDirectories: true)
        try AtomicFile.write(text: "{}", to: folder + "/metrics.json")
        try AtomicFile.write(text: "half", to: folder + "/.metrics.json.tmp-123-456")
        try AtomicFile.write(text: "half", to: folder + "/outputs/city/trainid/.a.png.tmp-99-1")
        try AtomicFile.write(text: "png", to: folder + "/outputs/city/trainid/a.png")
        let removed = RunFolderLock.removeLeftovers(in: folder)
        #expect(removed == [".metrics.json.tmp-123-456", "outputs/city/trainid/.a.png.tmp-99-1"])
        #expect(FileManager.default.fileExists(atPath: folder + "/metrics.json"))
        #expect(FileManager.default.fileExists(atPath: folder + "/outputs/city/trainid/a.png"))
        #expect(!FileManager.default.fileExists(atPath: folder + "/.metrics.json.tmp-123-456"))
    }
}
