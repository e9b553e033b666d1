// SlidingWindowTests.swift — window placement (datasets.md §8) and whole-image
// slide inference against a PyTorch re-implementation.
//
// The 512 / 341 and 1024 / 683 window lists are the ones datasets.md §8 states.
// The slide fixtures (scripts/make_adapter_fixtures.py) run a tiny Causal-Tune
// model (patch 7, crop 28, stride 14) on random images in PyTorch: window-averaged
// logits, then F.interpolate(bilinear, align_corners=False) to an output size and
// argmax; one image is shorter than the crop and exercises the padding.

import CTCore
import Foundation
import ImageIO
import Inference
import Model
import Tensor
import TestSupport
import Testing

@Suite struct SlidingWindowTests {
    func ranges(_ w: SlidingWindow, _ size: Int) -> [[Int]] { w.starts(size).map { [$0.0, $0.1] } }

    @Test func windowsOfTheCommonSizes() {
        let w = SlidingWindow(crop: 512, stride: 341)
        // 1024x512: one row, three columns.
        #expect(ranges(w, 512) == [[0, 512]])
        #expect(ranges(w, 1024) == [[0, 512], [341, 853], [512, 1024]])
        // 1280x720
        #expect(ranges(w, 720) == [[0, 512], [208, 720]])
        #expect(ranges(w, 1280) == [[0, 512], [341, 853], [682, 1194], [768, 1280]])
        // 960x540
        #expect(ranges(w, 540) == [[0, 512], [28, 540]])
        #expect(ranges(w, 960) == [[0, 512], [341, 853], [448, 960]])
        // 683x512
        #expect(ranges(w, 683) == [[0, 512], [171, 683]])
        #expect(w.windows(height: 512, width: 683) == [Window(y0: 0, y1: 512, x0: 0, x1: 512), Window(y0: 0, y1: 512, x0: 171, x1: 683)])
        #expect(w.windows(height: 512, width: 1024).count == 3)
        #expect(w.windows(height: 720, width: 1280).count == 8)
        // 1024 configurations: crop 1024, stride 683.
        let big = SlidingWindow(crop: 1024, stride: 683)
        #expect(ranges(big, 2048) == [[0, 1024], [683, 1707], [1024, 2048]])
        #expect(ranges(big, 1080) == [[0, 1024], [56, 1080]])
        #expect(ranges(big, 1920) == [[0, 1024], [683, 1707], [896, 1920]])
        // A side below the crop: one window spanning it.
        #expect(ranges(w, 300) == [[0, 300]])
    }

    struct Case: Decodable, Sendable, CustomStringConvertible {
        let tag: String, height: Int, width: Int
        let output_height: Int, output_width: Int, crop: Int, stride: Int
        let windows: [[Int]]
        let model: String
        var description: String { tag }
    }

    static let cases: [Case] = (try? fixtures.decode([Case].self, from: "slide_cases.json")) ?? []

