// ConvertWeights.swift — `ctpipe convert-weights`: any supported DINOv2 weight
// file to a ctpipe safetensors file, optionally with the Rein-style patch-size
// conversion (14 -> 16, grid 37 -> 32) for 512 x 512 crops; or, with --adapter,
// a released Rein / Causal-Tune Mask2Former checkpoint (MMSegmentation .pth)
// and its backbone to one self-contained ctpipe file that records the adapter
// kind and the head; or, with --to mmseg, a ctpipe Mask2Former file back to the
// MMSegmentation .pth layout the released PyTorch code loads.

import ArgumentParser
import CTCore
import Datasets
import Foundation
import Model

extension CTPipe {
    struct ConvertWeights: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "convert-weights",
            abstract: "Convert DINOv2 weights to a ctpipe safetensors file (optionally to another patch size); a Mask2Former model to and from MMSegmentation .pth.",
            discussion: """
            Reads a facebookresearch .pth, HuggingFace model.safetensors, MMSegmentation .pth or \
            ctpipe safetensors file and writes `backbone.<official name>` tensors with the \
            configuration in the `ctpipe.config` metadata. With --patch-size and --grid, the patch \
            kernel and the position grid are resized bicubically (F.interpolate size=, \
            align_corners=False, no antialias; bias and CLS position kept), as Rein and \
            Causal-Tune do: `--patch-size 16 --grid 32` makes a 512 x 512 crop a 32 x 32 grid. \
            With --adapter KIND, IN is an MMSegmentation checkpoint with the Mask2Former head \
            (docs/mask2former.md) and --weights its DINOv2 file: the output embeds the backbone and \
            records the adapter kind and the head, so `ctpipe infer` runs it without --adapter. \
            With --to mmseg, IN is a ctpipe Mask2Former file and OUT an MMSegmentation .pth \
            (torch.save layout, `meta` and `state_dict` with backbone.reins.* and decode_head.*, \
            plus backbone.* with --include-backbone) that Rein's PyTorch code loads.
            """
        )

        @Argument(help: "Input weight file.") var input: String
        @Argument(help: "Output file (.safetensors; .pth with --to mmseg).") var output: String

        @Option(help: ArgumentHelp("What to write: ctpipe (a safetensors file) or mmseg (an MMSegmentation .pth of a Mask2Former model).", valueName: "FORMAT"))
        var to: ConvertFormat = .ctpipe

        @Flag(name: .customLong("include-backbone"), help: "With --to mmseg: write the DINOv2 tensors too (backbone.*; Rein's own checkpoints leave them out).")
        var includeBackbone = false

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
            if includeBackbone, to != .mmseg { throw ValidationError("--include-backbone goes with --to mmseg.") }
            if to == .mmseg, adapter != nil || weights != nil || patchSize != nil || grid != nil {
                throw ValidationError("--to mmseg reads a ctpipe Mask2Former file as it is; --adapter, --weights, --patch-size and --grid do not apply (convert a .pth to a ctpipe file first).")
            }
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
            if to == .mmseg {
                try exportMMSeg()
                return
            }
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

extension CTPipe.ConvertWeights {
    /// A ctpipe Mask2Former file to an MMSegmentation .pth (the adapter and the head; the backbone too when asked).
    func exportMMSeg() throws {
        do {
            let isTorch = try RegularFile(path: input).read(4, at: 0) == [0x50, 0x4B, 0x03, 0x04]
            if isTorch {
                throw CLIError("\(input): a PyTorch .pth; --to mmseg reads a ctpipe Mask2Former file (make one from an MMSegmentation checkpoint with --adapter KIND --weights W)")
            }
        } catch let error as CLIError { throw error } catch { throw CLIError("\(error)") }
        do {
            let model = try Mask2FormerModel.load(ctpipe: input)
            let classes = model.classes == CityscapesClasses.names.count ? CityscapesClasses.names : nil
            let palette = classes == nil ? nil : LabelTables.trainClassColors.map { [Int($0.0), Int($0.1), Int($0.2)] }
            try model.writeMMSegCheckpoint(to: output, includeBackbone: includeBackbone,
                                           meta: model.mmsegMeta(classes: classes, palette: palette))
            print(try PrettyJSON.string(ExportMMSegReport(input: input, output: output, adapter: model.config.adapter.kind.rawValue,
                                                          head: "mask2former", classes: model.classes,
                                                          tensors: model.mmsegStateDict(includeBackbone: includeBackbone).count,
                                                          includesBackbone: includeBackbone)))
        } catch { throw CLIError("\(error)") }
    }
}

/// What `convert-weights` writes.
enum ConvertFormat: String, ExpressibleByArgument, CaseIterable {
    case ctpipe, mmseg
}

struct ExportMMSegReport: Encodable {
    let input: String, output: String, adapter: String, head: String, classes: Int, tensors: Int
    let includesBackbone: Bool
    enum CodingKeys: String, CodingKey {
        case input, output, adapter, head, classes, tensors, includesBackbone = "includes_backbone"
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
