// SeedSummary.swift — the results of a seed sweep (a manifest with `seeds`, run once per
// seed): `summary.json` in the sweep folder (SweepFolder.swift), its console table and its
// report.html. Per evaluated set and per average (the manifest's named averages, or the
// default "Avg."), each seed's mIoU, their mean and their sample standard deviation
// (n - 1 in the denominator; none with fewer than two values). Percentages x100,
// unrounded, as in metrics.json. The file is also the sweep's record: which run folder
// belongs to which seed, and which seeds have finished (what `--resume` skips).

import CTCore
import Foundation
import Metrics
import RunFolder

/// One seed's run in a sweep.
public struct SeedRun: Sendable, Equatable, Codable {
    public var seed: Int
    /// The run folder, relative to the sweep folder (`seed-<s>`).
    public var runDirectory: String
    /// The history run id, when the run was recorded.
    public var runID: String?
    /// The run's metrics are complete (metrics.json written): `--resume` skips it.
    public var finished: Bool
    /// The run's exit status (docs/runner.md); nil while it has not run.
    public var status: Int32?
    /// Why the run failed, when it did.
    public var error: String?

    public init(seed: Int, runDirectory: String, runID: String? = nil, finished: Bool = false, status: Int32? = nil,
                error: String? = nil) {
        self.seed = seed
        self.runDirectory = runDirectory
        self.runID = runID
        self.finished = finished
        self.status = status
        self.error = error
    }

    enum CodingKeys: String, CodingKey { case seed, runDirectory = "run_dir", runID = "run_id", finished, status, error }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(seed, forKey: .seed)
        try c.encode(runDirectory, forKey: .runDirectory)
        try c.encode(runID, forKey: .runID)
        try c.encode(finished, forKey: .finished)
        try c.encode(status, forKey: .status)
        try c.encode(error, forKey: .error)
    }
}

/// One seed's mIoU of a set or an average (percent; nil when the seed has not finished or the value is undefined).
public struct SeedValue: Sendable, Equatable, Codable {
    public var seed: Int
    public var mIoU: Double?

    public init(seed: Int, mIoU: Double?) {
        self.seed = seed
        self.mIoU = mIoU
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(seed, forKey: .seed)
        try c.encode(mIoU, forKey: .mIoU)
    }
}

/// A set's or an average's mIoU over the seeds.
public struct SeedStatistic: Sendable, Equatable, Codable {
    public var name: String
    /// The sets an average is taken over (nil for a set).
    public var over: [String]?
    /// One value per seed of the sweep, in the sweep's order.
    public var values: [SeedValue]
    /// Seeds with a value.
    public var n: Int
    /// Mean of the values (percent); nil without any.
    public var mean: Double?
    /// Sample standard deviation (n - 1; percentage points); nil with fewer than two values.
    public var std: Double?

    public init(name: String, over: [String]? = nil, values: [SeedValue]) {
        self.name = name
        self.over = over
        self.values = values
        let defined = values.compactMap(\.mIoU)
        n = defined.count
        (mean, std) = Self.meanAndDeviation(defined)
    }

    /// The mean and the sample standard deviation (n - 1) of `values`.
    public static func meanAndDeviation(_ values: [Double]) -> (mean: Double?, std: Double?) {
        guard !values.isEmpty else { return (nil, nil) }
        let mean = values.reduce(0, +) / Double(values.count)
        guard values.count > 1 else { return (mean, nil) }
        let squares = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        return (mean, (squares / Double(values.count - 1)).squareRoot())
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encodeIfPresent(over, forKey: .over)
        try c.encode(values, forKey: .values)
        try c.encode(n, forKey: .n)
        try c.encode(mean, forKey: .mean)
        try c.encode(std, forKey: .std)
    }
}

/// `summary.json` of a seed sweep.
public struct SeedSummary: Sendable, Equatable, Codable {
    public static let format = "ctpipe-seeds"
    public static let version = 1
    public static let note = "mIoU per seed in percent (x100), unrounded; mean over the seeds with a value; std is the sample "
        + "standard deviation (n - 1), null with fewer than two values"

