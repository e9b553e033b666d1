// RegularFile.swift — a file opened for reading only when it is a regular file,
// without ever blocking.
//
// Opening a FIFO for reading waits until something opens it for writing, and
// opening a device can have side effects. Every reader of a path the user
// names goes through `RegularFile`: `stat` first (a FIFO, socket or device is
// refused without being opened), then `open` with O_NONBLOCK (should the path
// have become a FIFO in between, the open still returns at once), then `fstat`
// of the open descriptor, which decides. Symbolic links are followed.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A regular file open for reading; the descriptor closes with the object.
public final class RegularFile {
    public let path: String
    /// The open descriptor (read-only). Valid while this object lives: keep it alive
    /// (`withExtendedLifetime`) across calls that use the descriptor directly.
    public let descriptor: Int32
    /// The size `fstat` gave when the file was opened.
    public let size: Int

    /// The reason given for a FIFO, socket or device.
    public static let notRegularReason = "is not a regular file (a FIFO, socket or device); refused"

    /// Opens `path` for reading. Errors name the path: missing, a folder, not a
    /// regular file (refused without blocking), unreadable.
    public init(path: String) throws(FileError) {
        self.path = path
        var info = stat()
        guard stat(path, &info) == 0 else { throw Self.openError(path, code: errno) }
        try Self.checkRegular(info, path: path)
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw Self.openError(path, code: errno) }
        guard fstat(fd, &info) == 0 else {
            let code = errno
            close(fd)
            throw FileError(path: path, reason: "cannot stat: \(String(cString: strerror(code)))")
        }
        do { try Self.checkRegular(info, path: path) } catch {
            close(fd)
            throw error
        }
        // O_NONBLOCK means nothing for a regular file; cleared so reads are plain reads.
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0 { _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }
        descriptor = fd
        size = Int(info.st_size)
    }

    deinit { close(descriptor) }

    static func checkRegular(_ info: stat, path: String) throws(FileError) {
        switch info.st_mode & S_IFMT {
        case S_IFREG: return
        case S_IFDIR: throw FileError(path: path, reason: "is a folder, expected a file")
        default: throw FileError(path: path, reason: notRegularReason)
        }
    }

    static func openError(_ path: String, code: Int32) -> FileError {
        switch code {
        case ENOENT, ENOTDIR: FileError(path: path, reason: "file not found")
        case EACCES, EPERM: FileError(path: path, reason: "cannot open for reading (permissions?)")
        // A socket cannot be opened; a FIFO opened for writing without a reader answers ENXIO.
        case ENXIO: FileError(path: path, reason: notRegularReason)
        default: FileError(path: path, reason: "cannot open for reading: \(String(cString: strerror(code)))")
        }
    }

    /// Up to `count` bytes starting at byte `offset` (fewer at the end of the file,
    /// none past it).
    public func read(_ count: Int, at offset: Int) throws(FileError) -> [UInt8] {
        guard count > 0, offset >= 0, offset <= Int.max - count else { return [] }
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0, failure: Int32 = 0
        bytes.withUnsafeMutableBytes { buffer in
            while done < count {
                let n = pread(descriptor, buffer.baseAddress! + done, count - done, off_t(offset + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                if n == 0 { return }
                done += n
            }
        }
        if failure != 0 { throw FileError(path: path, reason: "read failed: \(String(cString: strerror(failure)))") }
        bytes.removeSubrange(done...)
        return bytes
    }

    /// The whole file; more than `limit` bytes (when given) is refused, also when the
    /// file grows while it is read.
    public func readAll(limit: Int? = nil) throws(FileError) -> [UInt8] {
        func tooLarge(_ count: Int) -> FileError {
            FileError(path: path, reason: "is \(count) bytes, more than the \(limit ?? 0) this file may have")
        }
        if let limit, size > limit { throw tooLarge(size) }
        var bytes = try read(size, at: 0)
        while true {
            let more = try read(64 << 10, at: bytes.count)
            if more.isEmpty { return bytes }
            bytes += more
            if let limit, bytes.count > limit { throw tooLarge(bytes.count) }
        }
    }
}
