// SeedSweep.swift — a manifest with `seeds` runs once per seed: each seed's run is the
// ordinary run of the manifest with `"seed": s` (Manifest.run(seed:)), in its own run
// folder inside one sweep folder (RunFolder/SweepFolder.swift), recorded in the history
// and reported like any run. After every seed the sweep's summary.json is rewritten:
// which folder holds which seed, which seeds have finished, and per set and average
// each seed's mIoU, the mean and the sample standard deviation (RunReports/SeedSummary.swift).
//
// `--resume` continues the latest sweep folder of the same configuration: finished
// seeds are skipped (their metrics.json read back), an unfinished seed's run folder is
// resumed like any run (completed shards kept, training from its last checkpoint), and
// the seeds not begun yet run. A signal stops the sweep after the run in hand stops
// (SweepInterrupted, exit 130). A seed whose run fails is recorded with its error and the
// sweep goes on with the next seed; the sweep's status is the worst of its seeds'.

import CTCore
import Foundation
import ManifestSchema
import Metrics
import RunFolder
import RunReports

/// One seed of a sweep, as this invocation left it.
public struct SeedOutcome: Sendable {
    public var seed: Int
    public var runDirectory: String
    /// Finished by an earlier invocation (`--resume`); not run again.
    public var skipped = false
    /// The metrics of a finished run.
    public var report: MetricsReport?
    /// History, regression check and report of a run finished now.
    public var completion: RunCompletion?
    /// Samples skipped by a run finished now.
    public var problems: [RunProblem] = []
    /// Why the run failed.
    public var error: String?
    /// The run's exit status (RunCompletion.exitStatus; 1 for a failed run).
    public var status: Int32 = 0
}

/// What a sweep did.
public struct SweepResult: Sendable {
    /// The sweep folder.
    public var folder: String
    public var outcomes: [SeedOutcome]
    public var summary: SeedSummary
    /// summary.json and report.html, when written.
    public var summaryFile: String?
    public var reportFile: String?
    /// Problems of the sweep's own files (the runs' results are on disk).
    public var errors: [String] = []
    /// The worst of the seeds' statuses (RunCompletion.worst), 1 when the sweep's own files failed.
    public var status: Int32 {
        RunCompletion.worst(outcomes.map(\.status) + (errors.isEmpty ? [] : [1]))
    }
}

/// The sweep was stopped by a signal; finished seeds are kept and `--resume` continues.
public struct SweepInterrupted: Error, CustomStringConvertible {
    public let folder: String
    public let seed: Int
    public var description: String {
        "stopped during seed \(seed); finished seeds and completed shards are kept. Continue with: ctpipe run MANIFEST --resume (sweep folder \(folder))"
    }
}

public struct SeedSweep: Sendable {
    public let manifest: Manifest
    public let options: RunOptions
    public let stop: StopFlag

    public init(manifest: Manifest, options: RunOptions = RunOptions(), stop: StopFlag = StopFlag()) {
        self.manifest = manifest
        self.options = options
        self.stop = stop
    }

