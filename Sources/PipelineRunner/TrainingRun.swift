// TrainingRun.swift — the work of the runner's `train` stage (docs/training.md): the
// manifest's model, trained on its `role: train` datasets with the
// `training` hyper-parameters, checkpointed and resumable.
//
// Per iteration: batch_size x accumulate examples from the prefetcher
// (TrainingData: position -> sample -> augmented crop, the pipeline of
// `training.augment`), forward/backward one
// sample at a time on all cores, one AdamW step at the poly learning rate;
// a line in train_log.jsonl. Every checkpoint_interval iterations (and at the
// end, and when stopped by a signal) a checkpoint in RUN_DIR/checkpoints:
//   iter_NNNNNN.safetensors        the model (ctpipe checkpoint, method.md §6)
//   iter_NNNNNN.state.safetensors  the training state (AdamW moments, step, iteration, seed, data pipeline)
//   latest.json                    which pair is the latest (written last)
// each written atomically; the two most recent pairs are kept. `--resume`
// continues from latest.json (refused when the seed, batch, optimiser or data
// pipeline differ from the state's); the loss curve then matches an uninterrupted
// run bit for bit (same thread count). Every eval_interval iterations (when
// the pipeline infers) the current model is scored on the eval datasets
// through the evaluation path (Evaluation.Evaluator; train_eval.jsonl). At the end: RUN_DIR/model.safetensors (the final
// model, also what the infer stage uses) and loss_curve.png.

import Augment
import CTCore
import Datasets
import Distributed
import Evaluation
import Foundation
import ImageIO
import Inference
import ManifestSchema
import Metrics
import Model
import RunFolder
import RunReports
import Tensor
import Training

struct TrainingRun {
    let manifest: Manifest
    let directory: RunDirectory
    let stop: StopFlag
    let quiet: Bool
    /// Score the model every `eval_interval` iterations (an infer stage follows).
    let evaluates: Bool
    /// The job's processes: each takes its share of every iteration's examples; rank 0 alone writes.
    var communicator: Communicator = .single
    /// Threads per sample (nil: this process's share of the machine's cores).
    var threads: Int? = nil

    // Paths to read; every file is written at a path from `directory.file(_:)` (checked to stay inside the run folder).
    var checkpointFolder: String { directory.path + "/checkpoints" }
    var latestFile: String { checkpointFolder + "/latest.json" }
    /// The crop and augmentation settings as the training state records them (resume refuses another).
    var dataPipeline: String { manifest.training.augment.record(cropSize: manifest.training.cropSize) }

    struct Latest: Codable {
        var iteration: Int
        var model: String
        var state: String
        /// Processes of the job that wrote it (absent: one).
        var ranks: Int?
    }

    /// One sample at a time, every kernel on this process's cores: all of them, or under MPI its
    /// share of the machine's (docs/threading.md); `--threads` overrides.
    var plan: ThreadPlan { .singleSample(threads: threads ?? communicator.cores()) }

    /// Rank 0 writes the logs, events, checkpoints and curves; the other ranks write nothing.
    var writes: Bool { communicator.isRoot }

    /// Trains (or continues training) and returns the final model.
    func run(trainSets: [Runner.Listed], evalSets: [Runner.Listed]) throws -> any WindowNetwork {
        guard let modelSpec = manifest.model else { throw RunError("$.model: required by the pipeline's train stage") }
        if modelSpec.head == .mask2former {
            return try train(Mask2FormerHeadTraining(manifest: manifest, spec: modelSpec), trainSets: trainSets, evalSets: evalSets)
        }
        return try train(LinearHeadTraining(manifest: manifest, spec: modelSpec), trainSets: trainSets, evalSets: evalSets)
    }

