// FeaturePyramidTests.swift — the adapted DINOv2's four Mask2Former feature maps
// against a PyTorch replay of Rein's ReinsDinoVisionTransformer.
//
// Fixtures (scripts/make_feature_pyramid_fixtures.py): a tiny DINOv2 (C = 8, 6
// blocks, patch 4, 4 x 4 position grid, no registers) as a safetensors file;
// Rein's LoRA adapter and the Causal-Tune adapter in MMSegmentation checkpoints;
// levels of 20 x 28 images (grid 5 x 7: resized position embedding, odd sides
// for the ×0.5 level) and a 16 x 16 image, flattened per image level after level.

import CTCore
import Foundation
@testable import Model
import Tensor
import TestSupport
import Testing

@Suite struct FeaturePyramidTests {
    struct Case: Decodable { let name: String, blocks: [Int], batch: Int, levels: [[Int]] }
    struct Index: Decodable {
        let embed_dim: Int, depth: Int, heads: Int, patch: Int, tokens: Int, rank: Int
        let cases: [Case]
    }

    static func index() throws -> Index {
        try JSONDecoder().decode(Index.self, from: Data(contentsOf: fixtures.url("pyramid/cases.json")))
    }

    static func backbone() throws -> DINOv2 {
        try DINOv2Weights.load(fixtures.path("pyramid/tiny_dinov2.safetensors"), options: WeightLoadOptions(heads: 2)).model
    }

    /// The adapter of a checkpoint's `backbone.reins.*` tensors; returns the names it left.
    static func adapter(_ file: String, _ config: AdapterConfig) throws -> (CausalTuneAdapter, [String]) {
        let path = fixtures.path("pyramid/\(file)")
        let checkpoint = try MMSegCheckpoint.read(path)
        var adapter = try CausalTuneAdapter(config: config, layers: 6, embedDim: 8)
        var reader = ParameterReader(tensors: checkpoint.adapter, path: path)
        try adapter.readParameters(SegmentationModel.adapterScope, from: &reader)
        return (adapter, reader.unused)
    }

    static let rein = AdapterConfig(kind: .rein, tokens: 5, rank: 3)
    static let causalTune = AdapterConfig(kind: .causalTune, filter: .released, dl: 0.2, dh: 0.7, tokens: 5, rank: 0)

    /// The pyramid of `images` (B, 3, H, W), flattened as the fixtures: per image, level after level.
    static func levels(_ backbone: DINOv2, adapter: CausalTuneAdapter?, images: [Float], batch: Int, height: Int, width: Int,
                       blocks: [Int]? = nil, threads: Int) throws -> (values: [Float], shapes: [[Int]]) {
        let a = try backbone.makeActivations(height: height, width: width, batch: batch, threads: threads)
        let pyramid = try backbone.makeFeaturePyramid(for: a, blocks: blocks)
        try images.withUnsafeBufferPointer { image throws(ModelInputError) in
            if let adapter {
                let arena = adapter.makeActivations(gridHeight: a.gridHeight, gridWidth: a.gridWidth, threads: threads)
                try backbone.featurePyramid(image, a, adapter: adapter, prepared: adapter.prepare(), arena, into: pyramid)
            } else {
                try backbone.featurePyramid(image, a, into: pyramid)
            }
        }
        var out: [Float] = []
        for b in 0 ..< batch {
            for j in 0 ..< 4 { out += Array(pyramid.level(j, image: b)) }
        }
        let shapes = (0 ..< 4).map { [backbone.config.embedDim, pyramid.heights[$0], pyramid.widths[$0]] }
        return (out, shapes)
    }

    static func check(_ name: String, adapter: CausalTuneAdapter?, image: String, first: Int, threads: Int) throws {
        let index = try index()
        let c = try #require(index.cases.first { $0.name == name })
        let (shape, all) = try fixtures.floatArray("pyramid/\(image)")
        let pixels = shape[1] * shape[2] * shape[3]
        let images = Array(all[(first * pixels) ..< ((first + c.batch) * pixels)])
        let backbone = try backbone()
        let blocks = c.blocks == backbone.defaultPyramidBlocks ? nil : c.blocks
        let (values, shapes) = try levels(backbone, adapter: adapter, images: images, batch: c.batch, height: shape[2], width: shape[3],
                                          blocks: blocks, threads: threads)
        #expect(shapes == c.levels, "\(name): level shapes")
        expectClose(values, try fixtures.floatArray("pyramid/\(name)_levels.npy").values, "\(name) pyramid, \(threads) threads")
    }