    /// Runs every seed not finished yet, in the order of `seeds`; `onSeed` hears of each seed
    /// when it is done with (finished, failed or skipped), before the next one starts.
    public func run(onSeed: (SeedOutcome) -> Void = { _ in }) throws -> SweepResult {
        guard let seeds = manifest.seeds else { throw RunError("\(manifest.file): the manifest has no seeds to sweep") }
        guard options.shard == nil, options.runDirectory == nil else {
            throw RunError("--shard and --run-dir run one configuration; a manifest with seeds runs one per seed in its own sweep folder")
        }
        let root = manifest.outputs.dir
        let folder: SweepFolder
        var summary: SeedSummary
        if options.resume {
            guard let latest = SweepFolder.latest(root: root, name: manifest.name, configurationHash: manifest.configurationHash) else {
                throw RunError("nothing to resume: no seed sweep of \(manifest.name) with this configuration under \(root)/\(manifest.name)")
            }
            folder = latest
            summary = try SeedSummary.load(folder.summaryFile)
        } else {
            folder = try SweepFolder.create(root: root, name: manifest.name)
            summary = SeedSummary(manifestName: manifest.name, manifestFile: manifest.file,
                                  configurationHash: manifest.configurationHash, seeds: seeds)
        }
        // One process per sweep; each seed's run also locks its own folder.
        let lock = try RunFolderLock(folder: folder.path, mode: .exclusive)
        defer { withExtendedLifetime(lock) {} }
        let log = try RunDirectory(path: folder.path)
        try log.write(summary, to: [SweepFolder.summaryName])
        log.event("sweep_start", ["resume": .bool(options.resume), "seeds": .array(seeds.map(JSONValue.int))])

        var result = SweepResult(folder: folder.path, outcomes: [], summary: summary)
        var reports: [Int: MetricsReport] = [:]
        for (i, seed) in seeds.enumerated() {
            let runFolder = folder.runFolder(seed: seed)
            var record = summary.run(seed: seed) ?? SeedRun(seed: seed, runDirectory: "seed-\(seed)")
            var outcome = SeedOutcome(seed: seed, runDirectory: runFolder)
            if record.finished, let report = try? Self.metrics(runFolder) {
                reports[seed] = report
                outcome.skipped = true
                outcome.report = report
                outcome.status = record.status ?? 0
                result.outcomes.append(outcome)
                onSeed(outcome)
                continue
            }
            if stop.isSet {
                log.event("sweep_interrupted", ["seed": .int(seed)])
                throw SweepInterrupted(folder: folder.path, seed: seed)
            }
            if !options.quiet {
                FileHandle.standardError.write(Data("ctpipe: seed \(seed) (\(i + 1) of \(seeds.count)) in \(runFolder)\n".utf8))
            }
            log.event("seed_start", ["seed": .int(seed), "run_dir": .string(record.runDirectory)])
            var seedOptions = options
            seedOptions.runDirectory = runFolder
            seedOptions.resume = FileManager.default.fileExists(atPath: runFolder)
            do {
                let run = try Runner(manifest: manifest.run(seed: seed), options: seedOptions, stop: stop).run()
                guard let report = run.report else { throw RunError("\(runFolder): the run did not merge its metrics") }
                reports[seed] = report
                outcome.report = report
                outcome.completion = run.completion
                outcome.problems = run.problems
                outcome.status = run.completion?.exitStatus ?? 0
                record = SeedRun(seed: seed, runDirectory: record.runDirectory, runID: run.completion?.runID, finished: true,
                                 status: outcome.status)
                log.event("seed_finish", ["seed": .int(seed), "status": .int(Int(outcome.status))])
            } catch let interrupted as RunInterrupted {
                log.event("sweep_interrupted", ["seed": .int(seed), "run_dir": .string(interrupted.runDirectory)])
                throw SweepInterrupted(folder: folder.path, seed: seed)
            } catch {
                outcome.error = "\(error)"
                outcome.status = 1
                record = SeedRun(seed: seed, runDirectory: record.runDirectory, finished: false, status: 1, error: "\(error)")
                log.event("seed_failed", ["seed": .int(seed), "error": .string("\(error)")])
            }
            summary.update(record)
            summary.tabulate(reports)
            do { try log.write(summary, to: [SweepFolder.summaryName]) } catch { result.errors.append("summary: \(error)") }
            result.outcomes.append(outcome)
            onSeed(outcome)
        }

        summary.tabulate(reports)
        result.summary = summary
        do {
            try log.write(summary, to: [SweepFolder.summaryName])
            result.summaryFile = folder.summaryFile
        } catch { result.errors.append("summary: \(error)") }
        if options.completion.report {
            do {
                try log.write(bytes: Array(SeedReport.render(summary, folder: folder.path).utf8), to: ["report.html"])
                result.reportFile = folder.reportFile
            } catch { result.errors.append("report: \(error)") }
        }
        log.event("sweep_finish", ["complete": .bool(summary.complete), "status": .int(Int(result.status))])
        return result
    }

    /// The merged metrics of a finished run folder.
    static func metrics(_ runFolder: String) throws -> MetricsReport {
        let file = runFolder + "/metrics.json"
        return try MetricsReport.decode(try FileBytes.read(file), path: file)
    }
}
