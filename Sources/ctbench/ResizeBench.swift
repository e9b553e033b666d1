// ResizeBench.swift — `ctbench resize [--threads N] [--runs R]`: the bilinear
// resizes of inference, timed alone: the linear head's upsampling of a window's
// patch logits (19 planes 32 x 32 -> 512 x 512, `Bilinear.resize`) and the
// final resize + argmax of a Cityscapes frame's averaged logits (19 planes
// 1024 x 512 -> labels 2048 x 1024, `Bilinear.resizedArgmax`), and the test
// pipeline of a Cityscapes frame (2048 x 1024 RGB halved, normalised to planes:
// `TestPipeline.apply`). Medians of alternating rounds, ms; `--json` prints
// them as one document (scripts/bench_resize.py times the same in PyTorch).
//
//   ctbench resize [--threads N] [--runs R] [--json]

import Augment
import Foundation
import ImageIO
import Tensor

enum ResizeBench {
    static func run(_ arguments: [String]) throws {
        var threads = ProcessInfo.processInfo.activeProcessorCount, runs = 15, json = false
        var i = 0
        while i < arguments.count {
            switch arguments[i] {
            case "--threads" where i + 1 < arguments.count: threads = Int(arguments[i + 1]) ?? threads; i += 1
            case "--runs" where i + 1 < arguments.count: runs = max(1, Int(arguments[i + 1]) ?? runs); i += 1
            case "--json": json = true
            default: throw BenchError("unknown option \(arguments[i]) (use --threads N, --runs R, --json)")
            }
            i += 1
        }
        let k = 19
        let patch = SegmentationBench.noise(k * 32 * 32, seed: 1)
        var window = [Float](repeating: 0, count: k * 512 * 512)
        let frame = SegmentationBench.noise(k * 512 * 1024, seed: 2)
        var labels = [UInt8](repeating: 0, count: 1024 * 2048)
        let rgb = Image8(width: 2048, height: 1024, channels: 3,
                         pixels: SegmentationBench.noise(2048 * 1024 * 3, seed: 3).map { UInt8(max(0, min(255, ($0 + 1) * 127.5))) })
        let pipeline = TestPipeline(scale: ImageSize(width: 1024, height: 512))
        let cases: [(String, () throws -> Void)] = [
            ("head upsampling 19 x 32 x 32 -> 512 x 512", {
                patch.withUnsafeBufferPointer { x in window.withUnsafeMutableBufferPointer { y in
                    Bilinear.resize(x.baseAddress!, planes: k, height: 32, width: 32, toHeight: 512, width: 512, into: y.baseAddress!,
                                    threads: threads)
                } }
            }),
            ("resize + argmax 19 x 512 x 1024 -> 1024 x 2048", {
                frame.withUnsafeBufferPointer { x in labels.withUnsafeMutableBufferPointer { y in
                    Bilinear.resizedArgmax(x.baseAddress!, planes: k, height: 512, width: 1024, toHeight: 1024, width: 2048,
                                           into: y.baseAddress!, threads: threads)
                } }
            }),
            ("test pipeline 2048 x 1024 RGB -> 3 x 512 x 1024", {
                _ = try pipeline.apply(image: rgb, threads: threads)
            }),
        ]
        let (wall, _) = try BenchTiming.alternating(cases, runs: runs)
        if json {
            let keys = ["head_upsampling", "resize_argmax", "test_pipeline"]
            let document: [String: Any] = ["threads": threads, "milliseconds": Dictionary(uniqueKeysWithValues: zip(keys, wall))]
            print(String(decoding: try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys]), as: UTF8.self))
            return
        }
        print("threads \(threads); median ms:")
        for (n, item) in cases.enumerated() {
            print("  \(item.0.padding(toLength: 48, withPad: " ", startingAt: 0)) \(String(format: "%7.2f", wall[n]))")
        }
    }
}
