// Run.swift — `ctpipe run MANIFEST`: validate, then run every stage.

import ArgumentParser
import Distributed
import Foundation
import ManifestSchema
import Metrics
import PipelineRunner
import RunReports

extension CTPipe {
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a manifest and run its pipeline (shards in parallel, resumable).",
            discussion: """
            Results go to <outputs.dir>/<name>/<timestamp>/ (see docs/runner.md): metrics.json, metrics.csv, \
            label files, events.jsonl. SIGINT/SIGTERM stop after the samples in hand; --resume continues the \
            latest run folder of the same configuration and ends with the same results as an uninterrupted run.

            A complete run is recorded in the results history (default <outputs.dir>/history.sqlite; manifest \
            history.db or --history), checked against the manifest's regression thresholds, and reported in \
            <run folder>/report.html (see docs/operations.md). With --shard, `ctpipe merge` does this.

            A manifest with "seeds": [0, 1, 2] runs once per seed into <outputs.dir>/<name>/seeds-<timestamp>/seed-<s>/ \
            and writes summary.json and report.html there: per dataset and average each seed's mIoU, the mean and \
            the sample standard deviation. --resume continues the latest such sweep, skipping finished seeds.

            Exit status: 0 done; 1 run error (or the history/report step failed); 4 regression against the \
            baseline; 5 nothing done: an eval dataset's split is empty, no sample was processed, or no image \
            was scored (the dataset is named; nothing is recorded in the history); 64 usage error; 65 \
            manifest problems; 66 manifest unreadable; 130 stopped by a signal (resumable). A --shard run \
            exits 0 once its shard is recorded; the merge decides 4 or 5. A seed sweep exits with the worst of \
            its seeds' statuses (5, then 4, then 1).

            Under mpirun or srun (several processes), the train stage splits every iteration's samples over \
            the processes and gives the single-process result bit for bit at the same --threads; rank 0 \
            alone writes the run folder's logs, events and checkpoints. The evaluation after training is \
            sharded over the processes (each writes its shards' records and label files; rank 0 merges and \
            reports) and gives the single-process metrics and label files at the same --threads and --jobs. \
            The job exits with rank 0's status; an error in any process ends them all (docs/training.md, \
            "Several processes (MPI)").
            """
        )

        @Argument(help: "The manifest (JSON). Without one, the embedded demo (manifests/demo.json) runs in the current folder.")
        var manifest: String?

        @Flag(help: "Continue the latest run folder of this manifest, skipping completed shards.")
        var resume = false

        @Option(help: ArgumentHelp("Run only shard i of N (N at most 100000) of every dataset (0-based), for job arrays; merge later with `ctpipe merge`.", valueName: "i/N"))
        var shard: String?

        @Option(name: .customLong("run-dir"), help: ArgumentHelp("Use this run folder instead of a new timestamped one.", valueName: "DIR"))
        var runDirectory: String?

        @Option(name: [.short, .long], help: "Shards processed at once, 1...1024 (default: the manifest's execution.workers, else one per core).")
        var jobs: Int?

        @Option(name: .customLong("max-pixels"),
                help: ArgumentHelp("Refuse images and labels whose header declares more than N pixels, before decoding "
                                   + "(default: the manifest's execution.max_pixels, else 64 MP).", valueName: "N"))
        var maxPixels: Int?

        @Option(help: ArgumentHelp("Threads per sample, 1...1024 (default: the machine's cores; under mpirun/srun each process's share of them).", valueName: "N"))
        var threads: Int?

        @Flag(help: "No progress output on stderr.")
        var quiet = false

        @OptionGroup var completion: CompletionFlags

        func validate() throws {
            if let jobs { try CLILimits.check(jobs, within: Manifest.ExecutionSpec.workerRange, option: "--jobs") }
            if let threads { try CLILimits.check(threads, within: 1 ... CLILimits.maxThreads, option: "--threads") }
            if let maxPixels { try CLILimits.check(maxPixels, within: 1 ... DecodeLimitOptions.largest, option: "--max-pixels") }
            if let shard, ShardSelection(parsing: shard) == nil {
                throw ValidationError("--shard takes i/N with 0 <= i < N <= \(Manifest.ExecutionSpec.shardRange.upperBound) (got \(shard)).")
            }
        }

        func run() throws {
            // MPI only when mpirun/srun started this process; then an error anywhere ends every rank.
            let communicator = Communicator.start()
            guard communicator.usesMPI else { return try runPipeline(communicator: .single) }
            var status: Int32 = 0
            do {
                try runPipeline(communicator: communicator)
            } catch let exit as ExitCode where exit.rawValue == 130 {
                // Stopped by a signal: every rank stopped at the same iteration, or after its shards in hand;
                // rank 0 has written its checkpoint when all arrive here.
                communicator.barrier()
                communicator.finish()
                throw exit
            } catch let exit as ExitCode where communicator.isRoot || exit.rawValue == 0 {
                // Rank 0's end of the run (1: history or report failed, 4: regression, 5: nothing done).
                status = exit.rawValue
            } catch {
                let code: Int32 = (error as? ExitCode)?.rawValue ?? (error is ValidationError ? 64 : 1)
                if !(error is ExitCode) { printError("error: \(communicator.size > 1 ? "rank \(communicator.rank): " : "")\(error)") }
                communicator.abort(code: code)
            }
            // The job's exit status is rank 0's: it tells the others, which have finished their shards.
            status = Int32((try? communicator.broadcast([UInt8(clamping: status)]))?.first ?? 1)
            communicator.finish()
            if status != 0 { throw ExitCode(status) }
        }

        func runPipeline(communicator: Communicator) throws {
            var loaded: Manifest
            if let manifest {
                loaded = try ManifestCommand.load(manifest)
            } else {
                if !quiet { printError("ctpipe: no manifest given; running the embedded demo (manifests/demo.json) in \(FileManager.default.currentDirectoryPath)") }
                loaded = try ManifestCommand.loadDemo()
            }
            if let maxPixels { loaded.execution.maxPixels = maxPixels }
            var options = RunOptions()
            options.resume = resume
            options.shard = shard.flatMap(ShardSelection.init(parsing:))
            options.runDirectory = runDirectory
            options.workers = jobs
            options.quiet = quiet
            options.completion = completion.options
            options.threads = threads
            options.communicator = communicator
            if communicator.size > 1 {
                guard loaded.seeds == nil, options.shard == nil else {
                    throw ValidationError("under mpirun/srun a run is one configuration trained by all processes; \(loaded.seeds != nil ? "\(loaded.file) has seeds (run one seed per job)" : "--shard is for job arrays of single processes").")
                }
            }
            let stop = StopFlag()
            if loaded.seeds != nil {
                guard options.shard == nil, options.runDirectory == nil else {
                    throw ValidationError("--shard and --run-dir run one configuration; \(loaded.file) has seeds and runs one run per seed in its own sweep folder (use seed instead of seeds to run one).")
                }
                StopSignals.install(stop) { printError($0) }
                try sweep(loaded, options: options, stop: stop)
                return
            }
            StopSignals.install(stop) { printError($0) }
            do {
                let summary = try Runner(manifest: loaded, options: options, stop: stop).run()
                if summary.follower { return }
                if let report = summary.report {
                    print(MetricsTable.render(report))
                } else {
                    print("shards done; merge when all have finished: ctpipe merge \(summary.runDirectory)")
                }
                if !summary.problems.isEmpty {
                    printError("\(summary.problems.count) sample\(summary.problems.count == 1 ? "" : "s") skipped (see problems.json)")
                }
                printError("run folder: \(summary.runDirectory)")
                if let outcome = summary.completion { try CompletionFlags.conclude(outcome) }
            } catch let error as RunInterrupted {
                if communicator.isRoot { printError(error.description) }
                throw ExitCode(130)
            }
        }

        /// A manifest with seeds: every seed's summary table and end-of-run messages as it finishes,
        /// then the table over the seeds; the worst of the seeds' statuses.
        func sweep(_ manifest: Manifest, options: RunOptions, stop: StopFlag) throws {
            let result: SweepResult
            do {
                result = try SeedSweep(manifest: manifest, options: options, stop: stop).run { outcome in
                    if outcome.skipped {
                        printError("seed \(outcome.seed): finished before, skipped (\(outcome.runDirectory))")
                        return
                    }
                    if let error = outcome.error {
                        printError("error: seed \(outcome.seed): \(error)")
                        return
                    }
                    print("seed \(outcome.seed)")
                    if let report = outcome.report { print(MetricsTable.summary(report)) }
                    if !outcome.problems.isEmpty {
                        printError("\(outcome.problems.count) sample\(outcome.problems.count == 1 ? "" : "s") skipped (see problems.json)")
                    }
                    printError("run folder: \(outcome.runDirectory)")
                    if let completion = outcome.completion { CompletionFlags.describe(completion) }
                }
            } catch let error as SweepInterrupted {
                printError(error.description)
                throw ExitCode(130)
            }
            print(result.summary.table)
            for error in result.errors { printError("error: \(error)") }
            if let file = result.summaryFile { printError("summary: \(file)") }
            if let file = result.reportFile { printError("report: \(file)") }
            printError("sweep folder: \(result.folder)")
            if result.status != 0 { throw ExitCode(result.status) }
        }
    }

    struct Merge: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Combine the shard records of a run folder into metrics.json and metrics.csv.",
            discussion: """
            Used after `ctpipe run --shard i/N` jobs on several machines finished writing into one run folder. \
            Then records the run in the results history, checks the regression thresholds and writes \
            report.html, like the end of `ctpipe run`; once every shard has its record, it removes what \
            killed shard processes left half-written. Exit status: 0 done; 1 error (shards unfinished, the \
            manifest the shards ran no longer loads or changed, or the history/report step failed); 4 \
            regression against the baseline; 5 nothing done (an eval dataset's split is empty, no sample was \
            processed, or no image was scored; nothing is recorded in the history); 64 usage error.
            """
        )

        @Argument(help: "The run folder.")
        var runDirectory: String

        @OptionGroup var completion: CompletionFlags

        func run() throws {
            let (report, outcome) = try RunMerge.mergeAndFinish(runDirectory: runDirectory, options: completion.options)
            print(MetricsTable.render(report))
            try CompletionFlags.conclude(outcome)
        }
    }
}
