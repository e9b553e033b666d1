// ShardContext.swift — what one shard does with its samples: each sample goes
// through the per-sample steps of the pipeline's stages in order (infer: the
// evaluation path, or predictions: a prediction file; metric: the image's
// scores; write: its label files, renamed into place and synced together at
// the end); then the shard record is written (durably, last).

import CTCore
import Datasets
import Evaluation
import Foundation
import ImageIO
import Inference
import LabelFiles
import ManifestSchema
import Metrics
import RunFolder

/// One step of an eval sample, added by a per-sample stage (Stages.swift).
enum SampleStep: Sendable {
    /// `infer`: image -> test pipeline -> model -> prediction at the label's size (Evaluation.Evaluator).
    case infer(Segmenter)
    /// `predictions`: the sample's prediction file, checked against its label.
    case predictions(PredictionFolder)
    /// `metric`: the image's own counts (its gallery score), added to its group.
    case metric
    /// `write`: the label files.
    case write(LabelWriter)

    var predicts: Bool {
        switch self {
        case .infer, .predictions: true
        case .metric, .write: false
        }
    }
}

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
    /// The per-sample steps of the pipeline's stages, in order.
    let steps: [SampleStep]
    /// Threads inside one sample (the runner's ThreadPlan).
    let threadsPerSample: Int
    /// The process evaluating, recorded in the shard records of a job of several processes (nil: one process).
    var rank: Int? = nil

    static func group(of sample: Sample, entry: Manifest.DatasetEntry) -> String {
        Scoring.group(of: sample, name: entry.name, perCondition: entry.kind == .acdc && entry.condition == "all")
    }

    /// The image at the label's size is kept for a write step with overlays.
    var keepsImage: Bool {
        steps.contains { if case .write(let writer) = $0 { writer.formats.contains(.overlay) } else { false } }
    }

    var scores: Bool { steps.contains { if case .metric = $0 { true } else { false } } }

    /// What a shard gathers while its samples go through the steps.
    struct Tally {
        var groups: [String: DatasetMetrics] = [:]
        var gallery = ShardGallery()
        /// Label files renamed into place, synced before the record.
        var written: [String] = []
    }

    /// Evaluates one shard with `workspace` (the worker's, kept across its shards; made with threadsPerSample).
    func process(shard: ShardID, entry: Manifest.DatasetEntry, samples: [Sample], workspace: SegmenterWorkspace) -> ShardOutcome {
        let range = shard.range(samples: samples.count)
        let outputs = directory.outputs(entry.name)
        var tally = Tally()
        var ids: [String] = []
        var skipped: [RunProblem] = []
        directory.event("shard_start", ["dataset": .string(entry.name), "shard": .int(shard.index), "samples": .int(range.count)])

        // Two threads or more and the model predicting first: while sample i's later steps (metric,
        // label files, compressed on one thread) and then sample i + 1's label decode run on this
        // thread, sample i + 1's image decodes on a second one (the longest single piece: one zlib
        // stream). Between two samples the longer of the two runs instead of the decode, then the steps.
        let prefetches = threadsPerSample >= 2
        let limits = manifest.execution.decodeLimits
        var ahead: DecodedSample?
        for i in range {
            if stop.isSet {
                directory.event("shard_interrupted", ["dataset": .string(entry.name), "shard": .int(shard.index)])
                return .interrupted
            }
            let sample = samples[i]
            let decoded = ahead
            ahead = nil
            do {
                guard steps.contains(where: \.predicts) else {
                    throw RunProblem(dataset: entry.name, sample: sample.id, file: sample.imagePath, kind: "no_predictor",
                                     message: "the pipeline has no stage that predicts")
                }
                var evaluation: SampleEvaluation?
                /// Runs `list` for this sample, files compressed over `threads`.
                func perform(_ list: ArraySlice<SampleStep>, threads: Int) throws {
                    for step in list {
                        try run(step, sample: sample, entry: entry, evaluation: &evaluation, tally: &tally, outputs: outputs,
                                workspace: workspace, threads: threads)
                    }
                }
                var remaining = steps[...]
                if prefetches, case .infer(let segmenter)? = steps.first {
                    evaluation = try infer(sample, entry: entry, segmenter: segmenter, decoded: decoded, workspace: workspace)
                    remaining = steps.dropFirst()
                    if i + 1 < range.upperBound, !stop.isSet {
                        let next = samples[i + 1], later = remaining
                        let (image, (done, label)) = Parallel.beside({
                            Result { () throws(DatasetProblem) in try next.loadImage(limits: limits) }
                        }) {
                            (Result { try perform(later, threads: 1) },
                             Result { () throws(DatasetProblem) in try next.loadLabel(limits: limits) })
                        }
                        ahead = DecodedSample(image: image, label: label)
                        try done.get()
                        remaining = []
                    }
                }
                try perform(remaining, threads: threadsPerSample)
                ids.append(sample.id)
            } catch let problem as RunProblem {
                if manifest.execution.onError == .fail { return .failed(RunError("\(problem)")) }
                skipped.append(problem)
                if scores {
                    let name = Self.group(of: sample, entry: entry)
                    tally.groups[name, default: DatasetMetrics(name: name)].skipped += 1
                }
                directory.event("sample_skipped", ["dataset": .string(entry.name), "sample": .string(sample.id),
                                                   "file": .string(problem.file), "message": .string(problem.message)])
            } catch {
                return .failed(error)
            }
            progress.advance()
        }

        var record = ShardRecord(configurationHash: manifest.configurationHash, dataset: entry.name, shard: shard.index,
                                 shards: shard.count, ids: ids, skipped: skipped,
                                 metrics: MetricsReport(datasets: tally.groups.keys.sorted().map { tally.groups[$0]! }, partial: true))
        record.rank = rank
        do {
            try AtomicFile.sync(tally.written)
            record.scores = tally.gallery.scores
            record.gallery = try tally.gallery.write(into: directory, dataset: entry.name)
            try directory.write(record, to: RunDirectory.shardRecord(shard))
        } catch {
            return .failed(error)
        }
        directory.event("shard_finish", ["dataset": .string(entry.name), "shard": .int(shard.index),
                                         "samples": .int(ids.count), "skipped": .int(skipped.count)])
        return .completed(record)
    }

    /// One step for one sample. The predicting steps set `evaluation`; the later ones use it.
    /// Throws the sample's `RunProblem` (skipped under `on_error: skip`), or a `RunError` that
    /// stops the run whatever `on_error` says (a path refused by the run folder's containment check).
    /// `threads`: what the write step compresses its files over (the sample's threads, or one while
    /// the next sample decodes beside it).
    func run(_ step: SampleStep, sample: Sample, entry: Manifest.DatasetEntry, evaluation: inout SampleEvaluation?,
             tally: inout Tally, outputs: ContainedFolder, workspace: SegmenterWorkspace, threads: Int) throws {
        switch step {
        case .infer(let segmenter):
            evaluation = try infer(sample, entry: entry, segmenter: segmenter, decoded: nil, workspace: workspace)
        case .predictions(let folder):
            let (prediction, label) = try Scoring.pair(sample, dataset: entry.name, predictions: folder)
            var image: Image8?
            if keepsImage {
                do { image = try sample.loadImage(limits: manifest.execution.decodeLimits) } catch { throw RunProblem(dataset: entry.name, sample: sample.id, error) }
            }
            evaluation = SampleEvaluation(prediction: prediction, label: label, image: image)
        case .metric:
            guard let evaluation else { return }
            let name = Self.group(of: sample, entry: entry)
            do {
                // One image's own counts: its score for the gallery, then added to its group.
                let one = try evaluation.scores(group: name)
                try tally.groups[name, default: DatasetMetrics(name: name)].merge(one)
                tally.gallery.add(SampleScore(id: sample.id, group: name, metrics: one), prediction: evaluation.prediction,
                                  label: evaluation.label) {
                    evaluation.image ?? evaluation.source ?? (try? sample.loadImage(limits: manifest.execution.decodeLimits))
                }
            } catch {
                throw RunProblem(dataset: entry.name, sample: sample.id, file: sample.labelPath, kind: "metric", message: "\(error)")
            }
        case .write(let writer):
            guard let evaluation else { return }
            do {
                tally.written += try writer.write(prediction: evaluation.prediction, image: evaluation.image, id: sample.id,
                                                  into: outputs, threads: threads)
            } catch let refused as ContainmentError {
                throw RunError(refused.description)
            } catch let error as ImageIOError {
                throw RunProblem(dataset: entry.name, sample: sample.id, file: error.path, kind: "write", message: error.reason)
            }
        }
    }

    /// The infer step: the evaluation path at the dataset's test scale, its failures as the sample's problems.
    /// `decoded`: the sample's image and label decoded ahead (or their decode problems); nil: decoded here.
    func infer(_ sample: Sample, entry: Manifest.DatasetEntry, segmenter: Segmenter, decoded: DecodedSample?,
               workspace: SegmenterWorkspace) throws(RunProblem) -> SampleEvaluation {
        let evaluator = Evaluator(segmenter: segmenter, scale: ImageSize(width: entry.scale.width, height: entry.scale.height))
        do throws(EvaluationError) {
            guard let decoded else {
                return try evaluator.evaluate(sample, keepImage: keepsImage, limits: manifest.execution.decodeLimits, workspace: workspace)
            }
            let image: Image8, label: LabelMap
            do throws(DatasetProblem) {
                image = try decoded.image.get()
                label = try decoded.label.get()
            } catch { throw .load(error) }
            return try evaluator.evaluate(image: image, label: label, keepImage: keepsImage, workspace: workspace)
        } catch {
            switch error {
            case .load(let problem): throw RunProblem(dataset: entry.name, sample: sample.id, problem)
            case .resize(let error):
                throw RunProblem(dataset: entry.name, sample: sample.id, file: sample.imagePath, kind: "resize", message: "\(error)")
            case .infer(let error):
                throw RunProblem(dataset: entry.name, sample: sample.id, file: sample.imagePath, kind: "infer", message: error.reason)
            }
        }
    }
}

/// A sample's image and label decoded ahead of its turn, or what stopped each decode.
struct DecodedSample: Sendable {
    let image: Result<Image8, DatasetProblem>
    let label: Result<LabelMap, DatasetProblem>
}
