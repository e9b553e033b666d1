// ConvertWeights.swift — `ctpipe convert-weights`: any supported DINOv2 weight
// file to a ctpipe safetensors file, optionally with the Rein-style patch-size
// conversion (14 -> 16, grid 37 -> 32) for 512 x 512 crops; or, with --adapter,
// a released Rein / Causal-Tune Mask2Former checkpoint (MMSegmentation .pth)
// and its backbone to one self-contained ctpipe file that records the adapter
// kind and the head.

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
            Causal-Tune do: `--patch-size 16 --grid 32` makes a 512 x 512 crop a 32 x 32 grid. \
            With --adapter KIND, IN is an MMSegmentation checkpoint with the Mask2Former head \
            (docs/mask2former.md) and --weights its DINOv2 file: the output embeds the backbone and \
            records the adapter kind and the head, so `ctpipe infer` runs it without --adapter.
            """
        )

        @Argument(help: "Input weight file.") var input: String
        @Argument(help: "Output .safetensors file.") var output: String

        @Option(name: .customLong("patch-size"), help: "New patch size (e.g. 16).")
        var patchSize: Int?

        @Option(help: "New stored position grid side (e.g. 32).")
        var grid: Int?

        @OptionGroup var backbone: BackboneOptions

        @Option(help: ArgumentHelp("IN is a Mask2Former checkpoint whose adapter computes KIND: \(CTPipe.Infer.pthAdapters.map(\.rawValue).joined(separator: ", ")).", valueName: "KIND"))
        var adapter: AdapterKind?

        @Option(help: ArgumentHelp("With --adapter: the DINOv2 weights of the checkpoint's backbone.", valueName: "W"))
        var weights: String?

        func validate() throws {
            guard (patchSize == nil) == (grid == nil) else { throw ValidationError("Give --patch-size and --grid together.") }
            if adapter == nil, weights != nil { throw ValidationError("--weights goes with --adapter (a Mask2Former checkpoint's backbone).") }
            if let adapter, !CTPipe.Infer.pthAdapters.contains(adapter) {
                throw ValidationError("--adapter must be one of \(CTPipe.Infer.pthAdapters.map(\.rawValue).joined(separator: ", ")).")
            }
            if adapter != nil, patchSize != nil { throw ValidationError("--patch-size/--grid convert backbone weights; convert the backbone first, then give it as --weights.") }
            if let patchSize { try CLILimits.check(patchSize, within: 1 ... CLILimits.maxPatch, option: "--patch-size") }
            if let grid { try CLILimits.check(grid, within: 1 ... CLILimits.maxGrid, option: "--grid") }
        }

        func run() throws {
            if let adapter {
                do {
                    let model = try Mask2FormerModel.load(checkpoint: input, weights: weights, adapter: adapter)
                    try SafeTensors.write(model.ctpipeFile(), to: output)
                    print(try PrettyJSON.string(ConvertMask2FormerReport(input: input, output: output, adapter: adapter.rawValue,
                                                                        head: "mask2former", classes: model.classes,
                                                                        backbone: model.backbone.config)))
                } catch { throw CLIError("\(error)") }
                return
            }
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

struct ConvertMask2FormerReport: Encodable {
    let input: String, output: String, adapter: String, head: String, classes: Int
    let backbone: DINOv2Config
}

struct ConvertReport: Encodable {
    let input: String
    let output: String
    let config: DINOv2Config
}
