// TrainCommandTests.swift — the train stage through the built binary: a run
// killed with SIGKILL mid-training and continued with --resume ends with the
// same loss curve (every iteration's loss, bit for bit) and the same metrics
// as an uninterrupted run with the same seed; a SIGTERM stops after a
// checkpoint with exit 130.

import CTCore
import Foundation
import Testing

struct TrainingFixture {
    let folder: String

    /// `evaluation`: the eval dataset's image count and size, the shard count, and whether label files are written.
    init(iterations: Int = 120, evaluation: (images: Int, size: (Int, Int), shards: Int, writes: Bool) = (2, (96, 64), 2, false)) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-train-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let stages = ["read", "train", "infer", "metric"] + (evaluation.writes ? ["write"] : [])
        let (width, height) = evaluation.size
        try AtomicFile.write(text: """
        {"version": 1, "name": "train", "seed": 7,
         "pipeline": {"version": 1, "stages": [\(stages.map { "\"\($0)\"" }.joined(separator: ", "))],
                      "defaults": {"execution": {"shards": \(evaluation.shards)}}},
         "datasets": [
           {"name": "gta", "kind": "gta5", "root": "data/gta", "role": "train", "synthesize": {"count": 6, "seed": 1, "size": [96, 64]}},
           {"name": "city", "kind": "cityscapes", "root": "data/city", "scale": [\(width), \(height)],
            "synthesize": {"count": \(evaluation.images), "seed": 2, "size": [\(width), \(height)]}}
         ],
         "model": {"backbone": "tiny", "adapter": "causal-tune", "tokens": 6},
         "training": {"iterations": \(iterations), "batch_size": 2, "crop_size": 32, "lr": 0.001, "warmup_iterations": 3,
                      "checkpoint_interval": 5},
         "outputs": {"dir": "runs"\(evaluation.writes ? ", \"formats\": [\"trainid\", \"color\"]" : "")}}
        """, to: folder + "/train.json")
    }

    var manifest: String { folder + "/train.json" }

    /// (iteration, loss) lines of a run's train_log.jsonl, as written.
    func losses(_ run: String) throws -> [String] {
        try String(contentsOfFile: run + "/train_log.jsonl", encoding: .utf8).split(separator: "\n").map { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            return "\(object["iteration"]!) \(line.split(separator: ",")[1])"
        }
    }

    func latestIteration(_ run: String) -> Int {
        guard let data = FileManager.default.contents(atPath: run + "/checkpoints/latest.json"),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return 0 }
        return object["iteration"] as? Int ?? 0
    }
}

@Suite(.serialized) struct TrainCommandTests {
    @Test func killedTrainingResumesToTheSameLossCurve() throws {
        let fixture = try TrainingFixture()
        let reference = fixture.folder + "/runs/reference"
        let result = try CTPipeBinary.run(["run", fixture.manifest, "--run-dir", reference, "--quiet"])
        #expect(result.status == 0, "\(result.stderr)")
        let expected = try fixture.losses(reference)
        #expect(expected.count == 120)
        let first = try #require(Double(expected[0].split(separator: ":").last!)), last = try #require(Double(expected[119].split(separator: ":").last!))
        #expect(last < first, "training lowers the loss (\(first) -> \(last))")
        for file in ["model.safetensors", "loss_curve.png", "metrics.json", "checkpoints/latest.json"] {
            #expect(FileManager.default.fileExists(atPath: reference + "/" + file), "\(file) is written")
        }

        // The same run, SIGKILLed once a few checkpoints exist, then resumed.
        let killed = fixture.folder + "/runs/killed"
        let process = Process()
        process.executableURL = CTPipeBinary.url
        process.arguments = ["run", fixture.manifest, "--run-dir", killed, "--quiet"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(120)
        while process.isRunning && fixture.latestIteration(killed) < 15 && Date() < deadline { usleep(5_000) }
        let wasRunning = process.isRunning
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(wasRunning, "the run finished before it could be killed")
        let reached = fixture.latestIteration(killed)
        #expect(reached >= 15 && reached < 120, "killed after checkpoint \(reached)")
        let resumed = try CTPipeBinary.run(["run", fixture.manifest, "--run-dir", killed, "--resume", "--quiet"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try fixture.losses(killed) == expected, "the resumed run's loss curve equals the uninterrupted one")
        #expect(try String(contentsOfFile: killed + "/metrics.json", encoding: .utf8)
                == String(contentsOfFile: reference + "/metrics.json", encoding: .utf8))
        let events = try String(contentsOfFile: killed + "/events.jsonl", encoding: .utf8)
        #expect(events.contains("train_resume"))
        try? FileManager.default.removeItem(atPath: fixture.folder)
    }

    @Test func sigtermStopsAfterACheckpoint() throws {
        let fixture = try TrainingFixture(iterations: 400)
        let run = fixture.folder + "/runs/stopped"
        let process = Process()
        process.executableURL = CTPipeBinary.url
        process.arguments = ["run", fixture.manifest, "--run-dir", run, "--quiet"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(120)
        while process.isRunning && fixture.latestIteration(run) < 5 && Date() < deadline { usleep(5_000) }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationStatus == 130)
        let losses = try fixture.losses(run)
        #expect(fixture.latestIteration(run) == losses.count, "the stop checkpoint covers every logged iteration")
        try? FileManager.default.removeItem(atPath: fixture.folder)
    }

    @Test(arguments: ["gta2city", "city2acdc", "city2bm"])
    func paperManifestsStopAtOnceWithoutDataOrWeights(_ name: String) throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        guard !FileManager.default.fileExists(atPath: root + "/checkpoints/dinov2_converted.pth") else { return }
        let started = Date()
        let result = try CTPipeBinary.run(["run", "\(root)/manifests/\(name).json", "--quiet"])
        #expect(result.status == 65, "\(result.stderr)")
        #expect(result.stderr.contains("$.model.weights: file not found") && result.stderr.contains("download the DINOv2 weights"))
        #expect(Date().timeIntervalSince(started) < 10, "validation stops the run before any work")
    }

