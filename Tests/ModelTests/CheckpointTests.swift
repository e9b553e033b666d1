// CheckpointTests.swift — ctpipe checkpoints: Python-written files load, Swift
// writes files that load back to the same model, and every malformed file
// fails naming the tensor or field.

import CTCore
import Foundation
@testable import Model
import Tensor
import TestSupport
import Testing

@Suite struct CheckpointTests {
    static func fixture(_ name: String) -> String { fixtures.url("adapter/\(name)").path }

    static func temporary(_ name: String) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-checkpoint-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent(name).path
    }

    static func logits(_ model: SegmentationModel) throws -> [Float] {
        let image = try fixtures.floatArray("adapter/model_input.npy").values
        let arena = try model.makeActivations(height: 28, width: 28, threads: 2)
        try image.withUnsafeBufferPointer { try model.forward($0, arena) }
        return Array(arena.logits)
    }

    @Test func referencedBackboneResolvesNextToTheCheckpoint() throws {
        let model = try SegmentationCheckpoint.load(Self.fixture("ct_lowrank.safetensors"))
        #expect(model.config.backboneWeights == Self.fixture("tiny_backbone.safetensors"))
        #expect(model.config.adapter == AdapterConfig(kind: .causalTune, filter: .released, dl: 0.2, dh: 0.7, tokens: 7, rank: 3))
        #expect(model.adapter?.tokensA?.shape == [4, 7, 3])
    }

    @Test(arguments: [true, false])
    func saveAndLoadRoundTrip(_ embed: Bool) throws {
        let model = try SegmentationCheckpoint.load(Self.fixture("ct_full.safetensors"))
        let path = Self.temporary("model.safetensors")
        try SegmentationCheckpoint.save(model, to: path, embedBackbone: embed,
                                        backboneReference: embed ? nil : Self.fixture("tiny_backbone.safetensors"))
        let parsed = try SafeTensors.read(path)
        #expect(parsed.tensors.keys.contains("backbone.blocks.0.attn.qkv.weight") == embed)
        #expect(parsed.tensors["backbone.reins.learnable_tokens"]?.shape == [4, 6, 16])
        #expect(parsed.tensors["backbone.reins.scale"]?.shape == [])
        #expect(parsed.tensors["decode_head.conv_seg.weight"]?.shape == [5, 64, 1, 1])
        let config = try SegmentationCheckpoint.config(of: parsed, path: path)
        #expect(config.adapter == model.config.adapter && config.head == model.config.head)
        let back = try SegmentationCheckpoint.load(path)
        #expect(try Self.logits(back) == Self.logits(model))
    }

    @Test func freshModelsAreInitialisedAsRein() throws {
        let backbone = try DINOv2Weights.load(Self.fixture("tiny_backbone.safetensors")).model
        let model = try SegmentationModel.initialised(backbone: backbone, adapter: AdapterConfig(tokens: 100, rank: 0), seed: 3)
        let a = try #require(model.adapter)
        let bound = Float((6.0 / Double(3 * 256 + 16)).squareRoot())
        let tokens = try #require(a.tokens)
        #expect(tokens.shape == [4, 100, 16])
        #expect(tokens.storage.allSatisfy { abs($0) <= bound })
        #expect(tokens.storage.map(abs).max()! > 0.9 * bound)
        #expect(a.scale == 1e-3)
        #expect(a.tokenToFeature.weight.storage.allSatisfy { abs($0) <= 0.25 })
        #expect(model.head.config.blocks == [0, 1, 1, 3])
        #expect(model.head.norms.allSatisfy { $0.weight.storage.allSatisfy { $0 == 1 } })
        let same = try SegmentationModel.initialised(backbone: backbone, adapter: AdapterConfig(tokens: 100, rank: 0), seed: 3)
        #expect(same.adapter?.tokens == a.tokens)
        let lowRank = try SegmentationModel.initialised(backbone: backbone, adapter: AdapterConfig(tokens: 10, rank: 4), seed: 3)
        #expect(lowRank.adapter?.tokensA?.shape == [4, 10, 4] && lowRank.adapter?.tokensB?.shape == [4, 4, 16])
    }

    @Test func defaultHeadBlocks() {
        #expect(LinearHeadConfig.defaultBlocks(depth: 12) == [3, 5, 7, 11])
        #expect(LinearHeadConfig.defaultBlocks(depth: 24) == [7, 11, 15, 23])
        #expect(LinearHeadConfig.defaultBlocks(depth: 40) == [12, 19, 25, 39])
    }

    /// Rewrites the fixture with `edit` applied and returns the load error.
    static func loadError(_ edit: (inout SafeTensorsFile) -> Void) throws -> WeightError? {
        var file = try SafeTensors.read(fixture("ct_full.safetensors"))
        edit(&file)
        let path = temporary("edited.safetensors")
        try SafeTensors.write(file, to: path)
        do { _ = try SegmentationCheckpoint.load(path); return nil } catch { return error }
    }

    @Test func malformedCheckpointsNameTheProblem() throws {
        let missing = try Self.loadError { $0.tensors["backbone.reins.mlp_delta_f.bias"] = nil }
        #expect(missing?.tensor == "backbone.reins.mlp_delta_f.bias")
        #expect(missing?.reason.contains("missing") == true)

        let shape = try Self.loadError { $0.tensors["backbone.reins.learnable_tokens"] = Tensor(zeros: [4, 5, 16]) }
        #expect(shape?.tensor == "backbone.reins.learnable_tokens")
        #expect(shape?.reason == "expected shape [4, 6, 16], found [4, 5, 16]")

        let extra = try Self.loadError { $0.tensors["decode_head.norms.4.weight"] = Tensor(zeros: [16]) }
        #expect(extra?.tensor == "decode_head.norms.4.weight")
        #expect(extra?.reason.contains("unexpected") == true)

        let noConfig = try Self.loadError { $0.metadata = [:] }
        #expect(noConfig?.reason.contains("no 'ctpipe.config' metadata") == true)

        let badConfig = try Self.loadError { $0.metadata["ctpipe.config"] = "{\"backbone\": 3}" }
        #expect(badConfig?.reason.contains("not a model configuration") == true)

        let badBlock = try Self.loadError {
            $0.metadata["ctpipe.config"] = $0.metadata["ctpipe.config"]!.replacingOccurrences(of: "[0,1,3,3]", with: "[0,1,3,9]")
                .replacingOccurrences(of: "[0, 1, 3, 3]", with: "[0, 1, 3, 9]")
        }
        #expect(badBlock?.reason.contains("head block 9 does not exist") == true)

        let noBackbone = try Self.loadError { file in
            for name in file.tensors.keys where name.hasPrefix("backbone.") && !name.hasPrefix("backbone.reins.") { file.tensors[name] = nil }
        }
        #expect(noBackbone?.reason.contains("neither embeds backbone tensors nor names a backbone weight file") == true)
    }
}
