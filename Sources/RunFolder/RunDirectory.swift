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
// shard's outputs are on disk. Every path written is checked to resolve inside
// the run folder (`file(_:)`, CTCore's ContainedFolder).

import CTCore
import Foundation
import ManifestSchema
import Synchronization

public final class RunDirectory: Sendable {
    public let path: String
    /// The run folder as the containment check sees it: every file a run writes is placed by `file(_:)`.
    public let folder: ContainedFolder
    private let eventLock = Mutex<Void>(())
    /// False for the other ranks of a job of several processes (they read rank 0's run folder):
    /// the `write` functions do nothing.
    public let writes: Bool
    /// False for the other ranks of a job of several processes: events do nothing (rank 0 alone logs).
    public let logs: Bool

    /// The run folder of another process (rank 0 of a job of several), read but never written here.
    public init(following path: String) {
        self.path = path
        folder = ContainedFolder(root: path)
        writes = false
        logs = false
    }

    /// The same folder for a rank other than 0 evaluating its share of the shards after training: it
    /// writes the results of its shards (label files, gallery thumbnails, shard records) but no events.
    public func evaluationShare() -> RunDirectory { RunDirectory(path: path, writes: true, logs: false) }

    private init(path: String, writes: Bool, logs: Bool) {
        self.path = path
        folder = ContainedFolder(root: path)
        self.writes = writes
        self.logs = logs
    }

