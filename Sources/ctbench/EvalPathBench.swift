// EvalPathBench.swift — `ctbench evalpath`: the evaluation path without a
// model (decode -> keep-ratio resize -> metric -> write) on synthetic
// Cityscapes-size frames, with 1 and with 2 workers, alternating for a number
// of rounds, and the time in each stage.
//
// The "prediction" stands in for the model: the label is taken down to the
// resized image's size and back up with nearest neighbour, the sizes the
// infer stage produces. Everything else is the runner's real code path
// (ShardPool, SampleEvaluation scores, LabelWriter, AtomicFile).
//
// Per measurement it reports images/s (wall), the process CPU time per image,
// per stage both the thread CPU time and the wall time (summed over workers:
// wall beyond CPU is time spent blocked — I/O, fsync, locks — or waiting for a
// core), the voluntary and involuntary context switches, and the load average
// before and after, because the machine may be shared.

import Augment
import CTCore
import Datasets
import Evaluation
import Foundation
import ImageIO
import LabelFiles
import Metrics
import PipelineRunner
import RunFolder
import Synchronization

enum EvalPathBench {
    struct StageTimes: Sendable {
        static let names = ["decode", "resize", "predict_standin", "metric", "write"]
        var cpu = [Double](repeating: 0, count: 5), wall = [Double](repeating: 0, count: 5)
        mutating func add(_ o: StageTimes) {
            for i in 0 ..< 5 {
                cpu[i] += o.cpu[i]
                wall[i] += o.wall[i]
            }
        }
    }

