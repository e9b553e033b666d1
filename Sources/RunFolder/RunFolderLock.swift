// RunFolderLock.swift — one process per run folder.
//
// A run, a `--resume` and a `merge` hold an exclusive lock (flock) on
// `<run folder>/.lock` for their whole life; the shards of a job array
// (`--shard i/N`), which share one folder by design, hold it shared, so they
// run side by side while a whole run or a merge of the same folder is refused
// (and waits for none of them). The lock file keeps the holder's process id
// for the message. The operating system drops the lock when the process ends,
// however it ends (kill -9 included), so a stale lock never blocks a later run.

import CTCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

public final class RunFolderLock: Sendable {
    public enum Mode: Sendable { case exclusive, shared }

    private let descriptor: Int32
    public let path: String

    /// Takes the lock of `folder` without waiting; throws naming the holder when it is taken.
    public init(folder: String, mode: Mode) throws(FileError) {
        do { path = try ContainedFolder(root: folder).file([".lock"]) } catch { throw FileError(path: error.path, reason: error.reason) }
        // O_NOFOLLOW: a link standing in for the lock file is refused, not written through.
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw FileError(path: path, reason: "cannot open the run folder's lock file: \(String(cString: strerror(errno)))") }
        guard flock(fd, (mode == .exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0 else {
            let holder = Self.holder(fd)
            close(fd)
            throw FileError(path: folder, reason: "is in use by another ctpipe process\(holder.map { " (pid \($0))" } ?? "") running, resuming or merging it; wait for it to finish or use another --run-dir")
        }
        descriptor = fd
        if mode == .exclusive || Self.holder(fd) == nil {
            let text = Array("\(getpid())\n".utf8)
            _ = ftruncate(fd, 0)
            _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        }
    }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }

    /// Removes what a killed process left half-written in `folder` (atomic writes'
    /// `.<name>.tmp-<pid>-<n>` files, never mistaken for finished files) and returns their
    /// paths. Only the exclusive holder calls it: no one else is writing there.
    public static func removeLeftovers(in folder: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: folder) else { return [] }
        var removed: [String] = []
        while let relative = walker.nextObject() as? String {
            let name = (relative as NSString).lastPathComponent
            guard name.hasPrefix("."), name.contains(".tmp-") else { continue }
            let path = folder + "/" + relative
            if (try? FileManager.default.removeItem(atPath: path)) != nil { removed.append(relative) }
        }
        return removed.sorted()
    }

    /// The process id written in the lock file, if any.
    static func holder(_ fd: Int32) -> Int? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        return Int(String(decoding: buffer[0 ..< n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
