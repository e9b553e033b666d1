// Stages.swift — the pipeline's stages as the runner runs them: one value per
// entry of the pipeline's stage list, in its order. Each stage first prepares
// (before the run folder exists: what can fail early, such as building the
// infer stage's model), then runs; what it produces goes into the `RunState`
// the later stages read. The per-sample stages (infer or predictions, metric,
// write) add their step to the chain every eval sample goes through in its
// shard (ShardContext), in the same order.

import CTCore
import Datasets
import Distributed
import Foundation
import Inference
import LabelFiles
import ManifestSchema
import Model
import RunFolder

/// What a run's stages hand on to the stages after them.
struct RunState {
    /// The eval datasets (the read stage).
    var evalSets: [Runner.Listed] = []
    /// The train datasets, when the pipeline trains (the read stage).
    var trainSets: [Runner.Listed] = []
    /// A train stage comes first and produces the model (set while preparing).
    var trains = false
    /// An infer stage follows: the train stage evaluates every `eval_interval` iterations (set while preparing).
    var infers = false
    /// The trained model (the train stage).
    var trained: (any WindowNetwork)?
    /// The infer stage's model with the slide window, shared read-only by every worker.
    var segmenter: Segmenter?
    /// What happens to each eval sample, in stage order.
    var sampleSteps: [SampleStep] = []
}

/// What stages may use while the run is under way.
struct RunContext {
    let manifest: Manifest
    let directory: RunDirectory
    let stop: StopFlag
    let quiet: Bool
    /// Lists a dataset's samples (Runner.list).
    let list: (Manifest.DatasetEntry) throws -> Runner.Listed
    /// The job's processes (one unless started by mpirun/srun).
    var communicator: Communicator = .single
    /// Threads per training sample (`run --threads`; nil: this process's share of the cores).
    var threads: Int? = nil
}

/// One stage of a pipeline, as the runner runs it.
protocol RunnerStage {
    /// Before the run folder exists, in pipeline order.
    func prepare(_ state: inout RunState, manifest: Manifest) throws
    /// In pipeline order, after every stage has prepared.
    func run(_ state: inout RunState, in context: RunContext) throws
}

extension RunnerStage {
    func prepare(_ state: inout RunState, manifest: Manifest) throws {}
}

extension StageKind {
    /// The stage value the runner runs for this entry of a pipeline's stage list.
    var runnerStage: any RunnerStage {
        switch self {
        case .read: ReadStage()
        case .train: TrainStage()
        case .infer: InferStage()
        case .predictions: PredictionsStage()
        case .metric: MetricStage()
        case .write: WriteStage()
        }
    }
}

/// `read`: synthesizes datasets that are asked for and missing, then lists every dataset the run
/// uses (the train datasets when the pipeline trains, and the eval datasets) before any stage
/// works on them: under `on_error: fail` a listing problem in any of them stops the run here,
/// before training.
struct ReadStage: RunnerStage {
    func run(_ state: inout RunState, in context: RunContext) throws {
        let manifest = context.manifest
        // Rank 0 synthesizes (several processes would write the same files); the others list after it.
        if context.communicator.isRoot {
            for entry in manifest.datasets {
                try Synthesis.ensure(entry, quiet: context.quiet)
            }
        }
        context.communicator.barrier()
        if state.trains {
            for entry in manifest.datasets where entry.role == .train { state.trainSets.append(try context.list(entry)) }
        }
        // Training pairs of different sizes left out by `size_mismatch: skip` (eval ones go to problems.json).
        for item in state.trainSets where !item.skippedPairs.isEmpty {
            for pair in item.skippedPairs {
                context.directory.event("pair_skipped", ["dataset": .string(item.entry.name), "file": .string(pair.file),
                                                         "message": .string(pair.message)])
            }
            if !context.quiet {
                FileHandle.standardError.write(Data("ctpipe: training dataset \(item.entry.name): \(item.skippedPairs.count) image/label pair\(item.skippedPairs.count == 1 ? "" : "s") of different sizes left out (size_mismatch is skip; see events.jsonl)\n".utf8))
            }
        }
        for entry in manifest.datasets where entry.role == .eval {
            state.evalSets.append(try context.list(entry))
        }
        guard manifest.execution.onError == .fail else { return }
        for item in state.trainSets where !item.problems.isEmpty {
            throw RunError("training dataset \(item.entry.name): \(item.problems.count) problem\(item.problems.count == 1 ? "" : "s"):\n"
                + item.problems.prefix(20).map { "  \($0)" }.joined(separator: "\n"))
        }
        let problems = state.evalSets.flatMap(\.problems)
        if !problems.isEmpty {
            for p in problems { context.directory.event("problem", ["file": .string(p.file), "message": .string(p.message)]) }
            throw RunError("\(problems.count) dataset problem\(problems.count == 1 ? "" : "s") (on_error is fail):\n"
                + problems.prefix(20).map { "  \($0)" }.joined(separator: "\n")
                + (problems.count > 20 ? "\n  ..." : ""))
        }
    }
}

/// `train`: trains on the train datasets the read stage listed (TrainingRun.swift); the final model feeds the infer stage.
struct TrainStage: RunnerStage {
    func prepare(_ state: inout RunState, manifest: Manifest) throws { state.trains = true }
    func run(_ state: inout RunState, in context: RunContext) throws {
        state.trained = try TrainingRun(manifest: context.manifest, directory: context.directory, stop: context.stop,
                                        quiet: context.quiet, evaluates: state.infers, communicator: context.communicator,
                                        threads: context.threads)
            .run(trainSets: state.trainSets, evalSets: state.evalSets)
    }
}

/// `infer`: the evaluation path with the manifest's model (built while preparing) or the trained one.
struct InferStage: RunnerStage {
    func prepare(_ state: inout RunState, manifest: Manifest) throws {
        state.infers = true
        guard !state.trains else { return }
        guard let spec = manifest.model else { throw RunError("$.model: required by the pipeline's infer stage") }
        state.segmenter = try ModelBuilder.segmenter(try ModelBuilder.network(spec, seed: manifest.seed), window: manifest.slideWindow)
    }
    func run(_ state: inout RunState, in context: RunContext) throws {
        if let trained = state.trained {
            state.segmenter = try ModelBuilder.segmenter(trained, window: context.manifest.slideWindow)
        }
        guard let segmenter = state.segmenter else { throw RunError("$.model: required by the pipeline's infer stage") }
        state.sampleSteps.append(.infer(segmenter))
    }
}

/// `predictions`: existing prediction files (manifest `predictions`) instead of inferring.
struct PredictionsStage: RunnerStage {
    func run(_ state: inout RunState, in context: RunContext) throws {
        guard let spec = context.manifest.predictions else {
            throw RunError("$.predictions: required by the pipeline's predictions stage")
        }
        state.sampleSteps.append(.predictions(PredictionFolder(dir: spec.dir, format: spec.format, limits: context.manifest.execution.decodeLimits)))
    }
}

/// `metric`: each image's confusion matrix, added to its group (merged into metrics.json at the end).
struct MetricStage: RunnerStage {
    func run(_ state: inout RunState, in context: RunContext) throws { state.sampleSteps.append(.metric) }
}

/// `write`: the label files of `outputs.formats`, renamed into place and synced with the shard's record.
struct WriteStage: RunnerStage {
    func run(_ state: inout RunState, in context: RunContext) throws {
        let outputs = context.manifest.outputs
        state.sampleSteps.append(.write(LabelWriter(formats: outputs.formats, overlayAlpha: outputs.overlayAlpha, durability: .atomic)))
    }
}
