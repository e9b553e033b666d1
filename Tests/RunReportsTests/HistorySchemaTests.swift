// HistorySchemaTests.swift — schema version 2 (the run's seed, the named averages): a
// version-1 database written by an earlier ctpipe is read as it is and migrated when a
// run is recorded into it; the regression baseline and the report's trend keep to one seed.

import CTCore
import Foundation
import ManifestSchema
@testable import RunReports
import Testing

@Suite struct HistorySchemaTests {
    /// The tables an earlier ctpipe (schema version 1) created.
    static let version1 = """
    CREATE TABLE runs (seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL UNIQUE, recorded_at TEXT NOT NULL,
        manifest_name TEXT NOT NULL, manifest_file TEXT NOT NULL, configuration_hash TEXT NOT NULL, checkpoint_hash TEXT,
        run_dir TEXT NOT NULL, ctpipe_version TEXT NOT NULL, git_commit TEXT, host TEXT NOT NULL, wall_seconds REAL NOT NULL,
        average_miou REAL);
    CREATE INDEX runs_by_manifest ON runs(manifest_name, seq);
    CREATE TABLE results (run_seq INTEGER NOT NULL REFERENCES runs(seq) ON DELETE CASCADE, dataset TEXT NOT NULL,
        samples INTEGER NOT NULL, skipped INTEGER NOT NULL, miou REAL, aacc REAL, macc REAL, PRIMARY KEY (run_seq, dataset));
    CREATE TABLE class_iou (run_seq INTEGER NOT NULL, dataset TEXT NOT NULL, train_id INTEGER NOT NULL, class_name TEXT NOT NULL,
        iou REAL, PRIMARY KEY (run_seq, dataset, train_id),
        FOREIGN KEY (run_seq, dataset) REFERENCES results(run_seq, dataset) ON DELETE CASCADE);
    INSERT INTO runs (run_id, recorded_at, manifest_name, manifest_file, configuration_hash, run_dir, ctpipe_version, host,
                      wall_seconds, average_miou)
        VALUES ('nightly/old', '2025-01-01T02:00:00Z', 'nightly', '/m/nightly.json', 'ab', '/runs/old', '0.1.0', 'node', 1.5, 55);
    INSERT INTO results VALUES (1, 'city', 12, 0, 55, 90, 80);
    INSERT INTO class_iou VALUES (1, 'city', 0, 'road', 97.5);
    PRAGMA user_version = 1;
    """

    func userVersion(_ store: HistoryStore) throws -> Int? {
        try store.connection.query("PRAGMA user_version").first?.first?.int
    }

    @Test func aVersion1DatabaseIsReadAndMigratedWhenRecording() throws {
        let path = scratchDatabase("v1")
        try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path,
                                                withIntermediateDirectories: true)
        do { try SQLiteConnection(path: path, create: true).execute(Self.version1) }
        let old = HistoryRun(runID: "nightly/old", recordedAt: "2025-01-01T02:00:00Z", manifestName: "nightly",
                             manifestFile: "/m/nightly.json", configurationHash: "ab", checkpointHash: nil, runDirectory: "/runs/old",
                             ctpipeVersion: "0.1.0", gitCommit: nil, host: "node", wallSeconds: 1.5, averageMeanIoU: 55,
                             results: [HistoryResult(dataset: "city", samples: 12, skipped: 0, mIoU: 55, aAcc: 90, mAcc: 80,
                                                     classes: [HistoryClassIoU(trainId: 0, name: "road", iou: 97.5)])])

        // Reading (ctpipe history, ctpipe report) leaves the file as it is.
        let reader = try HistoryStore(path: path, create: false)
        #expect(try reader.runs() == [old], "no seed, no averages")
        #expect(try reader.runs(dataset: "city") == [old])
        #expect(try reader.runs(manifest: "nightly", seed: 3) == [old], "a version-1 run has no seed: every seed's trend shows it")
        #expect(try reader.previous(manifest: "nightly", seed: 1, before: "nightly/new")?.runID == "nightly/old")
        #expect(try userVersion(reader) == 1)

        // Recording migrates it to version 2; the old run reads the same.
        let writer = try HistoryStore(path: path)
        #expect(try userVersion(writer) == 2)
        let tables = Set(try writer.connection.query("SELECT name FROM sqlite_master WHERE type = 'table'").compactMap { $0.first?.text })
        #expect(tables.isSuperset(of: ["runs", "results", "class_iou", "averages"]))
        let new = sampleRun(5)
        #expect(new.seed == 1 && new.averages.count == 2)
        try writer.record(new)
        #expect(try HistoryStore(path: path, create: false).runs() == [old, new])
        #expect(try writer.previous(manifest: "nightly", seed: 1, before: new.runID) == old, "a run without a seed is anyone's baseline")
        #expect(try writer.runs(dataset: "both").map { $0.averages.map(\.name) } == [["both"]], "a named average filters like a dataset")
        #expect(try writer.integrityCheck() == "ok")
    }

    @Test func theBaselineAndTheTrendKeepToOneSeed() throws {
        let store = try HistoryStore(path: scratchDatabase("seeds"))
        func run(_ id: String, seed: Int?) -> HistoryRun {
            var r = sampleRun(1)
            r.runID = id
            r.seed = seed
            return r
        }
        for (id, seed) in [("nightly/a-0", 0), ("nightly/a-1", 1), ("nightly/b-0", 0), ("nightly/b-1", 1)] {
            try store.record(run(id, seed: seed))
        }
        #expect(try store.previous(manifest: "nightly", seed: 1, before: "nightly/b-1")?.runID == "nightly/a-1")
        #expect(try store.previous(manifest: "nightly", seed: 0, before: "nightly/b-1")?.runID == "nightly/b-0")
        #expect(try store.previous(manifest: "nightly", before: "nightly/b-1")?.runID == "nightly/b-0", "no seed: the run before")
        #expect(try store.previous(manifest: "nightly", seed: 2, before: "nightly/b-1") == nil)
        #expect(try store.runs(manifest: "nightly", seed: 0).map(\.runID) == ["nightly/a-0", "nightly/b-0"])
        #expect(try store.runs(manifest: "nightly").count == 4)
    }

    @Test func aNewerSchemaIsRefusedByName() throws {
        let path = scratchDatabase("v3")
        do {
            let store = try HistoryStore(path: path)
            try store.connection.execute("PRAGMA user_version = 3")
        }
        #expect { try HistoryStore(path: path, create: false) } throws: { "\($0)".contains("schema version 3 is newer than this ctpipe reads (2)") }
        #expect { try HistoryStore(path: path) } throws: { "\($0)".contains("schema version 3 is newer than this ctpipe reads (2)") }
    }
}