    @Test func fixturesPresent() { #expect(Self.cases.count == 2) }

    @Test(arguments: cases)
    func slideInferenceMatchesPyTorch(_ c: Case) throws {
        let model = try SegmentationCheckpoint.load(fixtures.path(c.model))
        let segmenter = try Segmenter(model: model, window: SlidingWindow(crop: c.crop, stride: c.stride))
        #expect(segmenter.window.windows(height: c.height, width: c.width).map { [$0.y0, $0.y1, $0.x0, $0.x1] } == c.windows)
        let pixels = try fixtures.npy("\(c.tag)_image.npy")
        #expect(pixels.shape == [c.height, c.width, 3])
        let image = Image8(width: c.width, height: c.height, channels: 3, pixels: pixels.bytes)
        let workspace = SegmenterWorkspace(threads: 2)
        let logits = try segmenter.logits(image, workspace: workspace)
        let expected = try #require(try fixtures.npy("\(c.tag)_logits.npy").floats)
        expectClose(Array(logits), expected, "\(c.tag) averaged logits")

        let labels = try segmenter.segment(image, outputHeight: c.output_height, outputWidth: c.output_width, workspace: workspace)
        #expect(labels.width == c.output_width && labels.height == c.output_height && labels.channels == 1)
        let expectedLabels = try fixtures.npy("\(c.tag)_labels.npy").bytes
        let ambiguous = try fixtures.npy("\(c.tag)_ambiguous.npy").bytes
        var mismatches = 0, clear = 0
        for i in expectedLabels.indices where labels.pixels[i] != expectedLabels[i] {
            mismatches += 1
            if ambiguous[i] == 0 { clear += 1 }
        }
        print("golden \(c.tag) labels: \(mismatches) of \(expectedLabels.count) differ (\(clear) not near a tie)")
        #expect(clear == 0)
        #expect(Set(labels.pixels).count > 1)
    }

    /// `segment` sums into the workspace's reused buffers, counting windows per chunk of rows: with
    /// more threads than windows per chunk (rows no window of the chunk's list covers), after a larger
    /// image left other values in the buffers, and at one and seven threads, it gives the labels of
    /// the freshly allocated `logits`.
    @Test func reusedBuffersAndRowChunksGiveTheSameLabels() throws {
        let model = try SegmentationCheckpoint.load(fixtures.path("ct_full.safetensors"))   // patch 7
        let segmenter = try Segmenter(model: model, window: SlidingWindow(crop: 28, stride: 28))
        var rng = SplitMix64(seed: 5)
        func image(_ height: Int, _ width: Int) -> Image8 {
            Image8(width: width, height: height, channels: 3, pixels: (0 ..< height * width * 3).map { _ in UInt8.random(in: 0 ... 255, using: &rng) })
        }
        let large = image(70, 84), tall = image(100, 35)
        for threads in [1, 7] {
            let workspace = SegmenterWorkspace(threads: threads)
            _ = try segmenter.segment(large, outputHeight: 70, outputWidth: 84, workspace: workspace)
            let labels = try segmenter.segment(tall, outputHeight: 100, outputWidth: 35, workspace: workspace)
            let fresh = segmenter.labels(try segmenter.logits(tall, workspace: SegmenterWorkspace(threads: 1)), height: 100, width: 35,
                                         outputHeight: 100, outputWidth: 35, threads: 1)
            #expect(labels.pixels == fresh.pixels, "\(threads) threads")
        }
    }

    @Test func cropMustBeAMultipleOfThePatch() throws {
        let model = try SegmentationCheckpoint.load(fixtures.path("ct_full.safetensors"))
        #expect(throws: InferenceError.self) { try Segmenter(model: model, window: SlidingWindow(crop: 30, stride: 14)) }
        let segmenter = try Segmenter(model: model, window: SlidingWindow(crop: 28, stride: 14))
        let grey = Image8(width: 30, height: 30, channels: 1, filledWith: 0)
        #expect(throws: InferenceError.self) { try segmenter.segment(grey, outputHeight: 30, outputWidth: 30, workspace: SegmenterWorkspace(threads: 2)) }
    }

    @Test func haarWindowsNeedPowerOfTwoGrids() throws {
        // Every window is crop x crop, so the haar transform's grid rule is checked when the segmenter is made.
        let backbone = try SegmentationCheckpoint.load(fixtures.path("ct_full.safetensors")).backbone   // patch 7
        let model = try SegmentationModel.initialised(backbone: backbone, adapter: AdapterConfig(transform: .haar, tokens: 4), seed: 1)
        do {
            _ = try Segmenter(model: model, window: SlidingWindow(crop: 21, stride: 14))
            Issue.record("a 3 x 3 window grid was accepted for the haar transform")
        } catch {
            #expect(error.reason.contains("crop 21") && error.reason.contains("3 x 3 patches") && error.reason.contains("powers of two"), "\(error.reason)")
        }
        let segmenter = try Segmenter(model: model, window: SlidingWindow(crop: 28, stride: 14))   // 4 x 4
        let image = Image8(width: 40, height: 30, channels: 3, filledWith: 90)
        let labels = try segmenter.segment(image, outputHeight: 30, outputWidth: 40, workspace: SegmenterWorkspace(threads: 2))
        #expect(labels.pixels.count == 30 * 40)
    }
}
