// Metric.swift — `ctpipe metric`: score a folder of prediction PNGs from any
// tool against a dataset's labels.

import ArgumentParser
import Datasets
import Foundation
import ManifestSchema
import Metrics
import PipelineRunner

extension CTPipe {
    struct Metric: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Score existing prediction PNGs against a dataset split (IoU per class, mIoU, aAcc, mAcc).",
            discussion: """
            Predictions are matched to samples by sample id (see docs/runner.md): for the id \
            frankfurt/frankfurt_000000_000294, DIR/frankfurt/frankfurt_000000_000294.png, the same with \
            _labelIds/_trainIds/_color/_pred before .png, or any of those names anywhere below DIR. \
            ACDC read over all conditions is scored per condition. Samples without a usable prediction are \
            skipped and listed on stderr; the exit status is then 3. Exit status 5 when no image was scored \
            (the split holds no sample, or every sample was skipped), 1 when the dataset or the predictions \
            cannot be read, 64 on a usage error.
            """
        )

        @Option(help: "Dataset kind: cityscapes, gta5, acdc, bdd100k, mapillary.")
        var dataset: String

        @Argument(help: "The dataset root folder.")
        var root: String

        @Option(help: "Split (default val; gta5: all).")
        var split: String?

        @Option(help: "ACDC condition (fog, night, rain, snow); default all four, scored separately.")
        var condition: String?

        @Option(help: "Label layout: auto, raw, converted, half.")
        var layout: String = "auto"

        @Option(help: ArgumentHelp("Folder of prediction PNGs.", valueName: "DIR"))
        var pred: String

        @Option(name: .customLong("pred-format"), help: "How predictions encode classes: trainid, labelid, color.")
        var predFormat: String = "trainid"

        @Flag(help: "Print metrics.json-style JSON instead of a table.")
        var json = false

        @Option(name: [.short, .long], help: "Worker threads, 1...1024 (default: one per core).")
        var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

        @OptionGroup var decode: DecodeLimitOptions

        func validate() throws {
            guard DatasetKind(rawValue: dataset) != nil else {
                throw ValidationError("--dataset must be one of \(DatasetKind.allCases.map(\.rawValue).joined(separator: ", ")) (got \(dataset)).")
            }
            guard Manifest.PredictionFormat(rawValue: predFormat) != nil else {
                throw ValidationError("--pred-format must be trainid, labelid or color (got \(predFormat)).")
            }
            guard DatasetLayout(rawValue: layout) != nil else {
                throw ValidationError("--layout must be auto, raw, converted or half (got \(layout)).")
            }
            if let condition, ACDCCondition(rawValue: condition) == nil {
                throw ValidationError("--condition must be fog, night, rain or snow (got \(condition)).")
            }
            try CLILimits.check(jobs, within: 1 ... CLILimits.maxThreads, option: "--jobs")
        }

        func run() throws {
            let kind = DatasetKind(rawValue: dataset)!
            let reader = try DatasetReaders.make(kind: kind, root: root, split: split ?? Manifest.defaultSplit(kind),
                                                 condition: condition.flatMap(ACDCCondition.init(rawValue:)),
                                                 layout: DatasetLayout(rawValue: layout)!)
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: pred, isDirectory: &isFolder), isFolder.boolValue else {
                throw CLIError("\(pred): prediction folder not found")
            }
            let listing = reader.list()
            for problem in listing.problems { printError("dataset problem: \(problem)") }
            let name = [kind.rawValue, split ?? Manifest.defaultSplit(kind), condition].compactMap { $0 }.joined(separator: "-")
            let (report, problems) = try Scoring.score(listing.samples, name: name,
                                                       perCondition: kind == .acdc && condition == nil,
                                                       predictions: PredictionFolder(dir: pred, format: Manifest.PredictionFormat(rawValue: predFormat)!, limits: decode.limits),
                                                       workers: jobs)
            if json {
                print(String(decoding: report.encoded(), as: UTF8.self))
            } else {
                print(MetricsTable.render(report))
            }
            for problem in problems { printError("skipped: \(problem)") }
            if report.datasets.allSatisfy({ $0.images == 0 }) {
                printError("error: no image was scored (\(listing.samples.isEmpty ? "the split holds no samples" : "every sample was skipped"))")
                throw ExitCode(RunCompletion.nothingDoneStatus)
            }
            if !problems.isEmpty || !listing.problems.isEmpty { throw ExitCode(3) }
        }
    }
}
