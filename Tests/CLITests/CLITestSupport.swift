import Foundation

/// Runs the built `ctpipe` binary (next to the test bundle) and captures its output.
struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
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

    static func run(_ arguments: [String]) throws -> CommandResult {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CommandResult(status: process.terminationStatus,
                             stdout: String(decoding: stdout, as: UTF8.self),
                             stderr: String(decoding: stderr, as: UTF8.self))
    }
}
