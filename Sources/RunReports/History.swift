// History.swift — the results history: every completed evaluation as rows of
// an SQLite database (default `<outputs.dir>/history.sqlite`), so nightly
// re-evaluations can be listed, plotted and compared with a baseline.
//
// Schema (PRAGMA user_version = 2); percentages are x100 as in metrics.json:
//   runs(seq, run_id UNIQUE, recorded_at, manifest_name, manifest_file,
//        configuration_hash, checkpoint_hash, run_dir, ctpipe_version,
//        git_commit, host, wall_seconds, average_miou, seed)
//   results(run_seq, dataset, samples, skipped, miou, aacc, macc)
//   class_iou(run_seq, dataset, train_id, class_name, iou)
//   averages(run_seq, name, over, miou)          the manifest's named averages
// Version 1 (before `seed` and `averages`) is read as it is and migrated to 2
// the first time a run is recorded into it.
//
// Concurrency: WAL journal (or rollback when configured), a busy timeout, and
// one BEGIN IMMEDIATE transaction per recorded run, so runs or merges that
// finish together queue for the write lock and every record lands whole.

import CTCore
import Foundation
import ManifestSchema
import Metrics

/// The per-class IoU of one dataset (group) in a recorded run.
public struct HistoryClassIoU: Sendable, Equatable, Codable {
    public var trainId: Int
    public var name: String
    /// Percent; nil when the class was neither labelled nor predicted.
    public var iou: Double?
    public init(trainId: Int, name: String, iou: Double?) {
        self.trainId = trainId
        self.name = name
        self.iou = iou
    }
}

/// One dataset (or ACDC condition group) of a recorded run.
public struct HistoryResult: Sendable, Equatable, Codable {
    public var dataset: String
    public var samples: Int
    public var skipped: Int
    /// Percentages (x100), nil when undefined.
    public var mIoU: Double?
    public var aAcc: Double?
    public var mAcc: Double?
    public var classes: [HistoryClassIoU]

    public init(dataset: String, samples: Int, skipped: Int, mIoU: Double?, aAcc: Double?, mAcc: Double?,
                classes: [HistoryClassIoU]) {
        self.dataset = dataset
        self.samples = samples
        self.skipped = skipped
        self.mIoU = mIoU
        self.aAcc = aAcc
        self.mAcc = mAcc
        self.classes = classes
    }

    /// The result of one set of a metrics report.
    public init(_ set: DatasetMetrics) {
        let m = set.metrics
        self.init(dataset: set.name, samples: set.images, skipped: set.skipped,
                  mIoU: m.meanIoU.map { $0 * 100 }, aAcc: m.pixelAccuracy.map { $0 * 100 }, mAcc: m.meanAccuracy.map { $0 * 100 },
                  classes: set.classNames.indices.map { HistoryClassIoU(trainId: $0, name: set.classNames[$0], iou: m.iou[$0].map { $0 * 100 }) })
    }
}

/// One named average of a recorded run (the manifest's `averages`).
public struct HistoryAverage: Sendable, Equatable, Codable {
    public var name: String
    /// The sets averaged.
    public var over: [String]
    /// Percent; nil when a set had no mIoU.
    public var mIoU: Double?
    public init(name: String, over: [String], mIoU: Double?) {
        self.name = name
        self.over = over
        self.mIoU = mIoU
    }
}

/// One recorded evaluation.
public struct HistoryRun: Sendable, Equatable, Codable {
    /// `<manifest name>/<run folder name>`, e.g. `gta2city/20250301-020000`.
    public var runID: String
    /// UTC, ISO 8601, when the results were recorded.
    public var recordedAt: String
    public var manifestName: String
    public var manifestFile: String
    public var configurationHash: String
    /// SHA-256 of the model checkpoint file, when the manifest names one.
    public var checkpointHash: String?
    public var runDirectory: String
    public var ctpipeVersion: String
    public var gitCommit: String?
    public var host: String
    /// Seconds from the start of the run (first event of the run folder for a merge) to recording.
    public var wallSeconds: Double
    /// The default "Avg." mIoU over every set, percent; nil when the manifest names its own averages.
    public var averageMeanIoU: Double?
    public var results: [HistoryResult]
    /// The run's seed; nil for runs recorded before seeds were recorded.
    public var seed: Int?
    /// The manifest's named averages, in name order.
    public var averages: [HistoryAverage]

