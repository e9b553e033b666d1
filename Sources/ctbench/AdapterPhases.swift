// AdapterPhases.swift — `ctbench adapter-phases [--model vits|vitl] [--threads N] [--runs R] [--only NAME]`:
// where the time of the Causal-Tune adapter goes, at 512 x 512 (grid 32 x 32,
// m = 100 full tokens), on an inference arena: the whole adapter of every
// layer, the same with 16 MB of other data written between the layers (as a
// block's weights and activations evict the adapter's buffers in a forward
// pass; that writing timed alone too), the same with the other token attention
// (fused where the default is the GEMMs, and the other way round), then its
// steps one by one — forward DCT
// with the mask, MLP_f, the token logits GEMM, the softmax, the S[:, 1:] V
// GEMM, the inverse DCT adding s · Tr⁻¹(Δ) into the stream — and the forward
// DCT through sgemm (the route where ct_small_left does not run). Each step is
// repeated as often as a forward runs it; medians of alternating rounds;
// `--only` keeps the cases whose names start with NAME.

import CTCore
import Foundation
import Model
import Tensor

enum AdapterPhases {
    static func run(_ arguments: [String]) throws {
        var threads = ProcessInfo.processInfo.activeProcessorCount, runs = 15, c = 384, depth = 12, only: String?
        var i = 0
        while i + 1 < arguments.count {
            switch arguments[i] {
            case "--threads": threads = Int(arguments[i + 1]) ?? threads
            case "--runs": runs = max(1, Int(arguments[i + 1]) ?? runs)
            case "--only": only = arguments[i + 1]
            case "--model":
                switch arguments[i + 1] {
                case "vits": (c, depth) = (384, 12)
                case "vitl": (c, depth) = (1024, 24)
                case let other: throw BenchError("--model must be vits or vitl (got \(other))")
                }
            default: throw BenchError("unknown option \(arguments[i]) (use --model vits|vitl, --threads N, --runs R, --only NAME)")
            }
            i += 2
        }
        let h = 32, w = 32, n = h * w
        var rng = SplitMix64(seed: 3)
        let adapter = try CausalTuneAdapter.initialised(config: AdapterConfig(kind: .causalTune), layers: depth, embedDim: c, using: &rng)
        let prepared = adapter.prepare()
        let arena = AdapterArena(adapter.makeActivations(gridHeight: h, gridWidth: w, threads: threads))
        let other = AdapterArena(adapter.makeActivations(gridHeight: h, gridWidth: w,
                                                         fusedTokenAttention: arena.arena.tokenAttentionScratch == nil, threads: threads))
        let otherName = other.arena.tokenAttentionScratch == nil ? "whole adapter, token attention by GEMMs" : "whole adapter, fused token attention"
        var f = SegmentationBench.noise(n * c, seed: 5), y = [Float](repeating: 0, count: n * c), z = y, scratch = y
        let transform = arena.arena.transform!, forwardWeights = arena.arena.forwardWeights, inverseWeights = arena.arena.inverseWeights
        let m = adapter.config.tokens, tokens = prepared.scaledTokens, values = prepared.values
        var p = [Float](repeating: 0, count: n * m)
        let sgemm = MatrixDCT2(height: h, width: w, channels: c, threads: threads, kernel: .sgemm)
        // What a block does to the caches between two adapters (a vits block's weights are ~7 MB, its activations more).
        var flush = [Float](repeating: 1, count: 4 << 20)
        func flushCaches(_ b: UnsafeMutableBufferPointer<Float>) {
            Threading.parallelFor(b.count, threads: threads, grain: 1 << 16) { r in for i in r { b[i] += 1 } }
        }
        var cases: [(String, () throws -> Void)] = [
            ("whole adapter", {
                f.withUnsafeMutableBufferPointer { f in
                    for l in 0 ..< depth { adapter.forward(layer: l, patches: f.baseAddress!, prepared: prepared, arena.arena) }
                }
            }),
            ("caches flushed between layers (alone)", {
                for _ in 0 ..< depth { flush.withUnsafeMutableBufferPointer { flushCaches($0) } }
            }),
            ("whole adapter, caches flushed between layers", {
                f.withUnsafeMutableBufferPointer { f in
                    for l in 0 ..< depth {
                        flush.withUnsafeMutableBufferPointer { flushCaches($0) }
                        adapter.forward(layer: l, patches: f.baseAddress!, prepared: prepared, arena.arena)
                    }
                }
            }),
            (otherName, {
                f.withUnsafeMutableBufferPointer { f in
                    for l in 0 ..< depth { adapter.forward(layer: l, patches: f.baseAddress!, prepared: prepared, other.arena) }
                }
            }),
            ("forward DCT + mask", {
                f.withUnsafeBufferPointer { f in y.withUnsafeMutableBufferPointer { y in
                    for _ in 0 ..< depth { transform.forward(f.baseAddress!, into: y.baseAddress!, weights: forwardWeights) }
                } }
            }),
            ("MLP_f", {
                y.withUnsafeBufferPointer { y in z.withUnsafeMutableBufferPointer { z in
                    for _ in 0 ..< depth { adapter.deltaFeature.forward(y.baseAddress!, rows: n, into: z.baseAddress!, threads: threads) }
                } }
            }),
            ("token logits GEMM (N x m)", {
                y.withUnsafeBufferPointer { y in p.withUnsafeMutableBufferPointer { p in tokens.withUnsafeBufferPointer { t in
                    for l in 0 ..< depth {
                        GEMM.linear(y.baseAddress!, rows: n, inFeatures: c, weight: t.baseAddress! + l * m * c, outFeatures: m,
                                    into: p.baseAddress!, threads: threads)
                    }
                } } }
            }),
            ("softmax over the tokens", {
                p.withUnsafeMutableBufferPointer { p in
                    for _ in 0 ..< depth { SoftmaxKernel.forward(p.baseAddress!, rows: n, cols: m, ld: m, threads: threads) }
                }
            }),
            ("S[:, 1:] V GEMM (k = m - 1)", {
                p.withUnsafeBufferPointer { p in z.withUnsafeMutableBufferPointer { z in values.withUnsafeBufferPointer { v in
                    for l in 0 ..< depth {
                        GEMM.rows(m: n, n: c, k: m - 1, a: p.baseAddress! + 1, lda: m, b: v.baseAddress! + l * (m - 1) * c, ldb: c,
                                  beta: 1, c: z.baseAddress!, ldc: c, threads: threads)
                    }
                } } }
            }),
            ("inverse DCT + residual", {
                y.withUnsafeMutableBufferPointer { y in f.withUnsafeMutableBufferPointer { f in
                    for _ in 0 ..< depth { transform.inverse(destroying: y.baseAddress!, into: f.baseAddress!, weights: inverseWeights, accumulate: 1e-3) }
                } }
            }),
            ("forward DCT, sgemm passes", {
                f.withUnsafeBufferPointer { f in y.withUnsafeMutableBufferPointer { y in scratch.withUnsafeMutableBufferPointer { s in
                    for _ in 0 ..< depth { sgemm.forward(f.baseAddress!, into: y.baseAddress!, weights: forwardWeights, scratch: s.baseAddress!) }
                } } }
            }),
        ]
        if let only { cases = cases.filter { $0.0.hasPrefix(only) } }
        let (wall, _) = try BenchTiming.alternating(cases, runs: runs)
        print("threads \(threads), C = \(c), \(depth) layers, grid \(h) x \(w), m = \(adapter.config.tokens); per forward pass (all layers), median ms:")
        for (k, item) in cases.enumerated() {
            print("  \(item.0.padding(toLength: 40, withPad: " ", startingAt: 0)) \(String(format: "%7.2f", wall[k]))")
        }
    }
}

/// Arenas are ~Copyable; the benchmark's closures hold them through a box.
final class AdapterArena {
    let arena: AdapterActivations
    init(_ a: consuming AdapterActivations) { arena = a }
}
