// RunMerge.swift — combines shard records into the run's results. Used at the
// end of `ctpipe run` and by `ctpipe merge RUN_DIR` after a job array: integer
// confusion matrices add, so the merged result is exact and independent of
// how the work was split. `ctpipe merge` holds the folder's lock exclusively,
// so once it has found every shard's record it also removes what killed shard
// processes left half-written (shards themselves never sweep).

import CTCore
import Foundation
import LabelFiles
import ManifestSchema
import Metrics
import RunFolder

/// What merging a run's shard records gives: the results, and per eval dataset how many
/// samples its listing held and how many went through every step (RunCompletion's "nothing done").
public struct MergedRun: Sendable {
    public var report: MetricsReport
    /// Per eval dataset, in manifest order.
    public var datasets: [DatasetCount]
    /// What problems.json holds: the listing problems, then every shard's skipped samples in shard order.
    public var problems: [RunProblem] = []

    public struct DatasetCount: Sendable, Equatable {
        public var name: String
        /// Samples in the dataset's listing (processed or skipped, over all shards).
        public var listed: Int
        /// Samples that went through every step.
        public var processed: Int
    }
}

public enum RunMerge {
    /// Merges every shard record of `datasets`. Returns nil (and writes nothing)
    /// while some shard has no record yet.
    static func merge(directory: RunDirectory, manifest: Manifest, datasets: [Manifest.DatasetEntry], shardCount: Int,
                      listingProblems: [RunProblem]) throws -> MergedRun? {
        var report = MetricsReport()
        var problems = listingProblems
        var counts: [MergedRun.DatasetCount] = []
        let writer = LabelWriter(formats: manifest.writtenFormats,
                                 overlayAlpha: manifest.outputs.overlayAlpha)
        for entry in datasets {
            var ids: [String] = []
            var skipped = 0
            for k in 0 ..< shardCount {
                let shard = ShardID(dataset: entry.name, index: k, count: shardCount)
                guard let record = try directory.read(ShardRecord.self, from: directory.shardRecord(shard)) else { return nil }
                guard record.configurationHash == manifest.configurationHash else {
                    throw RunError("\(directory.shardRecord(shard)) belongs to another configuration (\(record.configurationHash.prefix(12)))")
                }
                do { try report.merge(record.metrics) } catch { throw RunError("\(directory.shardRecord(shard)): \(error)") }
                ids += record.ids
                skipped += record.skipped.count
                problems += record.skipped
            }
            counts.append(MergedRun.DatasetCount(name: entry.name, listed: ids.count + skipped, processed: ids.count))
            do { try writer.finish(ids: ids, into: directory.outputs(entry.name)) } catch let refused as ContainmentError {
                throw RunError(refused.description)
            }
        }
        report.partial = false
        report.datasets.sort { $0.name < $1.name }
        report.averages = manifest.averages.isEmpty ? nil : manifest.averages.map { AverageGroup(name: $0.name, over: $0.over) }
        try directory.write(bytes: report.encoded(), to: ["metrics.json"])
        try directory.write(bytes: Array(MetricsCSV.render(report).utf8), to: ["metrics.csv"])
        try directory.write(problems, to: ["problems.json"])
        return MergedRun(report: report, datasets: counts, problems: problems)
    }

    /// `ctpipe merge RUN_DIR`: re-reads the run's manifest.json and merges.
    public static func merge(runDirectory path: String) throws -> MetricsReport {
        try mergeRun(runDirectory: path).merged.report
    }

    /// Merges a job array's run folder under its exclusive lock: re-reads the run's manifest,
    /// checks that every shard has its record, removes what killed processes left half-written
    /// (no shard can be writing while the lock is held), then merges.
    static func mergeRun(runDirectory path: String) throws -> (merged: MergedRun, manifest: Manifest, directory: RunDirectory) {
        let directory = try RunDirectory(path: path)
        let lock = try RunFolderLock(folder: directory.path, mode: .exclusive)
        defer { withExtendedLifetime(lock) {} }
        let bytes = try FileBytes.read(directory.manifestFile)
        guard case .object(let object) = try JSONValue.parse(bytes, path: directory.manifestFile),
              case .string(let file)? = object["manifest_file"] else {
            throw RunError("\(directory.manifestFile): not a ctpipe run record")
        }
        let manifest = try ManifestLoader.load(file, checkFiles: false)
        guard manifest.configurationHash == RunDirectory.configurationHash(of: path) else {
            throw RunError("\(file) changed since the run started (configuration hash differs); merge needs the manifest the shards ran")
        }
        // The shard count is read from the records on disk.
        let evaluated = manifest.datasets.filter { $0.role == .eval }
        guard let first = evaluated.first else { throw RunError("the manifest evaluates no dataset") }
        let folder = "\(path)/shards/\(first.name)"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        let counts = Set(names.compactMap { name -> Int? in
            guard name.hasSuffix(".json"), let of = name.range(of: "-of-") else { return nil }
            return Int(name[of.upperBound...].dropLast(5))
        })
        guard counts.count == 1, let shardCount = counts.first else {
            throw RunError("\(folder): expected shard records <k>-of-<N>.json of one N, found \(names.sorted())")
        }
        let missing = evaluated.flatMap { entry in
            (0 ..< shardCount).map { ShardID(dataset: entry.name, index: $0, count: shardCount) }
                .filter { !FileManager.default.fileExists(atPath: directory.shardRecord($0)) }
        }
        guard missing.isEmpty else {
            throw RunError("cannot merge yet: \(missing.count) shard\(missing.count == 1 ? "" : "s") unfinished: "
                + missing.prefix(10).map(\.description).joined(separator: ", "))
        }
        // Every shard has finished: what is still half-written was left by a killed process.
        let leftovers = RunFolderLock.removeLeftovers(in: directory.path)
        if !leftovers.isEmpty { directory.event("leftovers_removed", ["files": .array(leftovers.map(JSONValue.string))]) }
        guard let merged = try merge(directory: directory, manifest: manifest, datasets: evaluated, shardCount: shardCount,
                                     listingProblems: []) else {
            throw RunError("cannot merge yet: a shard record disappeared while merging")
        }
        return (merged, manifest, directory)
    }
}

/// metrics.csv: one row per evaluated set, then one per average (each named average, or
/// "Avg." over every set when there is more than one); percentages, unrounded.
enum MetricsCSV {
    static func render(_ report: MetricsReport) -> String {
        let names = report.datasets.first?.classNames ?? []
        var lines = [(["dataset", "images", "mIoU", "aAcc", "mAcc"] + names.map { "IoU \($0)" }).joined(separator: ",")]
        func percent(_ v: Double?) -> String { v.map { String($0 * 100) } ?? "" }
        for set in report.datasets {
            let m = set.metrics
            lines.append(([set.name, String(set.images), percent(m.meanIoU), percent(m.pixelAccuracy), percent(m.meanAccuracy)]
                + m.iou.map(percent)).joined(separator: ","))
        }
        for average in report.averageRows {
            lines.append(([average.name, "", percent(average.mIoU), "", ""] + names.map { _ in "" }).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
