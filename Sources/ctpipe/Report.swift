// Report.swift — `ctpipe report RUN_DIR`: (re)writes the run's self-contained
// HTML report (also written at the end of every complete run).

import ArgumentParser
import CTCore
import Foundation
import RunReports

extension CTPipe {
    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a run folder's self-contained HTML report (metrics, charts, mIoU trend, worst-image gallery).",
            discussion: """
            Reads metrics.json, the shard records (per-image scores), the gallery thumbnails, \
            regression.json and train_log.jsonl of RUN_DIR, and the run's manifest's history from the \
            results database (the one the run was recorded in, or --db). Writes RUN_DIR/report.html \
            (or --out): inline CSS and SVG, images as data: URIs, nothing fetched from the network.
            """
        )

        @Argument(help: "The run folder.")
        var runDirectory: String

        @Option(help: ArgumentHelp("History database for the mIoU trend (default: the one the run was recorded in).", valueName: "PATH"))
        var db: String?

        @Option(help: ArgumentHelp("Write here instead of RUN_DIR/report.html.", valueName: "FILE"))
        var out: String?

        func run() throws {
            let data = try ReportData.load(runDirectory: runDirectory, historyDatabase: db)
            let file: String
            do {
                // The default place is inside the run folder, through its containment check; --out is used as given.
                file = try out ?? ContainedFolder(root: runDirectory).file(["report.html"])
                try AtomicFile.write(text: HTMLReport.render(data), to: file)
            } catch { throw CLIError("\(error)") }
            print(file)
        }
    }
}
