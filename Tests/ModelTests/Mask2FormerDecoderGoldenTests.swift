// Mask2FormerDecoderGoldenTests.swift — MultiheadAttention, the Mask2Former
// transformer decoder (every prediction) and the semantic scores against
// PyTorch / HuggingFace transformers.
//
// Fixtures (scripts/make_mask2former_decoder_fixtures.py): nn.MultiheadAttention
// with and without a boolean mask; HF's Mask2FormerMaskedAttentionDecoder (3
// layers, D 32, 4 heads, FFN 64, 5 queries, 4 classes, levels 4x4, 8x8, 16x16,
// mask features 32x32) with Rein's querys2feat, level_embed and cls_embed added
// by the script, run in float64, weights renamed to mmdet's names; mmseg's
// predict formula on the last prediction for a 40 x 56 window.

import Model
import Tensor
import TestSupport
import Testing

@Suite struct Mask2FormerDecoderGoldenTests {
    static let folder = "mask2former_decoder/"
    static let levels = [(height: 4, width: 4), (height: 8, width: 8), (height: 16, width: 16)]
    static let config = Mask2FormerDecoderConfig(embedDim: 32, heads: 4, queries: 5, classes: 4, layers: 3, feedForward: 64)

    static func reader(_ name: String) throws -> ParameterReader {
        let path = fixtures.path(folder + name)
        return ParameterReader(tensors: try SafeTensors.read(path).tensors, path: path)
    }

    static func floats(_ name: String) throws -> [Float] { try fixtures.floats(folder + name) }

    static func loadDecoder() throws -> Mask2FormerTransformerDecoder {
        var decoder = try Mask2FormerTransformerDecoder(config: config)
        var reader = try reader("decoder.safetensors")
        try decoder.readParameters(ParameterScope(prefix: "decode_head."), from: &reader)
        #expect(reader.unused.isEmpty, "tensors no parameter took: \(reader.unused)")
        return decoder
    }

    @Test(arguments: [1, 2])
    func multiheadAttentionMatchesTorch(threads: Int) throws {
        var attention = try MultiheadAttention(embedDim: 32, heads: 4)
        var reader = try Self.reader("mha.safetensors")
        try attention.readParameters(ParameterScope(prefix: "attn."), from: &reader)
        #expect(reader.unused.isEmpty)
        let query = try Self.floats("mha_query.npy"), key = try Self.floats("mha_key.npy"), value = try Self.floats("mha_value.npy")
        let mask = try Self.floats("mha_mask.npy").map { $0 != 0 }
        let q = 6, n = 9
        #expect(mask.contains(true) && mask.count == q * n)
        for (useMask, expected) in [(true, "mha_out_masked.npy"), (false, "mha_out.npy")] {
            var scratch = [Float](repeating: .nan, count: attention.scratchCount(queries: q, keys: n))
            var out = [Float](repeating: .nan, count: q * 32)
            mask.withUnsafeBufferPointer { m in
                attention.forward(query: query, key: key, value: value, queries: q, keys: n, mask: useMask ? m.baseAddress! : nil,
                                  scratch: &scratch, into: &out, threads: threads)
            }
            expectClose(out, try Self.floats(expected), "attention \(expected), \(threads) threads")
            // With accumulate the result lands on top of what out held.
            var residual = query
            residual.withUnsafeMutableBufferPointer { r in
                mask.withUnsafeBufferPointer { m in
                    attention.forward(query: query, key: key, value: value, queries: q, keys: n, mask: useMask ? m.baseAddress! : nil,
                                      scratch: &scratch, into: r.baseAddress!, accumulate: true, threads: threads)
                }
            }
            expectClose(residual, zip(query, try Self.floats(expected)).map(+), "attention + residual, \(threads) threads")
        }
    }

    @Test(arguments: [1, 2])
    func decoderPredictionsMatchHuggingFace(threads: Int) throws {
        let decoder = try Self.loadDecoder()
        let queryEmbed = try Self.floats("query_embed.npy"), maskFeatures = try Self.floats("mask_features.npy")
        let memory = try Self.levels.map { try Self.floats("memory_\($0.height)x\($0.width).npy") }
        let classes = try fixtures.floatArray(Self.folder + "class_logits.npy"), masks = try fixtures.floatArray(Self.folder + "mask_logits.npy")
        #expect(classes.shape == [4, 5, 5] && masks.shape == [4, 5, 32, 32])
        let activations = try decoder.makeActivations(levelSizes: Self.levels, maskHeight: 32, maskWidth: 32, threads: threads)
        var seen: [Int] = []
        let classSize = 5 * 5, maskSize = 5 * 32 * 32
        memory[0].withUnsafeBufferPointer { m0 in memory[1].withUnsafeBufferPointer { m1 in memory[2].withUnsafeBufferPointer { m2 in
            decoder.forward(queryEmbed: queryEmbed, memory: [m0.baseAddress!, m1.baseAddress!, m2.baseAddress!],
                            maskFeatures: maskFeatures, activations: activations) { p, cls, mask in
                seen.append(p)
                expectClose(Array(UnsafeBufferPointer(start: cls, count: classSize)),
                            Array(classes.values[p * classSize ..< (p + 1) * classSize]), "class logits \(p), \(threads) threads")
                expectClose(Array(UnsafeBufferPointer(start: mask, count: maskSize)),
                            Array(masks.values[p * maskSize ..< (p + 1) * maskSize]), "mask logits \(p), \(threads) threads")
            }
        } } }
        #expect(seen == [0, 1, 2, 3])
        // Without an observer the last prediction is left in the activations.
        activations.classLogits.update(repeating: .nan)
        memory[0].withUnsafeBufferPointer { m0 in memory[1].withUnsafeBufferPointer { m1 in memory[2].withUnsafeBufferPointer { m2 in
            decoder.forward(queryEmbed: queryEmbed, memory: [m0.baseAddress!, m1.baseAddress!, m2.baseAddress!],
                            maskFeatures: maskFeatures, activations: activations)
        } } }
        let lastClasses: [Float] = Array(activations.classLogits), lastMasks: [Float] = Array(activations.maskLogits)
        let expectedClasses: [Float] = Array(classes.values[(3 * classSize)...])
        let expectedMasks: [Float] = Array(masks.values[(3 * maskSize)...])
        expectClose(lastClasses, expectedClasses, "last class logits")
        expectClose(lastMasks, expectedMasks, "last mask logits")
    }