    /// The training loop for one head.
    func train<Head: HeadTraining>(_ head: Head, trainSets: [Runner.Listed],
                                   evalSets: [Runner.Listed]) throws -> Head.Sample.Network {
        let spec = manifest.training
        let samples = trainSets.flatMap(\.samples)
        guard !samples.isEmpty else {
            throw RunError("the train datasets (\(trainSets.map(\.entry.name).joined(separator: ", "))) hold no samples")
        }

        // Start: the latest checkpoint of this run folder, or the manifest's model.
        let perIteration = spec.batchSize * spec.accumulate
        let adamConfig = AdamWConfig(learningRate: spec.lr, beta1: spec.betas.0, beta2: spec.betas.1, eps: spec.eps,
                                     weightDecay: spec.weightDecay)
        var model: Head.Sample.Network
        var optimiser: AdamW
        var lossRandom = head.initialLossRandom
        var start = 0
        let ranks = communicator.size
        guard ranks <= perIteration else {
            throw RunError("\(ranks) processes for \(perIteration) samples per iteration (training.batch_size \(spec.batchSize) x accumulate \(spec.accumulate)): each process needs at least one; start at most \(perIteration)")
        }
        if let latest = try directory.read(Latest.self, from: latestFile) {
            guard (latest.ranks ?? 1) == ranks else {
                let before = latest.ranks ?? 1
                throw RunError("resuming: the checkpoint \(latest.model) was written by a job of \(before) process\(before == 1 ? "" : "es"), this one has \(ranks); resume with the same count (\(before == 1 ? "without mpirun" : "mpirun -np \(before)"))")
            }
            do { model = try head.load(checkpointFolder + "/" + latest.model) } catch {
                throw RunError("resuming: \(error)")
            }
            let layout: ParameterLayout
            do { layout = try head.layout(model) } catch { throw RunError("resuming: \(error)") }
            let state: TrainingState
            do { (state, optimiser) = try TrainingState.load(checkpointFolder + "/" + latest.state, layout: layout) } catch {
                throw RunError("resuming: \(error)")
            }
            let differences = Self.differences(state, seed: manifest.seed, training: spec, adamW: adamConfig)
            guard differences.isEmpty else {
                throw RunError("resuming: the training state \(latest.state) was trained with other settings than the manifest's (state vs manifest): \(differences.joined(separator: "; ")); it does not belong to this training")
            }
            // States without the record were written when the configs' pipeline was the only one.
            let trainedWith = state.dataPipeline ?? AugmentSettings().record(cropSize: spec.cropSize)
            guard trainedWith == dataPipeline else {
                throw RunError("resuming: the checkpoint \(latest.state) was trained with another data pipeline (training.crop_size and training.augment): \(trainedWith), the manifest asks for \(dataPipeline); use a new run folder")
            }
            guard state.iteration <= spec.iterations else {
                throw RunError("resuming: the training state \(latest.state) is at iteration \(state.iteration), beyond the manifest's \(spec.iterations); it does not belong to this training")
            }
            start = state.iteration
            if let stream = state.lossRandom { lossRandom = SplitMix64(seed: stream) }
            directory.event("train_resume", ["iteration": .int(start)])
        } else {
            model = try head.build()
            do { optimiser = AdamW(config: adamConfig, layout: try head.layout(model)) } catch { throw RunError("\(error)") }
        }
        let log = TrainLog(path: try directory.file(["train_log.jsonl"]))
        if writes {
            try log.truncate(after: start)
            try TrainLog(path: try directory.file(["train_eval.jsonl"])).truncate(after: start)
        }
        // Every rank has read the checkpoint before rank 0 writes the next one.
        communicator.barrier()
        if start >= spec.iterations {
            if writes { writeCurve(log) }
            return model
        }

        let schedule = LearningRateSchedule(baseRate: spec.lr, iterations: spec.iterations, power: spec.polyPower,
                                            warmupIterations: spec.warmupIterations)
        let trainer: Trainer<Head.Sample>
        do {
            trainer = try head.trainer(model, optimiser: optimiser, schedule: schedule, lossRandom: lossRandom,
                                       threads: plan.threadsPerWorker)
        } catch { throw RunError("$.model / $.training: \(error)") }
        let summary = model.summary
        directory.event("train_start", [
            "iteration": .int(start), "iterations": .int(spec.iterations), "samples": .int(samples.count),
            "adapter": .string(summary.adapter), "backbone": .string(summary.backbone), "head": .string(summary.head),
            "trainable_tensors": .int(trainer.layout.count), "trainable_values": .int(trainer.layout.valueCount),
            "activation_bytes": .int(trainer.sampleTrainer.activationBytes), "threads": .string(plan.description),
            "processes": .int(ranks),
        ])
        if !quiet && writes {
            FileHandle.standardError.write(Data("ctpipe: training \(manifest.name) from iteration \(start) to \(spec.iterations) (\(samples.count) training images, \(trainer.layout.valueCount) trainable values)\n".utf8))
        }

        let data = TrainingData(samples: samples, pipeline: TrainPipeline(cropSize: spec.cropSize, settings: spec.augment),
                                seed: UInt64(manifest.seed), limits: manifest.execution.decodeLimits)
        let share = StreamShare(perIteration: perIteration, rank: communicator.rank, ranks: ranks)
        let exchange = ExchangeClock()
        let prefetcher = TrainingPrefetcher(data: data, share: share, iteration: start, capacity: 2 * share.count)
        defer { prefetcher.stop() }
        var lastReport = Date()
        for t in start ..< spec.iterations {
            let began = Date()
            let result: StepResult
            if ranks == 1 {
                if stop.isSet { try interrupted(trainer, head, at: t, start: start) }
                var batches: [[TrainingExample]] = []
                for _ in 0 ..< spec.accumulate {
                    var batch: [TrainingExample] = []
                    for _ in 0 ..< spec.batchSize { batch.append(try prefetcher.next()) }
                    batches.append(batch)
                }
                do { result = try trainer.step(iteration: t, microBatches: batches) } catch { throw RunError("training iteration \(t + 1): \(error)") }
            } else {
                guard let shared = try sharedStep(trainer, iteration: t, share: share, prefetcher: prefetcher, clock: exchange) else {
                    try interrupted(trainer, head, at: t, start: start)
                }
                result = shared
            }
            guard result.loss.isFinite else {
                directory.event("train_diverged", ["iteration": .int(t + 1)])
                throw RunError("training iteration \(t + 1): the loss is \(result.loss); lower training.lr")
            }
            let seconds = Date().timeIntervalSince(began)
            if writes {
                try log.append(TrainLogEntry(iteration: t + 1, loss: result.loss, learningRate: result.learningRate,
                                             secondsPerIteration: seconds, imagesPerSecond: Double(perIteration) / max(seconds, 1e-9),
                                             parts: Array(zip(trainer.sampleTrainer.lossParts, result.parts))))
            }
            let done = t + 1
            if writes, done % spec.checkpointInterval == 0 || done == spec.iterations {
                try checkpoint(trainer, head, iteration: done)
            }
            if writes, spec.evalInterval > 0, done % spec.evalInterval == 0, done < spec.iterations, evaluates {
                try evaluate(trainer.model, evalSets: evalSets, iteration: done)
            }
            if !quiet, writes, Date().timeIntervalSince(lastReport) >= 10 || done == spec.iterations {
                lastReport = Date()
                FileHandle.standardError.write(Data(String(format: "ctpipe: iteration %d/%d  loss %.4f  lr %.3g  %.2f s/it\n",
                                                           done, spec.iterations, result.loss, result.learningRate, seconds).utf8))
            }
        }
        var finish: [String: JSONValue] = ["iterations": .int(spec.iterations)]
        // Rank 0's time in the exchanges (waiting for the other ranks included), for scaling figures.
        if ranks > 1 { finish["exchange_seconds"] = .double((exchange.seconds * 1000).rounded() / 1000) }
        directory.event("train_finish", finish)
        return trainer.model
    }

