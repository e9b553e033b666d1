// SegmentationBench.swift — `ctbench segmentation`: the cost of the adapters and
// the head on top of the backbone, and whole-image inference throughput.
//
// Random weights at the real sizes with the Rein-style patch-16 conversion
// (grid 32 for a 512 x 512 crop: no position resize): the backbone alone, then
// backbone + linear head with adapter none / rein / causal-tune (m = 100 full
// tokens) / causal-tune low rank (r = 16), at 512 x 512; then slide inference
// (512 / 341) of a 1024 x 512 image (3 windows) with Causal-Tune through the
// evaluation path (Evaluation.Evaluator), as images/s.
// scripts/bench_segmentation.py times the same model in PyTorch.
//
//   ctbench segmentation [--threads N] [--runs R] [--model vits|vitl] [--large | --large-only]
//                        [--variants none,rein,causal-tune,causal-tune-r16] [--no-slide] [--json]
//
// --model picks one backbone (--large adds vitl to vits, --large-only is --model vitl);
// --variants the adapter variants timed after the backbone alone (default all four);
// --no-slide leaves out the slide inference.

import CTCore
import Evaluation
import Foundation
import Inference
import ImageIO
import Model
import Tensor

enum SegmentationBench {
    struct Result: Encodable {
        let model: String, variant: String
        /// Median wall time and median process CPU time (all threads).
        let milliseconds: Double, cpuMilliseconds: Double
        /// Both times relative to the backbone alone, minus one.
        let overheadVsBackbone: Double, cpuOverheadVsBackbone: Double
    }

    struct Throughput: Encodable {
        let model: String, image: String, windows: Int
        let secondsPerImage: Double, imagesPerSecond: Double
    }

    struct Report: Encodable {
        let threads: Int
        let forward: [Result]
        let inference: [Throughput]
    }

    /// The variants timed after the backbone alone: option key, name in the report, adapter (all with the linear head).
    static let allVariants: [(key: String, name: String, adapter: AdapterConfig)] = [
        ("none", "head, no adapter", AdapterConfig(kind: .none)),
        ("rein", "head + rein", AdapterConfig(kind: .rein)),
        ("causal-tune", "head + causal-tune", AdapterConfig(kind: .causalTune)),
        ("causal-tune-r16", "head + causal-tune r16", AdapterConfig(kind: .causalTune, rank: 16)),
    ]

