// FileIO.swift — reading whole files and writing them atomically.
//
// Every output ctpipe writes goes through `AtomicFile.write`: the bytes land in
// a temporary file in the destination folder and are renamed over the
// destination, so a reader (or a resumed run) sees the old file or the new one,
// never a torn one (atomicity comes from the rename). `.durable` writes (the
// default: records, checkpoints, metrics) also fsync the file before the rename
// and the folder after it, so they survive a power loss once `write` returns.
// `.atomic` writes skip both; the runner writes label files that way and makes a
// shard's files durable together (`AtomicFile.sync`) before its record.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A failure to read or write a file, naming the path and what went wrong.
public struct FileError: ReasonedError, Equatable {
    public let path: String, reason: String
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
    public var subject: String? { path }
}

public enum FileBytes {
    /// Reads a whole file. Errors name the path (missing, a folder, not a regular file —
    /// a FIFO, socket or device is refused without blocking (`RegularFile`) —, larger
    /// than `limit` bytes, unreadable).
    public static func read(_ path: String, limit: Int? = nil) throws(FileError) -> [UInt8] {
        try RegularFile(path: path).readAll(limit: limit)
    }
}

public enum AtomicFile {
    /// What `write` guarantees beyond atomicity.
    public enum Durability: Sendable, Equatable {
        /// fsync the file before the rename and its folder after it: once `write`
        /// returns, the new file is on the disk (records, checkpoints, metrics, reports).
        case durable
        /// Rename only: readers still see the old file or the whole new one, never a
        /// torn one, but after an operating-system crash or power loss a fresh file
        /// may be missing or empty. For bulk outputs whose writer syncs them itself
        /// (`AtomicFile.sync`) before recording them as done.
        case atomic
    }

    /// Writes `bytes` to `path` atomically (temporary file, fsync when `durable`,
    /// rename), creating missing parent folders.
    public static func write(_ bytes: [UInt8], to path: String, durability: Durability = .durable) throws(FileError) {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw FileError(path: folder, reason: "cannot create folder: \(error.localizedDescription)")
        }
        let temporary = folder + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw FileError(path: path, reason: "cannot create temporary file: \(String(cString: strerror(errno)))")
        }
        var failure: String?
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = "write failed: \(String(cString: strerror(errno)))"
                    return
                }
                offset += n
            }
        }
        if failure == nil, durability == .durable, fsync(fd) != 0 { failure = "fsync failed: \(String(cString: strerror(errno)))" }
        close(fd)
        if failure == nil, rename(temporary, path) != 0 {
            failure = "rename failed: \(String(cString: strerror(errno)))"
        }
        // The rename itself is durable once the folder is synced.
        if failure == nil, durability == .durable, let reason = syncFolder(folder) { failure = reason }
        if let failure {
            unlink(temporary)
            throw FileError(path: path, reason: failure)
        }
    }

    /// Makes files written with `.atomic` durable: fsync of each file, then of each
    /// folder holding them (their renames), e.g. a shard's outputs before its
    /// completion record. Errors name the file or folder.
    public static func sync(_ paths: [String]) throws(FileError) {
        var folders: [String] = []
        for path in paths {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw FileError(path: path, reason: "cannot open to sync: \(String(cString: strerror(errno)))") }
            let result = fsync(fd)
            let code = errno
            close(fd)
            if result != 0 { throw FileError(path: path, reason: "fsync failed: \(String(cString: strerror(code)))") }
            let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
            if folders.last != folder && !folders.contains(folder) { folders.append(folder) }
        }
        for folder in folders {
            if let reason = syncFolder(folder) { throw FileError(path: folder, reason: reason) }
        }
    }

    /// fsync of a folder (makes renames in it durable); the failure reason, or nil.
    static func syncFolder(_ folder: String) -> String? {
        let fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return "cannot open folder \(folder) to sync: \(String(cString: strerror(errno)))" }
        defer { close(fd) }
        // Some file systems cannot sync folders (EINVAL); the data itself is synced already.
        if fsync(fd) != 0 && errno != EINVAL { return "fsync of folder \(folder) failed: \(String(cString: strerror(errno)))" }
        return nil
    }

    /// Writes UTF-8 text atomically.
    public static func write(text: String, to path: String) throws(FileError) {
        try write(Array(text.utf8), to: path)
    }
}
