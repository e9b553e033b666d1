import CTCore
import Foundation
import ImageIO
import RunReports
import Synchronization
import Testing

/// A synthesized Cityscapes val set (via `ctpipe synth`) and prediction folders
/// derived from its trainId labels.
struct OperationsFixture {
    let folder: String

    init(count: Int = 6) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-ops-\(UUID())").path
        let synth = try CTPipeBinary.run(["synth", "--dataset", "cityscapes", "--out", folder + "/city", "--count", "\(count)",
                                          "--split", "val", "--size", "128x64"])
        #expect(synth.status == 0, "\(synth.stderr)")
    }

    /// The trainId label files, sorted.
    func labels() throws -> [String] {
        let root = folder + "/city/gtFine/val"
        return try FileManager.default.subpathsOfDirectory(atPath: root).filter { $0.hasSuffix("_gtFine_labelTrainIds.png") }
            .sorted().map { root + "/" + $0 }
    }

    /// Writes predictions = the labels, with `replace` classes predicted as road (0) and every
    /// `noise`-th labelled pixel shifted to the next class.
    func predictions(_ name: String, replace: Set<UInt8> = [], noise: Int = 0) throws -> String {
        let out = folder + "/" + name
        for file in try labels() {
            var label = try ImageFile.readLabel(file)
            for i in label.pixels.indices {
                let v = label.pixels[i]
                if v == 255 { label.pixels[i] = 0; continue }
                if replace.contains(v) { label.pixels[i] = 0 }
                else if noise > 0, i % noise == 0 { label.pixels[i] = (v + 1) % 19 }
            }
            let stem = URL(fileURLWithPath: file).lastPathComponent.replacingOccurrences(of: "_gtFine_labelTrainIds.png", with: ".png")
            let city = URL(fileURLWithPath: file).deletingLastPathComponent().lastPathComponent
            try ImageFile.writePNG(label, to: "\(out)/\(city)/\(stem)")
        }
        return out
    }

    /// A score-predictions manifest over the set.
    func manifest(_ name: String, predictions: String, history: String = "", shards: Int = 2) throws -> String {
        let path = "\(folder)/\(name).json"
        try AtomicFile.write(text: """
        {"version": 1, "name": "\(name)", "pipeline": {"version": 1, "stages": ["read", "predictions", "metric"]},
         "datasets": [{"kind": "cityscapes", "root": "city", "name": "city"}],
         "predictions": {"dir": "\(predictions)"},
         "execution": {"shards": \(shards), "workers": 2}\(history.isEmpty ? "" : ", \"history\": \(history)")}
        """, to: path)
        return path
    }

    /// Run folders of a manifest name, oldest first.
    func runs(_ name: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "\(folder)/runs/\(name)")) ?? []).sorted().map { "\(folder)/runs/\(name)/\($0)" }
    }
}

