// Mask2FormerInitialisation.swift — a Mask2Former model trained from scratch:
// the adapter as Rein initialises it (CausalTuneAdapter.initialised, its
// token -> query link included) and the head as mmdet 3.x initialises
// Mask2FormerHead (`init_weights`, the version Rein's mmseg 1.x uses), drawn
// from one seeded SplitMix64 in walk order:
//   pixel decoder (MSDeformAttnPixelDecoder.init_weights)
//     input_convs.*.conv        xavier_uniform (gain 1), bias 0
//     lateral_convs / output_convs / mask_feature
//                               caffe2_xavier: kaiming_uniform(a=1, fan_in) = U(±√(3/fan_in)), bias 0
//     GroupNorms                weight 1, bias 0
//     level_encoding            N(0, 1)
//     encoder layers            every matrix xavier_normal; then the deformable attention's own
//                               init: sampling_offsets weight 0, bias the grid (head h points at
//                               angle 2πh/heads, normalised so the larger of |cos|, |sin| is 1,
//                               point p scaled by p + 1, every level alike); attention_weights 0;
//                               value_proj / output_proj xavier_uniform, bias 0; FFN biases
//                               PyTorch's Linear default U(±1/√fan_in); LayerNorms 1, 0
//   transformer decoder         every matrix (attention in_proj as one (3D, D) matrix, out_proj,
//                               FFN) xavier_normal; attention biases 0 (nn.MultiheadAttention);
//                               FFN biases U(±1/√fan_in); LayerNorms (post_norm too) 1, 0
//   cls_embed, mask_embed, querys2feat
//                               PyTorch's Linear default: weight and bias U(±1/√fan_in)
//   level_embed                 nn.Embedding's default N(0, 1)
// Differences from PyTorch: the values come from ctpipe's SplitMix64 (uniform:
// 24-bit floats; normal: Box–Muller in double precision), not torch's
// generator, so the distributions match but not the draws.

import CTCore
import Foundation
import Tensor

/// Binds every head parameter a walk visits (names under `decode_head.`) to one new storage,
/// filled as mmdet initialises Mask2FormerHead (see the file comment).
public struct Mask2FormerHeadInitialiser: ParameterVisitor {
    public let storage: ParameterStorage
    let config: PixelDecoderConfig
    var offset = 0
    var rng: SplitMix64

    /// Room for `count` values (the walk's total), reproducible from `seed`; `pixelDecoder` gives the
    /// deformable attention's heads, levels and points (its sampling grid).
    public init(count: Int, pixelDecoder: PixelDecoderConfig, seed: UInt64) {
        storage = ParameterStorage(count: count)
        config = pixelDecoder
        rng = SplitMix64(seed: seed)
    }

    mutating func uniform(_ bound: Double) -> Float {
        Float((Double(rng.next() >> 11) * 0x1p-53 * 2 - 1) * bound)
    }

    mutating func normal(_ std: Double) -> Float {
        let u1 = max(Double(rng.next() >> 11) * 0x1p-53, 0x1p-60), u2 = Double(rng.next() >> 11) * 0x1p-53
        return Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2) * std)
    }

    /// The deformable attention's sampling-offset bias: (heads, levels, points, 2).
    func samplingGrid() -> [Float] {
        let heads = config.heads, levels = config.encoderLevels, points = config.points
        var out: [Float] = []
        for h in 0 ..< heads {
            let theta = Float(h) * (2 * Float.pi / Float(heads))
            let x = Foundation.cos(theta), y = Foundation.sin(theta), m = max(abs(x), abs(y))
            for _ in 0 ..< levels {
                for p in 0 ..< points { out += [x / m * Float(p + 1), y / m * Float(p + 1)] }
            }
        }
        return out
    }

    public mutating func visit(_ parameter: inout Parameter, _ info: ParameterInfo) throws(WeightError) {
        guard offset + info.count <= storage.count else {
            throw WeightError(path: "Mask2Former initialisation", tensor: info.name,
                              reason: "the storage of \(storage.count) values has no room for shape \(info.shape)")
        }
        let shape = info.shape, name = info.name
        let bound = Parameter(shape: shape, storage: storage, offset: offset)
        let values = bound.values
        let fanIn = shape.count >= 2 ? shape.dropFirst().reduce(1, *) : 1
        let fanOut = shape.count >= 2 ? shape[0] * shape.dropFirst(2).reduce(1, *) : 1
        let isBias = name.hasSuffix("bias") || name.hasSuffix("in_proj_bias")
        let isWeight = !isBias
        func fill(_ f: (inout Self) -> Float) { for i in values.indices { values[i] = f(&self) } }
        if name.contains(".gn.") || name.contains(".norms.") || name.contains("post_norm") {
            fill { _ in isWeight ? 1 : 0 }
        } else if name.hasSuffix("level_encoding.weight") || name.hasSuffix("level_embed.weight") {
            fill { $0.normal(1) }
        } else if name.contains("sampling_offsets") {
            if isWeight { fill { _ in 0 } } else { _ = values.update(fromContentsOf: samplingGrid()) }
        } else if name.contains("attention_weights") {
            fill { _ in 0 }
        } else if name.contains("value_proj") || name.contains("output_proj") || name.contains("input_convs") {
            let b = (6 / Double(fanIn + fanOut)).squareRoot()
            if isWeight { fill { $0.uniform(b) } } else { fill { _ in 0 } }
        } else if name.contains("lateral_convs") || name.contains("output_convs") || name.contains("mask_feature") {
            let b = (3 / Double(fanIn)).squareRoot()
            if isWeight { fill { $0.uniform(b) } } else { fill { _ in 0 } }
        } else if name.contains("pixel_decoder.encoder.") || name.contains("transformer_decoder.") {
            if shape.count >= 2 {
                let std = (2 / Double(fanIn + fanOut)).squareRoot()
                fill { $0.normal(std) }
            } else if name.hasSuffix("in_proj_bias") || name.hasSuffix("out_proj.bias") {
                fill { _ in 0 }
            } else {
                // An FFN bias: PyTorch's Linear default, fan_in from the layer's weight.
                let b = 1 / Double(linearFanIn(name)).squareRoot()
                fill { $0.uniform(b) }
            }
        } else if shape.count >= 2 {
            let b = 1 / Double(fanIn).squareRoot()
            fill { $0.uniform(b) }
        } else {
            let b = 1 / Double(linearFanIn(name)).squareRoot()
            fill { $0.uniform(b) }
        }
        if shape.count >= 2 { lastWeightFanIn = fanIn }
        offset += info.count
        parameter = bound
    }

    /// The fan-in of the last matrix visited: a bias's Linear (every walk visits a weight before its bias).
    var lastWeightFanIn = 1
    func linearFanIn(_ name: String) -> Int { lastWeightFanIn }
}
