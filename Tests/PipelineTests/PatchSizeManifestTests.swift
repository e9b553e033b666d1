// PatchSizeManifestTests.swift — the crops a manifest asks for against the patch
// size of the model its run builds, reported by the manifest loader (before
// anything runs) at the field that sets them, naming the patch size and where it
// was read: the named backbone, the weights file, the checkpoint's configuration,
// the backbone a Mask2Former checkpoint embeds. Files are read from their headers.

import CTCore
import Foundation
import ManifestSchema
import Model
import Tensor
import Testing

@Suite struct PatchSizeManifestTests {
    static let trainInfer = #"["read", "train", "infer", "metric"]"#
    static let train = #"["read", "train"]"#
    static let infer = #"["read", "infer", "metric"]"#

    static func manifest(stages: String, model: String, training: String = #"{"crop_size": 32}"#) -> String {
        """
        {"version": 1, "name": "patch", "pipeline": {"version": 1, "stages": \(stages)},
         "datasets": [{"kind": "cityscapes", "root": "data/cityscapes", "role": "train"},
                      {"kind": "cityscapes", "root": "data/cityscapes", "name": "eval"}],
         "model": \(model), "training": \(training)}
        """
    }

    /// DINOv2 weights of patch `patch` as a ctpipe safetensors file (`backbone.` names, configuration metadata).
    static func weights(patch: Int, at path: String) throws {
        let config = DINOv2Config(embedDim: 8, depth: 1, heads: 2, patchSize: patch, registers: 0, gridSize: 2, ffnHidden: 16)
        try SafeTensors.write(DINOv2Weights.ctpipeFile(DINOv2.randomlyInitialised(config: config, seed: 1)), to: path)
    }