    enum CodingKeys: String, CodingKey {
        case runID = "run_id", recordedAt = "recorded_at", manifestName = "manifest", manifestFile = "manifest_file"
        case configurationHash = "configuration_hash", checkpointHash = "checkpoint_hash", runDirectory = "run_dir"
        case ctpipeVersion = "ctpipe_version", gitCommit = "git_commit", host, wallSeconds = "wall_seconds"
        case averageMeanIoU = "average_mIoU", results, seed, averages
    }

    public init(runID: String, recordedAt: String, manifestName: String, manifestFile: String, configurationHash: String,
                checkpointHash: String?, runDirectory: String, ctpipeVersion: String, gitCommit: String?, host: String,
                wallSeconds: Double, averageMeanIoU: Double?, results: [HistoryResult], seed: Int? = nil,
                averages: [HistoryAverage] = []) {
        self.runID = runID
        self.recordedAt = recordedAt
        self.manifestName = manifestName
        self.manifestFile = manifestFile
        self.configurationHash = configurationHash
        self.checkpointHash = checkpointHash
        self.runDirectory = runDirectory
        self.ctpipeVersion = ctpipeVersion
        self.gitCommit = gitCommit
        self.host = host
        self.wallSeconds = wallSeconds
        self.averageMeanIoU = averageMeanIoU
        self.results = results
        self.seed = seed
        self.averages = averages
    }

    /// Reads what `encode(to:)` writes; `seed` and `averages` may be absent (written before they existed).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(runID: try c.decode(String.self, forKey: .runID), recordedAt: try c.decode(String.self, forKey: .recordedAt),
                  manifestName: try c.decode(String.self, forKey: .manifestName),
                  manifestFile: try c.decode(String.self, forKey: .manifestFile),
                  configurationHash: try c.decode(String.self, forKey: .configurationHash),
                  checkpointHash: try c.decodeIfPresent(String.self, forKey: .checkpointHash),
                  runDirectory: try c.decode(String.self, forKey: .runDirectory),
                  ctpipeVersion: try c.decode(String.self, forKey: .ctpipeVersion),
                  gitCommit: try c.decodeIfPresent(String.self, forKey: .gitCommit), host: try c.decode(String.self, forKey: .host),
                  wallSeconds: try c.decode(Double.self, forKey: .wallSeconds),
                  averageMeanIoU: try c.decodeIfPresent(Double.self, forKey: .averageMeanIoU),
                  results: try c.decode([HistoryResult].self, forKey: .results),
                  seed: try c.decodeIfPresent(Int.self, forKey: .seed),
                  averages: try c.decodeIfPresent([HistoryAverage].self, forKey: .averages) ?? [])
    }

    /// The result of `dataset`, if the run has it.
    public subscript(dataset: String) -> HistoryResult? { results.first { $0.dataset == dataset } }

    /// The named average `name`, if the run has it.
    public func average(_ name: String) -> HistoryAverage? { averages.first { $0.name == name } }
}

/// An open history database. Not shared between threads: each thread or
/// process opens its own (cheap), and SQLite's locks keep writers apart.
public final class HistoryStore {
    /// The schema this ctpipe writes; it reads `readableVersions`.
    public static let schemaVersion = 2
    public static let readableVersions = 1 ... 2
    /// `PRAGMA application_id` of ctpipe history databases ("ctph").
    public static let applicationID = 0x6374_7068
    public let path: String
    let connection: SQLiteConnection
    /// The schema version of the open file (1: no `seed` column, no `averages` table).
    private(set) var version = 2

