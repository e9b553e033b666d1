// ConvertWeights.swift — `ctpipe convert-weights`: any supported DINOv2 weight
// file to a ctpipe safetensors file, optionally with the Rein-style patch-size
// conversion (14 -> 16, grid 37 -> 32) for 512 x 512 crops.

import ArgumentParser
import CTCore
import Foundation
import Model

extension CTPipe {
    struct ConvertWeights: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "convert-weights",
            abstract: "Convert DINOv2 weights to a ctpipe safetensors file (optionally to another patch size).",
            discussion: """
            Reads a facebookresearch .pth, HuggingFace model.safetensors, MMSegmentation .pth or \
            ctpipe safetensors file and writes `backbone.<official name>` tensors with the \
            configuration in the `ctpipe.config` metadata. With --patch-size and --grid, the patch \
            kernel and the position grid are resized bicubically (F.interpolate size=, \
            align_corners=False, no antialias; bias and CLS position kept), as Rein and \
            Causal-Tune do: `--patch-size 16 --grid 32` makes a 512 x 512 crop a 32 x 32 grid.
            """
        )

        @Argument(help: "Input weight file.") var input: String
        @Argument(help: "Output .safetensors file.") var output: String

        @Option(name: .customLong("patch-size"), help: "New patch size (e.g. 16).")
        var patchSize: Int?

        @Option(help: "New stored position grid side (e.g. 32).")
        var grid: Int?

        @OptionGroup var backbone: BackboneOptions

        func validate() throws {
            guard (patchSize == nil) == (grid == nil) else { throw ValidationError("Give --patch-size and --grid together.") }
            if let patchSize { try CLILimits.check(patchSize, within: 1 ... CLILimits.maxPatch, option: "--patch-size") }
            if let grid { try CLILimits.check(grid, within: 1 ... CLILimits.maxGrid, option: "--grid") }
        }

        func run() throws {
            let loaded = try backbone.load(input)
            var model = loaded.model
            if let patchSize, let grid {
                model = PatchSizeConversion.convert(model, patchSize: patchSize, gridSize: grid)
            }
            do { try SafeTensors.write(DINOv2Weights.ctpipeFile(model), to: output) } catch { throw CLIError(error.description) }
            print(try PrettyJSON.string(ConvertReport(input: loaded.kind.rawValue, output: output, config: model.config)))
        }
    }
}

struct ConvertReport: Encodable {
    let input: String
    let output: String
    let config: DINOv2Config
}
