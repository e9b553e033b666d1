import Foundation
import Model
import Tensor

enum PhaseExperiment {
    static func run(_ arguments: [String]) throws {
        let threads = Int(arguments.first ?? "1") ?? 1
        Threading.configure(.singleSample(threads: threads))
        let model = try BackboneBench.randomModel(DINOv2Config.named("vits14")!, seed: 1)
        let a = try model.makeActivations(height: 518, width: 518)
        let image = BackboneBench.pseudoRandom(3 * 518 * 518, seed: 2)
        try image.withUnsafeBufferPointer { try model.forward($0, a) }
        let t = a.tokens, c = 384
        func time(_ name: String, _ body: () -> Void) {
            var best = Double.infinity
            for _ in 0 ..< 7 {
                let s = DispatchTime.now().uptimeNanoseconds
                body()
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - s) / 1e6)
            }
            print("\(name): \(String(format: "%.1f", best)) ms")
        }
        let blk = model.blocks[0]
        time("12x qkv gemm") { for _ in 0 ..< 12 { blk.attention.qkv.forwardNoBias(a.normed.baseAddress!, rows: t, into: a.qkv.baseAddress!) } }
        time("12x fc1 gemm") { if case .mlp(let fc1, _) = blk.ffn { for _ in 0 ..< 12 { fc1.forwardNoBias(a.normed.baseAddress!, rows: t, into: a.hidden.baseAddress!) } } }
        time("12x fc2 gemm") { if case .mlp(_, let fc2) = blk.ffn { for _ in 0 ..< 12 { fc2.forwardNoBias(a.hidden.baseAddress!, rows: t, into: a.projected.baseAddress!) } } }
        time("12x proj gemm") { for _ in 0 ..< 12 { blk.attention.proj.forwardNoBias(a.heads.baseAddress!, rows: t, into: a.projected.baseAddress!) } }
        time("12x attention core") { for _ in 0 ..< 12 {
            blk.attention.forward(a.normed.baseAddress!, tokens: t, qkvBuffer: a.qkv.baseAddress!, scores: a.scores.baseAddress!, rowScale: a.rowScale.baseAddress!, slots: a.attentionSlots, into: a.heads.baseAddress!) } }
        time("24x layernorm") { for _ in 0 ..< 24 { blk.norm1.forward(a.x.baseAddress!, rows: t, into: a.normed.baseAddress!) } }
        time("12x gelu") { if case .mlp(let fc1, _) = blk.ffn { for _ in 0 ..< 12 { fc1.bias.withUnsafeBufferPointer { ActivationKernels.biasGELU(a.hidden.baseAddress!, rows: t, cols: 4 * c, bias: $0.baseAddress!) } } } }
        time("full forward") { try? image.withUnsafeBufferPointer { try model.forward($0, a) } }
    }
}
