// Mask2FormerModelTests.swift — the Mask2Former model as a user loads it: an MMSeg
// checkpoint + DINOv2 weights + the adapter kind -> window scores, against the
// whole-model PyTorch replay (Mask2FormerModelGoldenTests' fixture); the ctpipe
// file it converts to; what bad checkpoints are told.

import CTCore
import Foundation
import Model
import Tensor
import TestSupport
import Testing

@Suite struct Mask2FormerModelTests {
    static let folder = Mask2FormerModelGoldenTests.folder

    /// The fixture's sizes that shapes do not record (4 heads, 8 GroupNorm groups, blocks 0-3).
    static func options() throws -> Mask2FormerLoadOptions {
        let s = try Mask2FormerModelGoldenTests.sizes()
        return Mask2FormerLoadOptions(backbone: WeightLoadOptions(heads: s.backbone.heads), heads: s.pixel_decoder.heads,
                                      points: s.pixel_decoder.points, groupNormGroups: s.pixel_decoder.group_norm_groups,
                                      decoderHeads: s.decoder.heads, outIndices: s.backbone.out_indices)
    }

    static func load() throws -> Mask2FormerModel {
        try Mask2FormerModel.load(checkpoint: fixtures.path(folder + "checkpoint.pth"), weights: fixtures.path(folder + "dinov2.pth"),
                                  adapter: .rein, options: try options())
    }

    static func scores(_ model: Mask2FormerModel, _ image: [Float], height: Int, width: Int, threads: Int) throws -> [Float] {
        let workspace = try model.makeWorkspace(height: height, width: width, threads: threads)
        try image.withUnsafeBufferPointer { try model.scores($0, workspace) }
        return Array(workspace.scores)
    }

    @Test(arguments: [1, 2])
    func loadedModelScoresMatchPyTorch(threads: Int) throws {
        let model = try Self.load()
        let sizes = try Mask2FormerModelGoldenTests.sizes()
        #expect(model.classes == sizes.decoder.classes && model.config.decoder.queries == sizes.adapter.tokens)
        for c in sizes.cases {
            let image = try fixtures.floatArray(Self.folder + c.image), expected = try fixtures.floatArray(Self.folder + c.scores)
            let scores = try Self.scores(model, image.values, height: c.height, width: c.width, threads: threads)
            #expect(Mask2FormerModelGoldenTests.relativeL2(scores, expected.values) <= 1e-3)
            expectClose(scores, expected.values, tolerance: 1e-4, "\(c.scores), \(threads) threads")
        }
    }

    @Test func theConvertedFileRebuildsTheSameModel() throws {
        let model = try Self.load()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-m2f-\(UUID()).safetensors").path
        try SafeTensors.write(model.ctpipeFile(), to: path)
        let metadata = try SafeTensors.metadata(path)
        #expect(Mask2FormerModel.describes(configJSON: try #require(metadata[DINOv2Weights.configKey])))
        let loaded = try Mask2FormerModel.load(ctpipe: path)
        #expect(loaded.config == model.config)
        let c = try Mask2FormerModelGoldenTests.sizes().cases[1]
        let image = try fixtures.floatArray(Self.folder + c.image).values
        #expect(try Self.scores(loaded, image, height: c.height, width: c.width, threads: 2)
                == Self.scores(model, image, height: c.height, width: c.width, threads: 2))
        #expect { try SegmentationCheckpoint.load(path) } throws: { "\($0)".contains("a Mask2Former model") }
    }

    @Test func badCheckpointsAreToldWhatIsWrong() throws {
        let checkpoint = fixtures.path(Self.folder + "checkpoint.pth"), weights = fixtures.path(Self.folder + "dinov2.pth")
        // No backbone anywhere.
        #expect { try Mask2FormerModel.load(checkpoint: checkpoint, weights: nil, adapter: .rein, options: try Self.options()) }
            throws: { "\($0)".contains("--weights") }
        // The wrong sampling-point count does not fit the offsets' width.
        var options = try Self.options()
        options.points = 3
        #expect { try Mask2FormerModel.load(checkpoint: checkpoint, weights: weights, adapter: .rein, options: options) }
            throws: { "\($0)".contains("sampling_offsets") }
        // A linear-head checkpoint is not a Mask2Former one.
        #expect { try Mask2FormerModel.load(checkpoint: fixtures.path("pyramid/rein_mmengine.pth"), weights: weights, adapter: .rein) }
            throws: { $0 is WeightError }
    }
}
