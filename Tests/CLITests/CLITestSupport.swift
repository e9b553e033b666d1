import Foundation
import Synchronization

/// Runs the built `ctpipe` binary (next to the test bundle) and captures its output.
struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
    /// Killed after the timeout given to `CTPipeBinary.run`.
    var timedOut = false
}

enum CTPipeBinary {
    static var url: URL {
        var folder = Bundle.main.bundleURL
        // XCTest/Swift Testing on Linux: .build/<config>/ctpipePackageTests.xctest
        if folder.pathExtension == "xctest" { folder = folder.deletingLastPathComponent() }
        for candidate in [folder, folder.deletingLastPathComponent()] {
            let url = candidate.appendingPathComponent("ctpipe")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return folder.appendingPathComponent("ctpipe")
    }

    /// With a `timeout`, a process still running after that many seconds is killed
    /// (SIGKILL) and the result says `timedOut`, so a command that blocks fails its
    /// test instead of hanging the suite.
    static func run(_ arguments: [String], timeout: Double? = nil) throws -> CommandResult {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let finished = DispatchSemaphore(value: 0)
        let killed = KillFlag()
        if let timeout {
            let pid = process.processIdentifier
            DispatchQueue.global().async {
                if finished.wait(timeout: .now() + timeout) == .timedOut {
                    killed.value.withLock { $0 = true }
                    kill(pid, SIGKILL)
                }
            }
        }
        defer { finished.signal() }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CommandResult(status: process.terminationStatus,
                             stdout: String(decoding: stdout, as: UTF8.self),
                             stderr: String(decoding: stderr, as: UTF8.self),
                             timedOut: killed.value.withLock { $0 })
    }
}

/// Whether `CTPipeBinary.run` killed the process (shared with its timer).
private final class KillFlag: Sendable {
    let value = Mutex(false)
}
