// EvalPathBench.swift — `ctbench evalpath`: the evaluation path without a
// model (decode -> keep-ratio resize -> metric -> write) on synthetic
// Cityscapes-size frames, with 1 and with 2 workers in the same run, and the
// share of time in each stage.
//
// The "prediction" stands in for the model: the label is taken down to the
// resized image's size and back up with nearest neighbour, the sizes the
// infer stage produces. Everything else is the runner's real code path.

import Augment
import Datasets
import Foundation
import ImageIO
import Metrics
import Pipeline
import Synchronization

enum EvalPathBench {
    struct StageTimes: Sendable {
        var decode = 0.0, resize = 0.0, predict = 0.0, metric = 0.0, write = 0.0
        mutating func add(_ o: StageTimes) {
            decode += o.decode; resize += o.resize; predict += o.predict; metric += o.metric; write += o.write
        }
        var total: Double { decode + resize + predict + metric + write }
    }

    static func run(_ arguments: [String]) throws {
        var images = 24
        var root = "/tmp/ctpipe-bench-evalpath"
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--images": images = Int(iterator.next() ?? "") ?? images
            case "--root": root = iterator.next() ?? root
            default: throw RunError("unknown argument \(argument) (use --images N, --root DIR)")
            }
        }
        let dataRoot = root + "/cityscapes"
        let existing = (try? CityscapesReader(root: dataRoot, split: "val", layout: .raw))?.list().samples.count ?? 0
        if existing < images {
            var options = SynthOptions(dataset: .cityscapes, root: dataRoot)
            options.count = images
            options.split = "val"
            options.size = ImageSize(width: 2048, height: 1024)
            options.seed = 7
            _ = try SyntheticDataset.write(options)
        }
        let reader = try CityscapesReader(root: dataRoot, split: "val", layout: .raw)
        let samples = Array(reader.list().samples.prefix(images))
        var results: [[String: Any]] = []
        var baseline = 0.0
        for workers in [1, 2] {
            let outputs = "\(root)/out-\(workers)"
            try? FileManager.default.removeItem(atPath: outputs)
            let times = Mutex(StageTimes())
            let blocks = (0 ..< workers * 4).map { ShardID(dataset: "bench", index: $0, count: workers * 4) }
            let clock = ContinuousClock()
            let start = clock.now
            let reports = ShardPool.run(blocks, workers: workers) { shard -> Result<MetricsReport, any Error> in
                Result {
                    var local = StageTimes()
                    var metrics = DatasetMetrics(name: "cityscapes")
                    for i in shard.range(samples: samples.count) {
                        try process(samples[i], into: outputs, metrics: &metrics, times: &local)
                    }
                    times.withLock { $0.add(local) }
                    return MetricsReport(datasets: [metrics], partial: true)
                }
            }
            let seconds = (clock.now - start) / .seconds(1)
            var merged = MetricsReport()
            for r in reports { try merged.merge(try r.get()) }
            let t = times.withLock { $0 }
            let rate = Double(samples.count) / seconds
            if workers == 1 { baseline = rate }
            results.append([
                "workers": workers, "images": samples.count, "seconds": seconds, "images_per_second": rate,
                "speedup_vs_1_worker": rate / baseline,
                "mIoU_check": (merged["cityscapes"]?.metrics.meanIoU ?? 0) * 100,
                "stage_share": ["decode": t.decode / t.total, "resize": t.resize / t.total, "predict_standin": t.predict / t.total,
                                "metric": t.metric / t.total, "write": t.write / t.total],
            ])
        }
        let data = try JSONSerialization.data(withJSONObject: ["benchmark": "evalpath", "size": "2048x1024", "results": results],
                                              options: [.prettyPrinted, .sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }

    static func process(_ sample: Sample, into outputs: String, metrics: inout DatasetMetrics, times: inout StageTimes) throws {
        var t0 = BenchTiming.threadCPUTime()
        func lap(_ keyPath: WritableKeyPath<StageTimes, Double>) {
            let t1 = BenchTiming.threadCPUTime()
            times[keyPath: keyPath] += t1 - t0
            t0 = t1
        }
        let image = try sample.loadImage()
        let label = try sample.loadLabel()
        lap(\.decode)
        let resized = try KeepRatioResize(scale: ImageSize(width: 1024, height: 512)).apply(image: image)
        lap(\.resize)
        let small = Resize.nearest(label, width: resized.width, height: resized.height, rule: .opencv)
        let prediction = Resize.nearest(small, width: label.width, height: label.height, rule: .opencv)
        lap(\.predict)
        try metrics.accumulate(prediction: prediction.pixels, label: label.pixels)
        lap(\.metric)
        try LabelWriter(formats: [.trainid, .color]).write(prediction: prediction, image: nil, id: sample.id, into: outputs)
        lap(\.write)
    }
}
