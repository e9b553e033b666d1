// Mask2FormerTrainingBench.swift — `ctbench mask2former-training`: one training
// iteration (batch 1, 512 x 512: forward, the Mask2Former loss over the L + 1
// predictions, backward, one AdamW step) of Causal-Tune (band-pass DCT, 100
// tokens of rank 16, the token -> query link) with the Mask2Former head at
// its real sizes (Mask2FormerBench.reinConfig: head 256 wide, 100 queries,
// 19 classes, 9 decoder layers, 6 encoder layers; the loss's 12 544 points),
// the backbone vits16 / vitl16 (the patch-16 conversion, grid 32) frozen,
// random weights (the head initialised as mmdet does). The timing loop is
// `ctbench training`'s (TrainingBench.timeSteps). One configuration per process,
// so the peak resident set size (VmHWM) belongs to it alone.
//
//   ctbench mask2former-training [--model vits|vitl] [--adapter causal-tune|rein] [--threads N] [--runs R] [--checkpointing] [--json]

import CTCore
import Foundation
import Model
import Tensor
import Training

enum Mask2FormerTrainingBench {
    struct Report: Encodable {
        let model: String, threads: Int, activationCheckpointing: Bool
        /// Median and fastest wall time per iteration.
        let secondsPerIteration: Double, bestSecondsPerIteration: Double
        /// Process CPU time (user + system) per iteration, median.
        let cpuSecondsPerIteration: Double
        let peakRSSBytes: Int, activationBytes: Int
        let trainableValues: Int
    }

    static func run(_ arguments: [String]) throws {
        var threads = ProcessInfo.processInfo.activeProcessorCount, runs = 3, json = false
        var modelName = "vits", checkpointing = false, causalTune = true
        var i = 0
        while i < arguments.count {
            switch arguments[i] {
            case "--threads": i += 1; threads = Int(arguments[i]) ?? threads
            case "--runs": i += 1; runs = max(1, Int(arguments[i]) ?? runs)
            case "--model": i += 1; modelName = arguments[i]
            case "--checkpointing": checkpointing = true
            case "--adapter":
                i += 1
                guard i < arguments.count, ["causal-tune", "rein"].contains(arguments[i]) else { throw BenchError("--adapter causal-tune|rein") }
                causalTune = arguments[i] == "causal-tune"
            case "--json": json = true
            default: throw BenchError("unknown option \(arguments[i]) (use --model vits|vitl, --adapter causal-tune|rein, --threads N, --runs R, --checkpointing, --json)")
            }
            i += 1
        }
        let config = try Mask2FormerBench.config(modelName)
        let backbone = try SegmentationBench.randomBackbone(config, seed: 1)
        let model = try Mask2FormerModel.initialised(config: Mask2FormerBench.reinConfig(depth: config.depth, embedDim: config.embedDim,
                                                                                                causalTune: causalTune),
                                                     backbone: backbone, seed: 2)
        let trainer = try Trainer(model: model, optimiser: AdamW(config: AdamWConfig(), layout: try ParameterLayout(model)),
                                  schedule: LearningRateSchedule(baseRate: 1e-4, iterations: 40_000), cropSize: 512,
                                  threads: threads, activationCheckpointing: checkpointing, lossRandom: SplitMix64(seed: 3))
        let (times, cpu) = try TrainingBench.timeSteps(trainer, examples: TrainingBench.examples(1), runs: runs)
        let median = times[times.count / 2]
        let report = Report(model: modelName + "16 (" + modelName + "14 converted) + " + (causalTune ? "Causal-Tune" : "Rein") + " + Mask2Former", threads: threads,
                            activationCheckpointing: checkpointing, secondsPerIteration: median, bestSecondsPerIteration: times[0],
                            cpuSecondsPerIteration: cpu[cpu.count / 2], peakRSSBytes: MemoryUsage.peakResidentBytes(),
                            activationBytes: trainer.sampleTrainer.activationBytes, trainableValues: trainer.layout.valueCount)
        if json {
            print(try PrettyJSON.string(report, escapingSlashes: true))
        } else {
            print(String(format: "%@ 512x512 batch 1, %d threads%@: %.2f s/iteration (best %.2f, CPU %.2f s), peak RSS %d MiB, activations %d MiB",
                         report.model, threads, checkpointing ? ", activation checkpointing" : "", median, times[0],
                         report.cpuSecondsPerIteration, report.peakRSSBytes >> 20, report.activationBytes >> 20))
        }
    }
}
