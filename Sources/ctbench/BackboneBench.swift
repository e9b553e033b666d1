// BackboneBench.swift — `ctbench backbone`: DINOv2 forward throughput, achieved
// GFLOP/s against this machine's measured sgemm rate, and peak memory.
//
//   ctbench backbone [--model vits14|vitb14|vitl14|vitg14] [--size S] [--batch B]
//                    [--weights FILE] [--threads N] [--runs R] [--json]
//
// One configuration per process when --model is given, so the process's peak
// RSS (VmHWM) is that configuration's: weights + arena + runtime. Without
// --model, the standard list runs in one process (vits14 at 518 and 512,
// batch 1 and 4; vitl14 at 512) and the peak RSS is the whole run's.
// Weights are random at the real size (or read from --weights). A size that is
// a multiple of 14 runs the patch-14 model at its stored 37 x 37 grid (518: no
// position resize); otherwise the Rein-style patch-16 conversion (grid 32, so
// 512 x 512 needs no position resize). The sgemm reference is GEMM.linear's
// kernel (GEMM.kernel: ctpipe's AVX-512 SGEMM or OpenBLAS, CTPIPE_GEMM=openblas
// forces the latter) on 2048 x 2048 x 2048 with the same thread count, split
// into row blocks the way every Linear layer runs it (one single-threaded call
// per block, see Threading), measured first, before the model exists.
// FLOPs per image: DINOv2Config.flops (GEMMs and attention products, 2 per
// multiply-add). scripts/bench_backbone.py runs this next to PyTorch.

import CTCore
import Foundation
import Model
import Tensor

enum BackboneBench {
    struct Options {
        var threads = ProcessInfo.processInfo.activeProcessorCount
        var runs = 5
        var json = false
        var model: String?
        var size = 518
        var batch = 1
        var weights: String?
    }

    struct Configuration {
        let model: String, size: Int, batch: Int
    }

    /// The standard list (BENCHMARKS.md "Backbone").
    static let standard = [
        Configuration(model: "vits14", size: 518, batch: 1), Configuration(model: "vits14", size: 518, batch: 4),
        Configuration(model: "vits14", size: 512, batch: 1), Configuration(model: "vits14", size: 512, batch: 4),
        Configuration(model: "vitl14", size: 512, batch: 1),
    ]

    struct Result: Encodable {
        let name: String
        let model: String
        let height: Int, width: Int, patch: Int, tokens: Int, batch: Int
        /// Median of the timed runs, per batch.
        let milliseconds: Double
        /// Fastest timed run (least disturbed by other processes), per batch.
        let bestMilliseconds: Double
        /// Images per second of the fastest run.
        let imagesPerSecond: Double
        /// FLOPs of one image's forward (DINOv2Config.flops).
        let flopsPerImage: Double
        /// Achieved GFLOP/s of the fastest run, and as a fraction of the sgemm rate.
        let gflops: Double, fractionOfSgemm: Double
        /// Bytes of the float32 parameters and of the activation arena.
        let weightBytes: Int, arenaBytes: Int
        /// Peak resident set (VmHWM) once the weights exist (before the arena), and of
        /// the process at the end of this configuration.
        let peakRSSAfterWeightsBytes: Int, peakRSSBytes: Int
    }

    struct Report: Encodable {
        let threads: Int
        /// The GEMM kernel (GEMM.kernel), OpenBLAS's kernel family and the CPU features the build
        /// requires (BuildTarget).
        let gemmKernel: String, blasKernels: String, cpuFeatures: String
        let sgemmGflops: Double
        let results: [Result]
    }

