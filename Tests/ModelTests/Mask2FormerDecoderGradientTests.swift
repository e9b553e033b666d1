// Mask2FormerDecoderGradientTests.swift — the Mask2Former transformer decoder's
// training forward and backward, and Rein's token -> query link backward,
// against PyTorch float64 autograd.
//
// Fixtures (scripts/make_mask2former_decoder_gradient_fixtures.py): on the
// decoder fixture's setup (Mask2FormerDecoderGoldenTests), the gradients of
// loss = Σ wc ⊙ class logits + Σ wm ⊙ mask logits over all L + 1 predictions
// (wc[k] = sin(0.37k + 0.5), wm[k] = 0.1 sin(0.11k + 1.3), rounded to float32)
// w.r.t. every parameter, the memory levels, the mask features and the query
// embeddings; the query link's gradients (a replay of Rein's return_auto, one
// tie in the max over layers) for full and low-rank tokens.
//
// Tolerance: per tensor, max |actual - expected| ≤ 1e-5 · max |expected| (7e-7
// reached): a float32 forward and backward through 3 post-norm layers and
// softmax rows of up to 256 keys, each gradient a sum of at most a few thousand
// products, with room for another BLAS's rounding.

import Foundation
import Model
import Tensor
import TestSupport
import Testing

@Suite struct Mask2FormerDecoderGradientTests {
    static let folder = "mask2former_decoder_gradients/"
    static let tolerance: Float = 1e-5

    static func weights(_ count: Int, _ a: Double, _ b: Double, scale: Double = 1) -> [Float] {
        (0 ..< count).map { Float(scale * sin(a * Double($0) + b)) }
    }

