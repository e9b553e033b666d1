// RunDirectory.swift — the folder a run writes everything into:
//
//   <outputs.dir>/<name>/<timestamp>/      (or a fixed folder for --shard/--run-dir, or
//                                          <name>/seeds-<timestamp>/seed-<s>/ in a seed sweep)
//     manifest.json        the resolved manifest (pipeline inlined, defaults as given)
//     environment.json     ctpipe version, git commit, library versions, thread counts
//     events.jsonl         one JSON object per line: run/shard start, finish, problems
//     shards/<dataset>/<k>-of-<N>.json   a shard's partial results; written last = completion record
//     outputs/<dataset>/...              label PNGs, colour masks, overlays, CVAT export
//     metrics.json, metrics.csv          merged results
//
// Every file is written atomically; a shard record exists only when all of the
// shard's outputs are on disk.

import CTCore
import Foundation
import ManifestSchema
import Synchronization

public final class RunDirectory: Sendable {
    public let path: String
    private let eventLock = Mutex<Void>(())

    public init(path: String) throws(FileError) {
        self.path = path
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw FileError(path: path, reason: "cannot create run folder: \(error.localizedDescription)")
        }
    }

    /// A new timestamped run folder `<root>/<name>/<yyyyMMdd-HHmmss>` (suffixed when taken).
    public static func create(root: String, name: String, now: Date = Date()) throws(FileError) -> RunDirectory {
        let base = "\(root)/\(name)/\(timestamp(now))"
        var candidate = base
        var n = 1
        while FileManager.default.fileExists(atPath: candidate) {
            n += 1
            candidate = "\(base)-\(n)"
        }
        return try RunDirectory(path: candidate)
    }

    /// `yyyyMMdd-HHmmss` in UTC: the name of a new run (or sweep) folder.
    public static func timestamp(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        return formatter.string(from: date)
    }

    /// The run id of this folder in the results history: `<manifest name>/<folder name>`, or
    /// `<manifest name>/<sweep folder>/<folder name>` for a seed run of a sweep (SweepFolder.swift).
    public func runID(manifestName: String) -> String {
        let url = URL(fileURLWithPath: path)
        if SweepFolder.holds(runFolder: path) {
            return "\(manifestName)/\(url.deletingLastPathComponent().lastPathComponent)/\(url.lastPathComponent)"
        }
        return "\(manifestName)/\(url.lastPathComponent)"
    }

    /// The most recent run folder of `name` whose manifest has `configurationHash`.
    public static func latest(root: String, name: String, configurationHash: String) -> RunDirectory? {
        let folder = "\(root)/\(name)"
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return nil }
        for entry in entries.sorted(by: >) {
            let candidate = "\(folder)/\(entry)"
            if RunDirectory.configurationHash(of: candidate) == configurationHash {
                return try? RunDirectory(path: candidate)
            }
        }
        return nil
    }

    /// The configuration hash recorded in a run folder's manifest.json.
    public static func configurationHash(of path: String) -> String? {
        guard let bytes = try? FileBytes.read(path + "/manifest.json"),
              case .object(let object)? = try? JSONValue.parse(bytes, path: path),
              case .string(let hash)? = object["configuration_hash"] else { return nil }
        return hash
    }

    // MARK: layout

    public var manifestFile: String { path + "/manifest.json" }
    public var environmentFile: String { path + "/environment.json" }
    public var eventsFile: String { path + "/events.jsonl" }
    public var metricsFile: String { path + "/metrics.json" }
    public var metricsCSVFile: String { path + "/metrics.csv" }
    public func outputs(_ dataset: String) -> String { "\(path)/outputs/\(dataset)" }
    public func shardRecord(_ shard: ShardID) -> String {
        "\(path)/shards/\(shard.dataset)/\(shard.index)-of-\(shard.count).json"
    }

    // MARK: records

    /// Writes the resolved manifest with its configuration hash.
    public func writeManifest(_ manifest: Manifest) throws(FileError) {
        let document: JSONValue = .object([
            "configuration_hash": .string(manifest.configurationHash),
            "manifest_file": .string(manifest.file),
            "manifest": manifest.resolved,
        ])
        try writeJSON(document, to: manifestFile)
    }

    /// Writes any JSON value atomically, pretty-printed with sorted keys.
    public func writeJSON(_ value: JSONValue, to file: String) throws(FileError) {
        let data: Data
        do {
            data = try JSONSerialization.data(withJSONObject: value.foundation,
                                              options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed])
        } catch {
            throw FileError(path: file, reason: "cannot encode JSON: \(error)")
        }
        try AtomicFile.write(Array(data) + [0x0A], to: file)
    }

    /// Writes an Encodable value atomically as pretty JSON.
    public func write<T: Encodable>(_ value: T, to file: String) throws(FileError) {
        do {
            try AtomicFile.write(Array(try PrettyJSON.data(value)) + [0x0A], to: file)
        } catch let error as FileError {
            throw error
        } catch {
            throw FileError(path: file, reason: "cannot encode JSON: \(error)")
        }
    }

    /// Reads a Decodable JSON file (nil when absent).
    public func read<T: Decodable>(_ type: T.Type, from file: String) throws(FileError) -> T? {
        guard FileManager.default.fileExists(atPath: file) else { return nil }
        let bytes = try FileBytes.read(file)
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch {
            throw FileError(path: file, reason: "unreadable record: \(error)")
        }
    }

    /// Appends one event line (with a UTC timestamp) to events.jsonl.
    public func event(_ kind: String, _ fields: [String: JSONValue] = [:]) {
        var object = fields
        object["event"] = .string(kind)
        object["time"] = .string(ISO8601DateFormatter().string(from: Date()))
        let line = JSONValue.object(object).canonicalText() + "\n"
        eventLock.withLock { _ in
            let fd = open(eventsFile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            guard fd >= 0 else { return }
            _ = line.utf8CString.withUnsafeBufferPointer { Foundation.write(fd, $0.baseAddress, $0.count - 1) }
            close(fd)
        }
    }
}
