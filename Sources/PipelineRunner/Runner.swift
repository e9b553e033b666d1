// Runner.swift — runs a validated manifest: runs the pipeline's stages in
// order (Stages.swift: read lists every dataset's samples, train trains, the
// per-sample stages set up each sample's steps), cuts each eval list into
// shards, runs the shards on Dispatch workers, writes each shard's outputs and
// then its record (the completion mark), and merges the records into
// metrics.json / metrics.csv.
//
// Determinism: a shard's result depends only on its samples; records are
// merged in (dataset, shard) order with integer counts, so metrics are the same
// for any number of workers or shards, and a resumed run ends with the same
// results as an uninterrupted one.
//
// Several processes (mpirun/srun): after the stages (training included) every
// rank holds the same model; rank r evaluates the pending shards r, r + N, ...
// (ShardAssignment) into rank 0's run folder, and once all have finished rank 0
// merges and reports alone (docs/training.md, "Several processes (MPI)").

import CTCore
import Datasets
import Distributed
import Foundation
import ImageIO
import Inference
import ManifestSchema
import Metrics
import Model
import RunFolder
import Tensor

/// Command-line choices that are not part of the manifest.
public struct RunOptions: Sendable {
    /// Continue the latest run folder of this manifest (same configuration hash).
    public var resume = false
    /// Run exactly one shard of each dataset (job arrays across machines).
    public var shard: ShardSelection?
    /// Use this run folder instead of a new timestamped one.
    public var runDirectory: String?
    /// Overrides `execution.workers`.
    public var workers: Int?
    /// No progress output.
    public var quiet = false
    /// History, regression check and report at the end (RunCompletion.swift).
    public var completion = CompletionOptions()
    /// The job's processes: one, or the ranks of mpirun/srun (docs/training.md, "Several processes").
    public var communicator: Communicator = .single
    /// Threads per sample (nil: this process's share of the machine's cores).
    public var threads: Int?
    public init() {}
}

/// What a finished `run` reports.
public struct RunSummary: Sendable {
    public var runDirectory: String
    public var shardsRun: Int
    public var shardsSkipped: Int
    /// Merged metrics, when every shard of every evaluated dataset is complete.
    public var report: MetricsReport?
    public var problems: [RunProblem]
    /// History record, regression check and report of a complete run (not of a single `--shard`; `ctpipe merge` does those).
    public var completion: RunCompletion? = nil
    /// A rank other than 0 of a job of several processes: rank 0 reports.
    public var follower = false
}

public struct Runner: Sendable {
    public let manifest: Manifest
    public let options: RunOptions
    public let stop: StopFlag

    public init(manifest: Manifest, options: RunOptions = RunOptions(), stop: StopFlag = StopFlag()) {
        self.manifest = manifest
        self.options = options
        self.stop = stop
    }

    /// One dataset, listed.
    struct Listed: Sendable {
        var entry: Manifest.DatasetEntry
        var samples: [Sample]
        /// The listing's problems (they stop the run under `on_error: fail`).
        var problems: [RunProblem]
        /// Pairs whose image and label differ in size, left out by `size_mismatch: skip`: recorded
        /// with the problems, but the manifest chose to skip them, so they stop nothing.
        var skippedPairs: [RunProblem] = []

        /// Everything the listing reports (problems.json).
        var recorded: [RunProblem] { problems + skippedPairs }
    }

