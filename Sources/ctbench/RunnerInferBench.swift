// RunnerInferBench.swift — `ctbench runner-infer`: whole-image inference end to
// end through the runner (`Runner.run` on a manifest with pipelines/evaluate.json)
// on synthetic Cityscapes-size frames (2048 x 1024, resized to 1024 x 512:
// 3 windows of 512 at stride 341, predictions at 2048 x 1024, trainid + color
// PNGs written), with 1 and with 2 workers, alternating for a number of rounds.
// --threads is the run's cores (`ctpipe run --threads`; default all): one worker
// runs every frame on all of them, W workers one frame each on cores / W.
// --shards (default: one per worker) cuts the frames into that many shards: with
// several frames per shard a worker of two threads or more decodes the next frame
// while the last one's files are written (a nightly run's shards hold dozens);
// `--shards` equal to --images gives every frame a shard of its own, where no
// decode runs ahead.
//
// The model is a random-weight DINOv2 vits14 converted to patch 16 (grid 32)
// with Causal-Tune (m = 100) after every block and the linear head, saved once
// as a ctpipe checkpoint with the backbone embedded; the manifest names it.
// scripts/bench_runner_infer.py runs the same pipeline in PyTorch alongside.
//
//   ctbench runner-infer [--images N] [--rounds R] [--workers 1,2] [--threads N] [--shards S] [--root DIR]
//   ctbench runner-infer --write-checkpoint PATH   (only write that checkpoint, for
//                                                   `ctpipe infer/features/run`: scripts/bench_scaling.py)

import CTCore
import Foundation
import ManifestSchema
import Metrics
import Model
import PipelineRunner
import RunFolder

enum RunnerInferBench {
    static func run(_ arguments: [String]) throws {
        var images = 4, rounds = 1, workerCounts = [1, 2]
        var root = "/tmp/ctpipe-bench-runner-infer"
        var writeOnly: String?
        var threads: Int?, shards: Int?
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--images": images = max(1, Int(iterator.next() ?? "") ?? images)
            case "--rounds": rounds = max(1, Int(iterator.next() ?? "") ?? rounds)
            case "--workers": workerCounts = (iterator.next() ?? "").split(separator: ",").compactMap { Int($0) }
            case "--root": root = iterator.next() ?? root
            case "--threads":
                guard let n = Int(iterator.next() ?? ""), n > 0 else { throw RunError("--threads needs a positive integer") }
                threads = n
            case "--shards":
                guard let n = Int(iterator.next() ?? ""), n > 0 else { throw RunError("--shards needs a positive integer") }
                shards = n
            case "--write-checkpoint":
                guard let path = iterator.next() else { throw RunError("--write-checkpoint needs a file path") }
                writeOnly = path
            default:
                throw RunError("unknown argument \(argument) (use --images N, --rounds R, --workers 1,2, --threads N, --shards S, --root DIR, --write-checkpoint PATH)")
            }
        }
        if let writeOnly {
            try writeCheckpoint(to: writeOnly)
            let data = try JSONSerialization.data(withJSONObject: ["checkpoint": writeOnly], options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        let checkpoint = root + "/vits14-p16-causal-tune.safetensors"
        if !FileManager.default.fileExists(atPath: checkpoint) {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            try writeCheckpoint(to: checkpoint)
        }
        let dataRoot = root + "/cityscapes"
        try SyntheticFrames.cityscapes(at: dataRoot, count: images, exactly: true)
        // Included in every run's time (the runner builds its model once per run); timed alone for reference.
        let clock = ContinuousClock()
        let loadStart = clock.now
        _ = try SegmentationCheckpoint.load(checkpoint)
        let loadSeconds = (clock.now - loadStart) / .seconds(1)
        let pipeline = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("pipelines/evaluate.json").path
        var results: [[String: Any]] = []
        for round in 0 ..< rounds {
            for workers in workerCounts {
                let manifestPath = "\(root)/runner-infer-\(workers).json"
                try AtomicFile.write(text: """
                {"version": 1, "name": "runner-infer-\(workers)", "pipeline": "\(pipeline)",
                 "datasets": [{"kind": "cityscapes", "root": "cityscapes", "name": "city"}],
                 "model": {"backbone": "vits14", "checkpoint": "vits14-p16-causal-tune.safetensors"},
                 "outputs": {"dir": "runs", "formats": ["trainid", "color"]},
                 "execution": {"shards": \(shards ?? workers), "workers": \(workers)}}
                """, to: manifestPath)
                try? FileManager.default.removeItem(atPath: "\(root)/runs")
                var options = RunOptions()
                options.quiet = true
                options.completion.record = false
                options.completion.report = false
                options.threads = threads
                let manifest = try ManifestLoader.load(manifestPath)
                let load0 = EvalPathBench.loadAverage()
                let usage0 = EvalPathBench.resourceUsage()
                let start = clock.now
                let summary = try Runner(manifest: manifest, options: options).run()
                let seconds = (clock.now - start) / .seconds(1)
                let usage1 = EvalPathBench.resourceUsage()
                guard let report = summary.report?["city"], report.images == images else {
                    throw RunError("the run did not score all \(images) images: \(summary.problems)")
                }
                let result: [String: Any] = [
                    "round": round, "workers": workers, "threads": threads ?? ProcessInfo.processInfo.activeProcessorCount,
                    "images": images, "shards": shards ?? workers, "seconds": seconds,
                    "images_per_second": Double(images) / seconds,
                    "process_cpu_s_per_image": (usage1.cpu - usage0.cpu) / Double(images),
                    "cpu_utilisation": (usage1.cpu - usage0.cpu) / seconds,
                    "load_before": load0, "load_after": EvalPathBench.loadAverage(),
                ]
                FileHandle.standardError.write(Data(String(
                    format: "round %d, %d worker(s): %.3f images/s (%.2f s/image), process CPU %.2f s/image, utilisation %.2f, load %@ -> %@\n",
                    round, workers, Double(images) / seconds, seconds / Double(images), (usage1.cpu - usage0.cpu) / Double(images),
                    (usage1.cpu - usage0.cpu) / seconds, load0, result["load_after"] as! String).utf8))
                results.append(result)
            }
        }
        let data = try JSONSerialization.data(withJSONObject: [
            "benchmark": "runner-infer", "image": "2048x1024 -> 1024x512, 3 windows 512/341, labels 2048x1024",
            "model": "vits14-p16 + causal-tune m100 + linear head (random weights)", "results": results,
            "checkpoint_load_seconds": loadSeconds,
        ], options: [.prettyPrinted, .sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }

    /// The benchmark's model: a random-weight vits14 converted to patch 16 (grid 32), Causal-Tune
    /// (m = 100) after every block, the linear head; saved with the backbone embedded (the same bytes every time).
    static func writeCheckpoint(to path: String) throws {
        let config = DINOv2Config(embedDim: 384, depth: 12, heads: 6, patchSize: 16, registers: 0, gridSize: 32, ffnHidden: 1536)
        let backbone = try SegmentationBench.randomBackbone(config, seed: 1)
        let model = try SegmentationModel.initialised(backbone: backbone, backboneName: "vits14",
                                                      adapter: AdapterConfig(kind: .causalTune), seed: 2)
        try SegmentationCheckpoint.save(model, to: path, embedBackbone: true)
    }
}