    /// Stopped by a signal before iteration `t`: a checkpoint (rank 0, when anything was done), then RunInterrupted.
    func interrupted<Head: HeadTraining>(_ trainer: Trainer<Head.Sample>, _ head: Head, at t: Int, start: Int) throws -> Never {
        if writes, t > start { try checkpoint(trainer, head, iteration: t) }
        directory.event("train_interrupted", ["iteration": .int(t)])
        throw RunInterrupted(runDirectory: directory.path)
    }

    /// Iteration `t` of a job of several processes (docs/training.md, "Several processes"): this rank's
    /// examples (positions r, r + N, ... of the iteration); every rank's stop flag and label counts
    /// gathered; this rank's per-sample losses and gradients computed alone and gathered; then every
    /// rank adds all samples in position order, as one process does (Trainer.combine), and applies the
    /// same AdamW step. Nil: some rank was stopped by a signal (all ranks stop at the same iteration).
    func sharedStep<Sample: SampleTrainer>(_ trainer: Trainer<Sample>, iteration t: Int, share: StreamShare, prefetcher: TrainingPrefetcher,
                    clock: ExchangeClock) throws -> StepResult? {
        let spec = manifest.training
        let ranks = share.ranks, slots = share.slots
        var mine: [TrainingExample] = []
        for _ in 0 ..< share.count { mine.append(try prefetcher.next()) }
        // Header: [stopped, valid pixels of slot 0, 1, ...] per rank.
        var header = [stop.isSet ? 1.0 : 0.0] + Array(repeating: 0.0, count: slots)
        for (j, example) in mine.enumerated() { header[1 + j] = Double(trainer.sampleTrainer.normaliser(of: example)) }
        let headers: [Double]
        do { headers = try clock.time { () throws(DistributedError) in try communicator.allgather(header) } } catch {
            throw RunError("training iteration \(t + 1): \(error)")
        }
        if (0 ..< ranks).contains(where: { headers[$0 * (slots + 1)] != 0 }) { return nil }
        // Position p of the iteration sits on rank p % N, slot p / N.
        func slot(_ p: Int) -> Int { (p % ranks) * (slots + 1) + 1 + p / ranks }
        var valid = Array(repeating: 0, count: spec.accumulate)
        for p in 0 ..< share.perIteration { valid[p / spec.batchSize] += Int(headers[slot(p)]) }

        let values = trainer.layout.valueCount
        // Every rank draws every example's loss seed, in position order, and uses its own.
        let seeds = trainer.sampleSeeds(count: share.perIteration)
        // Per slot: the loss and its parts.
        let width = 1 + trainer.sampleTrainer.lossParts.count
        var gradients = [Float](repeating: 0, count: slots * values)
        var losses = [Double](repeating: 0, count: slots * width)
        for (j, example) in mine.enumerated() {
            let p = share.rank + j * ranks
            let b = p / spec.batchSize
            guard valid[b] > 0 else { continue }
            do {
                let loss = try trainer.sampleGradient(example, scale: Trainer<Sample>.scale(valid: valid[b], microBatches: spec.accumulate),
                                                      seed: seeds[p])
                losses[j * width] = loss.total
                for (k, part) in loss.parts.prefix(width - 1).enumerated() { losses[j * width + 1 + k] = part }
            } catch {
                throw RunError("training iteration \(t + 1): \(error)")
            }
            gradients.withUnsafeMutableBufferPointer {
                _ = UnsafeMutableBufferPointer(rebasing: $0[j * values ..< (j + 1) * values]).update(fromContentsOf: trainer.sampleGradients.all)
            }
        }
        let allGradients: [Float], allLosses: [Double]
        do {
            (allGradients, allLosses) = try clock.time { () throws(DistributedError) in
                (try communicator.allgather(gradients), try communicator.allgather(losses))
            }
        } catch { throw RunError("training iteration \(t + 1): \(error)") }
        do {
            return try allGradients.withUnsafeBufferPointer { all throws(TrainingError) in
                try trainer.combine(iteration: t, validPixels: valid, batchSize: spec.batchSize) { (b, i) in
                    let p = b * spec.batchSize + i
                    let slot = (p % ranks) * slots + p / ranks, at = slot * values
                    let loss = SampleLoss(total: allLosses[slot * width], parts: Array(allLosses[slot * width + 1 ..< (slot + 1) * width]))
                    return (loss, UnsafeBufferPointer(rebasing: all[at ..< at + values]))
                }
            }
        } catch { throw RunError("training iteration \(t + 1): \(error)") }
    }

