// HistorySpec.swift — the manifest's `history` section: where completed
// evaluations are recorded (an SQLite file) and which drops from a baseline
// count as a regression. Read and validated with the rest of the manifest.

import Foundation

extension Manifest {
    /// The `history` section (docs/manifest.md). Every field has a default, so
    /// a manifest without the section records into `<outputs.dir>/history.sqlite`
    /// and checks nothing.
    public struct HistorySpec: Sendable, Equatable {
        /// SQLite file; nil = `<outputs.dir>/history.sqlite`.
        public var db: String?
        /// Record completed evaluations at all.
        public var record = true
        /// SQLite journal: WAL (default; the file must be on a local file system) or rollback
        /// ("delete"; for a database on a network file system with working locks).
        public var journal: HistoryJournal = .wal
        /// Regression thresholds; nil = no check.
        public var regression: RegressionSpec?
        public init() {}
    }

    public enum HistoryJournal: String, Sendable, CaseIterable, Codable { case wal, delete }

    /// What counts as a regression, against which run.
    public struct RegressionSpec: Sendable, Equatable {
        /// Compare with the previous recorded run of this manifest, or with a pinned run id.
        public var baseline: Baseline = .previous
        /// Largest allowed mIoU drop of a dataset (group), in percentage points.
        public var maxMeanIoUDrop: Double?
        /// Largest allowed IoU drop of any class of a dataset (group), in percentage points.
        public var maxClassIoUDrop: Double?
        public init(baseline: Baseline = .previous, maxMeanIoUDrop: Double? = nil, maxClassIoUDrop: Double? = nil) {
            self.baseline = baseline
            self.maxMeanIoUDrop = maxMeanIoUDrop
            self.maxClassIoUDrop = maxClassIoUDrop
        }
    }

    public enum Baseline: Sendable, Equatable, CustomStringConvertible {
        case previous
        case run(String)
        public var description: String {
            switch self {
            case .previous: "previous"
            case .run(let id): id
            }
        }
    }

    /// The history database of this manifest's runs.
    public var historyDatabase: String { history.db ?? outputs.dir + "/history.sqlite" }
}

extension ManifestLoader {
    static let historyKeys = ["db", "record", "journal", "regression"]
    static let regressionKeys = ["baseline", "max_miou_drop", "max_class_iou_drop"]

    static func readHistory(_ json: JSONValue?, folder: String, reader: inout FieldReader) -> Manifest.HistorySpec {
        var spec = Manifest.HistorySpec()
        guard let json, let object = reader.object(json, at: "$.history", allowed: historyKeys) else { return spec }
        if let db = reader.string(object, "db", at: "$.history") {
            if db.isEmpty || db.hasSuffix("/") {
                reader.report("$.history.db", "expected a file path for the SQLite database, found \"\(db)\"")
            } else {
                let resolved = resolve(db, in: folder)
                if isFolder(resolved) { reader.report("$.history.db", "\(db) is a folder; name the database file, e.g. \(db)/history.sqlite") }
                spec.db = resolved
            }
        }
        if let record = reader.bool(object, "record", at: "$.history") { spec.record = record }
        if let journal = reader.choice(object, "journal", at: "$.history", as: Manifest.HistoryJournal.self) { spec.journal = journal }
        if let value = object["regression"], let r = reader.object(value, at: "$.history.regression", allowed: regressionKeys) {
            let at = "$.history.regression"
            var regression = Manifest.RegressionSpec()
            if let baseline = reader.string(r, "baseline", at: at) {
                if baseline.isEmpty { reader.report(at + ".baseline", "expected \"previous\" or a run id (see `ctpipe history`)") }
                regression.baseline = baseline == "previous" ? .previous : .run(baseline)
            }
            regression.maxMeanIoUDrop = reader.double(r, "max_miou_drop", at: at, range: 0 ... 100)
            regression.maxClassIoUDrop = reader.double(r, "max_class_iou_drop", at: at, range: 0 ... 100)
            if regression.maxMeanIoUDrop == nil && regression.maxClassIoUDrop == nil && r["max_miou_drop"] == nil && r["max_class_iou_drop"] == nil {
                reader.report(at, "set max_miou_drop and/or max_class_iou_drop (percentage points), or remove the section")
            }
            if !spec.record { reader.report(at, "a regression check needs \"record\": true (the baseline comes from the history)") }
            spec.regression = regression
        }
        return spec
    }
}