    /// The run folder at `path`, created (with its parents) when missing.
    public init(path: String) throws(FileError) {
        writes = true
        logs = true
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw FileError(path: path, reason: "cannot create run folder: \(error.localizedDescription)")
        }
        self.path = path
        folder = ContainedFolder(root: path)
    }

    /// A folder this process has just created.
    private init(created path: String) {
        writes = true
        logs = true
        self.path = path
        folder = ContainedFolder(root: path)
    }

    /// A new timestamped run folder `<root>/<name>/<yyyyMMdd-HHmmss>`; when that is taken,
    /// `<yyyyMMdd-HHmmss>-2`, `-3`, ... Each candidate is claimed with one `mkdir` (no
    /// intermediate folders), so of two runs started in the same second each gets its own.
    public static func create(root: String, name: String, now: Date = Date()) throws(FileError) -> RunDirectory {
        RunDirectory(created: try claimFolder(in: "\(root)/\(name)", named: timestamp(now), what: "run folder"))
    }

    /// Makes `<parent>/<stem>`, or when that exists `<stem>-2`, `-3`, ... (`parent` created as needed),
    /// each candidate claimed with one `mkdir`, so two processes never get the same folder. Returns its path.
    public static func claimFolder(in parent: String, named stem: String, what: String) throws(FileError) -> String {
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        } catch {
            throw FileError(path: parent, reason: "cannot create folder: \(error.localizedDescription)")
        }
        let base = "\(parent)/\(stem)"
        for n in 1 ... 10_000 {
            let candidate = n == 1 ? base : "\(base)-\(n)"
            if mkdir(candidate, 0o755) == 0 { return candidate }
            guard errno == EEXIST else {
                throw FileError(path: candidate, reason: "cannot create \(what): \(String(cString: strerror(errno)))")
            }
        }
        throw FileError(path: base, reason: "cannot create \(what): 10000 folders of this second exist already")
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
        for entry in entries.sorted(by: { newer($0, than: $1) }) {
            let candidate = "\(folder)/\(entry)"
            if RunDirectory.configurationHash(of: candidate) == configurationHash {
                return try? RunDirectory(path: candidate)
            }
        }
        return nil
    }

    /// Run folder names, newest first: by timestamp, then by the suffix a folder of the
    /// same second gets (`-2` < `-10`), then by name.
    static func newer(_ a: String, than b: String) -> Bool {
        func key(_ name: String) -> (String, Int) {
            // yyyyMMdd-HHmmss is 15 characters; a suffix follows as -N.
            guard name.count > 16, name.dropFirst(15).first == "-", let n = Int(name.dropFirst(16)) else { return (name, 1) }
            return (String(name.prefix(15)), n)
        }
        let (x, y) = (key(a), key(b))
        return x.0 != y.0 ? x.0 > y.0 : x.1 != y.1 ? x.1 > y.1 : a > b
    }

    /// The configuration hash recorded in a run folder's manifest.json.
    public static func configurationHash(of path: String) -> String? {
        guard let bytes = try? FileBytes.read(path + "/manifest.json"),
              case .object(let object)? = try? JSONValue.parse(bytes, path: path),
              case .string(let hash)? = object["configuration_hash"] else { return nil }
        return hash
    }

    // MARK: layout (paths to read; files are written through `file(_:)`)

    public var manifestFile: String { path + "/manifest.json" }
    public var environmentFile: String { path + "/environment.json" }
    public var eventsFile: String { path + "/events.jsonl" }
    public var metricsFile: String { path + "/metrics.json" }
    public var metricsCSVFile: String { path + "/metrics.csv" }
    /// Label files of one dataset: `outputs/<dataset>/`, as the writer's contained folder.
    public func outputs(_ dataset: String) -> ContainedFolder { folder.below(["outputs", dataset]) }
    public func shardRecord(_ shard: ShardID) -> String { folder.joined(Self.shardRecord(shard)) }
    /// `shards/<dataset>/<k>-of-<N>.json`.
    public static func shardRecord(_ shard: ShardID) -> [String] {
        ["shards", shard.dataset, "\(shard.index)-of-\(shard.count).json"]
    }

    // MARK: writing

    /// The path of the file at `components` below the run folder, ready to be written (its parent
    /// folders created). Every writer into the run folder gets its path here: a component that
    /// is empty, `.` or `..`, or holds `/`, NUL or a control character is refused, and so is a
    /// parent that resolves outside the run folder (a symbolic link leading elsewhere), before
    /// anything is created or written; the RunError names the path.
    public func file(_ components: [String]) throws(RunError) -> String {
        do { return try folder.file(components) } catch { throw RunError(error.description) }
    }

    /// Writes the resolved manifest with its configuration hash.
    public func writeManifest(_ manifest: Manifest) throws {
        let document: JSONValue = .object([
            "configuration_hash": .string(manifest.configurationHash),
            "manifest_file": .string(manifest.file),
            "manifest": manifest.resolved,
        ])
        try writeJSON(document, to: ["manifest.json"])
    }

    /// Writes any JSON value atomically at `components`, pretty-printed with sorted keys.
    public func writeJSON(_ value: JSONValue, to components: [String]) throws {
        guard writes else { return }
        let file = try file(components)
        let data: Data
        do {
            data = try JSONSerialization.data(withJSONObject: value.foundation,
                                              options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed])
        } catch {
            throw FileError(path: file, reason: "cannot encode JSON: \(error)")
        }
        try AtomicFile.write(Array(data) + [0x0A], to: file)
    }

    /// Writes an Encodable value atomically at `components` as pretty JSON.
    public func write<T: Encodable>(_ value: T, to components: [String]) throws {
        guard writes else { return }
        let file = try file(components)
        let data: Data
        do { data = try PrettyJSON.data(value) } catch {
            throw FileError(path: file, reason: "cannot encode JSON: \(error)")
        }
        try AtomicFile.write(Array(data) + [0x0A], to: file)
    }

    /// Writes bytes atomically at `components`.
    public func write(bytes: [UInt8], to components: [String], durability: AtomicFile.Durability = .durable) throws {
        guard writes else { return }
        try AtomicFile.write(bytes, to: try file(components), durability: durability)
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
        guard logs else { return }
        var object = fields
        object["event"] = .string(kind)
        object["time"] = .string(ISO8601DateFormatter().string(from: Date()))
        let line = JSONValue.object(object).canonicalText() + "\n"
        guard let file = try? file(["events.jsonl"]) else { return }
        eventLock.withLock { _ in
            let fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o644)
            guard fd >= 0 else { return }
            _ = line.utf8CString.withUnsafeBufferPointer { Foundation.write(fd, $0.baseAddress, $0.count - 1) }
            close(fd)
        }
    }
}
