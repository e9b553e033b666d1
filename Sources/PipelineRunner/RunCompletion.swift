// RunCompletion.swift — what happens after a run's metrics are merged (at the
// end of `ctpipe run`, and of `ctpipe merge` after a job array): record the
// evaluation in the results history, check it against its baseline, and write
// the HTML report. Kept apart from the runner so stages added to the runner
// get all of this unchanged: it reads only the manifest, the run folder and
// the merged metrics.

import CTCore
import Foundation
import ManifestSchema
import Metrics
import RunFolder
import RunReports

/// Command-line choices for the end of a run.
public struct CompletionOptions: Sendable {
    /// Overrides the manifest's history database (`--history PATH`).
    public var historyDatabase: String?
    /// False: record nothing and check nothing (`--no-history`).
    public var record = true
    /// False: do not write report.html (`--no-report`).
    public var report = true
    public init() {}
}

/// What the end of a run did.
public struct RunCompletion: Sendable {
    /// `<manifest name>/<run folder name>`.
    public var runID: String
    /// The database the run was recorded in; nil when not recorded.
    public var historyDatabase: String?
    /// The regression check, when the manifest asks for one and the run was recorded.
    public var regression: RegressionReport?
    /// report.html, when written.
    public var reportFile: String?
    /// Problems of these steps (the metrics themselves are complete and written).
    public var errors: [String] = []
    /// Why the run did nothing, when it did nothing (an eval dataset listed no sample, no
    /// sample went through every step, or a `metric` stage scored no image): nothing was
    /// recorded in the history, and the run is not a success.
    public var nothingDone: String?

    /// The exit status of a run (or `metric`, `inspect --dataset`) that did nothing.
    public static let nothingDoneStatus: Int32 = 5

    /// The exit status of the end of the run: 5 when nothing was done, else 4 on a regression,
    /// else 1 when a step failed, else 0 (docs/reliability.md, "Exit status").
    public var exitStatus: Int32 {
        if nothingDone != nil { return Self.nothingDoneStatus }
        if regression?.regressed == true { return RegressionCheck.exitStatus }
        return errors.isEmpty ? 0 : 1
    }

    /// The statuses of several runs as one (a seed sweep): the first of 5, 4, 1 that occurs,
    /// else any other non-zero status, else 0.
    public static func worst(_ statuses: [Int32]) -> Int32 {
        for status in [nothingDoneStatus, RegressionCheck.exitStatus, 1] where statuses.contains(status) { return status }
        return statuses.first { $0 != 0 } ?? 0
    }
}

public enum RunFinisher {
    /// The run id of a run folder: `<manifest name>/<folder name>` (`<manifest name>/<sweep>/<folder name>`
    /// for a seed of a sweep).
    public static func runID(manifest: Manifest, directory: RunDirectory) -> String {
        directory.runID(manifestName: manifest.name)
    }

    /// Why a merged run did nothing, or nil when it did something: an eval dataset whose
    /// listing held no sample (an empty split), no sample through every step (every one
    /// skipped), or, with a `metric` stage, no image scored. A run without eval datasets
    /// (a pipeline that only trains) is judged by its training.
    public static func nothingDone(manifest: Manifest, merged: MergedRun) -> String? {
        let scores = manifest.pipeline.has(.metric)
        let empty = merged.datasets.filter { $0.listed == 0 }.map(\.name)
        if !empty.isEmpty {
            return "\(scores ? "the evaluation scored no image of " : "")dataset\(empty.count == 1 ? "" : "s") \(empty.joined(separator: ", ")): "
                + "\(empty.count == 1 ? "its listing holds" : "their listings hold") no sample (an empty split)"
        }
        if !merged.datasets.isEmpty, merged.datasets.allSatisfy({ $0.processed == 0 }) {
            let names = merged.datasets.map(\.name).joined(separator: ", ")
            return "\(scores ? "the evaluation scored no image" : "no sample was processed"): every sample of \(names) was skipped"
        }
        if scores, !merged.datasets.isEmpty, merged.report.datasets.allSatisfy({ $0.images == 0 }) {
            return "the evaluation scored no image of \(merged.datasets.map(\.name).joined(separator: ", "))"
        }
        return nil
    }

