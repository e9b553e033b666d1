// HistoryOwnershipTests.swift — the history writes only into its own databases:
// another application's file, a database without ctpipe's schema, or a damaged
// one is refused untouched.

import CTCore
import Foundation
import ManifestSchema
@testable import RunReports
import Testing

@Suite struct HistoryOwnershipTests {
    static func bytes(_ path: String) -> [UInt8] { (try? FileBytes.read(path)) ?? [] }

    @Test func aNewDatabaseCarriesCtpipesApplicationID() throws {
        let path = scratchDatabase("owned")
        let store = try HistoryStore(path: path)
        try store.record(sampleRun(1))
        #expect(try store.connection.query("PRAGMA application_id").first?.first?.int == HistoryStore.applicationID)
        #expect(try HistoryStore(path: path).count() == 1)
    }

    @Test func anotherApplicationsDatabaseIsRefusedUntouched() throws {
        let path = scratchDatabase("foreign")
        try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path,
                                                withIntermediateDirectories: true)
        do {
            let other = try SQLiteConnection(path: path, create: true)
            try other.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('keep me')")
        }
        let before = Self.bytes(path)
        #expect { try HistoryStore(path: path) } throws: { "\($0)".contains("not a ctpipe history database") }
        #expect(Self.bytes(path) == before)
        do {
            let other = try SQLiteConnection(path: path, create: true)
            try other.execute("PRAGMA application_id = 42")
        }
        let marked = Self.bytes(path)
        #expect { try HistoryStore(path: path) } throws: { "\($0)".contains("another application (application_id 42)") }
        #expect(Self.bytes(path) == marked)
    }

    @Test func aDamagedDatabaseIsRefused() throws {
        let path = scratchDatabase("damaged")
        do {
            let store = try HistoryStore(path: path, journal: .delete)
            for n in 1 ... 40 { try store.record(sampleRun(n)) }
        }
        var bytes = Self.bytes(path)
        #expect(bytes.count > 8192)
        // Break the b-tree page headers after the first page (the file header stays valid).
        for page in stride(from: 4096, to: bytes.count, by: 4096) { bytes[page] = 0xFF }
        try AtomicFile.write(bytes, to: path)
        #expect(throws: HistoryError.self) { try HistoryStore(path: path).record(sampleRun(99)) }
    }
}
