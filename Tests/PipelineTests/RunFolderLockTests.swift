// RunFolderLockTests.swift — one process per run folder: a whole run, a resume or
// a merge excludes every other; the shards of a job array share the folder;
// new runs started in the same second each get a folder of their own.

import CTCore
import Foundation
import ManifestSchema
import RunFolder
import Synchronization
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

@Suite struct RunFolderNameTests {
    /// Runs of one manifest started in the same second: each claims its own folder with one
    /// mkdir (`<timestamp>`, `<timestamp>-2`, ...), never the same one.
    @Test func runsStartedInTheSameSecondGetTheirOwnFolders() throws {
        let root = try RunFolderLockTests.folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let count = 48
        // Several seconds' worth of simultaneous starts, so that a check-then-create race shows.
        for second in 0 ..< 6 {
            let now = Date(timeIntervalSince1970: 1_800_000_000 + Double(second))
            let paths = Mutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: count) { _ in
                if let directory = try? RunDirectory.create(root: root, name: "same", now: now) {
                    paths.withLock { $0.append(directory.path) }
                }
            }
            let created = paths.withLock { $0 }
            #expect(created.count == count)
            #expect(Set(created).count == count, "every run has a folder of its own")
            let names = Set(created.map { URL(fileURLWithPath: $0).lastPathComponent })
            let base = try #require(names.min(by: { $0.count < $1.count }))
            #expect(names == Set([base] + (2 ... count).map { "\(base)-\($0)" }))
            // Each can take its run folder's exclusive lock: none is refused as "in use".
            let locks = try created.map { try RunFolderLock(folder: $0, mode: .exclusive) }
            #expect(locks.count == count)
        }
    }

    /// `--resume` continues the newest folder: `<timestamp>-10` comes after `<timestamp>-9`.
    @Test func theLatestFolderOfASecondIsTheHighestSuffix() throws {
        let root = try RunFolderLockTests.folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        var paths: [String] = []
        for _ in 0 ..< 10 {
            let directory = try RunDirectory.create(root: root, name: "m", now: now)
            try directory.writeJSON(.object(["configuration_hash": .string("h")]), to: ["manifest.json"])
            paths.append(directory.path)
        }
        #expect(paths.last?.hasSuffix("-10") == true)
        #expect(RunDirectory.latest(root: root, name: "m", configurationHash: "h")?.path == paths.last)
        let later = try RunDirectory.create(root: root, name: "m", now: now.addingTimeInterval(1))
        try later.writeJSON(.object(["configuration_hash": .string("h")]), to: ["manifest.json"])
        #expect(RunDirectory.latest(root: root, name: "m", configurationHash: "h")?.path == later.path)
    }
}
