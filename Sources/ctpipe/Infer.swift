// Infer.swift — `ctpipe infer`: segment images with a ctpipe checkpoint, or a
// Rein / Causal-Tune Mask2Former checkpoint saved by MMSegmentation (`.pth`),
// through the evaluation path (Evaluation.Evaluator) and write label PNGs
// (trainId, labelId, colour, overlay) atomically with the label-file writer
// (LabelFiles); optionally the averaged window scores as .npy.

import ArgumentParser
import CTCore
import Augment
import Datasets
import Dispatch
import Evaluation
import Foundation
import ImageIO
import Inference
import LabelFiles
import Model
import Synchronization
import Tensor

extension AdapterKind: ExpressibleByArgument {}

extension CTPipe {
    struct Infer: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Segment images with a ctpipe or MMSegmentation (Rein / Causal-Tune, Mask2Former) checkpoint and write label PNGs.",
            discussion: """
            Each image is resized keeping its aspect ratio to --scale (long side <= the larger number, \
            short side <= the smaller; OpenCV bilinear), normalised, run through 512 x 512 windows at \
            stride 341 (windows clamped to the border, logits averaged where they overlap), and the \
            averaged logits are resized bilinearly to the output size before the argmax (see \
            docs/causal-tune.md). Files go to DIR/<format>/<name>.png, where <name> is the image file \
            name without its extension. Prints a JSON summary. A .pth checkpoint (MMSegmentation, as \
            Rein and Causal-Tune release them: the adapter and the Mask2Former head) needs the DINOv2 \
            weights (--weights) and --adapter, which the file cannot tell (see docs/mask2former.md).
            """
        )

        @Option(help: ArgumentHelp("A ctpipe checkpoint (.safetensors) or an MMSegmentation one (.pth, Mask2Former head).", valueName: "CKPT"))
        var checkpoint: String

        @Option(help: ArgumentHelp("Backbone weights replacing the embedded or referenced ones (required with a .pth checkpoint that has none).", valueName: "W"))
        var weights: String?

        @Option(help: ArgumentHelp("What the adapter of a .pth checkpoint computes: \(Self.pthAdapters.map(\.rawValue).joined(separator: ", ")) (required for .pth).", valueName: "KIND"))
        var adapter: AdapterKind?

        @Flag(name: .customLong("save-logits"), help: "Also write DIR/logits/<name>.npy: the averaged window scores (K, H, W) at the resized size, float32.")
        var saveLogits = false

        @Argument(help: ArgumentHelp("RGB images (PNG or JPEG).", valueName: "IMAGE"))
        var images: [String]

        @Option(name: .customLong("out-dir"), help: ArgumentHelp("Output folder.", valueName: "DIR"))
        var outDir: String

        @Option(help: ArgumentHelp("Comma-separated formats: trainid, labelid, color, overlay.", valueName: "LIST"))
        var format = "trainid"

        @Option(help: ArgumentHelp("Keep-ratio resize scale WxH before inference (datasets.md: 1024x512 for Cityscapes).", valueName: "WxH"))
        var scale = "1024x512"

        @Option(name: .customLong("output-size"), help: ArgumentHelp("Label size: the input image's (input) or the resized image's (resized).", valueName: "input|resized"))
        var outputSize = "input"

        @Option(help: "Window side in pixels (a multiple of the patch size).")
        var crop = 512

        @Option(help: "Window stride in pixels.")
        var stride = 341

        @Option(help: "Overlay opacity of the colour mask (0...1).")
        var alpha = 0.5

        @Option(help: "Threads in all, 1...1024 (default: all cores).")
        var threads: Int?

        @Option(name: [.short, .long], help: "Images processed at once, 1...1024 (default 1: all threads inside one image).")
        var jobs = 1

        @OptionGroup var decode: DecodeLimitOptions

        static func formats(_ text: String) -> [LabelFileFormat]? {
            let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let formats = names.compactMap(LabelFileFormat.init(rawValue:))
            guard !names.isEmpty, formats.count == names.count, !formats.contains(.cvat) else { return nil }
            return formats
        }

        static func size(_ text: String) -> ImageSize? {
            CLILimits.sides(text).map { ImageSize(width: $0.0, height: $0.1) }
        }

        func validate() throws {
            if Self.formats(format) == nil {
                throw ValidationError("--format takes a comma-separated list of trainid, labelid, color, overlay (got '\(format)').")
            }
            try CLILimits.checkSize(scale, option: "--scale", form: "1024x512 (WxH)")
            if !["input", "resized"].contains(outputSize) { throw ValidationError("--output-size must be input or resized (got '\(outputSize)').") }
            try CLILimits.check(crop, within: 1 ... CLILimits.maxSide, option: "--crop")
            try CLILimits.check(stride, within: 1 ... CLILimits.maxSide, option: "--stride")
            if !(0 ... 1).contains(alpha) { throw ValidationError("--alpha must be within 0...1 (got \(alpha)).") }
            if let threads { try CLILimits.check(threads, within: 1 ... CLILimits.maxThreads, option: "--threads") }
            try CLILimits.check(jobs, within: 1 ... CLILimits.maxThreads, option: "--jobs")
            var seen: [String: String] = [:]
            for image in images {
                let name = Self.name(image)
                if let other = seen[name] {
                    throw ValidationError("\(other) and \(image) would write the same output name '\(name)'.")
                }
                seen[name] = image
            }
        }

        /// The adapter kinds a .pth checkpoint can hold (the paper's own `causal-tune` too).
        static let pthAdapters: [AdapterKind] = [.rein, .causalTuneReleased, .causalTune]

        /// The network of a checkpoint: a ctpipe safetensors file (the linear head), or an
        /// MMSegmentation `.pth` (recognised by content: a torch.save zip) with the Mask2Former head.
        static func network(checkpoint: String, weights: String?, adapter: AdapterKind?) throws -> any WindowNetwork {
            let isTorch: Bool
            do {
                isTorch = try RegularFile(path: checkpoint).read(4, at: 0) == [0x50, 0x4B, 0x03, 0x04]
            } catch { throw CLIError(error.description) }
            guard isTorch else {
                if let adapter { throw CLIError("--adapter \(adapter.rawValue) applies to .pth checkpoints; a ctpipe checkpoint records its adapter") }
                do {
                    if let json = try SafeTensors.metadata(checkpoint)[DINOv2Weights.configKey], Mask2FormerModel.describes(configJSON: json) {
                        if weights != nil { throw CLIError("--weights does not apply to a converted Mask2Former file (it embeds its backbone)") }
                        return try Mask2FormerModel.load(ctpipe: checkpoint)
                    }
                    return try SegmentationCheckpoint.load(checkpoint, options: CheckpointLoadOptions(backboneWeights: weights))
                } catch let error as CLIError { throw error } catch { throw CLIError("\(error)") }
            }
            guard let adapter, pthAdapters.contains(adapter) else {
                throw CLIError("\(checkpoint): an MMSegmentation checkpoint does not say what its adapter computes (Rein and Causal-Tune save the same names); give --adapter \(pthAdapters.map(\.rawValue).joined(separator: "|"))")
            }
            do { return try Mask2FormerModel.load(checkpoint: checkpoint, weights: weights, adapter: adapter) } catch {
                throw CLIError(error.description)
            }
        }

        static func name(_ path: String) -> String {
            URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        }

        func run() throws {
            let cores = threads ?? ProcessInfo.processInfo.activeProcessorCount
            let lanes = max(1, min(jobs, images.count, cores))
            let plan = lanes == 1 ? ThreadPlan.singleSample(threads: cores) : ThreadPlan(workers: lanes, cores: cores)
            let network = try Self.network(checkpoint: checkpoint, weights: weights, adapter: adapter)
            let evaluator: Evaluator
            do {
                let segmenter = try Segmenter(network: network, window: SlidingWindow(crop: crop, stride: stride))
                evaluator = Evaluator(segmenter: segmenter, scale: Self.size(scale)!)
            } catch { throw CLIError(error.description) }
            let saveLogits = self.saveLogits
            let writer = LabelWriter(formats: Self.formats(format)!, overlayAlpha: alpha)
            let size: PredictionSize = outputSize == "input" ? .input : .resized
            let images = self.images, outDir = self.outDir
            // Every file goes below --out-dir through the same containment check as a run folder.
            do { try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true) } catch {
                throw CLIError("\(outDir): cannot create folder: \(error.localizedDescription)")
            }
            let folder = ContainedFolder(root: outDir)
            let started = Date()
            let results = Mutex<[InferResult?]>(Array(repeating: nil, count: images.count))
            let failure = Mutex<String?>(nil)
            let limits = decode.limits, threads = plan.threadsPerWorker
            DispatchQueue.concurrentPerform(iterations: lanes) { lane in
                let workspace = SegmenterWorkspace(threads: threads)
                // With two threads or more the lane's next image decodes on a second thread while this
                // one's files are written (compressed on one thread); an image's seconds are the wall
                // time since the lane's previous image was done (the first: since the lane started).
                var ahead: Result<Image8, ImageIOError>?
                var t0 = Date()
                for i in Swift.stride(from: lane, to: images.count, by: lanes) where failure.withLock({ $0 == nil }) {
                    do {
                        let decoded = ahead
                        ahead = nil
                        let image = try decoded?.get() ?? ImageFile.readRGB(images[i], limits: limits)
                        let prediction = try evaluator.predict(image, at: size, keepScores: saveLogits, workspace: workspace)
                        func write(threads: Int) throws {
                            if let scores = prediction.scores {
                                let array = NPYArray(shape: [network.classes, prediction.resized.height, prediction.resized.width],
                                                     float32: scores)
                                try AtomicFile.write(array.encoded(), to: try folder.file(["logits", Self.name(images[i]) + ".npy"]))
                            }
                            let overlayBase = size == .input ? image : try evaluator.pipeline.resize.apply(image: image)
                            try writer.write(prediction: prediction.labels, image: overlayBase, id: Self.name(images[i]), into: folder,
                                             threads: threads)
                        }
                        if threads >= 2, i + lanes < images.count {
                            let next = images[i + lanes]
                            let (image, written) = Parallel.beside({
                                Result { () throws(ImageIOError) in try ImageFile.readRGB(next, limits: limits) }
                            }) { Result { try write(threads: 1) } }
                            ahead = image
                            try written.get()
                        } else {
                            try write(threads: threads)
                        }
                        let out = ImageSize(width: prediction.labels.width, height: prediction.labels.height)
                        let seconds = Date().timeIntervalSince(t0)
                        t0 = Date()
                        results.withLock {
                            $0[i] = InferResult(image: images[i], resized: prediction.resized.description, output: out.description,
                                                windows: prediction.windows, seconds: seconds)
                        }
                    } catch {
                        failure.withLock { if $0 == nil { $0 = "\(images[i]): \(error)" } }
                    }
                }
            }
            if let message = failure.withLock({ $0 }) { throw CLIError(message) }
            let seconds = Date().timeIntervalSince(started)
            let done = results.withLock { $0.compactMap { $0 } }
            print(try PrettyJSON.string(InferReport(
                checkpoint: checkpoint, adapter: network.summary.adapter, classes: network.classes,
                crop: crop, stride: stride, threads: cores, jobs: lanes, images: done, seconds: seconds,
                imagesPerSecond: seconds > 0 ? Double(done.count) / seconds : 0, outDir: outDir)))
        }
    }
}

struct InferResult: Encodable {
    /// The input path, and the resized and output sizes as `WxH`.
    let image: String, resized: String, output: String
    /// Windows run; wall seconds since the lane's previous image was done (the first: since the lane started).
    let windows: Int, seconds: Double
}

struct InferReport: Encodable {
    let checkpoint: String, adapter: String, classes: Int
    let crop: Int, stride: Int, threads: Int, jobs: Int
    let images: [InferResult]
    let seconds: Double, imagesPerSecond: Double
    let outDir: String

    enum CodingKeys: String, CodingKey {
        case checkpoint, adapter, classes, crop, stride, threads, jobs, images, seconds
        case imagesPerSecond = "images_per_second", outDir = "out_dir"
    }
}
