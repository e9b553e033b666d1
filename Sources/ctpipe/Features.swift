// Features.swift — `ctpipe features`: DINOv2 features of one image as a NumPy
// array, with optional PCA and feature-norm pictures.

import ArgumentParser
import CTCore
import Foundation
import ImageIO
import Inference
import Model
import Tensor

extension CTPipe {
    struct Features: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export DINOv2 features of one image as a (T, C) float32 .npy.",
            discussion: """
            Tokens are [CLS, registers, patches in row-major grid order]. The weights may be a \
            facebookresearch .pth, a HuggingFace model.safetensors, an MMSegmentation .pth or a \
            ctpipe safetensors file (see docs/backbone.md). --image decodes a PNG/JPEG, resizes it \
            bilinearly (OpenCV INTER_LINEAR, bit-exact) to --size (default: each side rounded to the nearest multiple of the patch \
            size) and normalises it with the ImageNet mean/std; --input-npy takes an already \
            normalised (3, H, W) float32 array. Prints a JSON summary.
            """
        )

        @Option(help: ArgumentHelp("Weight file (.pth or .safetensors); with --checkpoint, replaces its backbone.", valueName: "W"))
        var weights: String?

        @Option(help: ArgumentHelp("A ctpipe checkpoint or a released Mask2Former .pth (with --adapter): export the features with its adapter applied after every block.", valueName: "CKPT"))
        var checkpoint: String?

        @Option(help: ArgumentHelp("With a .pth checkpoint: what its adapter computes (\(CTPipe.Infer.pthAdapters.map(\.rawValue).joined(separator: ", "))).", valueName: "KIND"))
        var adapter: AdapterKind?

        @Option(help: ArgumentHelp("An RGB image (PNG or JPEG).", valueName: "IMG"))
        var image: String?

        @Option(help: ArgumentHelp("Resize the image to HxW (multiples of the patch size) before normalising.", valueName: "HxW"))
        var size: String?

        @Option(name: .customLong("input-npy"), help: ArgumentHelp("A normalised (3, H, W) float32 .npy instead of an image.", valueName: "X.npy"))
        var inputNPY: String?

        @Option(help: "Export the residual stream after this block (0-based, at most 1023; default: the last).")
        var block: Int?

        @Flag(name: .customLong("final-norm"), help: "Export the final LayerNorm output instead of a block's output.")
        var finalNorm = false

        @Option(help: ArgumentHelp("Output .npy file.", valueName: "OUT.npy"))
        var out: String

        @Option(name: .customLong("pca-png"), help: ArgumentHelp("Write the first 3 principal components of the patch features as RGB.", valueName: "P.png"))
        var pcaPNG: String?

        @Option(name: .customLong("norm-png"), help: ArgumentHelp("Write a heat map of per-patch feature norms.", valueName: "N.png"))
        var normPNG: String?

        @OptionGroup var backbone: BackboneOptions

        @OptionGroup var decode: DecodeLimitOptions

        func validate() throws {
            guard weights != nil || checkpoint != nil else { throw ValidationError("Give --weights, --checkpoint or both.") }
            guard (image == nil) != (inputNPY == nil) else {
                throw ValidationError("Give exactly one of --image and --input-npy.")
            }
            if size != nil && image == nil { throw ValidationError("--size applies to --image only.") }
            if let size { try CLILimits.checkSize(size, option: "--size", form: "518x518 (HxW)") }
            if block != nil && finalNorm { throw ValidationError("Give at most one of --block and --final-norm.") }
            if let block { try CLILimits.check(block, within: 0 ... CLILimits.maxBlock, option: "--block") }
        }

        func run() throws {
            let threads = backbone.plan.threadsPerWorker
            let model: DINOv2, kind: String
            var adapted: AdaptedBackbone?
            if let checkpoint {
                let network = try CTPipe.Infer.network(checkpoint: checkpoint, weights: weights, adapter: adapter)
                adapted = network.adaptedBackbone
                model = network.adaptedBackbone.backbone
                kind = "\(network.summary.head)-head checkpoint, adapter \(network.summary.adapter)"
            } else {
                let loaded = try backbone.load(weights!)
                model = loaded.model
                kind = loaded.kind.rawValue
            }
            let p = model.config.patchSize
            let (pixels, height, width) = try input(patchSize: p)
            guard height % p == 0, width % p == 0 else {
                throw CLIError("input is \(height)x\(width), not a multiple of the patch size \(p)")
            }
            let layer: FeatureLayer = finalNorm ? .finalNorm : .block(block ?? model.config.depth - 1)
            let started = Date()
            let features: Tensor
            do {
                let arena = try model.makeActivations(height: height, width: width, threads: threads)
                if let adapted, let adapter = adapted.adapter, let prepared = adapted.prepared {
                    // The backbone with the adapter refining the patch tokens after every block.
                    let adapterArena = adapter.makeActivations(gridHeight: arena.gridHeight, gridWidth: arena.gridWidth,
                                                                threads: threads)
                    let first = (1 + model.config.registers) * model.config.embedDim
                    let through: Int? = if case .block(let k) = layer { k } else { nil }
                    try pixels.withUnsafeBufferPointer { image in
                        try model.forward(image, arena, through: through) { block, x in
                            adapter.forward(layer: block, patches: x.baseAddress! + first, prepared: prepared, adapterArena)
                        }
                    }
                    if finalNorm { model.applyFinalNorm(arena) }
                    features = Tensor(shape: [arena.tokens, model.config.embedDim], storage: Array(finalNorm ? arena.normed : arena.x))
                } else {
                    features = try pixels.withUnsafeBufferPointer { try model.features($0, arena, at: layer) }
                }
            } catch { throw CLIError("\(error)") }
            let seconds = Date().timeIntervalSince(started)
            do {
                try AtomicFile.write(NPYArray(shape: features.shape, float32: features.storage).encoded(), to: out)
            } catch { throw CLIError(error.description) }
            let c = model.config.embedDim, first = 1 + model.config.registers
            let gh = height / p, gw = width / p
            let patches = Array(features.storage[(first * c)...])
            if let pcaPNG {
                let rgb = patches.withUnsafeBufferPointer { PrincipalComponents.project($0, rows: gh * gw, cols: c, components: 3) }
                try writeGrid(FeaturePictures.pca(rgb, rows: gh, cols: gw), width: width, height: height, to: pcaPNG)
            }
            if let normPNG {
                let norms = (0 ..< gh * gw).map { i in patches[(i * c) ..< ((i + 1) * c)].reduce(0) { $0 + $1 * $1 }.squareRoot() }
                try writeGrid(FeaturePictures.heatmap(norms, rows: gh, cols: gw), width: width, height: height, to: normPNG)
            }
            let layerName = finalNorm ? "final_norm" : "block \(block ?? model.config.depth - 1)"
            print(try PrettyJSON.string(FeaturesReport(weights: kind, config: model.config, height: height,
                                                       width: width, tokens: features.shape[0], channels: c,
                                                       layer: layerName, seconds: seconds, out: out)))
        }

        /// The normalised (3, H, W) input and its size.
        func input(patchSize p: Int) throws -> ([Float], Int, Int) {
            if let inputNPY {
                let array: NPYArray
                do { array = try NPYArray.decode(try FileBytes.read(inputNPY), path: inputNPY) } catch { throw CLIError(error.description) }
                guard array.shape.count == 3, array.shape[0] == 3, let values = array.floats else {
                    throw CLIError("\(inputNPY): expected a float32 array of shape (3, H, W), found \(array.dtype.rawValue) \(array.shape)")
                }
                return (values, array.shape[1], array.shape[2])
            }
            let decoded: Image8
            do { decoded = try ImageFile.readRGB(image!, limits: decode.limits) } catch { throw CLIError(error.description) }
            let target = size.flatMap(InputSize.init) ?? InputSize(
                height: max(p, Int((Double(decoded.height) / Double(p)).rounded()) * p),
                width: max(p, Int((Double(decoded.width) / Double(p)).rounded()) * p))
            // OpenCV-exact bilinear resize (as MMSegmentation's Resize), then (v - mean) / std.
            let resized = Resize.bilinear(decoded, width: target.width, height: target.height)
            return (InputNormalization.planes(resized), target.height, target.width)
        }

        func writeGrid(_ grid: Image8, width: Int, height: Int, to path: String) throws {
            let picture = Resize.nearest(grid, width: width, height: height, rule: .pillow)
            do { try ImageFile.writePNG(picture, to: path) } catch { throw CLIError(error.description) }
        }
    }
}

/// HxW as given on the command line.
struct InputSize: Equatable {
    let height: Int, width: Int
    init(height: Int, width: Int) { self.height = height; self.width = width }
    init?(_ text: String) {
        guard let (h, w) = CLILimits.sides(text) else { return nil }
        height = h
        width = w
    }
}

struct FeaturesReport: Encodable {
    let weights: String
    let config: DINOv2Config
    let height: Int, width: Int, tokens: Int, channels: Int
    let layer: String
    let seconds: Double
    let out: String
}
