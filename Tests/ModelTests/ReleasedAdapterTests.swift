// ReleasedAdapterTests.swift — the adapters as released (Rein's Reins / LoRAReins,
// the released Causal-Tune forward, Rein's token -> query link) against a PyTorch
// replay of the released modules (scripts/make_released_adapter_fixtures.py,
// Fixtures/released_adapter): weights under the released state-dict names,
// the refined patch tokens after one layer and after all layers in turn, and
// the queries; plus the released mask, the inverse DFT, the initialisation
// bounds, the configuration JSON and the refusals.

import CTCore
import Foundation
@testable import Model
import Tensor
import TestSupport
import Testing

@Suite struct ReleasedAdapterTests {
    struct Grid: Decodable { let side: Int }
    struct Variant: Decodable { let name: String, rank: Int, causal: Bool, tensors: [String], grids: [Grid] }
    struct MaskCase: Decodable { let file: String, height: Int, width: Int }
    struct Index: Decodable {
        let embed_dim: Int, layers: Int, tokens: Int, query_dims: Int
        let variants: [Variant], masks: [MaskCase]
    }

    static func index() throws -> Index { try fixtures.decode(Index.self, from: "released_adapter/index.json") }

    static func config(_ v: Variant, _ index: Index) -> AdapterConfig {
        AdapterConfig(kind: v.causal ? .causalTuneReleased : .rein, tokens: index.tokens, rank: v.rank,
                      queryLink: true, queryDims: index.query_dims)
    }

    /// The adapter read from the fixture's state dict through its walk; nothing may be left over.
    static func load(_ v: Variant, _ index: Index) throws -> CausalTuneAdapter {
        let path = fixtures.path("released_adapter/\(v.name).safetensors")
        let file = try SafeTensors.read(path)
        #expect(file.tensors.keys.sorted() == v.tensors)
        var adapter = try CausalTuneAdapter(config: config(v, index), layers: index.layers, embedDim: index.embed_dim)
        #expect(adapter.parameterInfos(SegmentationModel.adapterScope).map(\.name).sorted() == v.tensors)
        var reader = ParameterReader(tensors: file.tensors, path: path)
        try adapter.readParameters(SegmentationModel.adapterScope, from: &reader)
        #expect(reader.unused.isEmpty, "\(v.name): unused \(reader.unused)")
        return adapter
    }

    @Test(arguments: ["rein_full", "rein_lora", "ctr_full", "ctr_lora"])
    func refinedPatchTokensMatchTheReleasedForward(_ name: String) throws {
        let index = try Self.index()
        let v = try #require(index.variants.first { $0.name == name })
        let adapter = try Self.load(v, index)
        let prepared = adapter.prepare()
        for grid in v.grids {
            let side = grid.side, tag = "released_adapter/\(name)_\(side)x\(side)"
            let input = try fixtures.floats(tag + "_in.npy")
            for threads in [1, 3] {
                let arena = adapter.makeActivations(gridHeight: side, gridWidth: side, threads: threads)
                var one = input
                one.withUnsafeMutableBufferPointer { adapter.forward(layer: 1, patches: $0.baseAddress!, prepared: prepared, arena) }
                expectClose(one, try fixtures.floats(tag + "_layer1.npy"), "\(name) \(side)x\(side) layer 1, \(threads) threads")
                var chained = input
                chained.withUnsafeMutableBufferPointer { f in
                    for l in 0 ..< index.layers { adapter.forward(layer: l, patches: f.baseAddress!, prepared: prepared, arena) }
                }
                expectClose(chained, try fixtures.floats(tag + "_chained.npy"), "\(name) \(side)x\(side) all layers, \(threads) threads")
            }
        }
    }

