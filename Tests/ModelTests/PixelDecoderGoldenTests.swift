// PixelDecoderGoldenTests.swift — Conv2d, GroupNorm and Mask2Former's pixel
// decoder (mmdet MSDeformAttnPixelDecoder) against PyTorch.
//
// Fixtures (scripts/make_pixel_decoder_fixtures.py): F.conv2d (kernels 1, 3, 5)
// and F.group_norm; HuggingFace's Mask2FormerPixelDecoder (32 channels, 4
// heads, 2 encoder layers, FFN 64, 24 mask channels, GroupNorm with 8 groups)
// on four non-square maps of 8, 12, 16, 20 channels at 24x32 ... 3x4, its
// weights saved under mmdet's names below `decode_head.pixel_decoder.`.

import CTCore
import Foundation
@testable import Model
import Tensor
import TestSupport
import Testing

@Suite struct PixelDecoderGoldenTests {
    static let scope = ParameterScope(prefix: "decode_head.pixel_decoder.")
    static let shapes = [LevelShape(height: 24, width: 32), LevelShape(height: 12, width: 16),
                         LevelShape(height: 6, width: 8), LevelShape(height: 3, width: 4)]
    static let config = PixelDecoderConfig(inChannels: [8, 12, 16, 20], featureChannels: 32, outChannels: 24, encoderLevels: 3,
                                           encoderLayers: 2, heads: 4, points: 4, feedforward: 64, groupNormGroups: 8)

    static func tensors() throws -> [String: Tensor] {
        try SafeTensors.read(fixtures.path("pixel_decoder/decoder.safetensors")).tensors
    }

    static func loaded(_ tensors: [String: Tensor]) throws -> (PixelDecoder, [String]) {
        var decoder = try PixelDecoder(config: config)
        var reader = ParameterReader(tensors: tensors, path: "decoder.safetensors")
        try decoder.readParameters(scope, from: &reader)
        return (decoder, reader.unused)
    }

