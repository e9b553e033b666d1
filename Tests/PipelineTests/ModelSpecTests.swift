// ModelSpecTests.swift — the manifest's `model` section decoded once into typed
// settings: defaults, every field read into the adapter configuration, the
// stated settings, choices checked against the enums' names, and the
// causal-tune adapter's transform with its rules.

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

/// The mask2former head: a checkpoint with its adapter stated to infer; the train stage fine-tunes
/// a checkpoint or trains a new head (docs/mask2former.md, "Training").
@Suite struct Mask2FormerSpecTests {
    static func manifest(model: String, stages: String = #"["read", "infer", "metric"]"#) -> String {
        """
        {"version": 1, "name": "m2f", "pipeline": {"version": 1, "stages": \(stages)},
         "datasets": [{"kind": "cityscapes", "root": "data/cityscapes"}], "model": \(model)}
        """
    }

    @Test func inferringNeedsACheckpointAndItsAdapterStated() throws {
        let fixture = try ManifestFixture()
        let problems = try fixture.problems(Self.manifest(model: #"{"backbone": "vitl14", "head": "mask2former"}"#))
        #expect(problems.contains { $0.hasPrefix("$.model.checkpoint") && $0.contains("MMSegmentation .pth") })
        _ = try fixture.write("", name: "m.pth")
        let withCheckpoint = try fixture.problems(Self.manifest(model: #"{"backbone": "vitl14", "head": "mask2former", "checkpoint": "m.pth"}"#))
        #expect(withCheckpoint.contains { $0.hasPrefix("$.model.adapter") && $0.contains("does not say") })
    }

    @Test func theTrainStageTrainsItButNotTheReleasedAdapter() throws {
        let fixture = try ManifestFixture()
        _ = try fixture.write("", name: "m.pth")
        let stages = #"["read", "train", "infer", "metric"]"#
        let fineTuned = try fixture.problems(Self.manifest(
            model: #"{"backbone": "vitl14", "head": "mask2former", "adapter": "rein", "checkpoint": "m.pth"}"#, stages: stages))
        #expect(!fineTuned.contains { $0.hasPrefix("$.model") }, "\(fineTuned)")
        let scratch = try fixture.problems(Self.manifest(model: #"{"backbone": "tiny", "head": "mask2former", "adapter": "rein"}"#,
                                                         stages: stages))
        #expect(!scratch.contains { $0.hasPrefix("$.model") }, "\(scratch)")
        let released = try fixture.problems(Self.manifest(
            model: #"{"backbone": "vitl14", "head": "mask2former", "adapter": "causal-tune-released", "checkpoint": "m.pth"}"#, stages: stages))
        #expect(released.contains { $0.hasPrefix("$.model.adapter") && $0.contains("inference only") })
    }
}

/// `model.transform`: the causal-tune adapter's frequency transform.
@Suite struct TransformSpecTests {
    static func manifest(_ model: String, stages: String = #"["read", "infer", "metric"]"#, training: String = "{}") -> String {
        """
        {"version": 1, "name": "t", "pipeline": {"version": 1, "stages": \(stages)},
         "datasets": [{"kind": "cityscapes", "root": "data/cityscapes", "role": "train"},
                      {"kind": "cityscapes", "root": "data/cityscapes", "name": "val"}],
         "training": \(training), "model": \(model)}
        """
    }

    /// The problems under $.model and $.training (the datasets' folders do not exist here).
    static func problems(_ fixture: ManifestFixture, _ text: String) throws -> [String] {
        try fixture.problems(text).filter { $0.hasPrefix("$.model") || $0.hasPrefix("$.training") }
    }

    @Test(arguments: FrequencyTransform.allCases)
    func everyTransformIsRead(_ transform: FrequencyTransform) throws {
        let fixture = try ManifestFixture()
        let spec = try #require(try ManifestLoader.load(try fixture.write(Self.manifest(#"{"transform": "\#(transform.rawValue)", "filter": "highcut"}"#)),
                                                        checkFiles: false).model)
        #expect(spec.adapter == AdapterConfig(kind: .causalTune, transform: transform, filter: .highcut))
        #expect(spec.stated == [.transform, .filter])
    }

    @Test func defaultIsTheDCT() throws {
        let fixture = try ManifestFixture()
        let spec = try #require(try ManifestLoader.load(try fixture.write(Self.manifest("{}")), checkFiles: false).model)
        #expect(spec.adapter.transform == .dct && !spec.stated.contains(.transform))
    }

    @Test func badValuesAndOtherAdaptersAreReportedWithTheirPath() throws {
        let fixture = try ManifestFixture()
        let bad = try Self.problems(fixture, Self.manifest(#"{"transform": "wavelet"}"#))
        #expect(bad.contains("$.model.transform: \"wavelet\" is not one of dct, fft, haar"), "\(bad)")
        let typed = try Self.problems(fixture, Self.manifest(#"{"transform": 3}"#))
        #expect(typed.contains { $0.hasPrefix("$.model.transform: expected a string") }, "\(typed)")
        for adapter in ["rein", "none", "causal-tune-released"] {
            let problems = try Self.problems(fixture, Self.manifest(#"{"adapter": "\#(adapter)", "transform": "fft"}"#))
            #expect(problems.contains("$.model.transform: \"fft\" applies to the causal-tune adapter only; adapter \(adapter) has no frequency transform (remove \"transform\")"),
                    "\(problems)")
        }
        // Stated explicitly with causal-tune: fine, dct included.
        #expect(try Self.problems(fixture, Self.manifest(#"{"adapter": "causal-tune", "transform": "dct"}"#)).isEmpty)
        // The released Mask2Former checkpoints' Causal-Tune runs the DCT.
        _ = try fixture.write("", name: "m.pth")
        let m2f = try Self.problems(fixture, Self.manifest(#"{"head": "mask2former", "adapter": "causal-tune", "checkpoint": "m.pth", "transform": "haar"}"#))
        #expect(m2f.contains { $0.hasPrefix("$.model.transform: the mask2former head runs released checkpoints") }, "\(m2f)")
    }

    @Test func haarNeedsPowerOfTwoGrids() throws {
        let fixture = try ManifestFixture()
        // tiny: patch 16. A 384 training crop is 24 x 24 patches; the slide window defaults to it.
        let train = try Self.problems(fixture, Self.manifest(#"{"backbone": "tiny", "transform": "haar"}"#, stages: #"["read", "train", "infer", "metric"]"#,
                                                       training: #"{"crop_size": 384}"#))
        #expect(train.contains { $0.hasPrefix("$.training.crop_size: the haar transform needs a patch grid whose sides are powers of two") && $0.contains("24 x 24 patches") },
                "\(train)")
        // An explicit slide window of 400 px (25 x 25) is reported at model.crop; a training crop of 512 (32 x 32) is fine.
        let slide = try Self.problems(fixture, Self.manifest(#"{"backbone": "tiny", "transform": "haar", "crop": 400}"#,
                                                       stages: #"["read", "train", "infer", "metric"]"#, training: #"{"crop_size": 512}"#))
        #expect(slide.count == 1 && slide[0].hasPrefix("$.model.crop:") && slide[0].contains("25 x 25 patches"), "\(slide)")
        // vitl14 (patch 14): 448 px = 32 x 32 patches passes, 518 px = 37 x 37 does not; 512 is no multiple of 14,
        // so the grid depends on the weights (e.g. converted to patch 16) and is checked when the model is built.
        #expect(try Self.problems(fixture, Self.manifest(#"{"transform": "haar", "crop": 448}"#)).isEmpty)
        #expect(try Self.problems(fixture, Self.manifest(#"{"transform": "haar", "crop": 518}"#)).contains { $0.hasPrefix("$.model.crop:") && $0.contains("37 x 37") })
        #expect(try Self.problems(fixture, Self.manifest(#"{"transform": "haar"}"#)).isEmpty)
        // The other transforms take any grid.
        #expect(try Self.problems(fixture, Self.manifest(#"{"transform": "fft", "crop": 518}"#)).isEmpty)
    }
}
