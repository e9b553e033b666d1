// Mask2FormerBench.swift — `ctbench mask2former`: a Rein model with the
// Mask2Former head at its real sizes, random weights (Rein's configuration):
//
//   backbone: DINOv2 vits / vitl with the patch-16 conversion (grid 32 at 512);
//   adapter:  Rein, LoRA tokens m = 100, r = 16, token -> query link of width 256;
//   head:     pixel decoder 256 channels, 3 levels, 6 encoder layers, 8 heads,
//             4 points, FFN 1024, GroupNorm 32; transformer decoder 9 layers,
//             8 heads, FFN 2048, 100 queries, 19 classes.
//
// Three cases, timed in alternating rounds after a warm-up round (wall and
// process CPU; median and best): (a) the head alone on one S x S window's
// feature pyramid (pixel decoder + transformer decoder + semantic scores);
// (b) the whole model on one S x S window; (c) slide inference of a 2S x S image
// (crop S, stride 2S/3: 3 windows at S = 512) through Inference.Segmenter, the
// window scores averaged and argmaxed at the image size. S = 512 unless --size.
// Peak RSS (VmHWM) after building the model and at the end.
// scripts/bench_mask2former.py times the same in PyTorch.

import CTCore
import Foundation
import Inference
import Model
import Tensor

enum Mask2FormerBench {
    struct Case: Encodable {
        let name: String
        /// Median and best wall milliseconds; median process-CPU milliseconds (all threads).
        let milliseconds: Double, bestMilliseconds: Double, cpuMilliseconds: Double
    }

    struct Report: Encodable {
        let model: String, threads: Int, runs: Int, size: Int
        let slideImage: String, crop: Int, stride: Int, windows: Int
        let parameters: Int, headParameters: Int
        let cases: [Case]
        let peakRSSAfterModelBytes: Int, peakRSSBytes: Int
    }

    static func config(_ model: String) throws -> DINOv2Config {
        switch model {
        case "vits": DINOv2Config(embedDim: 384, depth: 12, heads: 6, patchSize: 16, registers: 0, gridSize: 32, ffnHidden: 1536)
        case "vitl": DINOv2Config(embedDim: 1024, depth: 24, heads: 16, patchSize: 16, registers: 0, gridSize: 32, ffnHidden: 4096)
        default: throw BenchError("unknown model \(model) (use vits or vitl)")
        }
    }

    /// Rein's Mask2Former configuration on a backbone of `depth` blocks, C = `c`, with Rein's adapter
    /// or (`causalTune`) Causal-Tune's band-pass DCT adapter of the same tokens.
    static func reinConfig(depth: Int, embedDim c: Int, causalTune: Bool = false) -> Mask2FormerConfig {
        Mask2FormerConfig(adapter: AdapterConfig(kind: causalTune ? .causalTune : .rein, filter: causalTune ? .bandpass : .none,
                                                 tokens: 100, rank: 16, queryLink: true, queryDims: 256),
                          outIndices: FeaturePyramid.defaultBlocks(depth: depth),
                          pixelDecoder: PixelDecoderConfig(inChannels: [c, c, c, c], featureChannels: 256, outChannels: 256,
                                                           encoderLevels: 3, encoderLayers: 6, heads: 8, points: 4,
                                                           feedforward: 1024, groupNormGroups: 32),
                          decoder: Mask2FormerDecoderConfig(embedDim: 256, heads: 8, queries: 100, classes: 19, layers: 9,
                                                            feedForward: 2048, levels: 3))
    }

    static func run(_ arguments: [String]) throws {
        var threads = ProcessInfo.processInfo.activeProcessorCount, runs = 5, json = false, name = "vits", size = 512
        var i = 0
        while i < arguments.count {
            let value = i + 1 < arguments.count ? arguments[i + 1] : ""
            switch arguments[i] {
            case "--model": i += 1; name = value
            case "--threads": i += 1; threads = max(1, Int(value) ?? threads)
            case "--runs": i += 1; runs = max(1, Int(value) ?? runs)
            case "--size": i += 1; size = Int(value) ?? size
            case "--json": json = true
            default: throw BenchError("unknown option \(arguments[i]) (use --model vits|vitl, --threads N, --runs R, --size S, --json)")
            }
            i += 1
        }
        let b = try config(name)
        guard size > 0, size % b.patchSize == 0, size % 32 == 0 else {
            throw BenchError("--size \(size) must be a positive multiple of 32 (the pyramid's x0.5 level at patch 16)")
        }
        let backbone = try SegmentationBench.randomBackbone(b, seed: 1)
        let model = try Mask2FormerModel.random(config: reinConfig(depth: b.depth, embedDim: b.embedDim), backbone: backbone, seed: 2)
        let headParameters = ParameterList.count(of: model) - ParameterList.count(of: backbone)
        let rssAfterModel = MemoryUsage.peakResidentBytes()

        let window = SegmentationBench.noise(3 * size * size, seed: 9)
        let workspace = try model.makeWorkspace(height: size, width: size, threads: threads)
        // The head reads the pyramid of a real window.
        try window.withUnsafeBufferPointer { try model.scores($0, workspace) }
        let slide = SlidingWindow(crop: size, stride: size * 2 / 3)
        let segmenter = try Segmenter(network: model, window: slide)
        let (height, width) = (size, 2 * size)
        let planes = SegmentationBench.noise(3 * height * width, seed: 4)
        let segmenterWorkspace = SegmenterWorkspace(threads: threads)
        let windows = slide.windows(height: height, width: width).count
        let cases: [(String, () throws -> Void)] = [
            ("head alone, \(size)x\(size) window pyramid", { model.headScores(workspace) }),
            ("whole model, \(size)x\(size) window", { try window.withUnsafeBufferPointer { try model.scores($0, workspace) } }),
            ("slide \(width)x\(height) (\(windows) windows) -> labels \(width)x\(height)", {
                _ = try segmenter.segment(normalised: planes, height: height, width: width, outputHeight: height,
                                          outputWidth: width, workspace: segmenterWorkspace)
            }),
        ]
        let (wall, cpu) = try BenchTiming.alternatingSamples(cases, runs: runs)
        func median(_ v: [Double]) -> Double { v.sorted()[v.count / 2] }
        let results = cases.indices.map { k in
            Case(name: cases[k].0, milliseconds: median(wall[k]), bestMilliseconds: wall[k].min()!, cpuMilliseconds: median(cpu[k]))
        }
        let report = Report(model: "\(name)16 (\(name)14 converted) + rein r16 + mask2former", threads: threads, runs: runs, size: size,
                            slideImage: "\(width)x\(height)", crop: slide.crop, stride: slide.stride, windows: windows,
                            parameters: ParameterList.count(of: model), headParameters: headParameters, cases: results,
                            peakRSSAfterModelBytes: rssAfterModel, peakRSSBytes: MemoryUsage.peakResidentBytes())
        if json {
            print(try PrettyJSON.string(report, escapingSlashes: true))
        } else {
            print("\(report.model), \(threads) threads, \(runs) runs; adapter + head \(headParameters) parameters")
            for r in results {
                print("\(r.name): median \(String(format: "%.1f", r.milliseconds)) ms, best \(String(format: "%.1f", r.bestMilliseconds)) ms wall, "
                      + "\(String(format: "%.1f", r.cpuMilliseconds)) ms CPU")
            }
            print("peak RSS \(rssAfterModel >> 20) MiB after building the model, \(report.peakRSSBytes >> 20) MiB at the end")
        }
    }
}