    /// A folder with `train.json`: synthesized GTA5 training scenes (`trainSize`) and the
    /// Cityscapes val split at `data/city`, written beforehand by `ctpipe synth` (`evalSize`).
    static func manifestWithEvalData(iterations: Int, trainSize: (Int, Int), evalSize: (Int, Int), execution: String) throws
        -> (folder: String, manifest: String) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-train-\(UUID())").path
        let synth = try CTPipeBinary.run(["synth", "--dataset", "cityscapes", "--out", folder + "/data/city", "--count", "2",
                                          "--size", "\(evalSize.0)x\(evalSize.1)", "--split", "val"])
        #expect(synth.status == 0, "\(synth.stderr)")
        try AtomicFile.write(text: """
        {"version": 1, "name": "train", "seed": 7,
         "pipeline": {"version": 1, "stages": ["read", "train", "infer", "metric"]},
         "datasets": [
           {"name": "gta", "kind": "gta5", "root": "data/gta", "role": "train",
            "synthesize": {"count": 4, "seed": 1, "size": [\(trainSize.0), \(trainSize.1)]}},
           {"name": "city", "kind": "cityscapes", "root": "data/city", "split": "val", "scale": [\(evalSize.0), \(evalSize.1)]}
         ],
         "model": {"backbone": "tiny", "adapter": "causal-tune", "tokens": 6},
         "training": {"iterations": \(iterations), "batch_size": 2, "crop_size": 32, "lr": 0.001, "warmup_iterations": 1,
                      "checkpoint_interval": 5},
         "outputs": {"dir": "runs"}, "execution": \(execution)}
        """, to: folder + "/train.json")
        return (folder, folder + "/train.json")
    }

    /// Under on_error: fail, a problem in listing an eval dataset stops the run before training, not after it.
    @Test func aBrokenEvalDatasetStopsTheRunBeforeTraining() throws {
        let (folder, manifest) = try Self.manifestWithEvalData(iterations: 40, trainSize: (96, 64), evalSize: (96, 64),
                                                               execution: #"{"on_error": "fail", "shards": 1}"#)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let labels = try FileManager.default.subpathsOfDirectory(atPath: folder + "/data/city/gtFine/val")
            .filter { $0.hasSuffix("_gtFine_labelTrainIds.png") }
        try FileManager.default.removeItem(atPath: folder + "/data/city/gtFine/val/" + labels[0])
        let run = folder + "/runs/broken"
        let result = try CTPipeBinary.run(["run", manifest, "--run-dir", run, "--quiet"])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("1 dataset problem (on_error is fail)") && result.stderr.contains("no label file"),
                "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: run + "/train_log.jsonl"), "no training iteration ran")
        #expect(!FileManager.default.fileExists(atPath: run + "/checkpoints"))
        let events = try String(contentsOfFile: run + "/events.jsonl", encoding: .utf8)
        #expect(!events.contains("train_start") && events.contains("\"problem\""))
    }

    /// Training images are decoded under the manifest's `execution.max_pixels`, like every other image of a run.
    @Test func trainingImagesObeyTheManifestsPixelLimit() throws {
        // Training scenes of 96x64 = 6144 pixels, evaluation scenes of 48x32 = 1536, a limit of 2000 between them.
        let (folder, manifest) = try Self.manifestWithEvalData(iterations: 3, trainSize: (96, 64), evalSize: (48, 32),
                                                               execution: #"{"max_pixels": 2000, "shards": 1}"#)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let run = folder + "/runs/limited"
        let result = try CTPipeBinary.run(["run", manifest, "--run-dir", run, "--quiet"])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("training sample") && result.stderr.contains("exceeds the limit of 2000 pixels")
                && result.stderr.contains(folder + "/data/gta"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: run + "/train_log.jsonl"), "no training iteration ran")
        // Within the limit the same run trains and evaluates.
        let ok = try CTPipeBinary.run(["run", manifest, "--run-dir", folder + "/runs/wide", "--quiet", "--max-pixels", "6144"])
        #expect(ok.status == 0, "\(ok.stderr)")
    }
}
