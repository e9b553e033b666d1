// BackbonePhases.swift — `ctbench backbone-phases [--model M] [--size S] [--threads N]`:
// where the time of one forward goes (default vits14 at 518 x 518; sizes not a
// multiple of 14 use the patch-16 conversion, as in `ctbench backbone`), step by
// step (best of 7 repetitions, each step repeated as often as a forward runs it).

import Foundation
import Model
import Tensor

enum BackbonePhases {
    static func run(_ arguments: [String]) throws {
        var threads = ProcessInfo.processInfo.activeProcessorCount, name = "vits14", size = 518
        var i = 0
        while i + 1 < arguments.count {
            switch arguments[i] {
            case "--threads": threads = Int(arguments[i + 1]) ?? threads
            case "--model": name = arguments[i + 1]
            case "--size": size = Int(arguments[i + 1]) ?? size
            default: throw BenchError("unknown option \(arguments[i]) (use --model M, --size S, --threads N)")
            }
            i += 2
        }
        let model = try BackboneBench.model(.init(model: name, size: size, batch: 1), weights: nil)
        let config = model.config
        let a = try model.makeActivations(height: size, width: size, threads: threads)
        let image = BackboneBench.pseudoRandom(3 * size * size, seed: 2)
        try image.withUnsafeBufferPointer { try model.forward($0, a) }
        let t = a.tokens, depth = config.depth
        let block = model.blocks[0]
        guard case .mlp(let fc1, let fc2) = block.ffn else { return }
        print("threads \(threads), \(name) \(size)x\(size) p\(config.patchSize), \(t) tokens; per forward pass:")
        func time(_ name: String, _ body: () throws -> Void) rethrows {
            var best = Double.infinity
            for _ in 0 ..< 7 {
                let start = DispatchTime.now().uptimeNanoseconds
                try body()
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            }
            print("  \(name.padding(toLength: 40, withPad: " ", startingAt: 0)) \(String(format: "%7.1f", best)) ms")
        }
        let x = a.x.baseAddress!, normed = a.normed.baseAddress!, hidden = a.hidden.baseAddress!
        time("qkv GEMM (x\(depth))") {
            for _ in 0 ..< depth { block.attention.qkv.forwardNoBias(normed, rows: t, into: a.qkv.baseAddress!, threads: threads) }
        }
        for kernel in Attention.InferenceKernel.allCases where kernel != .fused || FusedAttention.enabled {
            time("attention after qkv, \(kernel) (x\(depth))") {
                for _ in 0 ..< depth {
                    block.attention.attend(tokens: t, qkvBuffer: a.qkv.baseAddress!, scores: a.scores.baseAddress!,
                                           rowScale: a.rowScale.baseAddress!, slots: a.attentionSlots,
                                           into: a.heads.baseAddress!, threads: threads, kernel: kernel)
                }
            }
        }
        time("proj GEMM (x\(depth))") {
            for _ in 0 ..< depth { block.attention.proj.forwardNoBias(a.heads.baseAddress!, rows: t, into: a.projected.baseAddress!, threads: threads) }
        }
        time("fc1 GEMM (x\(depth))") { for _ in 0 ..< depth { fc1.forwardNoBias(normed, rows: t, into: hidden, threads: threads) } }
        time("bias + GELU (x\(depth))") {
            for _ in 0 ..< depth {
                fc1.bias.withUnsafeBufferPointer { ActivationKernels.biasGELU(hidden, rows: t, cols: fc1.outFeatures, bias: $0.baseAddress!, threads: threads) }
            }
        }
        time("fc2 GEMM (x\(depth))") { for _ in 0 ..< depth { fc2.forwardNoBias(hidden, rows: t, into: a.projected.baseAddress!, threads: threads) } }
        time("LayerNorm (x\(2 * depth + 1))") { for _ in 0 ..< 2 * depth + 1 { block.norm1.forward(x, rows: t, into: normed, threads: threads) } }
        time("parallel regions of 100 us per worker (x\(10 * depth))") {
            for _ in 0 ..< 10 * depth {
                Threading.forEachWorker(threads) { _ in
                    let end = DispatchTime.now().uptimeNanoseconds + 100_000
                    while DispatchTime.now().uptimeNanoseconds < end {}
                }
            }
        }
        try time("patch embedding") { try image.withUnsafeBufferPointer { try model.embed($0, a) } }
        try time("full forward + final norm") {
            try image.withUnsafeBufferPointer { try model.forward($0, a) }
            model.applyFinalNorm(a)
        }
    }
}