    /// (mask features, multi-scale features) of the fixture's inputs.
    static func run(_ decoder: PixelDecoder, threads: Int) throws -> ([Float], [Float]) {
        let inputs = try (0 ..< 4).map { try fixtures.floats("pixel_decoder/input\($0).npy") }
        let ws = try PixelDecoderWorkspace(decoder: decoder, shapes: shapes, threads: threads)
        var mask = [Float](repeating: .nan, count: decoder.config.outChannels * ws.maskShape.count)
        var multi = [Float](repeating: .nan, count: ws.multiScaleRows * decoder.config.featureChannels)
        let pointers = inputs.map { a -> UnsafeMutablePointer<Float> in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: a.count)
            p.initialize(from: a, count: a.count)
            return p
        }
        defer { pointers.forEach { $0.deallocate() } }
        mask.withUnsafeMutableBufferPointer { m in
            multi.withUnsafeMutableBufferPointer { s in
                decoder.forward(features: pointers.map { UnsafePointer($0) }, workspace: ws, maskFeatures: m.baseAddress!,
                                multiScale: s.baseAddress!)
            }
        }
        return (mask, multi)
    }

    @Test(arguments: [1, 3, 5])
    func convolutionMatchesTorch(_ k: Int) throws {
        let x = try fixtures.floatArray("pixel_decoder/conv_input.npy")
        let (cin, h, w) = (x.shape[0], x.shape[1], x.shape[2])
        let weight = try fixtures.floatArray("pixel_decoder/conv\(k)_weight.npy")
        let expected = try fixtures.floats("pixel_decoder/conv\(k)_output.npy")
        var conv = Conv2d(inChannels: cin, outChannels: weight.shape[0], kernelSize: k, bias: true)
        var reader = ParameterReader(tensors: ["conv.weight": Tensor(shape: weight.shape, storage: weight.values),
                                               "conv.bias": Tensor(shape: [weight.shape[0]],
                                                                   storage: try fixtures.floats("pixel_decoder/conv\(k)_bias.npy"))],
                                     path: "conv")
        try conv.readParameters(ParameterScope(prefix: "conv."), from: &reader)
        #expect(reader.unused.isEmpty)
        for threads in [1, 2] {
            var y = [Float](repeating: .nan, count: expected.count)
            var scratch = [Float](repeating: .nan, count: max(1, conv.scratchCount(height: h, width: w)))
            x.values.withUnsafeBufferPointer { xp in
                scratch.withUnsafeMutableBufferPointer { s in
                    y.withUnsafeMutableBufferPointer {
                        conv.forward(xp.baseAddress!, height: h, width: w, scratch: s.baseAddress!, into: $0.baseAddress!, threads: threads)
                    }
                }
            }
            expectClose(y, expected, "conv \(k)x\(k), \(threads) threads")
        }
    }

    @Test func groupNormMatchesTorch() throws {
        let x = try fixtures.floatArray("pixel_decoder/group_norm_input.npy")
        let c = x.shape[0], n = x.shape[1] * x.shape[2]
        var norm = GroupNorm(groups: 3, channels: c)
        var reader = ParameterReader(tensors: ["weight": Tensor(shape: [c], storage: try fixtures.floats("pixel_decoder/group_norm_weight.npy")),
                                               "bias": Tensor(shape: [c], storage: try fixtures.floats("pixel_decoder/group_norm_bias.npy"))],
                                     path: "gn")
        try norm.readParameters(from: &reader)
        let expected = try fixtures.floats("pixel_decoder/group_norm_output.npy")
        for relu in [false, true] {
            var y = x.values
            y.withUnsafeMutableBufferPointer { norm.forward($0.baseAddress!, spatial: n, into: $0.baseAddress!, relu: relu, threads: 2) }
            expectClose(y, relu ? expected.map { max($0, 0) } : expected, "GroupNorm relu \(relu)")
        }
    }

    @Test func walkDeclaresMmdetNames() throws {
        let names = Set(try PixelDecoder(config: Self.config).parameterInfos(Self.scope).map(\.name))
        let p = Self.scope.prefix
        for name in ["input_convs.0.conv.weight", "input_convs.0.conv.bias", "input_convs.2.gn.weight", "input_convs.2.gn.bias",
                     "encoder.layers.1.self_attn.sampling_offsets.weight", "encoder.layers.1.self_attn.attention_weights.bias",
                     "encoder.layers.0.self_attn.value_proj.weight", "encoder.layers.0.self_attn.output_proj.bias",
                     "encoder.layers.0.ffn.layers.0.0.weight", "encoder.layers.0.ffn.layers.1.bias",
                     "encoder.layers.1.norms.0.weight", "encoder.layers.1.norms.1.bias", "level_encoding.weight",
                     "lateral_convs.0.conv.weight", "lateral_convs.0.gn.bias", "output_convs.0.conv.weight", "output_convs.0.gn.weight",
                     "mask_feature.weight", "mask_feature.bias"] {
            #expect(names.contains(p + name), "\(name)")
        }
        #expect(!names.contains(p + "lateral_convs.0.conv.bias") && !names.contains(p + "output_convs.0.conv.bias"))
        #expect(names == Set(try Self.tensors().keys))
    }

    @Test func decoderMatchesHuggingFace() throws {
        let (decoder, unused) = try Self.loaded(Self.tensors())
        #expect(unused.isEmpty)
        let mask = try fixtures.floatArray("pixel_decoder/mask_features.npy")
        #expect(mask.shape == [24, 24, 32])
        let multi = try fixtures.floats("pixel_decoder/multi_scale.npy")
        for threads in [1, 2, 3] {
            let (m, s) = try Self.run(decoder, threads: threads)
            expectClose(s, multi, "multi-scale features, \(threads) threads")
            expectClose(m, mask.values, "mask features, \(threads) threads")
        }
    }

    @Test func configIsInferredFromTheCheckpoint() throws {
        let tensors = try Self.tensors()
        let inferred = try PixelDecoderConfig.inferred(from: tensors, scope: Self.scope, path: "decoder.safetensors", heads: 4,
                                                       points: 4, groupNormGroups: 8)
        #expect(inferred == Self.config)
        #expect(throws: WeightError.self) {
            try PixelDecoderConfig.inferred(from: tensors, scope: Self.scope, path: "decoder.safetensors", heads: 8, points: 4)
        }
    }

    @Test func missingOrMisshapenTensorsAreNamed() throws {
        var tensors = try Self.tensors()
        let name = Self.scope.name("encoder.layers.1.norms.0.bias")
        tensors[name] = nil
        #expect(throws: WeightError(path: "decoder.safetensors", tensor: name, reason: "missing (expected shape [32])")) {
            _ = try Self.loaded(tensors)
        }
        tensors = try Self.tensors()
        let lateral = Self.scope.name("lateral_convs.0.conv.weight")
        tensors[lateral] = Tensor(zeros: [32, 9, 1, 1])
        #expect(throws: WeightError(path: "decoder.safetensors", tensor: lateral,
                                    reason: "expected shape [32, 8, 1, 1], found [32, 9, 1, 1]")) {
            _ = try Self.loaded(tensors)
        }
    }

    @Test func badConfigurationsAndSizesAreRejected() throws {
        var c = Self.config
        c.groupNormGroups = 5
        #expect(throws: ModelInputError.self) { _ = try PixelDecoder(config: c) }
        let decoder = try PixelDecoder(config: Self.config)
        #expect(throws: ModelInputError.self) { _ = try PixelDecoderWorkspace(decoder: decoder, shapes: Array(Self.shapes.prefix(3)), threads: 1) }
    }
}
