// Mask2FormerSlideTests.swift — slide inference with the Mask2Former model against
// mmseg's slide_inference replayed in PyTorch (float64): the averaged window scores
// within 1e-3 relative L2, and the labels identical wherever the reference's top-2
// margin is not tiny (scripts/make_mask2former_model_fixtures.py, image 1: 32 x 48,
// crop 32, stride 16 — two overlapping windows).

import CTCore
import Foundation
import ImageIO
import Inference
import Model
import TestSupport
import Testing

@Suite struct Mask2FormerSlideTests {
    static let folder = FixtureFolder(url: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../ModelTests/Fixtures/mask2former_model").standardizedFileURL)

    @Test(arguments: [1, 2])
    func slideScoresAndLabelsMatchTheReference(threads: Int) throws {
        let f = Self.folder
        let model = try Mask2FormerModel.load(
            checkpoint: f.path("checkpoint.pth"), weights: f.path("dinov2.pth"), adapter: .rein,
            options: Mask2FormerLoadOptions(backbone: WeightLoadOptions(heads: 4), heads: 4, points: 4, groupNormGroups: 8,
                                            decoderHeads: 4, outIndices: [0, 1, 2, 3]))
        let segmenter = try Segmenter(network: model, window: SlidingWindow(crop: 32, stride: 16))
        let image = try f.floatArray("image1.npy").values
        let scores = try segmenter.logits(normalised: image, height: 32, width: 48, workspace: SegmenterWorkspace(threads: threads))
        let reference = try f.floatArray("slide1.npy").values
        var difference = 0.0, norm = 0.0
        for (a, b) in zip(scores, reference) {
            difference += Double(a - b) * Double(a - b)
            norm += Double(b) * Double(b)
        }
        #expect((difference / norm).squareRoot() <= 1e-3)
        expectClose(scores, reference, tolerance: 1e-4, "slide scores, \(threads) threads")

        let labels = segmenter.labels(scores, height: 32, width: 48, outputHeight: 32, outputWidth: 48, threads: threads)
        let expected = try f.bytes("slide1_labels.npy").suffix(32 * 48)
        let margin = try f.floatArray("slide1_margin.npy").values
        var compared = 0
        for (i, (label, truth)) in zip(labels.pixels, expected).enumerated() where margin[i] > 1e-4 {
            #expect(label == truth, "pixel \(i): \(label) vs \(truth) (margin \(margin[i]))")
            compared += 1
        }
        #expect(compared > 32 * 48 * 9 / 10, "only \(compared) pixels have a margin")
    }
}