    public var format = SeedSummary.format
    public var version = SeedSummary.version
    public var manifestName: String
    public var manifestFile: String
    /// The configuration hash of the manifest with its `seeds` (each seed's run has its own).
    public var configurationHash: String
    public var seeds: [Int]
    public var runs: [SeedRun]
    /// Every seed has finished.
    public var complete: Bool
    public var note = SeedSummary.note
    /// Per evaluated set (by name, as in metrics.json).
    public var datasets: [SeedStatistic]
    /// Per average: the manifest's named averages, or the default "Avg." over every set.
    public var averages: [SeedStatistic]

    enum CodingKeys: String, CodingKey {
        case format, version, manifestName = "manifest", manifestFile = "manifest_file", configurationHash = "configuration_hash"
        case seeds, runs, complete, note, datasets, averages
    }

    /// A sweep whose seeds have not run yet.
    public init(manifestName: String, manifestFile: String, configurationHash: String, seeds: [Int]) {
        self.manifestName = manifestName
        self.manifestFile = manifestFile
        self.configurationHash = configurationHash
        self.seeds = seeds
        runs = seeds.map { SeedRun(seed: $0, runDirectory: "seed-\($0)") }
        complete = false
        datasets = []
        averages = []
    }

    /// The run of `seed`.
    public func run(seed: Int) -> SeedRun? { runs.first { $0.seed == seed } }

    /// Replaces the record of one seed's run.
    public mutating func update(_ run: SeedRun) {
        if let i = runs.firstIndex(where: { $0.seed == run.seed }) { runs[i] = run } else { runs.append(run) }
        complete = seeds.allSatisfy { self.run(seed: $0)?.finished == true }
    }

    /// Recomputes the statistics from the finished seeds' metrics (`reports` by seed). Sets in name
    /// order, averages in the order the runs report them.
    public mutating func tabulate(_ reports: [Int: MetricsReport]) {
        let finished = seeds.compactMap { reports[$0] }
        let names = Set(finished.flatMap { $0.datasets.map(\.name) }).sorted()
        datasets = names.map { name in
            SeedStatistic(name: name, values: seeds.map { seed in
                SeedValue(seed: seed, mIoU: reports[seed]?[name]?.metrics.meanIoU.map { $0 * 100 })
            })
        }
        var groups: [(name: String, over: [String])] = []
        for report in finished {
            for row in report.averageRows where !groups.contains(where: { $0.name == row.name }) { groups.append((row.name, row.over)) }
        }
        averages = groups.map { group in
            SeedStatistic(name: group.name, over: group.over, values: seeds.map { seed in
                SeedValue(seed: seed, mIoU: reports[seed]?.averageRows.first { $0.name == group.name }?.mIoU.map { $0 * 100 })
            })
        }
    }

    /// Reads a summary.json; errors name the file.
    public static func load(_ path: String) throws -> SeedSummary {
        let bytes = try FileBytes.read(path)
        let summary: SeedSummary
        do { summary = try JSONDecoder().decode(SeedSummary.self, from: Data(bytes)) } catch {
            throw RunError("\(path): not a seed sweep summary: \(error)")
        }
        guard summary.format == format, summary.version == version else {
            throw RunError("\(path): not a seed sweep summary of this ctpipe (format \(summary.format), version \(summary.version))")
        }
        return summary
    }