    /// What a training state's settings have that the manifest's do not: "seed 8 vs 7", ... (empty: they agree).
    static func differences(_ state: TrainingState, seed: Int, training spec: Manifest.TrainingSpec, adamW: AdamWConfig) -> [String] {
        var out: [String] = []
        if state.seed != UInt64(seed) { out.append("seed \(state.seed) vs \(seed)") }
        let perIteration = spec.batchSize * spec.accumulate
        if state.samplesPerIteration != perIteration {
            out.append("samples per iteration \(state.samplesPerIteration) vs \(perIteration) (batch_size \(spec.batchSize) x accumulate \(spec.accumulate))")
        }
        let a = state.adamW
        for (name, stored, wanted) in [("lr", a.learningRate, adamW.learningRate), ("betas[0]", a.beta1, adamW.beta1),
                                       ("betas[1]", a.beta2, adamW.beta2), ("eps", a.eps, adamW.eps),
                                       ("weight_decay", a.weightDecay, adamW.weightDecay)] where stored != wanted {
            out.append("\(name) \(stored) vs \(wanted)")
        }
        return out
    }

    func checkpointName(_ iteration: Int) -> String { String(format: "iter_%06d", iteration) }

    /// Model, state, latest.json (in that order, each atomic); older pairs beyond the last two removed.
    func checkpoint<Head: HeadTraining>(_ trainer: Trainer<Head.Sample>, _ head: Head, iteration: Int) throws {
        let name = checkpointName(iteration)
        let model = trainer.model
        let modelFile = try directory.file(["checkpoints", "\(name).safetensors"])
        let stateFile = try directory.file(["checkpoints", "\(name).state.safetensors"])
        do {
            try head.save(model, to: modelFile)
            try TrainingState.save(TrainingState(iteration: iteration, optimiserStep: trainer.optimiser.step, seed: UInt64(manifest.seed),
                                                 samplesPerIteration: manifest.training.batchSize * manifest.training.accumulate,
                                                 adamW: trainer.optimiser.config, dataPipeline: dataPipeline,
                                                 lossRandom: trainer.sampleTrainer.drawsRandom ? trainer.lossRandom.state : nil),
                                   optimiser: trainer.optimiser, to: stateFile)
        } catch { throw RunError("checkpoint \(name): \(error)") }
        let previous = try directory.read(Latest.self, from: latestFile)
        try directory.write(Latest(iteration: iteration, model: "\(name).safetensors", state: "\(name).state.safetensors",
                                   ranks: communicator.size == 1 ? nil : communicator.size),
                            to: ["checkpoints", "latest.json"])
        if iteration == manifest.training.iterations {
            let finalModelFile = try directory.file(["model.safetensors"])
            do { try head.save(model, to: finalModelFile) } catch { throw RunError("final model: \(error)") }
        }
        // Keep the latest two pairs.
        let keep: Set<String> = [name, previous.map { String($0.model.dropLast(".safetensors".count)) } ?? name]
        if let files = try? FileManager.default.contentsOfDirectory(atPath: checkpointFolder) {
            for file in files where file.hasPrefix("iter_") {
                let stem = String(file.prefix("iter_000000".count))
                if !keep.contains(stem) { try? FileManager.default.removeItem(atPath: checkpointFolder + "/" + file) }
            }
        }
        directory.event("checkpoint", ["iteration": .int(iteration), "model": .string("checkpoints/\(name).safetensors")])
        writeCurve(TrainLog(path: try directory.file(["train_log.jsonl"])))
    }

