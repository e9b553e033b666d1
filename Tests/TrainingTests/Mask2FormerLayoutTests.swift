// Mask2FormerLayoutTests.swift — the trainable layout of a Mask2Former model:
// its AdamW groups against those mmengine's DefaultOptimWrapperConstructor
// gives the released model's tensors under Rein's paramwise_cfg
// (scripts/make_mask2former_decay_fixtures.py), and the one contiguous
// trainable storage a GradientStore mirrors and AdamW updates in place.

import CTCore
import Foundation
import Model
import Tensor
import TestSupport
import Testing
import Training

@Suite struct Mask2FormerLayoutTests {
    /// The whole-model fixture of the model tests (a tiny Rein model, LoRA tokens, with the Mask2Former head).
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../ModelTests/Fixtures/mask2former_model").standardizedFileURL.path

    static func model(lowRank: Bool = true) throws -> Mask2FormerModel {
        let loaded = try Mask2FormerModel.load(checkpoint: fixture + "/checkpoint.pth", weights: fixture + "/dinov2.pth", adapter: .rein,
                                               options: Mask2FormerLoadOptions(backbone: WeightLoadOptions(heads: 4), heads: 4, points: 4,
                                                                               groupNormGroups: 8, decoderHeads: 4, outIndices: [0, 1, 2, 3]))
        if lowRank { return loaded }
        var config = loaded.config
        config.adapter.rank = 0   // Rein's plain tokens (learnable_tokens)
        return try Mask2FormerModel.random(config: config, backbone: loaded.backbone, seed: 3)
    }

    struct Groups: Decodable {
        struct Entry: Decodable { let name: String; let lr_mult: Double; let decay_mult: Double }
        let source: String
        let models: [String: [Entry]]
    }

    static func groups(_ variant: String) throws -> [String: Groups.Entry] {
        let table = try fixtures.decode(Groups.self, from: "mask2former_decay/groups.json")
        let entries = try #require(table.models[variant])
        return Dictionary(uniqueKeysWithValues: entries.map { ($0.name, $0) })
    }

    @Test(arguments: [("rein_lora", true), ("rein", false)])
    func decayGroupsAreRein(variant: String, lowRank: Bool) throws {
        let table = try Self.groups(variant)
        let frozen = try Self.model(lowRank: lowRank)
        for trainsBackbone in [false, true] {
            let model = frozen.training(backbone: trainsBackbone)
            let layout = try ParameterLayout(model)
            let names = Set(layout.specs.map(\.name))
            let expected = Set(table.keys.filter { trainsBackbone || !SegmentationModel.isBackboneParameter($0) })
            // What the released model trains but ctpipe's layout leaves out: tensors that never reach the
            // loss (the final norm, the masked-token embedding), whose missing gradient AdamW skips.
            #expect(expected.subtracting(names) == (trainsBackbone ? ["backbone.norm.weight", "backbone.norm.bias", "backbone.mask_token"] : []))
            #expect(names.isSubset(of: expected), "\(names.subtracting(expected))")
            for spec in layout.specs {
                guard let entry = table[spec.name] else { continue }
                #expect(spec.decay == (entry.decay_mult != 0), "\(spec.name): decay \(spec.decay), mmengine's decay_mult \(entry.decay_mult)")
                #expect(entry.decay_mult == 0 || entry.decay_mult == 1, "\(spec.name)")
                // Rein sets lr_mult 1 everywhere: one learning rate serves every group.
                #expect(entry.lr_mult == 1, "\(spec.name)")
            }
        }
    }

    /// Each parameter of a walk: whether it views `storage`, and where.
    struct Placement: ParameterVisitor {
        let storage: ParameterStorage
        var placed: [(name: String, inStorage: Bool, offset: Int, trainable: Bool)] = []
        mutating func visit(_ parameter: inout Parameter, _ info: ParameterInfo) throws(WeightError) {
            placed.append((info.name, parameter.buffer === storage, parameter.offset, info.trainable))
        }
    }

    @Test(arguments: [false, true])
    func trainableParametersViewOneStorageInLayoutOrder(trainsBackbone: Bool) throws {
        var model = try Self.model().training(backbone: trainsBackbone)
        let layout = try ParameterLayout(model)
        var placement = Placement(storage: model.trainableStorage)
        try model.walkParameters(&placement, .init())
        let trainable = placement.placed.filter(\.trainable)
        #expect(trainable.map(\.name) == layout.specs.map(\.name))
        let frozenInStorage = placement.placed.filter { !$0.trainable && $0.inStorage }.count
        let trainableElsewhere = trainable.filter { !$0.inStorage }.count
        #expect(trainableElsewhere == 0 && frozenInStorage == 0)
        #expect(trainable.map(\.offset) == layout.offsets)
        #expect(model.trainableStorage.count == max(layout.valueCount, 1))
        let names = Set(layout.specs.map(\.name))
        #expect(names.contains("backbone.blocks.0.attn.qkv.weight") == trainsBackbone)
        #expect(names.contains("backbone.reins.merge.weight") && names.contains("decode_head.querys2feat.weight"))
    }

    @Test func adamWUpdatesTheModelInPlace() throws {
        var model = try Self.model()
        let layout = try ParameterLayout(model)
        let grads = try GradientStore(model: model)
        #expect(grads.pointer(model.decoder.levelEmbed) != nil)
        #expect(grads.pointer(model.backbone.clsToken) == nil)   // frozen
        for i in 0 ..< grads.all.count { grads.all[i] = Float(i % 7) - 3 }
        let before = layout.tensors(of: model)
        let queriesBefore = model.prepared.queries
        var adam = AdamW(config: AdamWConfig(learningRate: 1e-2), layout: layout)
        adam.apply(to: model.trainableStorage.values, gradients: grads, learningRate: 1e-2)
        model.parametersChanged()
        let after = layout.tensors(of: model), state = model.stateDict()
        #expect(after != before)
        // The model reads the updated values: its walk sees the storage's values.
        for (spec, tensor) in zip(layout.specs, after) { #expect(state[spec.name]!.storage == tensor.storage, "\(spec.name)") }
        #expect(model.prepared.queries != queriesBefore)
    }
}
