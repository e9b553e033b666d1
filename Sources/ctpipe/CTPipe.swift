// CTPipe.swift — the `ctpipe` command: subcommands live one per file.

import ArgumentParser

@main
struct CTPipe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ctpipe",
        abstract: "Batch semantic segmentation of driving scenes with Causal-Tune on DINOv2.",
        discussion: """
        ctpipe reads the Cityscapes, GTA5, ACDC, BDD100K and Mapillary datasets in their \
        on-disk formats, runs a frozen DINOv2 backbone refined by frequency-domain \
        Causal-Tune adapters, scores predictions (mIoU) and writes label PNGs.

        Start with `ctpipe run`: the demo (synthetic data, training, evaluation). Then \
        `ctpipe validate manifests/gta2city.json` says what to download for the paper's setting.
        """,
        version: CTPipeVersion.string,
        subcommands: [
            Run.self,
            Validate.self,
            Infer.self,
            Metric.self,
            Merge.self,
            History.self,
            Report.self,
            Synth.self,
            Inspect.self,
            Features.self,
            ConvertWeights.self,
        ]
    )
}

enum CTPipeVersion {
    static let string = "0.1.0"
}