@Suite(.serialized) struct OperationsCLITests {
    @Test func regressionExitsWithStatus4AndNamesTheClass() throws {
        let fixture = try OperationsFixture()
        let good = try fixture.predictions("good", noise: 7)
        let manifest = try fixture.manifest("nightly", predictions: good,
                                            history: #"{"regression": {"max_miou_drop": 1.0, "max_class_iou_drop": 5.0}}"#)
        let first = try CTPipeBinary.run(["run", manifest, "--quiet"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("no earlier run of this manifest"))
        let second = try CTPipeBinary.run(["run", manifest, "--quiet"])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("no regression against previous run nightly/"))

        // The same folder now holds a worse "model": cars are predicted as road.
        _ = try fixture.predictions("good", replace: [13], noise: 7)
        let third = try CTPipeBinary.run(["run", manifest, "--quiet"])
        #expect(third.status == 4, "\(third.stderr)")
        #expect(third.stderr.contains("REGRESSION against previous run nightly/"))
        #expect(third.stderr.contains(#"city: class "car" IoU"#) && third.stderr.contains("-> 0.00"))
        #expect(third.stderr.contains("city: mIoU"))
        #expect(third.stdout.contains("mIoU"), "the metrics table is printed first")
        let runs = fixture.runs("nightly")
        #expect(runs.count == 3)
        let regression = try String(contentsOfFile: runs[2] + "/regression.json", encoding: .utf8)
        #expect(regression.contains(#""class" : "car""#))
        #expect(try String(contentsOfFile: runs[2] + "/report.html", encoding: .utf8).contains(#"<section id="regression" class="alarm">"#))

        // The history lists all three, in every format.
        let db = fixture.folder + "/runs/history.sqlite"
        let table = try CTPipeBinary.run(["history", "--db", db])
        #expect(table.status == 0)
        #expect(table.stdout.split(separator: "\n").count == 4 && table.stdout.hasPrefix("run "))
        let json = try CTPipeBinary.run(["history", "--db", db, "--format", "json", "--last", "2"])
        let decoded = try JSONDecoder().decode([HistoryRun].self, from: Data(json.stdout.utf8))
        #expect(decoded.map(\.runID) == runs.suffix(2).map { "nightly/" + URL(fileURLWithPath: $0).lastPathComponent })
        #expect(decoded[1]["city"]?.classes.first { $0.name == "car" }?.iou == 0)
        #expect(decoded[0]["city"]?.samples == 6)
        let csv = try CTPipeBinary.run(["history", "--db", db, "--format", "csv", "--manifest", "nightly", "--dataset", "city"])
        let rows = csv.stdout.split(separator: "\n")
        #expect(rows.count == 4 && rows[0].hasPrefix("run_id,recorded_at,manifest,") && rows[0].hasSuffix("IoU bicycle"))
        #expect(try CTPipeBinary.run(["history", "--db", db, "--manifest", "other"]).stdout == "no recorded runs\n")
        let missing = try CTPipeBinary.run(["history", "--db", fixture.folder + "/none.sqlite"])
        #expect(missing.status == 1 && missing.stderr.contains("no history database here"))

        // A pinned baseline: the first run (good), and one that is not in the history.
        let pinnedID = "nightly/" + URL(fileURLWithPath: runs[0]).lastPathComponent
        let pinned = try fixture.manifest("nightly", predictions: good, history: #"{"regression": {"baseline": "\#(pinnedID)", "max_miou_drop": 50}}"#)
        let ok = try CTPipeBinary.run(["run", pinned, "--quiet"])
        #expect(ok.status == 0 && ok.stderr.contains("against pinned run \(pinnedID)"), "\(ok.stderr)")
        let absent = try fixture.manifest("nightly", predictions: good, history: #"{"regression": {"baseline": "nightly/none", "max_miou_drop": 1}}"#)
        let bad = try CTPipeBinary.run(["run", absent, "--quiet"])
        #expect(bad.status == 1 && bad.stderr.contains("run \"nightly/none\" is not in"), "\(bad.stderr)")
        // --no-history records nothing and checks nothing.
        let quiet = try CTPipeBinary.run(["run", manifest, "--quiet", "--no-history", "--no-report"])
        #expect(quiet.status == 0 && !quiet.stderr.contains("recorded"))
        #expect(try HistoryStore(path: db, create: false).count() == 5)
    }

    @Test func shardJobsThenMergeRecordAndDetectRegression() throws {
        let fixture = try OperationsFixture(count: 7)
        let preds = try fixture.predictions("p", noise: 5)
        let manifest = try fixture.manifest("array", predictions: preds, history: #"{"regression": {"max_miou_drop": 0.5}}"#, shards: 3)
        let single = try CTPipeBinary.run(["run", manifest, "--quiet", "--no-history"])
        #expect(single.status == 0)
        let reference = try #require(fixture.runs("array").first)
        for round in 0 ..< 2 {
            if round == 1 { _ = try fixture.predictions("p", replace: [2], noise: 5) }
            let folder = fixture.folder + "/runs/array/job-\(round)"
            for i in 0 ..< 3 {
                let shard = try CTPipeBinary.run(["run", manifest, "--quiet", "--shard", "\(i)/3", "--run-dir", folder])
                #expect(shard.status == 0, "\(shard.stderr)")
                #expect(!shard.stderr.contains("recorded"), "shard jobs leave recording to the merge")
            }
            let merge = try CTPipeBinary.run(["merge", folder])
            if round == 0 {
                #expect(merge.status == 0, "\(merge.stderr)")
                #expect(try FileBytes.read(folder + "/metrics.json") == FileBytes.read(reference + "/metrics.json"),
                        "merged shards equal the single-process run")
                #expect(merge.stderr.contains("recorded array/job-0"))
            } else {
                #expect(merge.status == 4, "\(merge.stderr)")
                #expect(merge.stderr.contains("against previous run array/job-0"))
            }
            #expect(FileManager.default.fileExists(atPath: folder + "/report.html"))
        }
        let report = try CTPipeBinary.run(["report", fixture.folder + "/runs/array/job-1", "--out", fixture.folder + "/r.html"])
        #expect(report.status == 0 && report.stdout.hasSuffix("r.html\n"))
        let html = try String(contentsOfFile: fixture.folder + "/r.html", encoding: .utf8)
        #expect(html.contains(#"class="chart trend""#) && html.contains(#"data-run="array/job-0""#))
    }

    /// Several `ctpipe run` processes and, at the same time, threads of this process record into one database.
    @Test func parallelProcessesAndThreadsLoseNoRecord() throws {
        let fixture = try OperationsFixture(count: 4)
        let preds = try fixture.predictions("p", noise: 3)
        let db = fixture.folder + "/shared/history.sqlite"
        let processes = 6, rounds = 2, threads = 4, perThread = 20
        var manifests: [String] = []
        for p in 0 ..< processes { manifests.append(try fixture.manifest("job\(p)", predictions: preds, shards: 1)) }
        let failures = Mutex<[String]>([])
        for round in 0 ..< rounds {
            let started = try manifests.map { manifest -> (Process, Pipe) in
                let process = Process()
                process.executableURL = CTPipeBinary.url
                process.arguments = ["run", manifest, "--quiet", "--history", db, "--no-report"]
                let err = Pipe()
                process.standardOutput = FileHandle.nullDevice
                process.standardError = err
                try process.run()
                return (process, err)
            }
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                do {
                    let store = try HistoryStore(path: db, busyTimeout: 120)
                    for n in 0 ..< perThread {
                        try store.record(HistoryRun(runID: "thread/\(round)-\(t)-\(n)", recordedAt: "", manifestName: "thread",
                                                    manifestFile: "", configurationHash: "", checkpointHash: nil, runDirectory: "",
                                                    ctpipeVersion: "", gitCommit: nil, host: "", wallSeconds: 0, averageMeanIoU: Double(n),
                                                    results: [HistoryResult(dataset: "d", samples: n, skipped: 0, mIoU: Double(n),
                                                                            aAcc: nil, mAcc: nil,
                                                                            classes: [HistoryClassIoU(trainId: 0, name: "road", iou: Double(t))])]))
                    }
                } catch {
                    failures.withLock { $0.append("thread \(t): \(error)") }
                }
            }
            for (p, (process, err)) in started.enumerated() {
                let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                process.waitUntilExit()
                if process.terminationStatus != 0 { failures.withLock { $0.append("process \(p) round \(round): \(stderr)") } }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
        let store = try HistoryStore(path: db, create: false)
        #expect(try store.integrityCheck() == "ok")
        #expect(try store.runs(manifest: "thread").count == rounds * threads * perThread)
        for p in 0 ..< processes {
            let runs = try store.runs(manifest: "job\(p)")
            #expect(runs.count == rounds, "job\(p) recorded once per round")
            #expect(runs.allSatisfy { $0.results.count == 1 && $0.results[0].samples == 4 && $0.results[0].classes.count == 19 })
        }
        // Every process saw the same data: identical metrics in every record.
        let all = try (0 ..< processes).flatMap { try store.runs(manifest: "job\($0)") }
        #expect(Set(all.map { $0.results[0].mIoU }).count == 1)
    }
}
