// DINOv2Initialisation.swift — a randomly initialised DINOv2 (seeded), as the
// DINOv2 code initialises a ViT before pre-training: Linear weights normal
// (std 0.02), biases 0; the patch-embedding convolution PyTorch's default
// (uniform ±1/√fan_in for weight and bias); position embedding normal (std
// 0.02); CLS and register tokens normal (std 1e-6); LayerNorm weight 1, bias 0;
// LayerScale 1e-5. Used when no pretrained weights are given (the `tiny` demo
// backbone); such a backbone carries no pretrained knowledge.

import CTCore
import Tensor

extension DINOv2 {
    /// A freshly initialised backbone of `config` (MLP feed-forward blocks), reproducible from `seed`.
    public static func randomlyInitialised(config: DINOv2Config, seed: UInt64) -> DINOv2 {
        var rng = SplitMix64(seed: seed)
        let c = config.embedDim, p = config.patchSize, f = config.ffnHidden
        func normal(_ shape: [Int], std: Float) -> Tensor {
            let count = shape.reduce(1, *)
            var values = [Float](repeating: 0, count: count)
            var i = 0
            while i < count {
                // Box–Muller in double precision.
                let u1 = max(Double(rng.next() >> 11) * 0x1p-53, 0x1p-60), u2 = Double(rng.next() >> 11) * 0x1p-53
                let r = (-2 * _log(u1)).squareRoot()
                values[i] = Float(r * _cos(2 * Double.pi * u2)) * std
                if i + 1 < count { values[i + 1] = Float(r * _sin(2 * Double.pi * u2)) * std }
                i += 2
            }
            return Tensor(shape: shape, storage: values)
        }
        func uniform(_ shape: [Int], bound: Float) -> Tensor {
            Tensor(shape: shape, storage: (0 ..< shape.reduce(1, *)).map { _ in Float.random(in: -bound ... bound, using: &rng) })
        }
        func constant(_ n: Int, _ v: Float) -> Tensor { Tensor(shape: [n], storage: [Float](repeating: v, count: n)) }
        func linear(_ out: Int, _ inp: Int) -> Linear { Linear(weight: normal([out, inp], std: 0.02), bias: Tensor(zeros: [out])) }
        func norm() -> LayerNorm { LayerNorm(weight: constant(c, 1), bias: Tensor(zeros: [c]), eps: config.layerNormEps) }
        let fanIn = Float(3 * p * p)
        let patch = PatchEmbedding(weight: uniform([c, 3, p, p], bound: 1 / fanIn.squareRoot()),
                                   bias: uniform([c], bound: 1 / fanIn.squareRoot()))
        let pos = normal([1, 1 + config.gridSize * config.gridSize, c], std: 0.02)
        let cls = normal([1, 1, c], std: 1e-6)
        let registers = config.registers > 0 ? normal([1, config.registers, c], std: 1e-6) : nil
        let blocks = (0 ..< config.depth).map { _ in
            Block(norm1: norm(), attention: Attention(heads: config.heads, qkv: linear(3 * c, c), proj: linear(c, c)),
                  ls1: constant(c, 1e-5), norm2: norm(), ffn: .mlp(fc1: linear(f, c), fc2: linear(c, f)), ls2: constant(c, 1e-5))
        }
        var stored = config
        stored.ffn = .mlp
        return DINOv2(config: stored, patchEmbed: patch, clsToken: cls, registerTokens: registers, posEmbed: pos,
                      blocks: blocks, norm: norm())
    }
}

@inline(__always) private func _log(_ x: Double) -> Double { Foundation.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Foundation.cos(x) }
@inline(__always) private func _sin(_ x: Double) -> Double { Foundation.sin(x) }

import Foundation
