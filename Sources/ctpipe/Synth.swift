// Synth.swift — `ctpipe synth`: procedural street scenes written as a dataset in
// the on-disk layout and label encoding of Cityscapes, GTA5, ACDC, BDD100K or
// Mapillary Vistas.

import ArgumentParser
import CTCore
import Datasets
import ImageIO

extension DatasetKind: ExpressibleByArgument {}
extension ACDCCondition: ExpressibleByArgument {}
extension DatasetLayout: ExpressibleByArgument {}

extension CTPipe {
    struct Synth: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Generate a synthetic street-scene dataset in a real dataset's layout and encodings.",
            discussion: """
            Writes --count images (ACDC: per condition) with labels under --out, named and encoded \
            like KIND: cityscapes (leftImg8bit PNG, gtFine labelIds/labelTrainIds/color), gta5 \
            (images PNG, palette labels indexed by Cityscapes labelId, _labelTrainIds), acdc \
            (rgb_anon PNG, gt labelIds/labelTrainIds/labelColor for fog, night, rain, snow), \
            bdd100k (10k JPEG, sem_seg masks and colormaps), mapillary (JPEG of varying size and \
            aspect ratio, v1.2 palette labels, config_v1.2.json, converted cityscapes_trainIdLabel \
            and, for val, half/). Each dataset has its own look (game, automotive camera, dash cam, \
            phone, adverse weather). The same options always write the same bytes. Prints a JSON \
            summary.
            """
        )

        @Option(help: "Dataset layout to write: \(DatasetKind.allCases.map(\.rawValue).joined(separator: ", ")).")
        var dataset: DatasetKind

        @Option(help: ArgumentHelp("Dataset root folder to create.", valueName: "DIR"))
        var out: String

        @Option(help: "Images to write (ACDC: per condition).")
        var count = 20

        @Option(help: "Random seed; the same seed gives identical files.")
        var seed: UInt64 = 0

        @Option(help: ArgumentHelp("Image size (Mapillary varies around its area).", valueName: "WxH"))
        var size = "256x128"

        @Option(help: "ACDC only: write this condition instead of all four (fog, night, rain, snow).")
        var condition: ACDCCondition?

        @Option(help: "Split folder (train, val, test); ignored for gta5.")
        var split = "train"

        @Flag(name: .customLong("raw-only"), help: "Write only what the official download holds (no DGSS-converted trainId files).")
        var rawOnly = false

        func validate() throws {
            try CLILimits.checkSize(size, option: "--size", form: "256x128 (WxH)")
            if condition != nil, dataset != .acdc { throw ValidationError("--condition applies to --dataset acdc only") }
            try CLILimits.check(count, within: 1 ... CLILimits.maxCount, option: "--count")
        }

        func parseSize(_ text: String) -> ImageSize? {
            CLILimits.sides(text).map { ImageSize(width: $0.0, height: $0.1) }
        }

        func run() throws {
            var options = SynthOptions(dataset: dataset, root: out)
            options.count = count
            options.seed = seed
            options.size = parseSize(size)!
            options.split = split
            options.rawOnly = rawOnly
            if let condition { options.conditions = [condition] }
            let summary: SynthSummary
            do { summary = try SyntheticDataset.write(options) } catch { throw CLIError(error.description) }
            print(try PrettyJSON.string(summary))
        }
    }
}