    /// loss_curve.png from the log (best effort: the log and checkpoints are what count).
    func writeCurve(_ log: TrainLog) {
        let points = log.losses()
        guard !points.isEmpty, let file = try? directory.file(["loss_curve.png"]) else { return }
        try? ImageFile.writePNG(LossCurvePlot.render(points), to: file)
    }

    /// Scores `model` on every eval dataset (sliding windows at the training crop) -> a train_eval.jsonl line.
    func evaluate(_ model: any WindowNetwork, evalSets: [Runner.Listed], iteration: Int) throws {
        let segmenter: Segmenter
        do { segmenter = try Segmenter(network: model, window: SlidingWindow(crop: manifest.slideWindow.crop, stride: manifest.slideWindow.stride)) } catch {
            throw RunError("evaluation at iteration \(iteration): \(error)")
        }
        let workspace = SegmenterWorkspace(threads: plan.threadsPerWorker)
        var groups: [String: DatasetMetrics] = [:]
        for set in evalSets {
            let evaluator = Evaluator(segmenter: segmenter, scale: ImageSize(width: set.entry.scale.width, height: set.entry.scale.height))
            for sample in set.samples {
                let name = ShardContext.group(of: sample, entry: set.entry)
                do {
                    let one = try evaluator.evaluate(sample, sizePolicy: .report, limits: manifest.execution.decodeLimits,
                                                     workspace: workspace)
                        .scores(group: name, classCount: model.classes)
                    try groups[name, default: DatasetMetrics(name: name, classCount: model.classes)].merge(one)
                } catch { throw RunError("evaluation: \(sample.id): \(error)") }
            }
        }
        var miou: [String: JSONValue] = [:]
        var values: [Double?] = []
        for (name, metrics) in groups {
            let m = metrics.metrics.meanIoU
            values.append(m)
            miou[name] = m.map { .double($0 * 100) } ?? .null
        }
        let mean = SegmentationMetrics.mean(values).map { JSONValue.double($0 * 100) } ?? .null
        let line = JSONValue.object(["iteration": .int(iteration), "miou": .object(miou), "mean_miou": mean]).canonicalText() + "\n"
        let path = try directory.file(["train_eval.jsonl"])
        let previous = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        try AtomicFile.write(text: previous + line, to: path)
        directory.event("train_eval", ["iteration": .int(iteration), "mean_miou": mean])
    }
}

