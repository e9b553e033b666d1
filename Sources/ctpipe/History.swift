// History.swift — `ctpipe history`: list recorded evaluations from the results
// history database as a table, JSON or CSV.

import ArgumentParser
import CTCore
import Foundation
import RunReports

extension CTPipe {
    struct History: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List recorded evaluations (results history): mIoU, aAcc, mAcc, per-class IoU per run and dataset.",
            discussion: """
            Reads the SQLite history that `ctpipe run` and `ctpipe merge` record into (default \
            runs/history.sqlite in the current folder; a manifest's history.db or --history may name another). \
            Oldest first. table: one line per run and dataset, then one per named average (manifest \
            `averages`: its mIoU only); json: an array of runs with per-class IoU, the seed and the named averages; \
            csv: one row per run and dataset (and named average) with a column per class. Percentages are x100.
            """
        )

        enum Format: String, ExpressibleByArgument, CaseIterable { case table, json, csv }

        @Option(help: ArgumentHelp("The history database.", valueName: "PATH"))
        var db = "runs/history.sqlite"

        @Option(help: ArgumentHelp("Only runs of this manifest name.", valueName: "NAME"))
        var manifest: String?

        @Option(help: ArgumentHelp("Only this dataset (or group, e.g. acdc-val/night, or named average).", valueName: "D"))
        var dataset: String?

        @Option(help: ArgumentHelp("Only the most recent N runs (1...1000000).", valueName: "N"))
        var last: Int?

        @Option(help: "Output format: table, json, csv.")
        var format: Format = .table

        func validate() throws {
            if let last { try CLILimits.check(last, within: 1 ... CLILimits.maxLast, option: "--last") }
        }

        func run() throws {
            let runs: [HistoryRun]
            do {
                runs = try HistoryStore(path: db, create: false).runs(manifest: manifest, dataset: dataset, last: last)
            } catch { throw CLIError(error.description) }
            switch format {
            case .json: print(try PrettyJSON.string(runs))
            case .csv: print(HistoryTable.csv(runs), terminator: "")
            case .table: print(HistoryTable.text(runs), terminator: "")
            }
        }
    }
}

/// Text renderings of history rows.
enum HistoryTable {
    static func percent(_ v: Double?) -> String { v.map { String(format: "%.2f", $0) } ?? "-" }

    static func text(_ runs: [HistoryRun]) -> String {
        guard !runs.isEmpty else { return "no recorded runs\n" }
        var rows: [[String]] = [["run", "recorded (UTC)", "dataset", "mIoU", "aAcc", "mAcc", "images", "skipped", "checkpoint", "wall s"]]
        for run in runs {
            for r in run.results {
                rows.append([run.runID, run.recordedAt, r.dataset, percent(r.mIoU), percent(r.aAcc), percent(r.mAcc),
                             String(r.samples), String(r.skipped), run.checkpointHash.map { String($0.prefix(12)) } ?? "-",
                             String(format: "%.1f", run.wallSeconds)])
            }
            // The manifest's named averages: the mean mIoU of their sets.
            for a in run.averages {
                rows.append([run.runID, run.recordedAt, a.name, percent(a.mIoU), "-", "-", "-", "-",
                             run.checkpointHash.map { String($0.prefix(12)) } ?? "-", String(format: "%.1f", run.wallSeconds)])
            }
        }
        let widths = rows[0].indices.map { c in rows.map { $0[c].count }.max() ?? 0 }
        let numeric: Set<Int> = [3, 4, 5, 6, 7, 9]
        return rows.map { row in
            row.enumerated().map { c, cell in
                let pad = String(repeating: " ", count: widths[c] - cell.count)
                return numeric.contains(c) ? pad + cell : cell + pad
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }.joined(separator: "\n") + "\n"
    }

    static func csv(_ runs: [HistoryRun]) -> String {
        let classNames = runs.lazy.flatMap(\.results).first?.classes.map(\.name) ?? []
        func field(_ s: String) -> String {
            s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        func number(_ v: Double?) -> String { v.map { String($0) } ?? "" }
        var lines = [(["run_id", "recorded_at", "manifest", "configuration_hash", "checkpoint_hash", "ctpipe_version", "wall_seconds",
                       "dataset", "samples", "skipped", "mIoU", "aAcc", "mAcc"] + classNames.map { "IoU \($0)" }).map(field).joined(separator: ",")]
        for run in runs {
            for r in run.results {
                let byName = Dictionary(r.classes.map { ($0.name, $0.iou) }, uniquingKeysWith: { a, _ in a })
                lines.append(([run.runID, run.recordedAt, run.manifestName, run.configurationHash, run.checkpointHash ?? "",
                               run.ctpipeVersion, String(run.wallSeconds), r.dataset, String(r.samples), String(r.skipped),
                               number(r.mIoU), number(r.aAcc), number(r.mAcc)] + classNames.map { number(byName[$0] ?? nil) })
                    .map(field).joined(separator: ","))
            }
            for a in run.averages {
                lines.append(([run.runID, run.recordedAt, run.manifestName, run.configurationHash, run.checkpointHash ?? "",
                               run.ctpipeVersion, String(run.wallSeconds), a.name, "", "", number(a.mIoU), "", ""]
                              + classNames.map { _ in "" }).map(field).joined(separator: ","))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
