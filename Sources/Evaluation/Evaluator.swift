// Evaluator.swift — the one evaluation path of ctpipe: an image -> the test
// pipeline (keep-ratio resize, normalisation; Augment) -> slide inference with
// the model (Inference.Segmenter) -> trainId prediction at a requested size;
// for a dataset sample also its label and the image's scores (Metrics).
//
// The runner's infer stage, evaluation during training, `ctpipe infer` and the
// ctbench inference benchmarks all call it. An `Evaluator` is an immutable
// Sendable value shared by all workers; each worker passes its own
// `SegmenterWorkspace`.

import Augment
import CTCore
import Datasets
import ImageIO
import Inference
import Metrics
import Model

/// The label size a prediction is made at.
public enum PredictionSize: Sendable, Equatable {
    /// The input image's size (a sample's label has it).
    case input
    /// The size the test pipeline resized the image to.
    case resized
    /// A given size (a sample's label size).
    case size(ImageSize)
}

/// The prediction of one image.
public struct ImagePrediction: Sendable {
    /// trainIds, 255 where nothing is predicted.
    public var labels: LabelMap
    /// The image's size after the test pipeline's resize (the size the windows cover).
    public var resized: ImageSize
    /// Sliding windows run over the resized image.
    public var windows: Int
    /// The averaged window scores (K, H, W) at the resized size, when asked for
    /// (the linear head's logits; the Mask2Former head's class-weighted mask probabilities).
    public var scores: [Float]?
}

/// A dataset sample evaluated: prediction, label, scores.
public struct SampleEvaluation: Sendable {
    public var prediction: LabelMap
    /// The sample's trainId label (the prediction has its size).
    public var label: LabelMap
    /// The input image at the label's size, when asked for (overlays).
    public var image: Image8?
    /// The input image as decoded, when the evaluation decoded it (gallery thumbnails: no second decode).
    public var source: Image8?

    public init(prediction: LabelMap, label: LabelMap, image: Image8? = nil, source: Image8? = nil) {
        self.prediction = prediction
        self.label = label
        self.image = image
        self.source = source
    }

    /// This image's own confusion matrix, counted under `group`.
    public func scores(group: String, classCount: Int = CityscapesClasses.names.count) throws(MetricsError) -> DatasetMetrics {
        var one = DatasetMetrics(name: group, classCount: classCount)
        try one.accumulate(prediction: prediction.pixels, label: label.pixels)
        return one
    }
}

public struct Evaluator: Sendable {
    public let segmenter: Segmenter
    public let pipeline: TestPipeline

    /// The evaluation path of `model`: slide windows `window`, test-pipeline keep-ratio resize to `scale`.
    public init(model: SegmentationModel, window: SlidingWindow, scale: ImageSize) throws(InferenceError) {
        self.init(segmenter: try Segmenter(model: model, window: window), scale: scale)
    }

    public init(segmenter: Segmenter, scale: ImageSize) {
        self.segmenter = segmenter
        pipeline = TestPipeline(scale: scale)
    }

    public var network: any WindowNetwork { segmenter.network }
    public var window: SlidingWindow { segmenter.window }

    /// An RGB image -> test pipeline -> slide inference -> trainIds at `size`.
    public func predict(_ image: Image8, at size: PredictionSize = .input, keepScores: Bool = false,
                        workspace: SegmenterWorkspace) throws(EvaluationError) -> ImagePrediction {
        let planes: [Float], resized: ImageSize
        do { (planes, resized) = try pipeline.apply(image: image, threads: workspace.threads) } catch { throw .resize(error) }
        let output: ImageSize
        switch size {
        case .input: output = ImageSize(width: image.width, height: image.height)
        case .resized: output = resized
        case .size(let given): output = given
        }
        do {
            let windows = segmenter.window.windows(height: resized.height, width: resized.width).count
            guard keepScores else {
                let labels = try segmenter.segment(normalised: planes, height: resized.height, width: resized.width,
                                                   outputHeight: output.height, outputWidth: output.width, workspace: workspace)
                return ImagePrediction(labels: labels, resized: resized, windows: windows)
            }
            let scores = try segmenter.logits(normalised: planes, height: resized.height, width: resized.width, workspace: workspace)
            let labels = segmenter.labels(scores, height: resized.height, width: resized.width, outputHeight: output.height,
                                          outputWidth: output.width, threads: workspace.threads)
            return ImagePrediction(labels: labels, resized: resized, windows: windows, scores: scores)
        } catch { throw .infer(error) }
    }

    /// A sample: image and label read, the prediction made at the label's size.
    /// `sizePolicy` nil: image and label sizes are not compared (the prediction takes the label's size);
    /// `.report`: a size mismatch is a `.load` problem. `keepImage`: the image at the label's size is returned too.
    /// `limits`: a sample whose image or label header declares more pixels is a `.load` problem, refused before decoding.
    public func evaluate(_ sample: Sample, sizePolicy: SizeMismatchPolicy? = nil, keepImage: Bool = false,
                         limits: DecodeLimits = .default,
                         workspace: SegmenterWorkspace) throws(EvaluationError) -> SampleEvaluation {
        let image: Image8, label: LabelMap
        do {
            // Two threads or more: the image and the label decode at the same time.
            let concurrently = workspace.threads >= 2
            if let sizePolicy {
                (image, label) = try sample.load(sizePolicy: sizePolicy, limits: limits, concurrently: concurrently)
            } else {
                (image, label) = try sample.loadBoth(limits: limits, concurrently: concurrently)
            }
        } catch { throw .load(error) }
        return try evaluate(image: image, label: label, keepImage: keepImage, workspace: workspace)
    }

    /// A sample already decoded (a runner decodes the next sample while the last one's files are
    /// written): the prediction at the label's size, and with `keepImage` the image at that size.
    public func evaluate(image: Image8, label: LabelMap, keepImage: Bool = false,
                         workspace: SegmenterWorkspace) throws(EvaluationError) -> SampleEvaluation {
        let prediction = try predict(image, at: .size(ImageSize(width: label.width, height: label.height)), workspace: workspace)
        var shown: Image8?
        if keepImage {
            shown = image.width == label.width && image.height == label.height
                ? image : Resize.bilinear(image, width: label.width, height: label.height)
        }
        return SampleEvaluation(prediction: prediction.labels, label: label, image: shown, source: image)
    }
}
