// SeedSweepTests.swift — a manifest with `seeds` through SeedSweep, in process: one run
// folder per seed inside the sweep folder, summary.json (per set and average each seed's
// mIoU, the mean, the sample standard deviation), a sweep stopped after its first seed and
// resumed, the refusals, and the sweep's exit status (the worst of its seeds').

import CTCore
import Foundation
import ImageIO
import ManifestSchema
import Metrics
import PipelineRunner
import RunFolder
import RunReports
import Testing

/// summary.json parsed with Foundation.
func summaryJSON(_ folder: String) throws -> [String: Any] {
    try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/summary.json"))) as! [String: Any]
}

/// One row (set or average) of summary.json by name.
func summaryRow(_ summary: [String: Any], _ key: String, _ name: String) -> [String: Any]? {
    (summary[key] as? [[String: Any]])?.first { $0["name"] as? String == name }
}

@Suite struct SeedSweepTests {
    static let seeds = #", "seeds": [5, 2], "averages": {"AB": ["a", "b"]}"#

    @Test func aSweepStoppedAfterItsFirstSeedResumesWithTheOthers() throws {
        let fixture = try CitySetsFixture()
        let manifest = try fixture.manifest(Self.seeds)
        let stop = StopFlag()
        var heard: [Int] = []
        #expect(throws: SweepInterrupted.self) {
            _ = try SeedSweep(manifest: manifest, options: fixture.options(), stop: stop).run { outcome in
                heard.append(outcome.seed)
                stop.set()   // a signal while seed 5 ends: seed 2 does not start
            }
        }
        #expect(heard == [5])
        let sweep = try #require(try FileManager.default.contentsOfDirectory(atPath: fixture.folder + "/runs/sets").first { $0.hasPrefix("seeds-") })
        let folder = "\(fixture.folder)/runs/sets/\(sweep)"
        #expect(FileManager.default.fileExists(atPath: folder + "/seed-5/metrics.json"))
        #expect(!FileManager.default.fileExists(atPath: folder + "/seed-2"))
        var summary = try summaryJSON(folder)
        #expect(summary["complete"] as? Bool == false)
        let runs = try #require(summary["runs"] as? [[String: Any]])
        #expect(runs.map { $0["seed"] as? Int } == [5, 2] && runs.map { $0["finished"] as? Bool } == [true, false])
        #expect(runs[0]["run_id"] as? String == "sets/\(sweep)/seed-5" && runs[0]["status"] as? Int == 0)
        let first = try metricsJSON(folder + "/seed-5")
        let a = try #require(summaryRow(summary, "datasets", "a"))
        #expect(a["n"] as? Int == 1 && a["mean"] as? Double == writtenMeanIoU(first, "a") && a["std"] is NSNull,
                "one seed: its value is the mean, and there is no deviation")
        let finishedEvents = try String(contentsOfFile: folder + "/seed-5/events.jsonl", encoding: .utf8)
        let finishedMetrics = try FileBytes.read(folder + "/seed-5/metrics.json")

        // Resume: seed 5 is skipped untouched, seed 2 runs.
        var resume = fixture.options()
        resume.resume = true
        var outcomes: [SeedOutcome] = []
        let result = try SeedSweep(manifest: manifest, options: resume).run { outcomes.append($0) }
        #expect(result.folder == folder)
        #expect(outcomes.map(\.seed) == [5, 2] && outcomes.map(\.skipped) == [true, false])
        #expect(result.status == 0 && result.errors.isEmpty)
        #expect(try String(contentsOfFile: folder + "/seed-5/events.jsonl", encoding: .utf8) == finishedEvents)
        #expect(try FileBytes.read(folder + "/seed-5/metrics.json") == finishedMetrics)

        // summary.json: each seed's value from its own metrics.json, the mean and the sample std.
        summary = try summaryJSON(folder)
        #expect(summary["complete"] as? Bool == true)
        #expect(summary["configuration_hash"] as? String == manifest.configurationHash)
        let second = try metricsJSON(folder + "/seed-2")
        for name in ["a", "b", "c"] {
            let row = try #require(summaryRow(summary, "datasets", name))
            let values = try #require(row["values"] as? [[String: Any]])
            #expect(values.map { $0["seed"] as? Int } == [5, 2])
            let x = try #require(writtenMeanIoU(first, name)), y = try #require(writtenMeanIoU(second, name))
            #expect(values.map { $0["mIoU"] as? Double } == [x, y])
            #expect(row["n"] as? Int == 2 && abs((row["mean"] as! Double) - (x + y) / 2) < 1e-12)
            // Sample standard deviation of two values: |x - y| / sqrt(2) (here 0: the seed does not change predictions).
            #expect(abs((row["std"] as! Double) - abs(x - y) / 2.0.squareRoot()) < 1e-12)
        }
        let ab = try #require(summaryRow(summary, "averages", "AB"))
        #expect(ab["over"] as? [String] == ["a", "b"])
        let averages = try [first, second].map { try #require(($0["averages"] as? [[String: Any]])?.first?["mIoU"] as? Double) }
        #expect((ab["values"] as? [[String: Any]])?.map { $0["mIoU"] as? Double } == averages)
        #expect(result.summary.table.contains("seed 5") && result.summary.table.contains("AB"))
        #expect(FileManager.default.fileExists(atPath: folder + "/report.html"))
        let page = try String(contentsOfFile: folder + "/report.html", encoding: .utf8)
        #expect(reportCells(page)["mean|AB|"]?.value == "\(ab["mean"] as! Double)")

        // Each seed is recorded in the history under its own run id and seed.
        let recorded = try HistoryStore(path: fixture.history, create: false).runs()
        #expect(recorded.map(\.runID) == ["sets/\(sweep)/seed-5", "sets/\(sweep)/seed-2"] && recorded.map(\.seed) == [5, 2])
        // A seed's report finds its own history record.
        let data = try ReportData.load(runDirectory: folder + "/seed-2")
        #expect(data.runID == "sets/\(sweep)/seed-2" && data.recorded?.seed == 2)
    }

    @Test func theSweepsStatusIsTheWorstOfItsSeeds() throws {
        #expect(RunCompletion.worst([0, 0]) == 0)
        #expect(RunCompletion.worst([0, 1, 4]) == 4)
        #expect(RunCompletion.worst([1, 5, 4]) == 5)
        #expect(RunCompletion.worst([1, 0]) == 1)

        let fixture = try CitySetsFixture()
        let thresholds = Self.seeds + #", "history": {"regression": {"max_miou_drop": 1}}"#
        let first = try SeedSweep(manifest: try fixture.manifest(thresholds), options: fixture.options()).run()
        #expect(first.status == 0)
        for i in 0 ..< 3 {
            try ImageFile.writePNG(Image8(width: 64, height: 32, channels: 1, pixels: [UInt8](repeating: 18, count: 64 * 32)),
                                   to: String(format: "%@/predictions/bochum/bochum_%06d_000019.png", fixture.folder, i))
        }
        let second = try SeedSweep(manifest: try fixture.manifest(thresholds), options: fixture.options()).run()
        // Each seed is compared with the same seed of the first sweep.
        #expect(second.outcomes.map { $0.completion?.regression?.baselineRunID?.hasSuffix("/seed-\($0.seed)") } == [true, true])
        #expect(second.outcomes.map(\.status) == [4, 4] && second.status == 4)
        #expect(second.folder != first.folder, "without --resume a new sweep folder")
    }

    @Test func refusals() throws {
        let fixture = try CitySetsFixture()
        let manifest = try fixture.manifest(Self.seeds)
        var resume = fixture.options()
        resume.resume = true
        #expect { try SeedSweep(manifest: manifest, options: resume).run() } throws: {
            "\($0)".contains("nothing to resume: no seed sweep of sets with this configuration")
        }
        var runDirectory = fixture.options()
        runDirectory.runDirectory = fixture.folder + "/elsewhere"
        #expect { try SeedSweep(manifest: manifest, options: runDirectory).run() } throws: { "\($0)".contains("--run-dir") }
        #expect { try SeedSweep(manifest: try fixture.manifest()).run() } throws: { "\($0)".contains("has no seeds") }
    }
}
