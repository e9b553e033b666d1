// ModelSpecTests.swift — the manifest's `model` section decoded once into typed
// settings: defaults, every field read into the adapter configuration, the
// stated settings, and choices checked against the enums' names.

import Foundation
import ManifestSchema
import Model
import Testing

@Suite struct ModelSpecTests {
    func manifest(_ model: String) -> String {
        """
        {"version": 1, "name": "m", "pipeline": {"version": 1, "stages": ["read", "infer", "metric"]},
         "datasets": [{"kind": "cityscapes", "root": "data/cityscapes"}], "model": \(model)}
        """
    }

    @Test func defaultsAndStatedSettings() throws {
        let fixture = try ManifestFixture()
        let plain = try #require(try ManifestLoader.load(try fixture.write(manifest("{}")), checkFiles: false).model)
        #expect(plain.backbone == .vitl14 && plain.head == .linear && !plain.trainable && plain.interpolation == nil)
        #expect(plain.adapter == AdapterConfig() && plain.stated.isEmpty)

        let given = try #require(try ManifestLoader.load(try fixture.write(manifest("""
        {"backbone": "vits14", "adapter": "causal-tune", "filter": "lowcut", "dl": 0.3, "dh": 2, "tokens": 50.0, "rank": 16,
         "trainable": true, "registers_interpolation": "size", "crop": 448, "stride": 300}
        """)), checkFiles: false).model)
        #expect(given.backbone == .vits14 && given.backboneConfig?.embedDim == 384)
        #expect(given.adapter == AdapterConfig(kind: .causalTune, filter: .lowcut, dl: 0.3, dh: 2, tokens: 50, rank: 16))
        #expect(given.trainable && given.interpolation == .size && given.crop == 448 && given.stride == 300)
        #expect(given.stated == [.backbone, .adapter, .filter, .dl, .dh, .tokens, .rank])
    }

    @Test func theReleasedCausalTuneReplayIsInferenceOnly() throws {
        let fixture = try ManifestFixture()
        let infer = try ManifestLoader.load(try fixture.write(manifest(#"{"adapter": "causal-tune-released", "rank": 16}"#)), checkFiles: false)
        #expect(infer.model?.adapter == AdapterConfig(kind: .causalTuneReleased, rank: 16))
        let problems = try fixture.problems("""
        {"version": 1, "name": "m", "pipeline": {"version": 1, "stages": ["read", "train"]},
         "datasets": [{"kind": "cityscapes", "root": "data/cityscapes", "role": "train"}], "model": {"adapter": "causal-tune-released"}}
        """)
        #expect(problems.contains { $0.hasPrefix("$.model.adapter: causal-tune-released replays the released code for inference only") },
                "\(problems)")
    }

    @Test func choicesListTheEnumsNames() throws {
        let fixture = try ManifestFixture()
        let problems = try fixture.problems(manifest("""
        {"backbone": "vitx", "adapter": "lora", "filter": "notch", "head": "mlp", "registers_interpolation": "nearest"}
        """))
        let backbones = Manifest.ModelSpec.Backbone.allCases.map(\.rawValue).joined(separator: ", ")
        let adapters = AdapterKind.allCases.map(\.rawValue).joined(separator: ", ")
        let filters = FrequencyFilter.allCases.map(\.rawValue).joined(separator: ", ")
        let rules = PositionInterpolation.allCases.map(\.rawValue).joined(separator: ", ")
        #expect(problems.contains("$.model.backbone: \"vitx\" is not one of \(backbones)"))
        #expect(problems.contains("$.model.adapter: \"lora\" is not one of \(adapters)"))
        #expect(problems.contains("$.model.filter: \"notch\" is not one of \(filters)"))
        #expect(problems.contains("$.model.head: \"mlp\" is not supported (linear, mask2former)"))
        #expect(problems.contains("$.model.registers_interpolation: \"nearest\" is not one of \(rules)"))
        #expect(backbones == "vits14, vitb14, vitl14, vitg14, tiny" && adapters == "causal-tune, rein, causal-tune-released, none")
    }
}

/// The mask2former head: a released checkpoint with its adapter stated; never trained.
@Suite struct Mask2FormerSpecTests {
    static func manifest(model: String, stages: String = #"["read", "infer", "metric"]"#) -> String {
        """
        {"version": 1, "name": "m2f", "pipeline": {"version": 1, "stages": \(stages)},
         "datasets": [{"kind": "cityscapes", "root": "data/cityscapes"}], "model": \(model)}
        """
    }

    @Test func needsACheckpointAndAStatedAdapter() throws {
        let problems = try ManifestFixture().problems(Self.manifest(model: #"{"backbone": "vitl14", "head": "mask2former"}"#))
        #expect(problems.contains { $0.hasPrefix("$.model.checkpoint") && $0.contains("MMSegmentation .pth") })
        #expect(problems.contains { $0.hasPrefix("$.model.adapter") && $0.contains("does not say") })
    }

    @Test func isNotTrained() throws {
        let fixture = try ManifestFixture()
        _ = try fixture.write("", name: "m.pth")
        let problems = try fixture.problems(Self.manifest(
            model: #"{"backbone": "vitl14", "head": "mask2former", "adapter": "rein", "checkpoint": "m.pth"}"#,
            stages: #"["read", "train", "infer", "metric"]"#))
        #expect(problems.contains { $0.hasPrefix("$.model.head") && $0.contains("inference") })
    }
}