    static func run(_ arguments: [String]) throws {
        var threads = ProcessInfo.processInfo.activeProcessorCount, runs = 5, json = false, large = false, smallToo = true
        var chosen = allVariants.map(\.key), slide = true
        var i = 0
        func value() throws -> String {
            i += 1
            guard i < arguments.count else { throw BenchError("\(arguments[i - 1]) needs a value") }
            return arguments[i]
        }
        while i < arguments.count {
            switch arguments[i] {
            case "--threads": threads = Int(try value()) ?? threads
            case "--runs": runs = max(1, Int(try value()) ?? runs)
            case "--json": json = true
            case "--large": large = true
            case "--large-only": large = true; smallToo = false
            case "--model":
                switch try value() {
                case "vits": large = false; smallToo = true
                case "vitl": large = true; smallToo = false
                case let other: throw BenchError("--model must be vits or vitl (got \(other))")
                }
            case "--variants":
                chosen = try value().split(separator: ",").map(String.init)
                let known = allVariants.map(\.key)
                if let unknown = chosen.first(where: { !known.contains($0) }) {
                    throw BenchError("--variants takes a comma-separated list of \(known.joined(separator: ", ")) (got \(unknown))")
                }
            case "--no-slide": slide = false
            default:
                throw BenchError("unknown option \(arguments[i]) (use --threads N, --runs R, --model vits|vitl, --large, --large-only, "
                                 + "--variants LIST, --no-slide, --json)")
            }
            i += 1
        }
        var forward: [Result] = []
        var inference: [Throughput] = []
        var sizes = [("vits16 (vits14 converted)", DINOv2Config(embedDim: 384, depth: 12, heads: 6, patchSize: 16, registers: 0,
                                                                 gridSize: 32, ffnHidden: 1536))]
        if !smallToo { sizes.removeAll() }
        if large {
            sizes.append(("vitl16 (vitl14 converted)", DINOv2Config(embedDim: 1024, depth: 24, heads: 16, patchSize: 16,
                                                                     registers: 0, gridSize: 32, ffnHidden: 4096)))
        }
        for (name, config) in sizes {
            let backbone = try randomBackbone(config, seed: 1)
            let image = noise(3 * 512 * 512, seed: 9)
            // Every variant is timed once per round, rounds alternate (machine load drifts alike for all).
            var cases: [(String, () throws -> Void)] = []
            let plain = BackboneArena(try backbone.makeActivations(height: 512, width: 512, threads: threads))
            cases.append(("backbone alone", { try image.withUnsafeBufferPointer { try backbone.forward($0, plain.arena) } }))
            for (key, variant, adapter) in allVariants where chosen.contains(key) {
                let model = try SegmentationModel.initialised(backbone: backbone, adapter: adapter, seed: 2)
                let box = ModelArena(try model.makeActivations(height: 512, width: 512, threads: threads))
                cases.append((variant, { try image.withUnsafeBufferPointer { try model.forward($0, box.arena) } }))
            }
            let (wall, cpu) = try BenchTiming.alternating(cases, runs: runs)
            for (k, c) in cases.enumerated() {
                forward.append(Result(model: name, variant: c.0, milliseconds: wall[k], cpuMilliseconds: cpu[k],
                                      overheadVsBackbone: wall[k] / wall[0] - 1, cpuOverheadVsBackbone: cpu[k] / cpu[0] - 1))
            }
            guard slide else { continue }
            let model = try SegmentationModel.initialised(backbone: backbone, adapter: AdapterConfig(kind: .causalTune), seed: 2)
            // The evaluation path of the infer stage and `ctpipe infer` (test pipeline at the Cityscapes scale).
            let evaluator = try Evaluator(model: model, window: SlidingWindow(), scale: ImageSize(width: 1024, height: 512))
            let pixels = noise(1024 * 512 * 3, seed: 4).map { UInt8(max(0, min(255, ($0 + 1) * 127.5))) }
            let frame = Image8(width: 1024, height: 512, channels: 3, pixels: pixels)
            let workspace = SegmenterWorkspace(threads: threads)
            let (ms, _) = try BenchTiming.alternating([("slide", {
                _ = try evaluator.predict(frame, at: .size(ImageSize(width: 2048, height: 1024)), workspace: workspace)
            })], runs: max(1, runs / 2))
            inference.append(Throughput(model: name + " + causal-tune", image: "1024x512 -> labels 2048x1024",
                                        windows: evaluator.window.windows(height: 512, width: 1024).count,
                                        secondsPerImage: ms[0] / 1e3, imagesPerSecond: 1e3 / ms[0]))
        }
        let report = Report(threads: threads, forward: forward, inference: inference)
        if json {
            print(try PrettyJSON.string(report, escapingSlashes: true))
        } else {
            print("threads \(threads)")
            for r in forward {
                print("\(r.model) 512x512 \(r.variant): \(String(format: "%.1f", r.milliseconds)) ms wall (\(String(format: "%+.1f", 100 * r.overheadVsBackbone))%), "
                      + "\(String(format: "%.1f", r.cpuMilliseconds)) ms CPU (\(String(format: "%+.1f", 100 * r.cpuOverheadVsBackbone))%)")
            }
            for t in inference {
                print("\(t.model) \(t.image), \(t.windows) windows: \(String(format: "%.2f", t.secondsPerImage)) s/image = \(String(format: "%.3f", t.imagesPerSecond)) images/s")
            }
        }
    }

    static func noise(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0 ..< count).map { _ in Float.random(in: -1 ..< 1, using: &rng) }
    }

    /// A backbone of `config` with random weights of plausible scale.
    static func randomBackbone(_ config: DINOv2Config, seed: UInt64) throws -> DINOv2 {
        var rng = SplitMix64(seed: seed)
        var tensors: [String: Tensor] = [:]
        for (name, shape) in DINOv2Weights.expectedShapes(config) {
            let n = shape.reduce(1, *), fanIn = shape.count >= 2 ? shape.dropFirst().reduce(1, *) : 1
            let (scale, offset): (Float, Float) = name.hasSuffix("gamma") ? (0.1, 0.2)
                : name.contains("norm") && name.hasSuffix("weight") ? (0.1, 1)
                : shape.count >= 2 && !["pos_embed", "cls_token"].contains(name) ? ((3 / Float(fanIn)).squareRoot(), 0) : (0.1, 0)
            tensors[name] = Tensor(shape: shape, storage: (0 ..< n).map { _ in offset + scale * Float.random(in: -1 ..< 1, using: &rng) })
        }
        return try DINOv2Weights.build(consume tensors, naming: .official, path: "random weights", options: WeightLoadOptions(heads: config.heads))
    }
}

/// Arenas are ~Copyable; the benchmark's closures hold them through a box.
final class BackboneArena {
    let arena: DINOv2Activations
    init(_ a: consuming DINOv2Activations) { arena = a }
}

final class ModelArena {
    let arena: SegmentationActivations
    init(_ a: consuming SegmentationActivations) { arena = a }
}
