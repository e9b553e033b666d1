// BackbonePhases.swift — `ctbench backbone-phases [--threads N]`: where the time
// of a vits14 forward at 518 x 518 goes, step by step (best of 7 repetitions,
// each step repeated as often as a forward pass runs it).

import Foundation
import Model
import Tensor

enum BackbonePhases {
    static func run(_ arguments: [String]) throws {
        var threads = ProcessInfo.processInfo.activeProcessorCount
        if let i = arguments.firstIndex(of: "--threads"), i + 1 < arguments.count, let n = Int(arguments[i + 1]) {
            threads = n
        }
        Threading.configure(.singleSample(threads: threads))
        let config = DINOv2Config.named("vits14")!
        let model = try BackboneBench.randomModel(config, seed: 1)
        let a = try model.makeActivations(height: 518, width: 518)
        let image = BackboneBench.pseudoRandom(3 * 518 * 518, seed: 2)
        try image.withUnsafeBufferPointer { try model.forward($0, a) }
        let t = a.tokens, depth = config.depth
        let block = model.blocks[0]
        guard case .mlp(let fc1, let fc2) = block.ffn else { return }
        print("threads \(threads), vits14 518x518, \(t) tokens; per forward pass:")
        func time(_ name: String, _ body: () throws -> Void) rethrows {
            var best = Double.infinity
            for _ in 0 ..< 7 {
                let start = DispatchTime.now().uptimeNanoseconds
                try body()
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            }
            print("  \(name.padding(toLength: 34, withPad: " ", startingAt: 0)) \(String(format: "%7.1f", best)) ms")
        }
        let x = a.x.baseAddress!, normed = a.normed.baseAddress!, hidden = a.hidden.baseAddress!
        time("qkv GEMM (x\(depth))") {
            for _ in 0 ..< depth { block.attention.qkv.forwardNoBias(normed, rows: t, into: a.qkv.baseAddress!) }
        }
        time("attention incl. qkv (x\(depth))") {
            for _ in 0 ..< depth {
                block.attention.forward(normed, tokens: t, qkvBuffer: a.qkv.baseAddress!, scores: a.scores.baseAddress!,
                                        rowScale: a.rowScale.baseAddress!, slots: a.attentionSlots, into: a.heads.baseAddress!)
            }
        }
        time("proj GEMM (x\(depth))") {
            for _ in 0 ..< depth { block.attention.proj.forwardNoBias(a.heads.baseAddress!, rows: t, into: a.projected.baseAddress!) }
        }
        time("fc1 GEMM (x\(depth))") { for _ in 0 ..< depth { fc1.forwardNoBias(normed, rows: t, into: hidden) } }
        time("bias + GELU (x\(depth))") {
            for _ in 0 ..< depth {
                fc1.bias.withUnsafeBufferPointer { ActivationKernels.biasGELU(hidden, rows: t, cols: fc1.outFeatures, bias: $0.baseAddress!) }
            }
        }
        time("fc2 GEMM (x\(depth))") { for _ in 0 ..< depth { fc2.forwardNoBias(hidden, rows: t, into: a.projected.baseAddress!) } }
        time("LayerNorm (x\(2 * depth + 1))") { for _ in 0 ..< 2 * depth + 1 { block.norm1.forward(x, rows: t, into: normed) } }
        try time("patch embedding") { try image.withUnsafeBufferPointer { try model.embed($0, a) } }
        try time("full forward + final norm") {
            try image.withUnsafeBufferPointer { try model.forward($0, a) }
            model.applyFinalNorm(a)
        }
    }
}