    /// The console table: one row per set, then per average; a column per seed, the mean and the std.
    public var table: String {
        func cell(_ v: Double?) -> String { v.map { String(format: "%.2f", $0) } ?? "-" }
        let rows = datasets + averages
        let width = max(7, rows.map(\.name.count).max() ?? 0)
        func pad(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(0, w - s.count)) }
        func left(_ s: String, _ w: Int) -> String { String(repeating: " ", count: max(0, w - s.count)) + s }
        let columns = seeds.map { "seed \($0)" }
        let w = max(7, columns.map(\.count).max() ?? 0)
        let done = runs.filter(\.finished).count
        var lines = ["mIoU over seeds of \(manifestName) (\(done) of \(seeds.count) finished; std: sample, n - 1)",
                     pad("dataset", width) + columns.map { "  " + left($0, w) }.joined() + "  " + left("mean", 7) + "  " + left("std", 7)]
        for row in rows {
            lines.append(pad(row.name, width) + row.values.map { "  " + left(cell($0.mIoU), w) }.joined()
                + "  " + left(cell(row.mean), 7) + "  " + left(cell(row.std), 7))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// report.html of a seed sweep: the same table, values unrounded in data-value attributes,
/// with links to each seed's own report.
public enum SeedReport {
    public static func render(_ summary: SeedSummary, folder: String) -> String {
        let h = SVGChart.html
        func cell(_ metric: String, _ name: String, _ value: Double?, seed: Int? = nil) -> String {
            let seedAttribute = seed.map { #" data-seed="\#($0)""# } ?? ""
            return #"<td class="num" data-metric="\#(metric)" data-dataset="\#(h(name))"\#(seedAttribute) data-value="\#(value.map { "\($0)" } ?? "null")">"#
                + (value.map { String(format: "%.2f", $0) } ?? "-") + "</td>"
        }
        var page = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>ctpipe seeds: \(h(summary.manifestName))</title>
        <style>\(HTMLReport.css)</style></head><body>
        <header><h1>ctpipe seeds: \(h(summary.manifestName))</h1>
        <p class="sub">sweep <code>\(h(folder))</code></p></header>

        """
        page += #"<section id="facts"><table class="facts">"#
            + "<tr><th>Manifest</th><td><code>\(h(summary.manifestFile))</code></td></tr>"
            + "<tr><th>Configuration hash</th><td><code>\(h(summary.configurationHash))</code></td></tr>"
            + "<tr><th>Seeds</th><td>\(summary.seeds.map(String.init).joined(separator: ", ")) "
            + "(\(summary.runs.filter(\.finished).count) finished)</td></tr></table></section>\n"
        page += #"<section id="runs"><h2>Runs</h2><table class="metrics"><tr><th>seed</th><th>run</th><th>status</th></tr>"#
        for run in summary.runs {
            let state = run.finished ? "finished, exit \(run.status ?? 0)" : run.error.map { "failed: " + h($0) } ?? "not run yet"
            page += #"<tr data-seed="\#(run.seed)"><td>\#(run.seed)</td><td><a href="\#(h(run.runDirectory))/report.html">"#
                + "\(h(run.runID ?? run.runDirectory))</a></td><td>\(state)</td></tr>"
        }
        page += "</table></section>\n"
        page += #"<section id="summary"><h2>mIoU over the seeds</h2><p>Mean over the seeds with a value; std is the sample "#
            + "standard deviation (n - 1).</p>" + #"<table class="metrics"><tr><th>dataset</th>"#
            + summary.seeds.map { "<th>seed \($0)</th>" }.joined() + "<th>mean</th><th>std</th></tr>"
        for (rows, kind) in [(summary.datasets, ""), (summary.averages, " class=\"avg\"")] {
            for row in rows {
                let title = row.over.map { #" title="mean mIoU of \#(h($0.joined(separator: ", ")))""# } ?? ""
                page += "<tr\(kind)><td\(title)>\(h(row.name))</td>"
                    + row.values.map { cell("mIoU", row.name, $0.mIoU, seed: $0.seed) }.joined()
                    + cell("mean", row.name, row.mean) + cell("std", row.name, row.std) + "</tr>"
            }
        }
        page += "</table></section>\n"
        page += #"<footer>Generated by ctpipe \#(h(EnvironmentRecord.ctpipeVersion)) at \#(ISO8601DateFormatter().string(from: Date())). "#
            + "Percentages are rounded here; summary.json holds the exact values.</footer>"
        return page + "\n</body></html>\n"
    }
}