    /// Records, checks and reports a finished run. Never throws: the metrics are
    /// already on disk; problems are returned in `errors`.
    public static func finish(manifest: Manifest, directory: RunDirectory, merged: MergedRun, started: Date,
                              options: CompletionOptions) -> RunCompletion {
        let report = merged.report
        var completion = RunCompletion(runID: runID(manifest: manifest, directory: directory))
        let database = options.historyDatabase ?? manifest.historyDatabase
        if let reason = nothingDone(manifest: manifest, merged: merged) {
            completion.nothingDone = reason
            directory.event("nothing_done", ["reason": .string(reason),
                                             "datasets": .array(merged.datasets.map { .string($0.name) })])
        }
        if options.record && manifest.history.record && completion.nothingDone == nil {
            do {
                let run = try historyRun(manifest: manifest, directory: directory, report: report, started: started,
                                         runID: completion.runID)
                let store = try HistoryStore(path: database, journal: manifest.history.journal)
                try store.record(run)
                completion.historyDatabase = database
                try directory.writeJSON(.object(["db": .string(database), "run_id": .string(run.runID),
                                                 "recorded_at": .string(run.recordedAt)]),
                                        to: ["history.json"])
                directory.event("history_recorded", ["db": .string(database), "run_id": .string(run.runID)])
                if let spec = manifest.history.regression {
                    let baseline: HistoryRun?
                    switch spec.baseline {
                    case .previous:
                        baseline = try store.previous(manifest: manifest.name, seed: manifest.seed, before: run.runID)
                    case .run(let id):
                        guard let pinned = try store.run(id: id) else {
                            throw RunError("history.regression.baseline: run \"\(id)\" is not in \(database) (see `ctpipe history --db \(database)`)")
                        }
                        baseline = pinned
                    }
                    let check = RegressionCheck.compare(current: run, baseline: baseline, spec: spec)
                    completion.regression = check
                    try directory.write(check, to: ["regression.json"])
                    directory.event(check.regressed ? "regression" : "regression_check",
                                    ["baseline": .string(check.baselineRunID ?? ""), "findings": .int(check.findings.count)])
                }
            } catch {
                completion.errors.append("history: \(error)")
            }
        }
        if options.report {
            do {
                let data = try ReportData.load(runDirectory: directory.path, historyDatabase: completion.historyDatabase)
                let file = try directory.file(["report.html"])
                try AtomicFile.write(text: HTMLReport.render(data), to: file)
                completion.reportFile = file
            } catch {
                completion.errors.append("report: \(error)")
            }
        }
        return completion
    }

    /// The history record of a finished run.
    static func historyRun(manifest: Manifest, directory: RunDirectory, report: MetricsReport, started: Date,
                           runID: String) throws -> HistoryRun {
        let now = Date()
        return HistoryRun(runID: runID, recordedAt: ISO8601DateFormatter().string(from: now), manifestName: manifest.name,
                          manifestFile: manifest.file, configurationHash: manifest.configurationHash,
                          checkpointHash: try manifest.model?.checkpoint.map(FileDigest.sha256),
                          runDirectory: directory.path, ctpipeVersion: EnvironmentRecord.ctpipeVersion,
                          gitCommit: EnvironmentRecord.gitCommit(), host: ProcessInfo.processInfo.hostName,
                          wallSeconds: max(0, now.timeIntervalSince(started)),
                          averageMeanIoU: report.averages == nil ? report.averageMeanIoU.map { $0 * 100 } : nil,
                          results: report.datasets.map(HistoryResult.init), seed: manifest.seed,
                          averages: (report.averages ?? []).map {
                              HistoryAverage(name: $0.name, over: $0.over, mIoU: report.meanIoU(of: $0).map { $0 * 100 })
                          })
    }
}

/// SHA-256 of a file, read in 4 MiB pieces (checkpoints can be large). Only a
/// regular file is read (`RegularFile`).
public enum FileDigest {
    public static func sha256(_ path: String) throws(FileError) -> String {
        let file = try RegularFile(path: path)
        var hasher = SHA256()
        var offset = 0
        while true {
            let chunk = try file.read(4 << 20, at: offset)
            guard !chunk.isEmpty else { break }
            hasher.update(chunk)
            offset += chunk.count
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}

extension RunMerge {
    /// `ctpipe merge RUN_DIR`, then record, check and report like the end of `ctpipe run`.
    /// The wall time counts from the run folder's first event (the first shard to start).
    public static func mergeAndFinish(runDirectory path: String, options: CompletionOptions) throws -> (MetricsReport, RunCompletion) {
        let (merged, manifest, directory) = try mergeRun(runDirectory: path)
        let completion = RunFinisher.finish(manifest: manifest, directory: directory, merged: merged,
                                            started: directory.firstEventTime ?? Date(), options: options)
        return (merged.report, completion)
    }
}

extension RunDirectory {
    /// The time of the first line of events.jsonl (when the first process started on this folder).
    var firstEventTime: Date? {
        guard let bytes = try? FileBytes.read(eventsFile) else { return nil }
        let formatter = ISO8601DateFormatter()
        var earliest: Date?
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            guard case .object(let o)? = try? JSONValue.parse(Array(line.utf8), path: eventsFile),
                  case .string(let t)? = o["time"], let date = formatter.date(from: t) else { continue }
            if earliest.map({ date < $0 }) ?? true { earliest = date }
        }
        return earliest
    }
}