    /// max |actual - expected| ≤ tolerance · max |expected|, with the worst element reported.
    static func expectGradient(_ actual: [Float], _ expected: [Float], _ label: String,
                               sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(actual.count == expected.count, "\(label): \(actual.count) values, expected \(expected.count)",
                sourceLocation: sourceLocation)
        guard actual.count == expected.count else { return }
        let scale = expected.map(abs).max() ?? 0
        var worst: Float = 0, at = 0
        for i in expected.indices {
            let e = actual[i].isNaN ? .infinity : abs(actual[i] - expected[i])
            if e > worst { (worst, at) = (e, i) }
        }
        #expect(scale > 0, "\(label): an all-zero expected gradient tests nothing", sourceLocation: sourceLocation)
        #expect(worst <= tolerance * scale,
                "\(label): worst element \(at): \(actual[at]) vs \(expected[at]), error \(worst / max(scale, .leastNormalMagnitude)) of max |grad| \(scale)",
                sourceLocation: sourceLocation)
    }

    struct Run {
        var classLogits: [Float], maskLogits: [Float]
        var parameters: [String: [Float]]
        var dQueryEmbed: [Float], dMemory: [[Float]], dMaskFeatures: [Float]
    }

    /// A training forward and backward of the fixture decoder with the parameters `select` picks trainable.
    static func run(threads: Int, trainable select: @escaping (ParameterInfo) -> Bool) throws -> Run {
        var decoder = try Mask2FormerDecoderGoldenTests.loadDecoder()
        let scope = ParameterScope(prefix: "decode_head.")
        let infos = decoder.parameterInfos(scope)
        var rebinder = ParameterRebinder(count: infos.filter(select).reduce(0) { $0 + $1.count }, select: select)
        try decoder.walkParameters(&rebinder, scope)
        var gradientBuffer = [Float](repeating: 0, count: rebinder.storage.count)
        let c = Mask2FormerDecoderGoldenTests.config, q = c.queries, d = c.embedDim, k1 = c.classes + 1, plane = 32 * 32
        let predictions = c.layers + 1
        let levels = Mask2FormerDecoderGoldenTests.levels
        let queryEmbed = try Mask2FormerDecoderGoldenTests.floats("query_embed.npy")
        let maskFeatures = try Mask2FormerDecoderGoldenTests.floats("mask_features.npy")
        let memory = try levels.map { try Mask2FormerDecoderGoldenTests.floats("memory_\($0.height)x\($0.width).npy") }
        let activations = try decoder.makeActivations(levelSizes: levels, maskHeight: 32, maskWidth: 32, threads: threads)
        let buffers = decoder.makeTrainingBuffers(for: activations)
        let dClass = weights(predictions * q * k1, 0.37, 0.5), dMask = weights(predictions * q * plane, 0.11, 1.3, scale: 0.1)
        var dQueryEmbed = [Float](repeating: .nan, count: q * d), dMaskFeatures = [Float](repeating: .nan, count: d * plane)
        let tokens = levels.map { $0.height * $0.width }
        var dMemoryAll = [Float](repeating: .nan, count: tokens.reduce(0, +) * d)
        memory[0].withUnsafeBufferPointer { m0 in memory[1].withUnsafeBufferPointer { m1 in memory[2].withUnsafeBufferPointer { m2 in
            decoder.forward(queryEmbed: queryEmbed, memory: [m0.baseAddress!, m1.baseAddress!, m2.baseAddress!],
                            maskFeatures: maskFeatures, activations: activations, keep: buffers.saved)
        } } }
        dMemoryAll.withUnsafeMutableBufferPointer { m in
            gradientBuffer.withUnsafeMutableBufferPointer { g in
                let m = m.baseAddress!
                decoder.backward(classGradients: dClass, maskGradients: dMask, queryEmbed: queryEmbed, maskFeatures: maskFeatures,
                                 activations: activations, buffers: buffers, dQueryEmbed: &dQueryEmbed,
                                 dMemory: [m, m + tokens[0] * d, m + (tokens[0] + tokens[1]) * d], dMaskFeatures: &dMaskFeatures,
                                 gradients: ParameterGradients(values: rebinder.storage, buffer: g.baseAddress!))
            }
        }
        let dMemory = [Array(dMemoryAll[..<(tokens[0] * d)]), Array(dMemoryAll[(tokens[0] * d) ..< ((tokens[0] + tokens[1]) * d)]),
                       Array(dMemoryAll[((tokens[0] + tokens[1]) * d)...])]
        var parameters: [String: [Float]] = [:], offset = 0
        for info in infos where select(info) {
            parameters[info.name] = Array(gradientBuffer[offset ..< offset + info.count])
            offset += info.count
        }
        return Run(classLogits: Array(UnsafeBufferPointer(start: buffers.saved.classLogits, count: predictions * q * k1)),
                   maskLogits: Array(UnsafeBufferPointer(start: buffers.saved.maskLogits, count: predictions * q * plane)),
                   parameters: parameters, dQueryEmbed: dQueryEmbed, dMemory: dMemory, dMaskFeatures: dMaskFeatures)
    }

    static func expected() throws -> [String: Tensor] {
        try SafeTensors.read(fixtures.path(folder + "decoder_gradients.safetensors")).tensors
    }

    @Test(arguments: [1, 2])
    func decoderGradientsMatchPyTorch(threads: Int) throws {
        let run = try Self.run(threads: threads) { _ in true }
        // The training forward keeps every prediction, as the inference forward gives them.
        expectClose(run.classLogits, try Mask2FormerDecoderGoldenTests.floats("class_logits.npy"), "kept class logits")
        expectClose(run.maskLogits, try Mask2FormerDecoderGoldenTests.floats("mask_logits.npy"), "kept mask logits")
        let expected = try Self.expected()
        #expect(Set(run.parameters.keys) == Set(expected.keys))
        #expect(run.parameters.count == 3 * 18 + 2 + 2 + 6 + 1 + 2)
        for (name, tensor) in expected.sorted(by: { $0.key < $1.key }) {
            Self.expectGradient(run.parameters[name] ?? [], tensor.storage, "\(name), \(threads) threads")
        }
        Self.expectGradient(run.dQueryEmbed, try fixtures.floats(Self.folder + "d_query_embed.npy"), "query embeddings")
        Self.expectGradient(run.dMaskFeatures, try fixtures.floats(Self.folder + "d_mask_features.npy"), "mask features")
        for (l, size) in Mask2FormerDecoderGoldenTests.levels.enumerated() {
            Self.expectGradient(run.dMemory[l], try fixtures.floats(Self.folder + "d_memory_\(size.height)x\(size.width).npy"),
                                "memory level \(l)")
        }
    }

    @Test func frozenParametersAreSkippedAndTheRestUnchanged() throws {
        let picked: (ParameterInfo) -> Bool = {
            $0.name.contains("querys2feat") || $0.name.contains("level_embed") || $0.name.contains("layers.1.cross_attn")
                || $0.name.contains("mask_embed.2")
        }
        let run = try Self.run(threads: 2, trainable: picked)
        let expected = try Self.expected()
        #expect(run.parameters.count == 2 + 1 + 4 + 2)
        for (name, values) in run.parameters {
            Self.expectGradient(values, try #require(expected[name]).storage, "\(name) (the others frozen)")
        }
        Self.expectGradient(run.dQueryEmbed, try fixtures.floats(Self.folder + "d_query_embed.npy"), "query embeddings (frozen)")
        Self.expectGradient(run.dMemory[2], try fixtures.floats(Self.folder + "d_memory_16x16.npy"), "memory level 2 (frozen)")
    }

    /// Finite differences along the query embeddings' gradient: the loss (float64 sum of the
    /// float32 logits) at E ± h·g/|g| against |g| (the attention masks stay put: every
    /// resized mask logit is at least 1e-3 from the threshold in the fixture).
    @Test func queryEmbeddingGradientMatchesFiniteDifferences() throws {
        let decoder = try Mask2FormerDecoderGoldenTests.loadDecoder()
        let c = Mask2FormerDecoderGoldenTests.config, q = c.queries, k1 = c.classes + 1, plane = 32 * 32, predictions = c.layers + 1
        let levels = Mask2FormerDecoderGoldenTests.levels
        let queryEmbed = try Mask2FormerDecoderGoldenTests.floats("query_embed.npy")
        let maskFeatures = try Mask2FormerDecoderGoldenTests.floats("mask_features.npy")
        let memory = try levels.map { try Mask2FormerDecoderGoldenTests.floats("memory_\($0.height)x\($0.width).npy") }
        let activations = try decoder.makeActivations(levelSizes: levels, maskHeight: 32, maskWidth: 32, threads: 1)
        let dClass = Self.weights(predictions * q * k1, 0.37, 0.5), dMask = Self.weights(predictions * q * plane, 0.11, 1.3, scale: 0.1)
        func loss(_ e: [Float]) -> Double {
            var total = 0.0
            memory[0].withUnsafeBufferPointer { m0 in memory[1].withUnsafeBufferPointer { m1 in memory[2].withUnsafeBufferPointer { m2 in
                decoder.forward(queryEmbed: e, memory: [m0.baseAddress!, m1.baseAddress!, m2.baseAddress!],
                                maskFeatures: maskFeatures, activations: activations) { p, cls, mask in
                    for i in 0 ..< q * k1 { total += Double(dClass[p * q * k1 + i]) * Double(cls[i]) }
                    for i in 0 ..< q * plane { total += Double(dMask[p * q * plane + i]) * Double(mask[i]) }
                }
            } } }
            return total
        }
        let g = try fixtures.floats(Self.folder + "d_query_embed.npy").map(Double.init)
        let norm = g.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let h = 1e-2
        let plus = loss(zip(queryEmbed, g).map { Float(Double($0) + h * $1 / norm) })
        let minus = loss(zip(queryEmbed, g).map { Float(Double($0) - h * $1 / norm) })
        let numeric = (plus - minus) / (2 * h)
        #expect(abs(numeric - norm) <= 2e-2 * norm, "finite difference \(numeric) vs |g| \(norm)")
        // The golden value is the Swift backward's too (decoderGradientsMatchPyTorch); and the loss is PyTorch's.
        let reference = try fixtures.floats(Self.folder + "loss.npy")[0]
        #expect(abs(loss(queryEmbed) - Double(reference)) <= 1e-4 * abs(Double(reference)) + 1e-3)
    }

    @Test(arguments: [0, 2])
    func queryLinkGradientsMatchReinsReturnAuto(rank: Int) throws {
        let file = try SafeTensors.read(fixtures.path(Self.folder + "query_link.safetensors")).tensors
        func tensor(_ name: String) throws -> Tensor { try #require(file[name], "\(name) missing") }
        let layers = 3, m = 5, c = 12, q = 8
        let link = try ReinQueryLink(transform: Linear(weight: try tensor("transform.weight"), bias: try tensor("transform.bias")),
                                     merge: Linear(weight: try tensor("merge.weight"), bias: try tensor("merge.bias")))
        let zeros = Linear(weight: Tensor(zeros: [c, c]), bias: Tensor(zeros: [c]))
        let config = AdapterConfig(kind: .rein, filter: .none, tokens: m, rank: rank, queryLink: true, queryDims: q)
        var adapter = try CausalTuneAdapter(config: config, layers: layers, embedDim: c,
                                            tokens: rank == 0 ? try tensor("learnable_tokens") : nil,
                                            tokensA: rank == 0 ? nil : try tensor("learnable_tokens_a"),
                                            tokensB: rank == 0 ? nil : try tensor("learnable_tokens_b"),
                                            scale: 1, tokenToFeature: zeros, deltaFeature: zeros, queryLink: link)
        let scope = ParameterScope(prefix: "backbone.reins.")
        let infos = adapter.parameterInfos(scope)
        var rebinder = ParameterRebinder(count: infos.reduce(0) { $0 + $1.count }, select: { _ in true })
        try adapter.walkParameters(&rebinder, scope)
        let name = rank == 0 ? "full" : "lowrank"
        expectClose(try #require(adapter.queries(threads: 1)), try tensor("\(name).queries").storage, "queries (\(name))")
        let dQueries = Self.weights(m * q, 0.37, 0.5)
        var gradientBuffer = [Float](repeating: 0, count: rebinder.storage.count)
        gradientBuffer.withUnsafeMutableBufferPointer { g in
            adapter.queryBackward(dQueries, gradients: ParameterGradients(values: rebinder.storage, buffer: g.baseAddress!), threads: 2)
        }
        var offset = 0, compared = 0
        for info in infos {
            let key = "\(name).d_" + info.name.dropFirst("backbone.reins.".count)
            defer { offset += info.count }
            guard let expected = file[key] else {
                // The adapter's own layers have no part in the queries.
                #expect(gradientBuffer[offset ..< offset + info.count].allSatisfy { $0 == 0 }, "\(info.name) got a gradient")
                continue
            }
            Self.expectGradient(Array(gradientBuffer[offset ..< offset + info.count]), expected.storage, "\(info.name) (\(name))")
            compared += 1
        }
        #expect(compared == (rank == 0 ? 5 : 6))
        if rank == 0 {
            // Token 2 of layers 0 and 1 ties in every channel: the maximum's gradient goes to layer 0 alone.
            let d = try tensor("full.d_learnable_tokens").storage
            #expect(d[(0 * m + 2) * c] != d[(1 * m + 2) * c])
        }
    }
}
