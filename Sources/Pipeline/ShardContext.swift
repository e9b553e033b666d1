// ShardContext.swift — what one shard does with its samples: load image and
// label, obtain the prediction, accumulate the confusion matrix, write the
// label files (renamed into place, synced together at the end); then write the
// shard record (durably, last).

import CTCore
import Datasets
import Augment
import Foundation
import ImageIO
import Inference
import Metrics

/// How one shard ended.
enum ShardOutcome: Sendable {
    case completed(ShardRecord)
    /// Stopped by a signal; no record written, the shard reruns on resume.
    case interrupted
    case failed(any Error)
}

struct ShardContext: Sendable {
    let manifest: Manifest
    let directory: RunDirectory
    let stop: StopFlag
    let progress: Progress
    /// The infer stage's model (nil: predictions come from a folder).
    var segmenter: Segmenter? = nil
    /// Threads inside one sample (the runner's ThreadPlan).
    var threadsPerSample: Int = 1

    static func group(of sample: Sample, entry: Manifest.DatasetEntry) -> String {
        Scoring.group(of: sample, name: entry.name, perCondition: entry.kind == .acdc && entry.condition == "all")
    }

    func process(shard: ShardID, entry: Manifest.DatasetEntry, samples: [Sample]) -> ShardOutcome {
        let range = shard.range(samples: samples.count)
        // Label files are renamed into place without an fsync each; they are synced together
        // before the shard's record, which is the durable mark that they are complete.
        let writer = LabelWriter(formats: manifest.pipeline.has(.write) ? manifest.outputs.formats : [],
                                 overlayAlpha: manifest.outputs.overlayAlpha, durability: .atomic)
        var written: [String] = []
        let predictions = manifest.predictions.map { PredictionFolder(dir: $0.dir, format: $0.format) }
        let outputs = directory.outputs(entry.name)
        var groups: [String: DatasetMetrics] = [:]
        var ids: [String] = []
        var skipped: [RunProblem] = []
        var gallery = ShardGallery()
        let workspace = SegmenterWorkspace(threads: threadsPerSample)
        directory.event("shard_start", ["dataset": .string(entry.name), "shard": .int(shard.index), "samples": .int(range.count)])

        for i in range {
            if stop.isSet {
                directory.event("shard_interrupted", ["dataset": .string(entry.name), "shard": .int(shard.index)])
                return .interrupted
            }
            let sample = samples[i]
            do {
                let prediction: LabelMap, label: LabelMap, image: Image8?
                if let segmenter {
                    (prediction, label, image) = try infer(sample, entry: entry, segmenter: segmenter, workspace: workspace)
                } else {
                    guard let predictions else {
                        throw RunProblem(dataset: entry.name, sample: sample.id, file: sample.imagePath, kind: "no_predictor",
                                         message: "the pipeline has no stage that predicts")
                    }
                    (prediction, label) = try Scoring.pair(sample, dataset: entry.name, predictions: predictions)
                    image = try overlayImage(sample, entry: entry)
                }
                if manifest.pipeline.has(.metric) {
                    let name = Self.group(of: sample, entry: entry)
                    do {
                        // One image's own counts: its score for the gallery, then added to its group.
                        var one = DatasetMetrics(name: name)
                        try one.accumulate(prediction: prediction.pixels, label: label.pixels)
                        try groups[name, default: DatasetMetrics(name: name)].merge(one)
                        gallery.add(SampleScore(id: sample.id, group: name, metrics: one), prediction: prediction, label: label) {
                            image ?? (try? sample.loadImage())
                        }
                    } catch {
                        throw RunProblem(dataset: entry.name, sample: sample.id, file: sample.labelPath, kind: "metric", message: "\(error)")
                    }
                }
                do {
                    written += try writer.write(prediction: prediction, image: image, id: sample.id, into: outputs)
                } catch {
                    throw RunProblem(dataset: entry.name, sample: sample.id, file: error.path, kind: "write", message: error.reason)
                }
                ids.append(sample.id)
            } catch let problem as RunProblem {
                if manifest.execution.onError == .fail { return .failed(RunError("\(problem)")) }
                skipped.append(problem)
                if manifest.pipeline.has(.metric) { groups[Self.group(of: sample, entry: entry), default: DatasetMetrics(name: Self.group(of: sample, entry: entry))].skipped += 1 }
                directory.event("sample_skipped", ["dataset": .string(entry.name), "sample": .string(sample.id),
                                                   "file": .string(problem.file), "message": .string(problem.message)])
            } catch {
                return .failed(error)
            }
            progress.advance()
        }

        var record = ShardRecord(configurationHash: manifest.configurationHash, dataset: entry.name, shard: shard.index,
                                 shards: shard.count, ids: ids, skipped: skipped,
                                 metrics: MetricsReport(datasets: groups.keys.sorted().map { groups[$0]! }, partial: true))
        do {
            try AtomicFile.sync(written)
            record.scores = gallery.scores
            record.gallery = try gallery.write(into: directory, dataset: entry.name)
            try directory.write(record, to: directory.shardRecord(shard))
        } catch {
            return .failed(error)
        }
        directory.event("shard_finish", ["dataset": .string(entry.name), "shard": .int(shard.index),
                                         "samples": .int(ids.count), "skipped": .int(skipped.count)])
        return .completed(record)
    }

    /// The infer stage for one sample: image -> test-pipeline resize and normalisation (Augment) ->
    /// slide inference -> prediction at the label's size. Returns the prediction, the label and,
    /// when an overlay is written, the image at the label's size.
    func infer(_ sample: Sample, entry: Manifest.DatasetEntry, segmenter: Segmenter,
               workspace: SegmenterWorkspace) throws(RunProblem) -> (LabelMap, LabelMap, Image8?) {
        let image: Image8, label: LabelMap
        do { image = try sample.loadImage() } catch { throw RunProblem(dataset: entry.name, sample: sample.id, error) }
        do { label = try sample.loadLabel() } catch { throw RunProblem(dataset: entry.name, sample: sample.id, error) }
        let pipeline = TestPipeline(scale: ImageSize(width: entry.scale.width, height: entry.scale.height))
        let planes: [Float], size: ImageSize
        do { (planes, size) = try pipeline.apply(image: image) } catch {
            throw RunProblem(dataset: entry.name, sample: sample.id, file: sample.imagePath, kind: "resize", message: "\(error)")
        }
        let prediction: LabelMap
        do {
            prediction = try segmenter.segment(normalised: planes, height: size.height, width: size.width,
                                               outputHeight: label.height, outputWidth: label.width, workspace: workspace)
        } catch {
            throw RunProblem(dataset: entry.name, sample: sample.id, file: sample.imagePath, kind: "infer", message: error.reason)
        }
        guard manifest.pipeline.has(.write) && manifest.outputs.formats.contains(.overlay) else { return (prediction, label, nil) }
        let shown = image.width == label.width && image.height == label.height
            ? image : Resize.bilinear(image, width: label.width, height: label.height)
        return (prediction, label, shown)
    }

    /// The input image, decoded only when an overlay is written.
    func overlayImage(_ sample: Sample, entry: Manifest.DatasetEntry) throws(RunProblem) -> Image8? {
        guard manifest.pipeline.has(.write) && manifest.outputs.formats.contains(.overlay) else { return nil }
        do { return try sample.loadImage() } catch { throw RunProblem(dataset: entry.name, sample: sample.id, error) }
    }
}