/// Seconds spent in a training job's exchanges (the calling thread only).
final class ExchangeClock {
    private(set) var seconds = 0.0

    func time<T>(_ body: () throws(DistributedError) -> T) throws(DistributedError) -> T {
        let began = Date()
        defer { seconds += Date().timeIntervalSince(began) }
        return try body()
    }
}

/// What the training loop needs of one head's model: building, loading and saving it, and its trainer.
protocol HeadTraining {
    associatedtype Sample: SampleTrainer where Sample.Network: WindowNetwork
    /// The manifest's starting model.
    func build() throws -> Sample.Network
    /// A model checkpoint this run wrote.
    func load(_ path: String) throws -> Sample.Network
    func layout(_ model: Sample.Network) throws(TrainingError) -> ParameterLayout
    func trainer(_ model: Sample.Network, optimiser: AdamW, schedule: LearningRateSchedule, lossRandom: SplitMix64,
                 threads: Int) throws(TrainingError) -> Trainer<Sample>
    /// Writes a model checkpoint (atomically).
    func save(_ model: Sample.Network, to path: String) throws
    /// The loss's random stream of a new training (derived from the manifest's seed).
    var initialLossRandom: SplitMix64 { get }
}

extension HeadTraining {
    var initialLossRandom: SplitMix64 { SplitMix64(seed: 0) }
}

/// The linear head: ctpipe checkpoints (SegmentationCheckpoint), cross-entropy.
struct LinearHeadTraining: HeadTraining {
    let manifest: Manifest
    let spec: Manifest.ModelSpec

    func build() throws -> SegmentationModel {
        try ModelBuilder.build(spec, seed: manifest.seed, cropSize: manifest.training.cropSize, allowRandomBackbone: true)
    }
    func load(_ path: String) throws -> SegmentationModel { try SegmentationCheckpoint.load(path) }
    func layout(_ model: SegmentationModel) throws(TrainingError) -> ParameterLayout { try ParameterLayout(model) }
    func trainer(_ model: SegmentationModel, optimiser: AdamW, schedule: LearningRateSchedule, lossRandom: SplitMix64,
                 threads: Int) throws(TrainingError) -> Trainer<SegmentationTrainer> {
        try Trainer(model: model, optimiser: optimiser, schedule: schedule, cropSize: manifest.training.cropSize, threads: threads,
                    activationCheckpointing: manifest.training.activationCheckpointing)
    }
    func save(_ model: SegmentationModel, to path: String) throws {
        let embed = model.config.backboneWeights == nil || model.config.trainable
        try SegmentationCheckpoint.save(model, to: path, embedBackbone: embed, backboneReference: model.config.backboneWeights)
    }
}

/// The Mask2Former head: ctpipe Mask2Former files (backbone embedded), Rein's loss with its own random stream.
struct Mask2FormerHeadTraining: HeadTraining {
    let manifest: Manifest
    let spec: Manifest.ModelSpec

    func build() throws -> Mask2FormerModel {
        try ModelBuilder.mask2former(spec, seed: manifest.seed, cropSize: manifest.training.cropSize, allowRandomBackbone: true)
    }
    func load(_ path: String) throws -> Mask2FormerModel { try Mask2FormerModel.load(ctpipe: path).training(backbone: spec.trainable) }
    func layout(_ model: Mask2FormerModel) throws(TrainingError) -> ParameterLayout { try ParameterLayout(model) }
    func trainer(_ model: Mask2FormerModel, optimiser: AdamW, schedule: LearningRateSchedule, lossRandom: SplitMix64,
                 threads: Int) throws(TrainingError) -> Trainer<Mask2FormerTrainer> {
        try Trainer(model: model, optimiser: optimiser, schedule: schedule, cropSize: manifest.training.cropSize, threads: threads,
                    activationCheckpointing: manifest.training.activationCheckpointing, lossRandom: lossRandom)
    }
    func save(_ model: Mask2FormerModel, to path: String) throws { try SafeTensors.write(model.ctpipeFile(), to: path) }
    /// The points' stream of a new training: a function of the manifest's seed.
    var initialLossRandom: SplitMix64 { SplitMix64(seed: SplitMix64.mix(UInt64(truncatingIfNeeded: manifest.seed) ^ 0x4D32_465F_4C4F_5353)) }
}
