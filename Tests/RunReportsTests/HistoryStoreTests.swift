import CTCore
import Foundation
import ManifestSchema
import RunReports
import Synchronization
import Testing

/// A history record with recognisable numbers: run `n` of `manifest`.
func sampleRun(_ n: Int, manifest: String = "nightly", datasets: [String] = ["city", "acdc/night"], writer: Int = 0) -> HistoryRun {
    HistoryRun(runID: "\(manifest)/run-\(writer)-\(n)", recordedAt: "2025-03-0\(n % 9 + 1)T02:00:00Z", manifestName: manifest,
               manifestFile: "/m/\(manifest).json", configurationHash: String(repeating: "ab", count: 32),
               checkpointHash: n % 2 == 0 ? String(repeating: "c\(n % 10)", count: 32) : nil, runDirectory: "/runs/\(n)",
               ctpipeVersion: "0.1.0", gitCommit: nil, host: "node\(writer)", wallSeconds: Double(n) + 0.5,
               averageMeanIoU: 50 + Double(n) / 10,
               results: datasets.enumerated().map { d, name in
                   HistoryResult(dataset: name, samples: 100 + n, skipped: d, mIoU: 50 + Double(n) / 10 + Double(d), aAcc: 90.25,
                                 mAcc: nil,
                                 classes: (0 ..< 19).map { HistoryClassIoU(trainId: $0, name: "class\($0)", iou: $0 == 7 ? nil : Double($0 * 5) + Double(n) / 100) })
               },
               seed: n % 4 == 3 ? nil : n % 4,
               averages: datasets.count > 1 ? [HistoryAverage(name: "both", over: datasets, mIoU: 50.5 + Double(n) / 10),
                                               HistoryAverage(name: "none", over: ["x"], mIoU: nil)] : [])
}

func scratchDatabase(_ tag: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-history-\(tag)-\(UUID())/runs/history.sqlite").path
}

@Suite struct HistoryStoreTests {
    @Test func recordsReadBackExactly() throws {
        let path = scratchDatabase("roundtrip")
        let store = try HistoryStore(path: path)
        let runs = (1 ... 3).map { sampleRun($0) } + [sampleRun(4, manifest: "other", datasets: ["bdd"])]
        for run in runs { try store.record(run) }
        #expect(try store.count() == 4)
        #expect(try store.runs() == runs, "everything written comes back, oldest first")
        #expect(try store.runs(manifest: "nightly").map(\.runID) == runs.prefix(3).map(\.runID))
        #expect(try store.runs(manifest: "nightly", last: 2).map(\.runID) == ["nightly/run-0-2", "nightly/run-0-3"])
        let city = try store.runs(dataset: "city")
        #expect(city.count == 3 && city.allSatisfy { $0.results.map(\.dataset) == ["city"] })
        #expect(try store.runs(dataset: "bdd").map(\.runID) == ["other/run-0-4"])
        #expect(try store.run(id: "nightly/run-0-2") == runs[1])
        #expect(try store.run(id: "missing") == nil)
        #expect(try store.previous(manifest: "nightly", before: "nightly/run-0-3")?.runID == "nightly/run-0-2")
        #expect(try store.previous(manifest: "nightly", before: "nightly/run-0-1") == nil)
        #expect(try store.previous(manifest: "nightly", before: "not-recorded")?.runID == "nightly/run-0-3")

        // Recording a run id again replaces it and makes it the newest.
        var again = runs[0]
        again.results[0].mIoU = 12.5
        try store.record(again)
        #expect(try store.count() == 4)
        #expect(try store.runs(manifest: "nightly").map(\.runID) == ["nightly/run-0-2", "nightly/run-0-3", "nightly/run-0-1"])
        #expect(try store.run(id: "nightly/run-0-1")?.results[0].mIoU == 12.5)

        // A second connection (another process would do the same) sees it all; WAL is on.
        let reader = try HistoryStore(path: path, create: false)
        #expect(try reader.count() == 4)
        #expect(FileManager.default.fileExists(atPath: path + "-wal"))
    }

    @Test func openingWithoutCreateNamesTheProblem() throws {
        let path = scratchDatabase("absent")
        #expect(throws: HistoryError.self) { try HistoryStore(path: path, create: false) }
        try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path,
                                                withIntermediateDirectories: true)
        try AtomicFile.write(text: "not a database at all, just text that is long enough to be a header........", to: path)
        do {
            _ = try HistoryStore(path: path)
            Issue.record("a text file opened as a history database")
        } catch {
            #expect(error.description.contains(path))
        }
    }

    @Test func rollbackJournalWorksToo() throws {
        let path = scratchDatabase("delete")
        let store = try HistoryStore(path: path, journal: .delete)
        try store.record(sampleRun(1))
        #expect(try store.count() == 1)
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
    }

    /// Several connections open a history that does not exist yet at the same moment, again and
    /// again: each sees the file before or after another's schema, never half of it, so none
    /// refuses it as foreign and every record lands.
    @Test func simultaneousCreatorsAllRecord() throws {
        let creators = 8
        for round in 0 ..< 40 {
            let path = scratchDatabase("create-\(round)")
            let failures = Mutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: creators) { w in
                do {
                    try HistoryStore(path: path, busyTimeout: 120).record(sampleRun(round, writer: w))
                } catch {
                    failures.withLock { $0.append("round \(round), creator \(w): \(error)") }
                }
            }
            #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
            #expect(try HistoryStore(path: path, create: false).count() == creators)
        }
    }

    /// Many threads, each with its own connection, record at once: nothing is lost or torn.
    @Test func parallelThreadWritersLoseNothing() throws {
        let path = scratchDatabase("threads")
        let writers = 8, perWriter = 25
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: writers) { w in
            do {
                let store = try HistoryStore(path: path, busyTimeout: 120)
                for n in 0 ..< perWriter { try store.record(sampleRun(n, writer: w)) }
            } catch {
                failures.withLock { $0.append("writer \(w): \(error)") }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
        let store = try HistoryStore(path: path, create: false)
        let runs = try store.runs()
        #expect(runs.count == writers * perWriter)
        for w in 0 ..< writers {
            for n in 0 ..< perWriter {
                let run = try #require(runs.first { $0.runID == "nightly/run-\(w)-\(n)" })
                #expect(run == sampleRun(n, writer: w), "run \(w)-\(n) intact")
            }
        }
        #expect(try store.integrityCheck() == "ok")
    }
}