    static func run(_ arguments: [String]) throws {
        var options = Options()
        var i = 0
        func value() throws -> String {
            i += 1
            guard i < arguments.count else { throw BenchError("\(arguments[i - 1]) needs a value") }
            return arguments[i]
        }
        func number(_ name: String) throws -> Int {
            let text = try value()
            guard let n = Int(text), n > 0 else { throw BenchError("\(name) must be a positive integer (got \(text))") }
            return n
        }
        while i < arguments.count {
            switch arguments[i] {
            case "--threads": options.threads = try number("--threads")
            case "--runs": options.runs = try number("--runs")
            case "--json": options.json = true
            case "--model": options.model = try value()
            case "--size": options.size = try number("--size")
            case "--batch": options.batch = try number("--batch")
            case "--weights": options.weights = try value()
            default:
                throw BenchError("unknown option \(arguments[i]) (use --model M, --size S, --batch B, --weights FILE, "
                                 + "--threads N, --runs R, --json)")
            }
            i += 1
        }
        let sgemm = sgemmRate(n: 2048, runs: 3, threads: options.threads)
        let configurations = options.model.map { [Configuration(model: $0, size: options.size, batch: options.batch)] }
            ?? standard
        var results: [Result] = []
        for configuration in configurations {
            results.append(try measure(configuration, weights: options.weights, runs: options.runs, sgemm: sgemm,
                                       threads: options.threads))
        }
        let report = Report(threads: options.threads, gemmKernel: GEMM.kernel.rawValue, blasKernels: BuildTarget.blasKernels,
                            cpuFeatures: BuildTarget.requiredCPUFeatures, sgemmGflops: sgemm, results: results)
        if options.json {
            print(try PrettyJSON.string(report, escapingSlashes: true))
        } else {
            print("threads \(options.threads), GEMM \(GEMM.kernel.rawValue) (OpenBLAS \(BuildTarget.blasKernels) kernels), "
                  + "sgemm 2048^3: \(format(sgemm)) GFLOP/s")
            for r in results {
                print("\(r.name) (\(r.tokens) tokens): \(format(r.bestMilliseconds)) ms per batch, "
                      + "\(format(r.imagesPerSecond)) images/s, \(format(r.gflops)) GFLOP/s = "
                      + "\(format(100 * r.fractionOfSgemm))% of sgemm; weights \(mib(r.weightBytes)), "
                      + "peak RSS \(mib(r.peakRSSBytes))")
            }
        }
    }

    static func format(_ v: Double) -> String { String(format: "%.1f", v) }
    static func mib(_ bytes: Int) -> String { String(format: "%.0f MiB", Double(bytes) / 1_048_576) }

    /// The model of a configuration: random weights (or --weights), patch 14 at
    /// multiples of 14, else converted to patch 16 with grid 32. The patch-14
    /// original is gone when this returns (the converted model shares its blocks).
    static func model(_ configuration: Configuration, weights: String?) throws -> DINOv2 {
        let base: DINOv2
        if let weights {
            base = try DINOv2Weights.load(weights).model
        } else {
            guard let config = DINOv2Config.named(configuration.model) else {
                throw BenchError("unknown model \(configuration.model) (vits14, vitb14, vitl14, vitg14, with _reg)")
            }
            base = try randomModel(config, seed: 1)
        }
        let size = configuration.size
        if size % base.config.patchSize == 0 { return base }
        guard size % 16 == 0 else {
            throw BenchError("size \(size) is neither a multiple of the patch size \(base.config.patchSize) nor of 16")
        }
        return PatchSizeConversion.convert(base, patchSize: 16, gridSize: 32)
    }

    /// Forward time (embedding + all blocks + final norm, whole batch) after one
    /// warm-up run: median and best; then the peak RSS.
    static func measure(_ configuration: Configuration, weights: String?, runs: Int, sgemm: Double,
                        threads: Int) throws -> Result {
        let model = try model(configuration, weights: weights)
        let weightBytes = ParameterList.count(of: model) * MemoryLayout<Float>.size
        let rssAfterWeights = MemoryUsage.peakResidentBytes()
        let size = configuration.size, batch = configuration.batch
        let arena = try model.makeActivations(height: size, width: size, batch: batch, threads: threads)
        let image = pseudoRandom(batch * 3 * size * size, seed: 7).map { $0 * 2 }
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
        let ms = times.sorted()[times.count / 2], best = times.min()!
        let flops = model.config.flops(height: size, width: size)
        let gflops = flops * Double(batch) / (best / 1e3) / 1e9
        let p = model.config.patchSize
        return Result(name: "\(configuration.model) \(size)x\(size) p\(p) batch \(batch)", model: configuration.model,
                      height: size, width: size, patch: p, tokens: arena.tokens, batch: batch, milliseconds: ms,
                      bestMilliseconds: best, imagesPerSecond: Double(batch) / (best / 1e3), flopsPerImage: flops,
                      gflops: gflops, fractionOfSgemm: gflops / sgemm, weightBytes: weightBytes,
                      arenaBytes: arena.byteCount, peakRSSAfterWeightsBytes: rssAfterWeights,
                      peakRSSBytes: MemoryUsage.peakResidentBytes())
    }

    /// Best-of-`runs` GEMM.linear rate on n x n x n (row blocks over `threads` chunks).
    static func sgemmRate(n: Int, runs: Int, threads: Int) -> Double {
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
                                    into: c.baseAddress!, threads: threads)
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
        return try DINOv2Weights.build(consume tensors, naming: .official, path: "random \(config.embedDim)-wide weights",
                                       options: WeightLoadOptions(heads: config.heads))
    }
}

/// The process's memory high-water mark.
enum MemoryUsage {
    /// VmHWM of /proc/self/status in bytes (0 where it cannot be read).
    static func peakResidentBytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kib = line.dropFirst(6).split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap { Int($0) } ?? 0
            return kib * 1024
        }
        return 0
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