    static func run(_ arguments: [String]) throws {
        var images = 24, rounds = 1, workerCounts = [1, 2]
        var root = "/tmp/ctpipe-bench-evalpath"
        var durability = AtomicFile.Durability.durable, syncAtShardEnd = false
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--images": images = Int(iterator.next() ?? "") ?? images
            case "--rounds": rounds = max(1, Int(iterator.next() ?? "") ?? rounds)
            case "--workers": workerCounts = (iterator.next() ?? "").split(separator: ",").compactMap { Int($0) }
            case "--root": root = iterator.next() ?? root
            case "--fsync":
                switch iterator.next() {
                case "each": (durability, syncAtShardEnd) = (.durable, false)
                case "shard": (durability, syncAtShardEnd) = (.atomic, true)
                case "none": (durability, syncAtShardEnd) = (.atomic, false)
                case let other:
                    throw RunError("--fsync \(other ?? ""): use each (fsync every file before its rename), shard (rename only, the shard's files fsync'ed together at its end, as the runner does) or none")
                }
            default: throw RunError("unknown argument \(argument) (use --images N, --rounds R, --workers 1,2, --fsync each|shard|none, --root DIR)")
            }
        }
        let dataRoot = root + "/cityscapes"
        try SyntheticFrames.cityscapes(at: dataRoot, count: images, exactly: false)
        let reader = try CityscapesReader(root: dataRoot, split: "val", layout: .raw)
        let samples = Array(reader.list().samples.prefix(images))
        let writer = LabelWriter(formats: [.trainid, .color], durability: durability)
        var results: [[String: Any]] = []
        var controls: [[String: Any]] = []
        for round in 0 ..< rounds {
            for workers in workerCounts {
                var result = try measure(samples, workers: workers, writer: writer, syncAtShardEnd: syncAtShardEnd,
                                         outputs: "\(root)/out-\(workers)")
                result["round"] = round
                results.append(result)
                FileHandle.standardError.write(Data(summary(result).utf8))
            }
            // What the machine gives at this moment: the same number of pure-arithmetic jobs (no memory, no I/O, no locks).
            var control: [String: Any] = ["round": round]
            for workers in workerCounts { control["\(workers)"] = spinRate(jobs: samples.count, workers: workers) }
            controls.append(control)
            let rates = workerCounts.map { String(format: "%d worker(s) %.2f jobs/s", $0, control["\($0)"] as! Double) }
            FileHandle.standardError.write(Data("round \(round) control (arithmetic only): \(rates.joined(separator: ", "))\n".utf8))
        }
        var rates: [Int: [Double]] = [:]
        for r in results { rates[r["workers"] as! Int, default: []].append(r["images_per_second"] as! Double) }
        let best = rates.mapValues { $0.max()! }
        let data = try JSONSerialization.data(withJSONObject: [
            "benchmark": "evalpath", "size": "2048x1024",
            "fsync": durability == .durable ? "each" : syncAtShardEnd ? "shard" : "none",
            "results": results, "control_jobs_per_second": controls, "best_images_per_second": Dictionary(uniqueKeysWithValues: best.map { ("\($0.key)", $0.value) }),
        ], options: [.prettyPrinted, .sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }

    /// One measurement: every sample once on `workers` workers (4 shards per worker, as the runner's default striding).
    static func measure(_ samples: [Sample], workers: Int, writer: LabelWriter, syncAtShardEnd: Bool,
                        outputs: String) throws -> [String: Any] {
        try? FileManager.default.removeItem(atPath: outputs)
        try FileManager.default.createDirectory(atPath: outputs, withIntermediateDirectories: true)
        let load0 = loadAverage()
        let times = Mutex(StageTimes())
        let blocks = (0 ..< workers * 4).map { ShardID(dataset: "bench", index: $0, count: workers * 4) }
        let usage0 = resourceUsage()
        let clock = ContinuousClock()
        let start = clock.now
        let lanes = Mutex([Schedule](repeating: Schedule(), count: workers))
        let reports = ShardPool.run(blocks, workers: workers) { shard -> Result<MetricsReport, any Error> in
            let schedule0 = Schedule.thread()
            defer {
                let schedule1 = Schedule.thread()
                lanes.withLock { $0[shard.index % workers].add(schedule1, minus: schedule0) }   // ShardPool's static striding
            }
            return Result {
                var local = StageTimes()
                var metrics = DatasetMetrics(name: "cityscapes")
                var written: [String] = []
                for i in shard.range(samples: samples.count) {
                    written += try process(samples[i], writer: writer, into: outputs, metrics: &metrics, times: &local)
                }
                if syncAtShardEnd {
                    let c0 = BenchTiming.threadCPUTime(), w0 = DispatchTime.now().uptimeNanoseconds
                    try AtomicFile.sync(written)
                    local.cpu[4] += BenchTiming.threadCPUTime() - c0
                    local.wall[4] += Double(DispatchTime.now().uptimeNanoseconds - w0) / 1e9
                }
                times.withLock { $0.add(local) }
                return MetricsReport(datasets: [metrics], partial: true)
            }
        }
        let seconds = (clock.now - start) / .seconds(1)
        let usage1 = resourceUsage()
        var merged = MetricsReport()
        for r in reports { try merged.merge(try r.get()) }
        let t = times.withLock { $0 }
        let n = Double(samples.count)
        let perLane = lanes.withLock { $0 }
        // Without other load a lane would take its CPU time plus the time it blocked; the slowest lane sets the pace.
        let idleSeconds = perLane.map { $0.cpu + $0.blocked }.max() ?? 0
        let cpuTotal = t.cpu.reduce(0, +), wallTotal = t.wall.reduce(0, +)
        var stages: [String: Any] = [:]
        for (i, name) in StageTimes.names.enumerated() {
            stages[name] = ["cpu_ms_per_image": 1e3 * t.cpu[i] / n, "wall_ms_per_image": 1e3 * t.wall[i] / n,
                            "cpu_share": t.cpu[i] / cpuTotal, "wall_share": t.wall[i] / wallTotal]
        }
        return [
            "workers": workers, "images": samples.count, "seconds": seconds, "images_per_second": n / seconds,
            "process_cpu_ms_per_image": 1e3 * (usage1.cpu - usage0.cpu) / n,
            "process_system_cpu_ms_per_image": 1e3 * (usage1.system - usage0.system) / n,
            "cpu_utilisation": (usage1.cpu - usage0.cpu) / seconds,
            "voluntary_switches": usage1.voluntary - usage0.voluntary,
            "involuntary_switches": usage1.involuntary - usage0.involuntary,
            "load_before": load0, "load_after": loadAverage(),
            "mIoU_check": (merged["cityscapes"]?.metrics.meanIoU ?? 0) * 100,
            "stages": stages,
            "lanes": perLane.map { ["cpu_s": $0.cpu, "runqueue_wait_s": $0.waiting, "blocked_s": $0.blocked, "wall_s": $0.wall] },
            "runqueue_wait_ms_per_image": 1e3 * perLane.map(\.waiting).reduce(0, +) / n,
            "blocked_ms_per_image": 1e3 * perLane.map(\.blocked).reduce(0, +) / n,
            "projected_idle_images_per_second": n / idleSeconds,
        ]
    }

    static func process(_ sample: Sample, writer: LabelWriter, into outputs: String, metrics: inout DatasetMetrics,
                        times: inout StageTimes) throws -> [String] {
        var c0 = BenchTiming.threadCPUTime(), w0 = DispatchTime.now().uptimeNanoseconds
        func lap(_ stage: Int) {
            let c1 = BenchTiming.threadCPUTime(), w1 = DispatchTime.now().uptimeNanoseconds
            times.cpu[stage] += c1 - c0
            times.wall[stage] += Double(w1 - w0) / 1e9
            c0 = c1
            w0 = w1
        }
        let image = try sample.loadImage()
        let label = try sample.loadLabel()
        lap(0)
        let resized = try KeepRatioResize(scale: ImageSize(width: 1024, height: 512)).apply(image: image)
        lap(1)
        let small = Resize.nearest(label, width: resized.width, height: resized.height, rule: .opencv)
        let prediction = Resize.nearest(small, width: label.width, height: label.height, rule: .opencv)
        lap(2)
        // The runner's metric step: the image's own counts, added to its group.
        try metrics.merge(try SampleEvaluation(prediction: prediction, label: label).scores(group: metrics.name))
        lap(3)
        let written = try writer.write(prediction: prediction, image: nil, id: sample.id, into: ContainedFolder(root: outputs))
        lap(4)
        return written
    }

    /// Jobs per second of `jobs` fixed arithmetic loops (~40 ms of one core each) on `workers` workers.
    static func spinRate(jobs: Int, workers: Int) -> Double {
        let clock = ContinuousClock()
        let start = clock.now
        let sums = ShardPool.run(Array(0 ..< jobs), workers: workers) { job -> Double in
            var x = Double(job) + 0.5, sum = 0.0
            for _ in 0 ..< 40_000_000 {
                x = x * 1.000000001 + 1e-9
                sum += x
            }
            return sum
        }
        let seconds = (clock.now - start) / .seconds(1)
        precondition(sums.allSatisfy { $0 > 0 })
        return Double(jobs) / seconds
    }

    static func summary(_ r: [String: Any]) -> String {
        let stages = r["stages"] as! [String: [String: Double]]
        let parts = StageTimes.names.map { name in
            String(format: "%@ %.1f/%.1f", name, stages[name]!["cpu_ms_per_image"]!, stages[name]!["wall_ms_per_image"]!)
        }
        return String(format: "round %d, %d worker(s): %.2f images/s (idle-machine projection %.2f), process CPU %.1f ms/image (system %.1f), runqueue wait %.1f, blocked %.1f ms/image, utilisation %.2f, switches %d/%d, load %@ -> %@; per stage CPU/wall ms: %@\n",
                      r["round"] as! Int, r["workers"] as! Int, r["images_per_second"] as! Double,
                      r["projected_idle_images_per_second"] as! Double,
                      r["process_cpu_ms_per_image"] as! Double, r["process_system_cpu_ms_per_image"] as! Double,
                      r["runqueue_wait_ms_per_image"] as! Double, r["blocked_ms_per_image"] as! Double,
                      r["cpu_utilisation"] as! Double, r["voluntary_switches"] as! Int, r["involuntary_switches"] as! Int,
                      r["load_before"] as! String, r["load_after"] as! String, parts.joined(separator: ", "))
    }

    /// A thread's scheduler accounting (/proc/thread-self/schedstat): seconds on a core and seconds
    /// runnable but waiting for one; with wall time, the rest is time blocked (I/O, fsync, locks).
    struct Schedule: Sendable {
        var cpu = 0.0, waiting = 0.0, wall = 0.0
        var blocked: Double { max(0, wall - cpu - waiting) }

        static func thread() -> Schedule {
            let wall = Double(DispatchTime.now().uptimeNanoseconds) / 1e9
            guard let text = try? String(contentsOfFile: "/proc/thread-self/schedstat", encoding: .utf8) else { return Schedule(wall: wall) }
            let fields = text.split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            guard fields.count >= 2 else { return Schedule(wall: wall) }
            return Schedule(cpu: fields[0] / 1e9, waiting: fields[1] / 1e9, wall: wall)
        }

        mutating func add(_ end: Schedule, minus start: Schedule) {
            cpu += end.cpu - start.cpu
            waiting += end.waiting - start.waiting
            wall += end.wall - start.wall
        }
    }

    /// The 1-minute load average (/proc/loadavg), as text.
    static func loadAverage() -> String {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return "?" }
        return String(text.split(separator: " ").first ?? "?")
    }

    /// Process CPU seconds (user + system) and context switches so far.
    static func resourceUsage() -> (cpu: Double, system: Double, voluntary: Int, involuntary: Int) {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        let system = Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) / 1e6
        return (Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6 + system, system, u.ru_nvcsw, u.ru_nivcsw)
    }
}