    @Test func theNamedBackbonesPatchSizeWhenTrainingFromScratch() throws {
        let fixture = try ManifestFixture()
        // The slide window of a pipeline that trains first: refused now, not after training.
        #expect(try fixture.problems(Self.manifest(stages: Self.trainInfer, model: #"{"backbone": "tiny", "crop": 7, "stride": 7}"#))
            == ["$.model.crop: 7 is not a multiple of the patch size 16 of the backbone tiny; use a crop such as 16"])
        #expect(try fixture.problems(Self.manifest(stages: Self.train, model: #"{"backbone": "tiny"}"#, training: #"{"crop_size": 40}"#))
            == ["$.training.crop_size: 40 is not a multiple of the patch size 16 of the backbone tiny; use a crop such as 32 or 48"])
        // The training crop is also the default slide window: one problem, at the field that sets both.
        #expect(try fixture.problems(Self.manifest(stages: Self.trainInfer, model: #"{"backbone": "tiny"}"#, training: #"{"crop_size": 40}"#))
            == ["$.training.crop_size: 40 is not a multiple of the patch size 16 of the backbone tiny; use a crop such as 32 or 48"])
        // Both fields, each at its own path.
        #expect(try fixture.problems(Self.manifest(stages: Self.trainInfer, model: #"{"backbone": "vits14", "crop": 500, "stride": 300}"#,
                                                   training: #"{"crop_size": 512}"#))
            == ["$.training.crop_size: 512 is not a multiple of the patch size 14 of the backbone vits14; use a crop such as 504 or 518",
                "$.model.crop: 500 is not a multiple of the patch size 14 of the backbone vits14; use a crop such as 490 or 504"])
        // Multiples pass; a pipeline that only infers builds no backbone from the name alone (it needs a file).
        #expect(try fixture.problems(Self.manifest(stages: Self.trainInfer, model: #"{"backbone": "tiny", "crop": 48}"#)) == [])
        #expect(try fixture.problems(Self.manifest(stages: Self.infer, model: #"{"backbone": "tiny", "crop": 7, "stride": 7}"#)) == [])
        // A crop already refused (out of range) is not checked again.
        #expect(try fixture.problems(Self.manifest(stages: Self.trainInfer, model: #"{"backbone": "tiny", "crop": 0}"#))
            == ["$.model.crop: 0 is out of range 1...8192"])
    }

    @Test func theWeightsPatchEmbedding() throws {
        let fixture = try ManifestFixture()
        try Self.weights(patch: 14, at: fixture.folder + "/dinov2.safetensors")
        let path = fixture.folder + "/dinov2.safetensors"
        let origin = "the weights \(path) (tensor 'backbone.patch_embed.proj.weight' [8, 3, 14, 14])"
        #expect(try fixture.problems(Self.manifest(stages: Self.infer, model: #"{"weights": "dinov2.safetensors", "crop": 32, "stride": 16}"#))
            == ["$.model.crop: 32 is not a multiple of the patch size 14 of \(origin); use a crop such as 28 or 42"])
        #expect(try fixture.problems(Self.manifest(stages: Self.trainInfer, model: #"{"weights": "dinov2.safetensors", "crop": 28}"#))
            == ["$.training.crop_size: 32 is not a multiple of the patch size 14 of \(origin); use a crop such as 28 or 42"])
        #expect(try fixture.problems(Self.manifest(stages: Self.trainInfer, model: #"{"weights": "dinov2.safetensors", "crop": 28}"#,
                                                   training: #"{"crop_size": 28}"#)) == [])
        // The weights' patch size wins over the backbone's name (a patch-16 conversion of vitl14 weights).
        try Self.weights(patch: 16, at: fixture.folder + "/converted.safetensors")
        #expect(try fixture.problems(Self.manifest(stages: Self.trainInfer, model: #"{"backbone": "vits14", "weights": "converted.safetensors"}"#,
                                                   training: #"{"crop_size": 512}"#)) == [])
    }

    @Test func theCheckpointsStoredConfiguration() throws {
        let fixture = try ManifestFixture()
        let path = fixture.folder + "/model.safetensors"
        _ = try InferStageTests.tinyCheckpoint(at: path)
        #expect(try fixture.problems(Self.manifest(stages: Self.infer, model: #"{"checkpoint": "model.safetensors", "crop": 40, "stride": 20}"#))
            == ["$.model.crop: 40 is not a multiple of the patch size 16 of the checkpoint \(path) (metadata 'ctpipe.config'); use a crop such as 32 or 48"])
        // Weights next to a checkpoint must match it: the checkpoint's configuration decides.
        try Self.weights(patch: 14, at: fixture.folder + "/dinov2.safetensors")
        #expect(try fixture.problems(Self.manifest(stages: Self.infer, model: #"{"checkpoint": "model.safetensors", "weights": "dinov2.safetensors", "crop": 32}"#))
            == [])
    }

    /// The Mask2Former head: the DINOv2 weights given, else the backbone the MMSegmentation checkpoint embeds.
    @Test func theMask2FormerBackbone() throws {
        let fixture = try ManifestFixture()
        try Self.weights(patch: 14, at: fixture.folder + "/dinov2.safetensors")
        try AtomicFile.write(text: "not read: the weights give the backbone", to: fixture.folder + "/rein.pth")
        let weights = fixture.folder + "/dinov2.safetensors"
        #expect(try fixture.problems(Self.manifest(stages: Self.infer, model: """
        {"head": "mask2former", "adapter": "rein", "checkpoint": "rein.pth", "weights": "dinov2.safetensors", "crop": 512}
        """)) == ["$.model.crop: 512 is not a multiple of the patch size 14 of the weights \(weights) (tensor 'backbone.patch_embed.proj.weight' [8, 3, 14, 14]); use a crop such as 504 or 518"])

        let embedded = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ModelTests/Fixtures/backbone/small_mmseg.pth").path
        let problems = try fixture.problems(Self.manifest(stages: Self.infer, model: """
        {"head": "mask2former", "adapter": "rein", "checkpoint": "\(embedded)", "crop": 30, "stride": 30}
        """))
        #expect(problems == ["$.model.crop: 30 is not a multiple of the patch size 14 of the backbone embedded in the checkpoint \(embedded) (tensor 'backbone.patch_embed.proj.weight' [16, 3, 14, 14]); use a crop such as 28 or 42"])
    }

    /// A source that cannot be read adds nothing: a missing file is reported as such, and the run names what is
    /// wrong with a file it cannot read. Nothing blocks on a FIFO.
    @Test func unreadableSourcesAreNotReportedTwice() throws {
        let fixture = try ManifestFixture()
        #expect(try fixture.problems(Self.manifest(stages: Self.infer, model: #"{"weights": "absent.pth", "crop": 7, "stride": 7}"#))
            .map { $0.prefix(33) } == ["$.model.weights: file not found: "])
        try AtomicFile.write(text: "not weights", to: fixture.folder + "/notes.pth")
        #expect(try fixture.problems(Self.manifest(stages: Self.infer, model: #"{"weights": "notes.pth", "crop": 7, "stride": 7}"#)) == [])
        #expect(try fixture.problems(Self.manifest(stages: Self.infer, model: #"{"checkpoint": "notes.pth", "crop": 7, "stride": 7}"#)) == [])
        // A checkpoint whose configuration states patch size 0: no division by it here.
        _ = try InferStageTests.tinyCheckpoint(at: fixture.folder + "/model.safetensors")
        var file = try SafeTensors.read(fixture.folder + "/model.safetensors")
        file.metadata[DINOv2Weights.configKey] = try #require(file.metadata[DINOv2Weights.configKey])
            .replacingOccurrences(of: #""patch_size":16"#, with: #""patch_size":0"#)
        #expect(file.metadata[DINOv2Weights.configKey]?.contains(#""patch_size":0"#) == true)
        try SafeTensors.write(file, to: fixture.folder + "/zero.safetensors")
        #expect(try fixture.problems(Self.manifest(stages: Self.infer, model: #"{"checkpoint": "zero.safetensors", "crop": 7, "stride": 7}"#)) == [])
        #expect(mkfifo(fixture.folder + "/fifo.safetensors", 0o600) == 0)
        #expect(try fixture.problems(Self.manifest(stages: Self.infer, model: #"{"weights": "fifo.safetensors", "crop": 7, "stride": 7}"#)) == [])
    }

    /// Without file checks (`merge` reloading the manifest of a run) no file is read; the named backbone still counts.
    @Test func withoutFileChecksOnlyTheNameIsUsed() throws {
        let fixture = try ManifestFixture()
        try Self.weights(patch: 14, at: fixture.folder + "/dinov2.safetensors")
        let weights = try fixture.write(Self.manifest(stages: Self.infer, model: #"{"weights": "dinov2.safetensors", "crop": 32}"#))
        #expect(try ManifestLoader.load(weights, checkFiles: false).slideWindow.crop == 32)
        let named = try fixture.write(Self.manifest(stages: Self.trainInfer, model: #"{"backbone": "tiny", "crop": 7, "stride": 7}"#), name: "named.json")
        #expect(throws: ManifestError.self) { try ManifestLoader.load(named, checkFiles: false) }
    }
}
