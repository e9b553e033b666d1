// FIFO.swift — a named pipe for checking that a reader refuses it without
// blocking: the read runs on a thread of its own and must return in time, so
// a reader that blocks fails its test instead of hanging the suite.

import Foundation
import Synchronization

/// A FIFO (named pipe) in a fresh temporary folder, removed by `remove()`.
public struct FIFO: Sendable {
    public let folder: TemporaryFolder
    public let path: String

    /// Creates `<folder>/<name>` as a FIFO (`name` may hold subfolders, created first).
    public init(named name: String = "fifo", in folder: TemporaryFolder? = nil) throws {
        self.folder = try folder ?? TemporaryFolder("fifo")
        path = self.folder.path + "/" + name
        try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path,
                                                withIntermediateDirectories: true)
        guard mkfifo(path, 0o600) == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]) }
    }

    /// Runs `body` on a thread of its own: its result, or nil when it has not returned
    /// within `seconds` (it blocked on the FIFO). A blocked reader is then released:
    /// the FIFO is opened for writing and closed, so its `open` returns and it reads
    /// the end of the file.
    public func promptly<T: Sendable>(within seconds: Double = 10, _ body: @escaping @Sendable () -> T) -> T? {
        let result = Box<T>()
        let done = DispatchSemaphore(value: 0)
        Thread {
            let value = body()
            result.value.withLock { $0 = value }
            done.signal()
        }.start()
        if done.wait(timeout: .now() + seconds) == .success { return result.value.withLock { $0 } }
        let fd = open(path, O_WRONLY | O_NONBLOCK)
        if fd >= 0 { close(fd) }
        return nil
    }

    /// The description of the error `body` throws, "returned" when it throws none,
    /// or nil when it has not returned within `seconds`.
    public func failure(within seconds: Double = 10, _ body: @escaping @Sendable () throws -> Void) -> String? {
        promptly(within: seconds) {
            do { try body(); return "returned" } catch { return "\(error)" }
        }
    }

    public func remove() { folder.remove() }
}

/// A result handed from the reading thread to the waiting one.
private final class Box<T: Sendable>: Sendable {
    let value = Mutex<T?>(nil)
}
