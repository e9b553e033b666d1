// EnvironmentRecord.swift — what a run ran on (environment.json): ctpipe
// version, git commit when known, C library versions, thread counts.

import Foundation
import ImageIO
import Tensor

public struct EnvironmentRecord: Codable, Sendable {
    public static let ctpipeVersion = "0.1.0"

    public var ctpipeVersion: String
    public var gitCommit: String?
    public var host: String
    public var os: String
    public var cores: Int
    public var workers: Int
    public var libraries: [String: String]
    public var started: String

    enum CodingKeys: String, CodingKey {
        case ctpipeVersion = "ctpipe_version", gitCommit = "git_commit", host, os, cores, workers, libraries, started
    }

    public static func current(workers: Int) -> EnvironmentRecord {
        let info = ProcessInfo.processInfo
        return EnvironmentRecord(ctpipeVersion: ctpipeVersion, gitCommit: gitCommit(), host: info.hostName,
                                 os: info.operatingSystemVersionString, cores: info.activeProcessorCount, workers: workers,
                                 libraries: LibraryVersions.all, started: ISO8601DateFormatter().string(from: Date()))
    }

    /// The commit of the source tree the binary runs from, when it is a git checkout.
    public static func gitCommit() -> String? {
        var url = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath()
        for _ in 0 ..< 6 {
            url.deleteLastPathComponent()
            let head = url.appendingPathComponent(".git/HEAD")
            guard let text = try? String(contentsOf: head, encoding: .utf8) else { continue }
            let line = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard line.hasPrefix("ref: ") else { return line }
            let ref = url.appendingPathComponent(".git/" + line.dropFirst(5))
            return (try? String(contentsOf: ref, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return nil
    }
}

/// Versions of the C libraries linked into this binary, the GEMM kernel (GEMM.kernel: "ctpipe-avx512" or
/// "openblas"), OpenBLAS's kernel family and the CPU features the build requires.
enum LibraryVersions {
    static var all: [String: String] {
        CodecVersions.all.merging(["gemm_kernel": GEMM.kernel.rawValue, "openblas_kernels": BuildTarget.blasKernels,
                                   "cpu_features": BuildTarget.requiredCPUFeatures]) { a, _ in a }
    }
}
