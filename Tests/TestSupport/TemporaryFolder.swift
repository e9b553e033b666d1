// TemporaryFolder.swift — a fresh folder under the system's temporary folder
// for a test's outputs.

import Foundation

/// A fresh temporary folder, removed by `remove()`.
public struct TemporaryFolder: Sendable {
    public let path: String

    /// Creates `<tmp>/ctpipe-<tag>-<UUID>`.
    public init(_ tag: String = "test") throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-\(tag)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}