    /// Opens the database at `path`, creating it (and its folder) and the schema when `create`.
    public init(path: String, create: Bool = true, journal: Manifest.HistoryJournal = .wal,
                busyTimeout: Double = 60) throws(HistoryError) {
        self.path = path
        if create {
            let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            } catch {
                throw HistoryError(path: path, reason: "cannot create the folder \(folder): \(error.localizedDescription)")
            }
        } else if !FileManager.default.fileExists(atPath: path) {
            throw HistoryError(path: path, reason: "no history database here (runs record into <outputs.dir>/history.sqlite unless the manifest's history.db says otherwise)")
        }
        connection = try SQLiteConnection(path: path, create: create, busyTimeout: busyTimeout)
        try configure(journal: journal, create: create, busyTimeout: busyTimeout)
    }

    private func configure(journal: Manifest.HistoryJournal, create: Bool, busyTimeout: Double) throws(HistoryError) {
        try connection.execute("PRAGMA foreign_keys = ON")
        try checkOwnership(mark: create)
        guard create else {
            version = try checkVersion()
            return
        }
        // Switching the journal mode needs a moment of exclusive access, for which SQLite
        // does not always wait: retried while other connections hold the file, up to the
        // same busy timeout as every other statement.
        let wanted = journal == .wal ? "wal" : "delete"
        let deadline = Date().addingTimeInterval(busyTimeout)
        while true {
            do throws(HistoryError) {
                let rows = try connection.query("PRAGMA journal_mode = \(wanted.uppercased())")
                if rows.first?.first?.text?.lowercased() == wanted { break }
                throw HistoryError(path: path, reason: "journal mode \(wanted) not accepted (got \(rows.first?.first?.text ?? "nothing"))")
            } catch {
                guard error.isBusy, Date() < deadline else { throw error }
                usleep(20_000)
            }
        }
        try connection.writeTransaction { () throws(HistoryError) in
            let version = try connection.query("PRAGMA user_version").first?.first?.int ?? 0
            if version == 0 {
                try connection.execute(Self.schema)
                try connection.execute("PRAGMA user_version = \(Self.schemaVersion)")
            } else if version == 1 {
                try connection.execute(Self.migration1to2)
                try connection.execute("PRAGMA user_version = \(Self.schemaVersion)")
            } else if version > Self.schemaVersion {
                throw HistoryError(path: path, reason: "schema version \(version) is newer than this ctpipe reads (\(Self.schemaVersion))")
            }
        }
        version = Self.schemaVersion
    }

    /// Before anything is written: the file must be sound (`PRAGMA quick_check`) and be
    /// ctpipe's — empty, or marked with ctpipe's application id, or an unmarked database
    /// holding exactly ctpipe's schema (written before the id existed; it gets the id). Any
    /// other database is refused untouched.
    private func checkOwnership(mark: Bool) throws(HistoryError) {
        // One snapshot: another process creating the schema at this moment is seen before or
        // after its commit, never half (its tables without its version).
        let (check, id, tables, version) = try connection.readTransaction { () throws(HistoryError) in
            (try connection.query("PRAGMA quick_check").compactMap { $0.first?.text },
             try connection.query("PRAGMA application_id").first?.first?.int ?? 0,
             // SQLite's own tables (sqlite_sequence, sqlite_stat1, ...) are not part of the schema.
             Set(try connection.query("SELECT name FROM sqlite_master WHERE type = 'table' AND substr(name, 1, 7) <> 'sqlite_'")
                .compactMap { $0.first?.text }),
             try connection.query("PRAGMA user_version").first?.first?.int ?? 0)
        }
        guard check == ["ok"] else {
            throw HistoryError(path: path, reason: "the database is damaged (quick_check: \(check.prefix(3).joined(separator: "; "))); nothing was written. Move it aside to start a new history")
        }
        if id == Self.applicationID { return }
        guard id == 0 else {
            throw HistoryError(path: path, reason: "belongs to another application (application_id \(id)); ctpipe leaves it untouched. Give the manifest's history.db another path")
        }
        if tables.isEmpty && version == 0 {
            if mark { try connection.execute("PRAGMA application_id = \(Self.applicationID)") }
            return
        }
        guard Self.tables[version] == tables else {
            throw HistoryError(path: path, reason: "is not a ctpipe history database (tables: \(tables.sorted().joined(separator: ", ")); user_version \(version)); ctpipe leaves it untouched. Give the manifest's history.db another path")
        }
        if mark { try connection.execute("PRAGMA application_id = \(Self.applicationID)") }
    }

    /// The tables of each schema version.
    static let tables: [Int: Set<String>] = [1: ["runs", "results", "class_iou"], 2: ["runs", "results", "class_iou", "averages"]]

    /// The schema version of a file opened for reading; versions 1 and 2 are read.
    private func checkVersion() throws(HistoryError) -> Int {
        let version = try connection.query("PRAGMA user_version").first?.first?.int ?? 0
        guard Self.readableVersions.contains(version) else {
            throw HistoryError(path: path, reason: version == 0 ? "not a ctpipe history database (no schema)"
                : version > Self.schemaVersion ? "schema version \(version) is newer than this ctpipe reads (\(Self.schemaVersion))"
                : "schema version \(version); this ctpipe reads \(Self.readableVersions.lowerBound)...\(Self.readableVersions.upperBound)")
        }
        return version
    }

    static let schema = """
    CREATE TABLE IF NOT EXISTS runs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL UNIQUE,
        recorded_at TEXT NOT NULL,
        manifest_name TEXT NOT NULL,
        manifest_file TEXT NOT NULL,
        configuration_hash TEXT NOT NULL,
        checkpoint_hash TEXT,
        run_dir TEXT NOT NULL,
        ctpipe_version TEXT NOT NULL,
        git_commit TEXT,
        host TEXT NOT NULL,
        wall_seconds REAL NOT NULL,
        average_miou REAL,
        seed INTEGER
    );
    CREATE INDEX IF NOT EXISTS runs_by_manifest ON runs(manifest_name, seq);
    CREATE TABLE IF NOT EXISTS results (
        run_seq INTEGER NOT NULL REFERENCES runs(seq) ON DELETE CASCADE,
        dataset TEXT NOT NULL,
        samples INTEGER NOT NULL,
        skipped INTEGER NOT NULL,
        miou REAL,
        aacc REAL,
        macc REAL,
        PRIMARY KEY (run_seq, dataset)
    );
    CREATE TABLE IF NOT EXISTS class_iou (
        run_seq INTEGER NOT NULL,
        dataset TEXT NOT NULL,
        train_id INTEGER NOT NULL,
        class_name TEXT NOT NULL,
        iou REAL,
        PRIMARY KEY (run_seq, dataset, train_id),
        FOREIGN KEY (run_seq, dataset) REFERENCES results(run_seq, dataset) ON DELETE CASCADE
    );
    \(averagesTable)
    """

    static let averagesTable = """
    CREATE TABLE IF NOT EXISTS averages (
        run_seq INTEGER NOT NULL REFERENCES runs(seq) ON DELETE CASCADE,
        name TEXT NOT NULL,
        over TEXT NOT NULL,
        miou REAL,
        PRIMARY KEY (run_seq, name)
    );
    """

    /// Version 1 to 2: the run's seed (NULL for the runs already recorded) and the named averages.
    static let migration1to2 = "ALTER TABLE runs ADD COLUMN seed INTEGER;\n" + averagesTable

    // MARK: writing

    /// Records a run in one transaction. A run id recorded before is replaced
    /// (e.g. `ctpipe merge` run twice on one folder) and moves to the end of the history.
    public func record(_ run: HistoryRun) throws(HistoryError) {
        try connection.writeTransaction { () throws(HistoryError) in
            try connection.query("DELETE FROM runs WHERE run_id = ?", [.text(run.runID)])
            try connection.query("""
                INSERT INTO runs (run_id, recorded_at, manifest_name, manifest_file, configuration_hash, checkpoint_hash,
                                  run_dir, ctpipe_version, git_commit, host, wall_seconds, average_miou, seed)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text(run.runID), .text(run.recordedAt), .text(run.manifestName), .text(run.manifestFile),
                      .text(run.configurationHash), SQLValue(run.checkpointHash), .text(run.runDirectory),
                      .text(run.ctpipeVersion), SQLValue(run.gitCommit), .text(run.host), .real(run.wallSeconds),
                      SQLValue(run.averageMeanIoU), run.seed.map { SQLValue($0) } ?? .null])
            let seq = connection.lastInsertRowID
            for average in run.averages {
                try connection.query("INSERT INTO averages (run_seq, name, over, miou) VALUES (?, ?, ?, ?)",
                                     [.integer(seq), .text(average.name), .text(Self.nameList(average.over)), SQLValue(average.mIoU)])
            }
            for result in run.results {
                try connection.query("INSERT INTO results (run_seq, dataset, samples, skipped, miou, aacc, macc) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                     [.integer(seq), .text(result.dataset), SQLValue(result.samples), SQLValue(result.skipped),
                                      SQLValue(result.mIoU), SQLValue(result.aAcc), SQLValue(result.mAcc)])
                for c in result.classes {
                    try connection.query("INSERT INTO class_iou (run_seq, dataset, train_id, class_name, iou) VALUES (?, ?, ?, ?, ?)",
                                         [.integer(seq), .text(result.dataset), SQLValue(c.trainId), .text(c.name), SQLValue(c.iou)])
                }
            }
        }
    }

    // MARK: reading

    /// Recorded runs, oldest first. `manifest` and `dataset` filter (a run
    /// without the dataset, or a named average of that name, is left out, and only that
    /// dataset's result or average is kept); `seed` keeps the runs of that seed (and those
    /// recorded without one); `last` keeps the most recent N.
    public func runs(manifest: String? = nil, dataset: String? = nil, seed: Int? = nil,
                     last: Int? = nil) throws(HistoryError) -> [HistoryRun] {
        var conditions: [String] = []
        var parameters: [SQLValue] = []
        if let manifest {
            conditions.append("manifest_name = ?")
            parameters.append(.text(manifest))
        }
        if let dataset {
            if version >= 2 {
                conditions.append("(seq IN (SELECT run_seq FROM results WHERE dataset = ?) OR seq IN (SELECT run_seq FROM averages WHERE name = ?))")
                parameters += [.text(dataset), .text(dataset)]
            } else {
                conditions.append("seq IN (SELECT run_seq FROM results WHERE dataset = ?)")
                parameters.append(.text(dataset))
            }
        }
        if let seed, version >= 2 {
            conditions.append("(seed IS NULL OR seed = ?)")
            parameters.append(SQLValue(seed))
        }
        var sql = "SELECT seq FROM runs" + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")) + " ORDER BY seq DESC"
        if let last { sql += " LIMIT \(max(0, last))" }
        let seqs = try connection.query(sql, parameters).compactMap { $0.first.flatMap { if case .integer(let v) = $0 { v } else { nil } } }
        var runs: [HistoryRun] = []
        for seq in seqs.reversed() {
            guard var run = try load(seq: seq) else { continue }
            if let dataset {
                run.results = run.results.filter { $0.dataset == dataset }
                run.averages = run.averages.filter { $0.name == dataset }
            }
            runs.append(run)
        }
        return runs
    }

    /// The run recorded under `runID`.
    public func run(id runID: String) throws(HistoryError) -> HistoryRun? {
        guard let seq = try connection.query("SELECT seq FROM runs WHERE run_id = ?", [.text(runID)]).first?.first,
              case .integer(let s) = seq else { return nil }
        return try load(seq: s)
    }

    /// The latest run of `manifest` recorded before `runID` (or the latest of all when `runID` is not recorded).
    /// With a `seed`, only runs of that seed count (and runs recorded without one, before seeds were recorded),
    /// so each seed of a sweep is compared with the same seed of an earlier run.
    public func previous(manifest: String, seed: Int? = nil, before runID: String) throws(HistoryError) -> HistoryRun? {
        let seedCondition = seed != nil && version >= 2 ? " AND (seed IS NULL OR seed = ?)" : ""
        let rows = try connection.query("""
            SELECT seq FROM runs WHERE manifest_name = ? AND run_id <> ?
              AND seq < COALESCE((SELECT seq FROM runs WHERE run_id = ?), 9223372036854775807)\(seedCondition)
            ORDER BY seq DESC LIMIT 1
            """, [.text(manifest), .text(runID), .text(runID)] + (seedCondition.isEmpty ? [] : [SQLValue(seed!)]))
        guard case .integer(let seq)? = rows.first?.first else { return nil }
        return try load(seq: seq)
    }

    private func load(seq: Int64) throws(HistoryError) -> HistoryRun? {
        let v2 = version >= 2
        let rows = try connection.query("""
            SELECT run_id, recorded_at, manifest_name, manifest_file, configuration_hash, checkpoint_hash, run_dir,
                   ctpipe_version, git_commit, host, wall_seconds, average_miou\(v2 ? ", seed" : "") FROM runs WHERE seq = ?
            """, [.integer(seq)])
        guard let r = rows.first else { return nil }
        var run = HistoryRun(runID: r[0].text ?? "", recordedAt: r[1].text ?? "", manifestName: r[2].text ?? "",
                             manifestFile: r[3].text ?? "", configurationHash: r[4].text ?? "", checkpointHash: r[5].text,
                             runDirectory: r[6].text ?? "", ctpipeVersion: r[7].text ?? "", gitCommit: r[8].text,
                             host: r[9].text ?? "", wallSeconds: r[10].double ?? 0, averageMeanIoU: r[11].double, results: [],
                             seed: v2 ? r[12].int : nil)
        if v2 {
            for a in try connection.query("SELECT name, over, miou FROM averages WHERE run_seq = ? ORDER BY rowid", [.integer(seq)]) {
                run.averages.append(HistoryAverage(name: a[0].text ?? "", over: Self.names(a[1].text ?? ""), mIoU: a[2].double))
            }
        }
        let classes = try connection.query("SELECT dataset, train_id, class_name, iou FROM class_iou WHERE run_seq = ? ORDER BY dataset, train_id",
                                           [.integer(seq)])
        var byDataset: [String: [HistoryClassIoU]] = [:]
        for c in classes {
            byDataset[c[0].text ?? "", default: []].append(HistoryClassIoU(trainId: c[1].int ?? 0, name: c[2].text ?? "", iou: c[3].double))
        }
        for d in try connection.query("SELECT dataset, samples, skipped, miou, aacc, macc FROM results WHERE run_seq = ? ORDER BY rowid",
                                      [.integer(seq)]) {
            let name = d[0].text ?? ""
            run.results.append(HistoryResult(dataset: name, samples: d[1].int ?? 0, skipped: d[2].int ?? 0,
                                             mIoU: d[3].double, aAcc: d[4].double, mAcc: d[5].double,
                                             classes: byDataset[name] ?? []))
        }
        return run
    }

    /// A list of set names as stored in `averages.over`: a JSON array of strings.
    static func nameList(_ names: [String]) -> String {
        "[" + names.map(JSONText.quote).joined(separator: ",") + "]"
    }

    /// The names of a stored list (empty when it does not read as a JSON array of strings).
    static func names(_ text: String) -> [String] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String] ?? []
    }

    /// SQLite's `PRAGMA integrity_check` ("ok" when the file is sound).
    public func integrityCheck() throws(HistoryError) -> String {
        try connection.query("PRAGMA integrity_check").compactMap { $0.first?.text }.joined(separator: "; ")
    }

    /// Number of recorded runs.
    public func count() throws(HistoryError) -> Int {
        try connection.query("SELECT COUNT(*) FROM runs").first?.first?.int ?? 0
    }
}
