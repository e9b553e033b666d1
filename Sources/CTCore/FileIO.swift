// FileIO.swift — reading whole files and writing them atomically.
//
// Every output ctpipe writes goes through `AtomicFile.write`: the bytes land in
// a temporary file in the destination folder, are flushed, and are renamed over
// the destination, so a reader (or a resumed run) sees the old file or the new
// one, never a torn one.

import Foundation

/// A failure to read or write a file, naming the path and what went wrong.
public struct FileError: Error, CustomStringConvertible, Sendable, Equatable {
    public let path: String
    public let reason: String
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
    public var description: String { "\(path): \(reason)" }
}

public enum FileBytes {
    /// Reads a whole file. Errors name the path (missing, a folder, unreadable).
    public static func read(_ path: String) throws(FileError) -> [UInt8] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FileError(path: path, reason: "file not found")
        }
        if isDirectory.boolValue { throw FileError(path: path, reason: "is a folder, expected a file") }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw FileError(path: path, reason: "cannot open for reading (permissions?)")
        }
        defer { try? handle.close() }
        do {
            let data = try handle.readToEnd() ?? Data()
            return [UInt8](data)
        } catch {
            throw FileError(path: path, reason: "read failed: \(error.localizedDescription)")
        }
    }
}

public enum AtomicFile {
    /// Writes `bytes` to `path` atomically (temporary file, fsync, rename),
    /// creating missing parent folders.
    public static func write(_ bytes: [UInt8], to path: String) throws(FileError) {
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
        if failure == nil, fsync(fd) != 0 { failure = "fsync failed: \(String(cString: strerror(errno)))" }
        close(fd)
        if failure == nil, rename(temporary, path) != 0 {
            failure = "rename failed: \(String(cString: strerror(errno)))"
        }
        if let failure {
            unlink(temporary)
            throw FileError(path: path, reason: failure)
        }
    }

    /// Writes UTF-8 text atomically.
    public static func write(text: String, to path: String) throws(FileError) {
        try write(Array(text.utf8), to: path)
    }
}
