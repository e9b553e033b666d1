// SeedSweepCommandTests.swift — `ctpipe run` of a manifest with `seeds` through the built
// binary: a two-seed sweep of a tiny training run (two run folders, summary.json whose mean
// and sample standard deviation follow from the two metrics.json files, the table on
// stdout, --resume skipping finished seeds), a SIGTERM in the middle of a seed (exit 130,
// resumed in the same seed folder), and the options that do not go with seeds.

import CTCore
import Foundation
import Testing

@Suite(.serialized) struct SeedSweepCommandTests {
    /// The sweep folders of a manifest name under `root`, oldest first.
    func sweeps(_ root: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).filter { $0.hasPrefix("seeds-") }.sorted().map { "\(root)/\($0)" }
    }

    func json(_ file: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as! [String: Any]
    }

    /// Every set's and average's mIoU of a metrics.json, by name.
    func meanIoUs(_ file: String) throws -> [String: Double] {
        let metrics = try json(file)
        var values: [String: Double] = [:]
        for set in metrics["datasets"] as! [[String: Any]] { values[set["name"] as! String] = set["mIoU"] as? Double }
        for average in metrics["averages"] as? [[String: Any]] ?? [] { values[average["name"] as! String] = average["mIoU"] as? Double }
        return values
    }

    @Test func twoSeedsOfATinyTrainingRun() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-seeds-\(UUID())").path
        try AtomicFile.write(text: """
        {"version": 1, "name": "sweep", "seeds": [0, 1],
         "pipeline": {"version": 1, "stages": ["read", "train", "infer", "metric"], "defaults": {"execution": {"shards": 2}}},
         "datasets": [
           {"name": "gta", "kind": "gta5", "root": "data/gta", "role": "train", "synthesize": {"count": 4, "seed": 1, "size": [96, 64]}},
           {"name": "city", "kind": "cityscapes", "root": "data/city", "scale": [96, 64], "synthesize": {"count": 2, "seed": 2, "size": [96, 64]}},
           {"name": "acdc", "kind": "acdc", "root": "data/acdc", "scale": [96, 64], "synthesize": {"count": 2, "seed": 3, "size": [96, 64]}}
         ],
         "averages": {"ACDC": ["acdc"]},
         "model": {"backbone": "tiny", "adapter": "causal-tune", "tokens": 6},
         "training": {"iterations": 6, "batch_size": 2, "crop_size": 32, "lr": 0.001, "checkpoint_interval": 3},
         "outputs": {"dir": "runs"}}
        """, to: folder + "/sweep.json")
        let result = try CTPipeBinary.run(["run", folder + "/sweep.json", "--quiet"])
        #expect(result.status == 0, "\(result.stderr)")
        let sweep = try #require(sweeps(folder + "/runs/sweep").first)
        #expect(sweeps(folder + "/runs/sweep").count == 1)
        for seed in [0, 1] {
            for file in ["metrics.json", "model.safetensors", "report.html", "train_log.jsonl"] {
                #expect(FileManager.default.fileExists(atPath: "\(sweep)/seed-\(seed)/\(file)"), "seed \(seed): \(file)")
            }
        }
        let x = try meanIoUs(sweep + "/seed-0/metrics.json"), y = try meanIoUs(sweep + "/seed-1/metrics.json")
        #expect(Set(x.keys) == ["city", "acdc/fog", "acdc/night", "acdc/rain", "acdc/snow", "ACDC"])
        #expect(x.keys.contains { x[$0] != y[$0] }, "the seeds train different models")

        // summary.json: per set and average both seeds' values, the mean and the sample std (n - 1).
        let summary = try json(sweep + "/summary.json")
        #expect(summary["complete"] as? Bool == true && summary["seeds"] as? [Int] == [0, 1])
        let rows = (summary["datasets"] as! [[String: Any]]) + (summary["averages"] as! [[String: Any]])
        #expect(Set(rows.map { $0["name"] as! String }) == Set(x.keys))
        for row in rows {
            let name = row["name"] as! String
            let a = try #require(x[name]), b = try #require(y[name])
            #expect((row["values"] as! [[String: Any]]).map { $0["mIoU"] as? Double } == [a, b], "\(name)")
            let mean = (a + b) / 2
            let std = (((a - mean) * (a - mean) + (b - mean) * (b - mean)) / (2 - 1)).squareRoot()
            #expect(abs((row["mean"] as! Double) - mean) < 1e-12, "\(name) mean")
            #expect(abs((row["std"] as! Double) - std) < 1e-12, "\(name) sample std")
        }
        #expect(result.stdout.contains("mIoU over seeds of sweep (2 of 2 finished"))
        let acdc = try #require(result.stdout.split(separator: "\n").last { $0.hasPrefix("ACDC ") })
        #expect(acdc.split(separator: " ").map(String.init)
            == [x["ACDC"]!, y["ACDC"]!, (x["ACDC"]! + y["ACDC"]!) / 2, abs(x["ACDC"]! - y["ACDC"]!) / 2.0.squareRoot()]
                .reduce(["ACDC"]) { $0 + [String(format: "%.2f", $1)] })

        // --resume: both seeds finished, both skipped; the summary is the same.
        let resumed = try CTPipeBinary.run(["run", folder + "/sweep.json", "--resume", "--quiet"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("seed 0: finished before, skipped") && resumed.stderr.contains("seed 1: finished before, skipped"))
        let again = try json(sweep + "/summary.json")
        for key in ["datasets", "averages", "runs"] {
            #expect(try JSONSerialization.data(withJSONObject: again[key]!, options: .sortedKeys)
                == JSONSerialization.data(withJSONObject: summary[key]!, options: .sortedKeys), "\(key) unchanged")
        }

        // One configuration per folder: --shard and --run-dir do not go with seeds.
        let shard = try CTPipeBinary.run(["run", folder + "/sweep.json", "--shard", "0/2"])
        #expect(shard.status == 64 && shard.stderr.contains("has seeds"), "\(shard.stderr)")
    }

    @Test func aSignalInASeedStopsTheSweepAndResumeContinuesIt() throws {
        let fixture = try KillableRunFixture()
        try AtomicFile.write(text: """
        {"version": 1, "name": "kill", "seeds": [0, 1], "pipeline": {"version": 1, "stages": ["read", "predictions", "metric"]},
         "datasets": [{"kind": "cityscapes", "root": "cityscapes", "name": "city"}],
         "predictions": {"dir": "predictions"},
         "outputs": {"dir": "runs"},
         "execution": {"shards": 40, "workers": 1}}
        """, to: fixture.folder + "/sweep.json")
        let process = Process()
        process.executableURL = CTPipeBinary.url
        process.arguments = ["run", fixture.folder + "/sweep.json", "--quiet"]
        let errors = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        var stopped: String?
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, process.isRunning {
            if let sweep = sweeps(fixture.folder + "/runs/kill").first, fixture.records(in: sweep + "/seed-0") >= 2 {
                stopped = sweep
                break
            }
            usleep(2000)
        }
        kill(process.processIdentifier, SIGTERM)
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let sweep = try #require(stopped, "the first seed finished before it could be stopped")
        #expect(process.terminationStatus == 130, "a stopped sweep exits 130: \(stderr)")
        #expect(stderr.contains("stopped during seed 0") && stderr.contains("--resume"))
        let kept = fixture.records(in: sweep + "/seed-0")
        #expect(kept >= 2 && kept < 40)
        #expect(!FileManager.default.fileExists(atPath: sweep + "/seed-1"))

        let resumed = try CTPipeBinary.run(["run", fixture.folder + "/sweep.json", "--resume", "--quiet"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let events = try String(contentsOfFile: sweep + "/seed-0/events.jsonl", encoding: .utf8)
        #expect(events.contains(#""event":"run_interrupted""#) && events.contains(#""resume":true"#), "seed 0 resumed in its own folder")
        // The seed does not change scored predictions: both seeds' metrics are the same file.
        let first = try FileBytes.read(sweep + "/seed-0/metrics.json"), second = try FileBytes.read(sweep + "/seed-1/metrics.json")
        #expect(first == second)
        let summary = try json(sweep + "/summary.json")
        #expect(summary["complete"] as? Bool == true)
        let city = try #require((summary["datasets"] as? [[String: Any]])?.first)
        #expect(city["std"] as? Double == 0 && city["n"] as? Int == 2)
    }
}