    /// Runs the pipeline's stages in order (Stages.swift), then every eval sample of every
    /// shard through the per-sample steps they added, then merges the shard records.
    public func run() throws -> RunSummary {
        let stages = manifest.pipeline.stages.map(\.runnerStage)
        var state = RunState()
        // Before the run folder exists: what can fail early (the infer stage's model, built once and
        // shared read-only by every worker; after training, when the pipeline trains).
        for stage in stages { try stage.prepare(&state, manifest: manifest) }
        let started = Date()
        let communicator = options.communicator
        // A job of several processes: rank 0 finds or makes the run folder and tells the others, which
        // write nothing into it (the train stage's share of every iteration is what they do).
        let directory: RunDirectory
        if communicator.isRoot {
            directory = try runDirectory()
            _ = try? communicator.broadcast(directory.path)
        } else {
            directory = RunDirectory(following: try communicator.broadcast(""))
        }
        // One process per run folder (shards of a job array share it), held until the run ends.
        let lock = communicator.isRoot ? try RunFolderLock(folder: directory.path, mode: options.shard == nil ? .exclusive : .shared) : nil
        defer { withExtendedLifetime(lock) {} }
        if options.shard == nil, communicator.isRoot {
            let leftovers = RunFolderLock.removeLeftovers(in: directory.path)
            if !leftovers.isEmpty { directory.event("leftovers_removed", ["files": .array(leftovers.map(JSONValue.string))]) }
        }
        try directory.writeManifest(manifest)
        try directory.write(EnvironmentRecord.current(workers: workers), to: ["environment.json"])
        directory.event("run_start", ["resume": .bool(options.resume), "workers": .int(workers)])

        let context = RunContext(manifest: manifest, directory: directory, stop: stop, quiet: options.quiet || !communicator.isRoot,
                                 list: list, communicator: communicator, threads: options.threads)
        for stage in stages { try stage.run(&state, in: context) }

        // Listing problems under on_error: fail stopped the read stage already; under skip they are recorded.
        let listed = state.evalSets
        let listingProblems = listed.flatMap(\.recorded)

        // Jobs: (dataset, shard) pairs, skipping completed ones on resume. In a job of several processes
        // rank 0 decides which remain and tells the others, so every rank works from the same list.
        let shardCount = options.shard?.count ?? manifest.execution.shards
        var candidates: [(Int, ShardID)] = []
        for (d, item) in listed.enumerated() {
            for k in options.shard.map({ [$0.index] }) ?? Array(0 ..< shardCount) {
                candidates.append((d, ShardID(dataset: item.entry.name, index: k, count: shardCount)))
            }
        }
        var pending: [UInt8] = []
        if communicator.isRoot {
            pending = candidates.map { job in
                (try? directory.read(ShardRecord.self, from: directory.shardRecord(job.1)))??.configurationHash == manifest.configurationHash ? 0 : 1
            }
        }
        pending = try communicator.broadcast(pending)
        guard pending.count == candidates.count else {
            throw RunError("rank \(communicator.rank): rank 0 lists \(pending.count) shards, this process \(candidates.count); every process must see the same datasets")
        }
        let jobs = zip(candidates, pending).filter { $0.1 != 0 }.map(\.0)
        let skippedShards = candidates.count - jobs.count
        // Several processes: rank r evaluates jobs r, r + N, r + 2N, ... of the list (ShardAssignment).
        let assignment = ShardAssignment(jobs: jobs.count, ranks: communicator.size)
        let mine = assignment.jobs(of: communicator.rank).map { jobs[$0] }
        if communicator.size > 1 {
            directory.event("eval_split", ["processes": .int(communicator.size),
                                           "shards": .array((0 ..< communicator.size).map { r in
                                               .array(assignment.jobs(of: r).map { .string(Self.name(jobs[$0].1)) })
                                           })])
        }
        let total = mine.reduce(0) { $0 + $1.1.range(samples: listed[$1.0].samples.count).count }
        let progress = Progress(label: manifest.name, total: total, quiet: options.quiet || !communicator.isRoot)
        var plan = ThreadPlan(workers: 1, cores: 1)
        if let segmenter = state.segmenter {
            // docs/threading.md: concurrent samples x threads per sample <= cores.
            // One shard at a time: all cores inside each sample; several: one thread each. The plan is
            // made for the whole list of jobs, as one process would make it, so the threads per sample
            // (which decide the GEMMs' rounding) do not depend on how the jobs are split over processes;
            // each rank runs at most plan.workers of its own jobs at once.
            let lanes = max(1, min(workers, jobs.count))
            plan = ThreadPlan(workers: lanes, cores: max(lanes, options.threads ?? communicator.cores()))
            let c = segmenter.network.summary
            directory.event("model", ["adapter": .string(c.adapter), "backbone": .string(c.backbone), "head": .string(c.head),
                                      "classes": .int(c.classes), "threads": .string(plan.description),
                                      "crop": .int(segmenter.window.crop), "stride": .int(segmenter.window.stride)])
        }
        // The other ranks write their shards' results (label files, records) into rank 0's folder, but no events.
        let shards = ShardContext(manifest: manifest, directory: communicator.isRoot ? directory : directory.evaluationShare(),
                                  stop: stop, progress: progress, steps: state.sampleSteps, threadsPerSample: plan.threadsPerWorker,
                                  rank: communicator.size > 1 ? communicator.rank : nil)
        let snapshot = listed
        // One workspace per worker for all its shards: the model arenas and score buffers are made once.
        let threadsPerSample = plan.threadsPerWorker
        let outcomes = ShardPool.run(mine, workers: plan.workers, lane: { SegmenterWorkspace(threads: threadsPerSample) }) { job, workspace in
            shards.process(shard: job.1, entry: snapshot[job.0].entry, samples: snapshot[job.0].samples, workspace: workspace)
        }
        progress.finish()

        var problems = listingProblems
        for outcome in outcomes {
            switch outcome {
            case .completed(let record): problems += record.skipped
            case .interrupted: break
            case .failed(let error):
                // Several processes: the error ends every rank (the caller's MPI_Abort).
                directory.event("run_failed", ["error": .string("\(error)")])
                throw error
            }
        }
        // Every rank has finished its shards (or was stopped) once this returns: rank 0 may merge.
        let stopped = outcomes.contains(where: { if case .interrupted = $0 { true } else { false } })
        let anyStopped = try communicator.allgather([stopped ? 1.0 : 0.0]).contains { $0 != 0 }
        if anyStopped {
            directory.event("run_interrupted")
            throw RunInterrupted(runDirectory: directory.path)
        }
        if !communicator.isRoot {
            // Rank 0 merges and reports; its exit status is the job's (ctpipe run broadcasts it).
            return RunSummary(runDirectory: directory.path, shardsRun: mine.count, shardsSkipped: skippedShards, report: nil,
                              problems: [], follower: true)
        }
        let merged = try merge(directory: directory, listed: listed, shardCount: shardCount, listingProblems: listingProblems)
        directory.event("run_finish", ["complete": .bool(merged != nil)])
        // Several processes: the skipped samples of every rank's shards, as problems.json holds them.
        if communicator.size > 1, let merged { problems = merged.problems }
        var summary = RunSummary(runDirectory: directory.path, shardsRun: jobs.count, shardsSkipped: skippedShards,
                                 report: merged?.report, problems: problems)
        if let merged, options.shard == nil {
            summary.completion = RunFinisher.finish(manifest: manifest, directory: directory, merged: merged, started: started,
                                                    options: options.completion)
        }
        return summary
    }

