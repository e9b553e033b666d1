// BackboneBench.swift — `ctbench backbone`: DINOv2 vits14 forward time and
// achieved GFLOP/s against this machine's measured sgemm rate.
//
// Random weights at the real size (C = 384, 12 blocks, 6 heads): 518 x 518 with
// patch 14 (grid 37, the stored grid: no position resize) and 512 x 512 with the
// Rein-style patch-16 conversion (grid 32). The sgemm reference is cblas_sgemm on
// 2048 x 2048 x 2048 with the same thread count, split into row blocks the way
// every Linear layer runs it (GEMM.linear; OpenBLAS itself on one thread, see
// Threading). scripts/bench_backbone.py runs this next to PyTorch and prints the ratio.

import Foundation
import Model
import Tensor

enum BackboneBench {
    struct Options {
        var threads = ProcessInfo.processInfo.activeProcessorCount
        var runs = 5
        var json = false
    }

    struct Result: Encodable {
        let name: String
        let height: Int, width: Int, tokens: Int
        /// Median of the timed runs.
        let milliseconds: Double
        /// Fastest timed run (least disturbed by other processes).
        let bestMilliseconds: Double
        let gflops: Double
        let fractionOfSgemm: Double
    }

    struct Report: Encodable {
        let threads: Int
        let sgemmGflops: Double
        let results: [Result]
    }

    static func run(_ arguments: [String]) throws {
        var options = Options()
        var i = 0
        while i < arguments.count {
            switch arguments[i] {
            case "--threads": i += 1; options.threads = Int(arguments[i]) ?? options.threads
            case "--runs": i += 1; options.runs = max(1, Int(arguments[i]) ?? options.runs)
            case "--json": options.json = true
            default: throw BenchError("unknown option \(arguments[i]) (use --threads N, --runs R, --json)")
            }
            i += 1
        }
        Threading.configure(.singleSample(threads: options.threads))
        let sgemm = sgemmRate(n: 2048, runs: 3)
        var results: [Result] = []
        let vits14 = try randomModel(DINOv2Config.named("vits14")!, seed: 1)
        results.append(try time("vits14 p14", vits14, height: 518, width: 518, runs: options.runs, sgemm: sgemm))
        let p16 = PatchSizeConversion.convert(vits14, patchSize: 16, gridSize: 32)
        results.append(try time("vits14 p16", p16, height: 512, width: 512, runs: options.runs, sgemm: sgemm))
        let report = Report(threads: options.threads, sgemmGflops: sgemm, results: results)
        if options.json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print("threads \(options.threads), sgemm 2048^3: \(format(sgemm)) GFLOP/s")
            for r in results {
                print("\(r.name) \(r.height)x\(r.width) (\(r.tokens) tokens): \(format(r.milliseconds)) ms, "
                      + "\(format(r.gflops)) GFLOP/s = \(format(100 * r.fractionOfSgemm))% of sgemm")
            }
        }
    }

    static func format(_ v: Double) -> String { String(format: "%.1f", v) }

    /// Forward time (embedding + all blocks + final norm) after one warm-up run: median and best.
    static func time(_ name: String, _ model: DINOv2, height: Int, width: Int, runs: Int, sgemm: Double) throws -> Result {
        let arena = try model.makeActivations(height: height, width: width)
        let image = pseudoRandom(3 * height * width, seed: 7).map { $0 * 2 }
        var times: [Double] = []
        try image.withUnsafeBufferPointer { image in
            for run in 0 ... runs {
                let start = DispatchTime.now().uptimeNanoseconds
                try model.forward(image, arena)
                model.applyFinalNorm(arena)
                let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
                if run > 0 { times.append(elapsed) }
            }
        }
        let ms = times.sorted()[times.count / 2]
        let gflops = model.config.flops(height: height, width: width) / (ms / 1e3) / 1e9
        return Result(name: name, height: height, width: width, tokens: arena.tokens, milliseconds: ms,
                      bestMilliseconds: times.min()!, gflops: gflops, fractionOfSgemm: gflops / sgemm)
    }

    /// Best-of-`runs` cblas_sgemm rate on n x n x n (row blocks over the kernel threads).
    static func sgemmRate(n: Int, runs: Int) -> Double {
        let a = pseudoRandom(n * n, seed: 3)
        let b = a.reversed() as [Float]
        var c = [Float](repeating: 0, count: n * n)
        var best = Double.infinity
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    for _ in 0 ... runs {
                        let start = DispatchTime.now().uptimeNanoseconds
                        GEMM.linear(a.baseAddress!, rows: n, inFeatures: n, weight: b.baseAddress!, outFeatures: n,
                                    into: c.baseAddress!)
                        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                    }
                }
            }
        }
        return 2 * Double(n * n * n) / best / 1e9
    }

    /// Uniform values in [-1, 1) from a 64-bit LCG (cheap and reproducible).
    static func pseudoRandom(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0 ..< count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(state >> 40) / Float(1 << 23) - 1
        }
    }

    /// A model of `config` with deterministic random weights of plausible scale.
    static func randomModel(_ config: DINOv2Config, seed: UInt64) throws -> DINOv2 {
        var state = seed
        func uniform(_ shape: [Int], scale: Float, offset: Float = 0) -> Tensor {
            let n = shape.reduce(1, *)
            var v = [Float](repeating: 0, count: n)
            for i in 0 ..< n {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                v[i] = offset + scale * (Float(state >> 40) / Float(1 << 24) * 2 - 1)
            }
            return Tensor(shape: shape, storage: v)
        }
        var tensors: [String: Tensor] = [:]
        for (name, shape) in DINOv2Weights.expectedShapes(config) {
            let fanIn = shape.count >= 2 ? shape.dropFirst().reduce(1, *) : 1
            if name.hasSuffix("gamma") {
                tensors[name] = uniform(shape, scale: 0.1, offset: 0.2)
            } else if name.contains("norm") && name.hasSuffix("weight") {
                tensors[name] = uniform(shape, scale: 0.1, offset: 1)
            } else if shape.count >= 2 && name != "pos_embed" && name != "cls_token" && name != "register_tokens" {
                tensors[name] = uniform(shape, scale: (3 / Float(fanIn)).squareRoot())
            } else {
                tensors[name] = uniform(shape, scale: 0.1)
            }
        }
        return try DINOv2Weights.build(tensors, naming: .official, path: "random \(config.embedDim)-wide weights",
                                       options: WeightLoadOptions(heads: config.heads))
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