    @Test(arguments: [1, 2])
    func semanticScoresMatchMMSegPredict(threads: Int) throws {
        let classes = try Self.floats("class_logits.npy"), masks = try Self.floats("mask_logits.npy")
        let expected = try fixtures.floatArray(Self.folder + "semantic_scores.npy")
        #expect(expected.shape == [4, 40, 56])
        let q = 5, k = 4
        var scratch = [Float](repeating: .nan, count: Mask2FormerSemanticScores.scratchCount(queries: q, classes: k, width: 56, threads: threads))
        var scores = [Float](repeating: .nan, count: k * 40 * 56)
        let lastClasses: [Float] = Array(classes[(3 * q * (k + 1))...])
        let lastMasks: [Float] = Array(masks[(3 * q * 32 * 32)...])
        Mask2FormerSemanticScores.compute(classLogits: lastClasses, maskLogits: lastMasks, queries: q, classes: k,
                                          maskHeight: 32, maskWidth: 32, height: 40, width: 56, scratch: &scratch,
                                          into: &scores, threads: threads)
        expectClose(scores, expected.values, "semantic scores, \(threads) threads")
    }

    @Test func walkNamesAreMMDetsAndShapesAreChecked() throws {
        let rein = try Mask2FormerTransformerDecoder(config: Mask2FormerDecoderConfig(classes: 19))
        let infos = Dictionary(uniqueKeysWithValues: rein.parameterInfos(ParameterScope(prefix: "decode_head.")).map { ($0.name, $0.shape) })
        let p = "decode_head.transformer_decoder."
        #expect(infos[p + "layers.8.cross_attn.attn.in_proj_weight"] == [768, 256])
        #expect(infos[p + "layers.8.self_attn.attn.out_proj.bias"] == [256])
        #expect(infos[p + "layers.0.ffn.layers.0.0.weight"] == [2048, 256])
        #expect(infos[p + "layers.0.ffn.layers.1.weight"] == [256, 2048])
        #expect(infos[p + "layers.0.norms.2.weight"] == [256])
        #expect(infos[p + "post_norm.bias"] == [256])
        #expect(infos["decode_head.cls_embed.weight"] == [20, 256])
        #expect(infos["decode_head.mask_embed.4.weight"] == [256, 256])
        #expect(infos["decode_head.level_embed.weight"] == [3, 256])
        #expect(infos["decode_head.querys2feat.bias"] == [256])
        #expect(infos.count == 9 * 18 + 2 + 2 + 6 + 1 + 2)
        #expect(infos.keys.allSatisfy { !$0.contains("query_embed") && !$0.contains("query_feat.") })

        // A missing or misshapen tensor is named.
        var file = try SafeTensors.read(fixtures.path(Self.folder + "decoder.safetensors")).tensors
        file["decode_head.level_embed.weight"] = nil
        var decoder = try Mask2FormerTransformerDecoder(config: Self.config)
        var reader = ParameterReader(tensors: file, path: "decoder.safetensors")
        #expect(throws: WeightError.self) { try decoder.readParameters(ParameterScope(prefix: "decode_head."), from: &reader) }
        file["decode_head.level_embed.weight"] = Tensor(zeros: [4, 32])
        reader = ParameterReader(tensors: file, path: "decoder.safetensors")
        do {
            try decoder.readParameters(ParameterScope(prefix: "decode_head."), from: &reader)
            Issue.record("a (4, 32) level_embed was accepted")
        } catch {
            #expect(error.tensor == "decode_head.level_embed.weight")
        }
        #expect(throws: ModelInputError.self) { try MultiheadAttention(embedDim: 30, heads: 4) }
        #expect(throws: ModelInputError.self) {
            _ = try rein.makeActivations(levelSizes: [(height: 4, width: 4)], maskHeight: 8, maskWidth: 8, threads: 1)
        }
    }
}