    @Test(arguments: ["rein_full", "rein_lora", "ctr_full", "ctr_lora"])
    func queriesMatchTheReleasedLink(_ name: String) throws {
        let index = try Self.index()
        let v = try #require(index.variants.first { $0.name == name })
        let adapter = try Self.load(v, index)
        let expected = try fixtures.floats("released_adapter/\(name)_queries.npy")
        #expect(expected.count == index.tokens * index.query_dims)
        expectClose(adapter.prepare().queries, expected, "\(name) queries (prepared)")
        expectClose(try #require(adapter.queries(threads: 2)), expected, "\(name) queries")
    }

    @Test func releasedMaskMatchesMADDecompose() throws {
        let index = try Self.index()
        #expect(index.masks.count == 6)
        for m in index.masks {
            expectClose(FrequencyMask.releasedCausalTuneKept(height: m.height, width: m.width),
                        try fixtures.floats("released_adapter/" + m.file), tolerance: 1e-6, "released mask \(m.height)x\(m.width)")
        }
        // Beyond the grid (non-square only): weight 0.5, kept 0.5; on square grids it agrees with the `released` filter.
        #expect(FrequencyMask.releasedCausalTuneKept(height: 4, width: 13)[12] == 0.5)
        for n in [6, 12, 32] {
            expectClose(FrequencyMask.releasedCausalTuneKept(height: n, width: n),
                        FrequencyMask.values(.released, dl: 0.2, dh: 0.7, height: n, width: n), tolerance: 1e-6, "released filter \(n)")
        }
    }

    @Test func realPartOfTheInverseDFT() {
        var rng = SplitMix64(seed: 11)
        for (h, w, c) in [(6, 6, 5), (5, 7, 3), (1, 4, 2), (8, 3, 4)] {
            let x = rng.floats(h * w * c)
            var expected = [Float](repeating: 0, count: x.count)
            for p in 0 ..< c {
                for j in 0 ..< h {
                    for k in 0 ..< w {
                        var sum = 0.0
                        for u in 0 ..< h {
                            for v in 0 ..< w {
                                let angle = 2 * Double.pi * (Double(u * j) / Double(h) + Double(v * k) / Double(w))
                                sum += Double(x[p * h * w + u * w + v]) * cos(angle)
                            }
                        }
                        expected[p * h * w + j * w + k] = Float(sum / Double(h * w).squareRoot())
                    }
                }
            }
            for threads in [1, 2] {
                let dft = RealDFT2(height: h, width: w, channels: c, threads: threads)
                var scratch = [Float](repeating: 0, count: dft.scratchCount)
                var y = [Float](repeating: 0, count: x.count), inPlace = x
                x.withUnsafeBufferPointer { x in
                    y.withUnsafeMutableBufferPointer { y in
                        scratch.withUnsafeMutableBufferPointer { dft.realPart(x.baseAddress!, into: y.baseAddress!, scratch: $0.baseAddress!) }
                    }
                }
                inPlace.withUnsafeMutableBufferPointer { p in
                    scratch.withUnsafeMutableBufferPointer { dft.realPart(p.baseAddress!, into: p.baseAddress!, scratch: $0.baseAddress!) }
                }
                expectClose(y, expected, tolerance: 1e-5, "Re iDFT2 \(h)x\(w)x\(c), \(threads) threads")
                #expect(inPlace == y)
            }
        }
    }

    @Test func initialisationBoundsAreRein() throws {
        var rng = SplitMix64(seed: 5)
        let c = 64, r = 4
        let full = AdapterConfig.tokenInitBound(embedDim: c, rank: 0), lora = AdapterConfig.tokenInitBound(embedDim: c, rank: r)
        #expect(abs(full - Float((6.0 / (768.0 + 64)).squareRoot())) < 1e-7)
        #expect(abs(lora - Float((6.0 / (768.0 + 16)).squareRoot())) < 1e-7)
        let a = try CausalTuneAdapter.initialised(config: AdapterConfig(kind: .rein, tokens: 100, rank: r), layers: 3, embedDim: c, using: &rng)
        for factor in [try #require(a.tokensA), try #require(a.tokensB)] {
            let top = factor.values.map(abs).max()!
            #expect(top <= lora && top > full, "low-rank factor bound: max \(top), LoRA bound \(lora), full bound \(full)")
        }
        let b = try CausalTuneAdapter.initialised(config: AdapterConfig(kind: .causalTuneReleased, tokens: 100, queryLink: true, queryDims: 8),
                                                  layers: 3, embedDim: c, using: &rng)
        let tokens = try #require(b.tokens), second = try #require(b.secondBranch)
        #expect(tokens.values.map(abs).max()! <= full && second.secondTokens.values.map(abs).max()! <= full)
        #expect(b.queryLink?.merge.weight.shape == [8, 24] && b.prepare().queries.count == 100 * 8)
    }

    @Test func configurationJSON() throws {
        let plain = AdapterConfig(kind: .rein, tokens: 10, rank: 2)
        let text = String(decoding: try JSONEncoder().encode(plain), as: UTF8.self)
        #expect(!text.contains("query"))
        let old = #"{"kind": "causal-tune", "filter": "bandpass", "dl": 0.2, "dh": 0.7, "tokens": 100, "rank": 0}"#
        #expect(try JSONDecoder().decode(AdapterConfig.self, from: Data(old.utf8)) == AdapterConfig())
        let linked = AdapterConfig(kind: .causalTuneReleased, tokens: 100, rank: 16, queryLink: true, queryDims: 256)
        let data = try JSONEncoder().encode(linked)
        #expect(String(decoding: data, as: UTF8.self).contains(#""kind":"causal-tune-released""#))
        #expect(try JSONDecoder().decode(AdapterConfig.self, from: data) == linked)
        #expect(AdapterConfig(kind: .none, queryLink: true).problems().count == 1)
    }

    /// A tiny backbone without registers (C 16, 2 blocks, patch 16).
    static func backbone(registers: Int) -> DINOv2 {
        DINOv2.randomlyInitialised(config: DINOv2Config(embedDim: 16, depth: 2, heads: 2, patchSize: 16, registers: registers,
                                                        gridSize: 2, ffnHidden: 32), seed: 1)
    }

    @Test func squareGridsWithoutRegistersOnly() throws {
        let config = AdapterConfig(kind: .causalTuneReleased, tokens: 6, rank: 2)
        #expect(throws: ModelInputError.self) {
            try SegmentationModel.initialised(backbone: Self.backbone(registers: 2), adapter: config, seed: 1)
        }
        do {
            _ = try SegmentationModel.initialised(backbone: Self.backbone(registers: 2), adapter: config, seed: 1)
        } catch { #expect(error.reason.contains("register") && error.reason.contains("has 2")) }
        let model = try SegmentationModel.initialised(backbone: Self.backbone(registers: 0), adapter: config, seed: 1)
        do {
            _ = try model.makeActivations(height: 32, width: 64, threads: 1)
            Issue.record("a 2 x 4 grid was accepted")
        } catch { #expect(error.reason.contains("2 x 4 patches"), "\(error.reason)") }
        let arena = try model.makeActivations(height: 48, width: 48, threads: 2)
        var rng = SplitMix64(seed: 3)
        let image = rng.floats(3 * 48 * 48)
        try image.withUnsafeBufferPointer { try model.forward($0, arena) }
        #expect(Array(arena.logits).allSatisfy { $0.isFinite })
    }

    @Test func checkpointRoundTripKeepsTheReleasedTensors() throws {
        let model = try SegmentationModel.initialised(backbone: Self.backbone(registers: 0),
                                                      adapter: AdapterConfig(kind: .causalTuneReleased, tokens: 6, rank: 2, queryLink: true, queryDims: 8),
                                                      seed: 2)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-released-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("m.safetensors").path
        try SegmentationCheckpoint.save(model, to: path, embedBackbone: true)
        let names = try SafeTensors.read(path).tensors.keys.filter { $0.hasPrefix("backbone.reins.") }.sorted()
        #expect(names == ["learnable_tokens2", "learnable_tokens_a", "learnable_tokens_b", "merge.bias", "merge.weight",
                          "mlp_delta_f.bias", "mlp_delta_f.weight", "mlp_delta_f2.bias", "mlp_delta_f2.weight",
                          "mlp_token2feat.bias", "mlp_token2feat.weight", "mlp_token2feat2.bias", "mlp_token2feat2.weight",
                          "scale", "transform.bias", "transform.weight"].map { "backbone.reins." + $0 })
        let back = try SegmentationCheckpoint.load(path)
        #expect(back.config.adapter == model.config.adapter)
        #expect(back.prepared?.queries == model.prepared?.queries)
    }
}
