// MMSegCheckpointTests.swift — checkpoints as MMSegmentation / mmengine save them
// (scripts/make_feature_pyramid_fixtures.py writes them with torch.save): the state
// dict next to meta, message_hub, optimizer and param_schedulers full of classes
// Swift never looks up; under `model`; bare; pickle protocol 4; and refusals.

import CTCore
import Foundation
@testable import Model
import Tensor
import TestSupport
import Testing

@Suite struct MMSegCheckpointTests {
    static func path(_ name: String) -> String { fixtures.path("pyramid/\(name)") }

    static let reinNames = ["backbone.reins.learnable_tokens_a", "backbone.reins.learnable_tokens_b", "backbone.reins.merge.bias",
                            "backbone.reins.merge.weight", "backbone.reins.mlp_delta_f.bias", "backbone.reins.mlp_delta_f.weight",
                            "backbone.reins.mlp_token2feat.bias", "backbone.reins.mlp_token2feat.weight", "backbone.reins.scale",
                            "backbone.reins.transform.bias", "backbone.reins.transform.weight"]
    static let headNames = ["decode_head.cls_embed.bias", "decode_head.cls_embed.weight",
                            "decode_head.pixel_decoder.level_encoding.weight", "decode_head.query_embed.weight"]

    @Test func mmengineCheckpointSplitsByPart() throws {
        let c = try MMSegCheckpoint.read(Self.path("rein_mmengine.pth"))
        #expect(c.container == "state_dict")
        #expect(c.adapter.keys.sorted() == Self.reinNames)
        #expect(c.head.keys.sorted() == Self.headNames)
        #expect(c.backbone.isEmpty)
        #expect(c.skipped == ["decode_head.pixel_decoder.num_batches_tracked": "torch.LongStorage"])
        #expect(c.other == ["meta", "message_hub", "optimizer", "param_schedulers"])
        #expect(c.adapter["backbone.reins.learnable_tokens_a"]?.shape == [6, 5, 3])
        #expect(c.adapter["backbone.reins.scale"]?.shape == [])
        #expect(c.adapter["backbone.reins.merge.weight"]?.shape == [8, 24])
        #expect(c.head["decode_head.cls_embed.bias"]?.shape == [3])
        // meta: plain scalars as text; numpy values, classes, containers and the 81-bit seed stay opaque.
        #expect(c.meta == ["mmseg_version": "1.2.2", "epoch": "0", "iter": "40000", "ratio": "0.25", "flag": "true"])
        #expect(c.classes == ["road", "sidewalk", "building"])
    }

    @Test func tensorsEqualTheBareStateDict() throws {
        // The same adapter tensors, written bare (an OrderedDict at the top level).
        let full = try MMSegCheckpoint.read(Self.path("rein_mmengine.pth"))
        let bare = try MMSegCheckpoint.read(Self.path("rein_bare.pth"))
        #expect(bare.container == "" && bare.other.isEmpty && bare.meta.isEmpty && bare.classes == nil && bare.head.isEmpty)
        #expect(bare.adapter.keys.sorted() == Self.reinNames)
        for (name, t) in bare.adapter { #expect(full.adapter[name] == t, "\(name)") }
        // The generic reader sees the same state dict.
        let generic = try TorchCheckpoint.read(Self.path("rein_mmengine.pth"))
        #expect(generic.container == "state_dict" && generic.tensors.count == Self.reinNames.count + Self.headNames.count)
    }

    @Test func modelKeyAndProtocol4() throws {
        let model = try MMSegCheckpoint.read(Self.path("ct_model.pth"))
        #expect(model.container == "model" && model.other == ["meta"] && model.meta == ["note": "model key"])
        #expect(model.adapter["backbone.reins.learnable_tokens"]?.shape == [6, 5, 8])
        #expect(model.head.keys.sorted() == Self.headNames)
        // Protocol 4: frames, memoize, sets, frozensets and keyword-only constructors in meta.
        let p4 = try MMSegCheckpoint.read(Self.path("head_protocol4.pth"))
        #expect(p4.head.keys.sorted() == Self.headNames && p4.adapter.isEmpty)
        #expect(p4.classes == ["road", "sidewalk", "building"] && p4.meta["iter"] == "40000")
    }

    @Test func refusesEmptyAndForeignStateDicts() throws {
        for (name, fragment, tensor) in [("empty_state.pth", "the state dict under 'state_dict' is empty", nil as String?),
                                         ("foreign.pth", "neither under 'backbone.' nor under 'decode_head.'", "encoder.weight")] {
            let path = Self.path(name)
            do {
                _ = try MMSegCheckpoint.read(path)
                Issue.record("\(name) was accepted")
            } catch {
                #expect(error.path == path && error.tensor == tensor)
                #expect(error.reason.contains(fragment), "\(error.description)")
            }
        }
    }

    @Test func backboneLoaderRefusesAnAdapterOnlyCheckpoint() throws {
        // A Rein checkpoint holds no DINOv2 weights: the backbone loader says so instead of misreading it.
        #expect(throws: WeightError.self) { _ = try DINOv2Weights.load(Self.path("rein_mmengine.pth")) }
    }

    @Test func fullWeightsCheckpointCarriesTheBackbone() throws {
        // Rein's generate_full_weights.py adds the DINOv2 under `backbone.`: split apart here,
        // and the backbone loader reads the same weights as from the backbone's own file.
        let path = Self.path("rein_full_weights.pth")
        let c = try MMSegCheckpoint.read(path)
        #expect(c.adapter.keys.sorted() == Self.reinNames && c.head.keys.sorted() == Self.headNames)
        #expect(c.backbone.count == 7 + 6 * 14 && c.backbone["backbone.blocks.5.ls2.gamma"]?.shape == [8])
        let fromCheckpoint = try DINOv2Weights.load(path, options: WeightLoadOptions(heads: 2))
        let fromFile = try DINOv2Weights.load(fixtures.path("pyramid/tiny_dinov2.safetensors"), options: WeightLoadOptions(heads: 2))
        #expect(fromCheckpoint.kind == .mmsegPth)
        #expect(fromCheckpoint.model.config == fromFile.model.config)
        #expect(fromCheckpoint.model.stateDict() == fromFile.model.stateDict())
    }
}