    /// `<dataset>/<k>-of-<N>`, a shard as the eval_split event names it.
    static func name(_ shard: ShardID) -> String { "\(shard.dataset)/\(shard.index)-of-\(shard.count)" }

    /// Worker count: CLI, then manifest, then one per core.
    var workers: Int { options.workers ?? manifest.execution.workers ?? ProcessInfo.processInfo.activeProcessorCount }

    func runDirectory() throws -> RunDirectory {
        let root = manifest.outputs.dir
        if let path = options.runDirectory {
            if options.resume || options.shard != nil, let hash = RunDirectory.configurationHash(of: path),
               hash != manifest.configurationHash {
                throw RunError("\(path) holds a run of a different configuration (\(hash.prefix(12)) vs \(manifest.configurationHash.prefix(12))); use a new --run-dir")
            }
            return try RunDirectory(path: path)
        }
        if options.shard != nil {
            // Every machine of a job array must find the same folder.
            return try RunDirectory(path: "\(root)/\(manifest.name)/shards-\(manifest.configurationHash.prefix(12))")
        }
        if options.resume {
            guard let latest = RunDirectory.latest(root: root, name: manifest.name, configurationHash: manifest.configurationHash) else {
                throw RunError("nothing to resume: no run folder of \(manifest.name) with this configuration under \(root)/\(manifest.name)")
            }
            return latest
        }
        return try RunDirectory.create(root: root, name: manifest.name)
    }

    func list(_ entry: Manifest.DatasetEntry) throws -> Listed {
        let condition = entry.condition.flatMap { $0 == "all" ? nil : ACDCCondition(rawValue: $0) }
        let reader: any DatasetReader
        do {
            reader = try DatasetReaders.make(kind: entry.kind, root: entry.root, split: entry.split,
                                             condition: condition, layout: entry.layout)
        } catch {
            throw RunError("dataset \(entry.name): \(error)")
        }
        // Pairs of different sizes are decided here, from the headers (`size_mismatch`), so every
        // later step (training order, shards) sees the final sample list.
        let listing = reader.list().checkingPairSizes(entry.sizeMismatch)
        let mismatched = listing.problems.filter { $0.kind == .sizeMismatch }
        if entry.sizeMismatch == .fail, !mismatched.isEmpty {
            throw RunError("dataset \(entry.name): \(mismatched.count) image/label pair\(mismatched.count == 1 ? "" : "s") of different sizes (size_mismatch is fail; skip or resize-label accept them):\n"
                + mismatched.prefix(20).map { "  \($0)" }.joined(separator: "\n")
                + (mismatched.count > 20 ? "\n  ..." : ""))
        }
        return Listed(entry: entry, samples: listing.samples,
                      problems: listing.problems.filter { $0.kind != .sizeMismatch }.map { RunProblem(dataset: entry.name, sample: "", $0) },
                      skippedPairs: mismatched.map { RunProblem(dataset: entry.name, sample: "", $0) })
    }

    /// Merges all shard records when every shard is complete; writes metrics.json,
    /// metrics.csv and the CVAT index files. Returns nil while shards are missing.
    func merge(directory: RunDirectory, listed: [Listed], shardCount: Int, listingProblems: [RunProblem]) throws -> MergedRun? {
        try RunMerge.merge(directory: directory, manifest: manifest, datasets: listed.map(\.entry), shardCount: shardCount,
                           listingProblems: listingProblems)
    }
}
