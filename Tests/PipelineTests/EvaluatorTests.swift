// EvaluatorTests.swift — the evaluation path (Evaluation.Evaluator) on its own:
// an image's prediction is the test pipeline's resize followed by slide
// inference at the requested size; a sample's prediction takes its label's
// size, and its scores are its own confusion matrix.

import Augment
import CTCore
import Datasets
import Evaluation
import Foundation
import ImageIO
import Inference
import Metrics
import Model
import Testing

@Suite(.serialized) struct EvaluatorTests {
    @Test func imagePredictionIsResizeThenSlideInference() throws {
        let fixture = try ScoringFixture()
        let model = try InferStageTests.tinyCheckpoint(at: fixture.folder + "/model.safetensors")
        let scale = ImageSize(width: 48, height: 24)
        let evaluator = try Evaluator(model: model, window: SlidingWindow(), scale: scale)
        let segmenter = try Segmenter(model: model)
        let workspace = SegmenterWorkspace(threads: 2)
        let image = try ImageFile.readRGB(fixture.folder + "/cityscapes/leftImg8bit/val/lindau/lindau_000003_000007_leftImg8bit.png")
        let resized = Resize.bilinear(image, width: 48, height: 24)

        let atInput = try evaluator.predict(image, at: .input, workspace: workspace)
        let expected = try segmenter.segment(resized, outputHeight: image.height, outputWidth: image.width, workspace: workspace)
        #expect(atInput.labels.pixels == expected.pixels)
        #expect(atInput.resized == scale && atInput.windows == 1)

        let atResized = try evaluator.predict(image, at: .resized, workspace: workspace)
        #expect(atResized.labels.width == 48 && atResized.labels.height == 24)
        #expect(atResized.labels.pixels == (try segmenter.segment(resized, outputHeight: 24, outputWidth: 48, workspace: workspace)).pixels)
    }

    @Test func samplePredictionTakesTheLabelsSizeAndScoresItself() throws {
        let fixture = try ScoringFixture()
        let model = try InferStageTests.tinyCheckpoint(at: fixture.folder + "/model.safetensors")
        let evaluator = try Evaluator(model: model, window: SlidingWindow(), scale: ImageSize(width: 48, height: 24))
        let samples = try CityscapesReader(root: fixture.folder + "/cityscapes", split: "val").list().samples
        let sample = try #require(samples.first)
        let workspace = SegmenterWorkspace(threads: 2)
        let result = try evaluator.evaluate(sample, keepImage: true, workspace: workspace)
        let label = try sample.loadLabel()
        #expect(result.label == label)
        #expect(result.prediction.width == label.width && result.prediction.height == label.height)
        #expect(result.image?.width == label.width && result.image?.height == label.height)
        #expect(try evaluator.evaluate(sample, workspace: workspace).image == nil)

        var direct = DatasetMetrics(name: "city", classCount: model.classes)
        try direct.accumulate(prediction: result.prediction.pixels, label: label.pixels)
        let scores = try result.scores(group: "city", classCount: model.classes)
        #expect(scores.matrix == direct.matrix && scores.images == 1)
    }

    @Test func failuresNameTheirStep() throws {
        let fixture = try ScoringFixture()
        let model = try InferStageTests.tinyCheckpoint(at: fixture.folder + "/model.safetensors")
        let evaluator = try Evaluator(model: model, window: SlidingWindow(), scale: ImageSize(width: 48, height: 24))
        let grey = Image8(width: 8, height: 8, channels: 1, filledWith: 0)
        #expect(throws: EvaluationError.self) { try evaluator.predict(grey, workspace: SegmenterWorkspace(threads: 2)) }
        do {
            _ = try evaluator.predict(grey, workspace: SegmenterWorkspace(threads: 2))
        } catch {
            guard case .resize(let cause) = error else { Issue.record("expected a resize failure, got \(error)"); return }
            #expect(error.description == cause.description)
        }
        let missing = Sample(id: "gone", imagePath: fixture.folder + "/gone.png", labelPath: fixture.folder + "/gone_label.png",
                             dataset: .cityscapes, encoding: .cityscapesLabelIds)
        do {
            _ = try evaluator.evaluate(missing, workspace: SegmenterWorkspace(threads: 2))
            Issue.record("a missing image must fail")
        } catch {
            guard case .load(let problem) = error else { Issue.record("expected a load failure, got \(error)"); return }
            #expect(problem.file.hasSuffix("gone.png"))
        }
    }
}