    @Test(arguments: [1, 2])
    func reinPyramidMatchesPyTorch(_ threads: Int) throws {
        let (adapter, unused) = try Self.adapter("rein_mmengine.pth", Self.rein)
        // Rein's query link (transform, merge) is the head's input, not the backbone's.
        #expect(unused == ["backbone.reins.merge.bias", "backbone.reins.merge.weight",
                           "backbone.reins.transform.bias", "backbone.reins.transform.weight"])
        try Self.check("rein", adapter: adapter, image: "image_5x7.npy", first: 0, threads: threads)
    }

    @Test(arguments: [1, 2])
    func causalTunePyramidMatchesPyTorch(_ threads: Int) throws {
        let (adapter, unused) = try Self.adapter("ct_model.pth", Self.causalTune)
        #expect(unused.isEmpty)
        try Self.check("causal_tune", adapter: adapter, image: "image_5x7.npy", first: 0, threads: threads)
    }

    @Test func plainBackbonePyramids() throws {
        // 4 x 4 grid: the stored position embedding as is; ×0.5 gives 2 x 2.
        try Self.check("plain", adapter: nil, image: "image_4x4.npy", first: 0, threads: 2)
        // Other out indices.
        try Self.check("plain_blocks", adapter: nil, image: "image_5x7.npy", first: 1, threads: 1)
    }

    @Test func adapterChangesThePyramid() throws {
        // The adapter's effect is visible: the Rein fixture differs from the plain backbone's maps.
        let backbone = try Self.backbone()
        let (shape, all) = try fixtures.floatArray("pyramid/image_5x7.npy")
        let one = Array(all[0 ..< (shape[1] * shape[2] * shape[3])])
        let plain = try Self.levels(backbone, adapter: nil, images: one, batch: 1, height: 20, width: 28, threads: 1).values
        let rein = try fixtures.floatArray("pyramid/rein_levels.npy").values
        #expect(Closeness(plain, Array(rein[0 ..< plain.count])).worstError > 1e-2)
    }

    @Test func defaultBlocks() {
        #expect(FeaturePyramid.defaultBlocks(depth: 24) == [7, 11, 15, 23])
        #expect(FeaturePyramid.defaultBlocks(depth: 12) == [3, 5, 7, 11])
        #expect(FeaturePyramid.defaultBlocks(depth: 6) == [1, 2, 3, 5])
    }

    @Test func scaleFactorTapsDifferFromSizeTaps() {
        // ×0.5 of 5: two outputs reading source 0.5 and 2.5 (PyTorch's scale_factor), not 0.75 and 3.25 (size=2).
        let byFactor = BilinearAxis(input: 5, scaleFactor: 0.5)
        #expect(byFactor.output == 2 && byFactor.index0 == [0, 2] && byFactor.lambda1 == [0.5, 0.5])
        let bySize = BilinearAxis(input: 5, output: 2)
        #expect(bySize.index0 == [0, 3] && bySize.lambda1 == [0.75, 0.25])
        // Whole multiples agree.
        #expect(BilinearAxis(input: 7, scaleFactor: 4) == BilinearAxis(input: 7, output: 28))
    }

    @Test func rejectsBadShapes() throws {
        func fails(_ make: () throws -> Void, _ fragment: String) {
            do {
                try make()
                Issue.record("expected an error mentioning '\(fragment)'")
            } catch let error as ModelInputError {
                #expect(error.reason.contains(fragment), "\(error.reason)")
            } catch {
                Issue.record("unexpected error \(error)")
            }
        }
        fails({ _ = try FeaturePyramid(blocks: [1, 2, 3], depth: 6, embedDim: 8, gridHeight: 4, gridWidth: 4, threads: 1) }, "takes 4 blocks")
        fails({ _ = try FeaturePyramid(blocks: [1, 2, 2, 5], depth: 6, embedDim: 8, gridHeight: 4, gridWidth: 4, threads: 1) }, "increase strictly")
        fails({ _ = try FeaturePyramid(blocks: [1, 2, 3, 6], depth: 6, embedDim: 8, gridHeight: 4, gridWidth: 4, threads: 1) }, "within 0...5")
        fails({ _ = try FeaturePyramid(blocks: [1, 2, 3, 5], depth: 6, embedDim: 8, gridHeight: 1, gridWidth: 4, threads: 1) }, "too small")
        let backbone = try Self.backbone()
        let a = try backbone.makeActivations(height: 16, width: 16, threads: 1)
        let other = try FeaturePyramid(blocks: [1, 2, 3, 5], depth: 6, embedDim: 8, gridHeight: 4, gridWidth: 5, threads: 1)
        let image = [Float](repeating: 0, count: 3 * 16 * 16)
        fails({ try image.withUnsafeBufferPointer { i in try backbone.featurePyramid(i, a, into: other) } },
              "does not match the activations")
        let (adapter, _) = try Self.adapter("rein_mmengine.pth", Self.rein)
        let pyramid = try backbone.makeFeaturePyramid(for: a)
        let wrongGrid = adapter.makeActivations(gridHeight: 5, gridWidth: 4, threads: 1)
        fails({ try image.withUnsafeBufferPointer { i in
            try backbone.featurePyramid(i, a, adapter: adapter, prepared: adapter.prepare(), wrongGrid, into: pyramid)
        } }, "adapter arena's grid")
    }
}

@Suite struct ReinQueryLinkTests {
    /// The adapter with its token -> query link, read through the adapter's one walk.
    @Test func queriesMatchPyTorch() throws {
        let path = fixtures.path("pyramid/rein_mmengine.pth")
        let checkpoint = try MMSegCheckpoint.read(path)
        var reader = ParameterReader(tensors: checkpoint.adapter, path: path)
        var config = FeaturePyramidTests.rein
        config.queryLink = true
        config.queryDims = 8
        var adapter = try CausalTuneAdapter(config: config, layers: 6, embedDim: 8)
        try adapter.readParameters(SegmentationModel.adapterScope, from: &reader)
        #expect(reader.unused.isEmpty, "\(reader.unused)")
        let queries = try #require(adapter.queries(threads: 2))
        #expect(queries.count == 5 * 8)
        expectClose(queries, try fixtures.floatArray("pyramid/rein_queries.npy").values, "Rein queries")
    }
}
