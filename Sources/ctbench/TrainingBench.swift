// TrainingBench.swift — `ctbench training`: one training iteration (forward +
// backward over the batch, one AdamW step) of the frozen backbone + Causal-Tune
// (m = 100 full tokens) + linear head at 512 x 512, random weights with the
// patch-16 conversion (grid 32). One configuration per process, so that the
// peak resident set size (getrusage) belongs to it alone.
// scripts/bench_training.py runs the same iteration in PyTorch (autograd).
//
//   ctbench training [--model vits|vitl] [--batch B] [--threads N] [--runs R] [--checkpointing] [--json]

import CTCore
import Foundation
import Model
import Tensor
import Training

enum TrainingBench {
    struct Report: Encodable {
        let model: String, batch: Int, threads: Int, activationCheckpointing: Bool
        /// Median and fastest wall time per iteration.
        let secondsPerIteration: Double, bestSecondsPerIteration: Double
        /// Process CPU time (user + system) per iteration, median: the work done, whatever else shares the cores.
        let cpuSecondsPerIteration: Double
        let imagesPerSecond: Double
        let peakRSSMegabytes: Double, activationMegabytes: Double
        let trainableValues: Int
    }

    static func run(_ arguments: [String]) throws {
        var threads = ProcessInfo.processInfo.activeProcessorCount, runs = 3, batch = 1, json = false
        var modelName = "vits", checkpointing = false
        var i = 0
        while i < arguments.count {
            switch arguments[i] {
            case "--threads": i += 1; threads = Int(arguments[i]) ?? threads
            case "--runs": i += 1; runs = max(1, Int(arguments[i]) ?? runs)
            case "--batch": i += 1; batch = max(1, Int(arguments[i]) ?? batch)
            case "--model": i += 1; modelName = arguments[i]
            case "--checkpointing": checkpointing = true
            case "--json": json = true
            default: throw BenchError("unknown option \(arguments[i]) (use --model vits|vitl, --batch B, --threads N, --runs R, --checkpointing, --json)")
            }
            i += 1
        }
        let config = try Mask2FormerBench.config(modelName)
        let backbone = try SegmentationBench.randomBackbone(config, seed: 1)
        let model = try SegmentationModel.initialised(backbone: backbone, adapter: AdapterConfig(kind: .causalTune), seed: 2)
        let trainer = try Trainer(model: model, optimiser: AdamW(config: AdamWConfig(), layout: try ParameterLayout(model)),
                                  schedule: LearningRateSchedule(baseRate: 1e-4, iterations: 40_000), cropSize: 512,
                                  threads: threads, activationCheckpointing: checkpointing)
        let examples = Self.examples(batch)
        let (times, cpu) = try timeSteps(trainer, examples: examples, runs: runs)
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let median = times[times.count / 2]
        let report = Report(model: modelName + "16 (" + modelName + "14 converted)", batch: batch, threads: threads,
                            activationCheckpointing: checkpointing, secondsPerIteration: median, bestSecondsPerIteration: times[0],
                            cpuSecondsPerIteration: cpu[cpu.count / 2],
                            imagesPerSecond: Double(batch) / median, peakRSSMegabytes: Double(usage.ru_maxrss) / 1024,
                            activationMegabytes: Double(trainer.sampleTrainer.activationBytes) / 1_048_576,
                            trainableValues: trainer.layout.valueCount)
        if json {
            print(try PrettyJSON.string(report, escapingSlashes: true))
        } else {
            print(String(format: "%@ 512x512 batch %d, %d threads%@: %.2f s/iteration (best %.2f, CPU %.2f s), %.2f images/s, peak RSS %.0f MB",
                         report.model, batch, threads, checkpointing ? ", activation checkpointing" : "", median, times[0],
                         report.cpuSecondsPerIteration, report.imagesPerSecond, report.peakRSSMegabytes))
        }
    }

    /// `count` random 512 x 512 examples (image in ±2, labels 0 ..< 19), seeded.
    static func examples(_ count: Int) -> [TrainingExample] {
        var rng = SplitMix64(seed: 5)
        return (0 ..< count).map { _ in
            TrainingExample(image: (0 ..< 3 * 512 * 512).map { _ in Float.random(in: -2 ... 2, using: &rng) },
                            label: (0 ..< 512 * 512).map { _ in UInt8.random(in: 0 ..< 19, using: &rng) })
        }
    }

    /// A warm-up step, then `runs` timed steps over one micro-batch of `examples`: wall and process
    /// CPU seconds per step, sorted.
    static func timeSteps<S: SampleTrainer>(_ trainer: Trainer<S>, examples: [TrainingExample],
                                            runs: Int) throws -> (wall: [Double], cpu: [Double]) {
        var times: [Double] = [], cpu: [Double] = []
        for run in 0 ... runs {
            let start = DispatchTime.now().uptimeNanoseconds, cpu0 = BenchTiming.processCPUTime()
            _ = try trainer.step(iteration: run, microBatches: [examples])
            if run > 0 {
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                cpu.append(BenchTiming.processCPUTime() - cpu0)
            }
        }
        return (times.sorted(), cpu.sorted())
    }
}
