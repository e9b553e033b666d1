// InferCommandTests.swift — `ctpipe infer` and `ctpipe features --checkpoint`
// on the tiny Causal-Tune checkpoint of the Model tests (goldens from PyTorch,
// scripts/make_adapter_fixtures.py).

import CTCore
import Foundation
import ImageIO
import TestSupport
import Testing

@Suite struct InferCommandTests {
    static let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    static let adapter = tests.appendingPathComponent("ModelTests/Fixtures/adapter").path
    static let inference = tests.appendingPathComponent("InferenceTests/Fixtures").path

    @Test func inferWritesTheArgmaxOfTheSlideAverage() throws {
        let folder = try BackboneCommandTests.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // The 47 x 34 slide fixture as a PNG; scale 47x34 keeps it as it is.
        let pixels = try NPYArray.decode(try FileBytes.read("\(Self.inference)/slide_34x47_image.npy"), path: "image")
        try ImageFile.writePNG(Image8(width: 47, height: 34, channels: 3, pixels: pixels.bytes), to: "\(folder)/frame.png")
        let result = try CTPipeBinary.run([
            "infer", "--checkpoint", "\(Self.adapter)/ct_full.safetensors", "\(folder)/frame.png", "--out-dir", "\(folder)/out",
            "--format", "trainid,color,overlay", "--scale", "47x34", "--crop", "28", "--stride", "14", "--threads", "2",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("\"windows\" : 6"))
        let labels = try ImageFile.readLabel("\(folder)/out/trainid/frame.png")
        #expect(labels.width == 47 && labels.height == 34)
        // Expected: argmax over the 5 classes of PyTorch's window-averaged logits (same size: no resize).
        let logits = try NPYFile.floatArray("\(Self.inference)/slide_34x47_logits.npy").values
        let plane = 34 * 47
        var clear = 0
        for i in 0 ..< plane {
            let scores = (0 ..< 5).map { logits[$0 * plane + i] }
            let best = scores.indices.max { scores[$0] < scores[$1] }!
            let margin = scores[best] - scores.enumerated().filter { $0.offset != best }.map(\.element).max()!
            if Int(labels.pixels[i]) != best && margin > 1e-3 { clear += 1 }
        }
        #expect(clear == 0)
        for format in ["color", "overlay"] {
            #expect(FileManager.default.fileExists(atPath: "\(folder)/out/\(format)/frame.png"), "\(format)")
        }
    }

    /// With two threads each next image decodes while the last one's files are written: the same files
    /// as one thread, and an image that does not decode is named when its turn comes.
    @Test func inferDecodingAheadWritesTheSameFiles() throws {
        let folder = try BackboneCommandTests.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var rng = SplitMix64(seed: 21)
        let names = ["a", "b", "c"]
        for name in names {
            let pixels = (0 ..< 47 * 34 * 3).map { _ in UInt8.random(in: 0 ... 255, using: &rng) }
            try ImageFile.writePNG(Image8(width: 47, height: 34, channels: 3, pixels: pixels), to: "\(folder)/\(name).png")
        }
        func infer(_ images: [String], threads: Int, out: String) throws -> (status: Int32, stderr: String) {
            let result = try CTPipeBinary.run(["infer", "--checkpoint", "\(Self.adapter)/ct_full.safetensors"] + images.map { "\(folder)/\($0).png" }
                                              + ["--out-dir", "\(folder)/\(out)", "--format", "trainid,color,overlay", "--scale", "47x34",
                                                 "--crop", "28", "--stride", "14", "--threads", "\(threads)"])
            return (result.status, result.stderr)
        }
        let one = try infer(names, threads: 1, out: "one"), two = try infer(names, threads: 2, out: "two")
        #expect(one.status == 0 && two.status == 0, "\(one.stderr) \(two.stderr)")
        for name in names {
            for format in ["trainid", "color", "overlay"] {
                let a = try FileBytes.read("\(folder)/one/\(format)/\(name).png"), b = try FileBytes.read("\(folder)/two/\(format)/\(name).png")
                #expect(a == b, "\(format)/\(name)")
            }
        }
        try AtomicFile.write(Array("not a PNG".utf8), to: "\(folder)/b.png")
        let broken = try infer(names, threads: 2, out: "broken")
        #expect(broken.status != 0)
        #expect(broken.stderr.contains("\(folder)/b.png:"), "\(broken.stderr)")
        #expect(FileManager.default.fileExists(atPath: "\(folder)/broken/trainid/a.png"))
    }

    @Test func inferRejectsABadCropAndCollidingNames() throws {
        let folder = try BackboneCommandTests.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try ImageFile.writePNG(Image8(width: 20, height: 10, channels: 3, filledWith: 90), to: "\(folder)/a.png")
        let crop = try CTPipeBinary.run(["infer", "--checkpoint", "\(Self.adapter)/ct_full.safetensors", "\(folder)/a.png",
                                         "--out-dir", "\(folder)/out"])
        #expect(crop.status != 0)
        #expect(crop.stderr.contains("crop 512 is not a multiple of the patch size 7"))
        try FileManager.default.createDirectory(atPath: "\(folder)/b", withIntermediateDirectories: true)
        try ImageFile.writePNG(Image8(width: 20, height: 10, channels: 3, filledWith: 90), to: "\(folder)/b/a.png")
        let names = try CTPipeBinary.run(["infer", "--checkpoint", "\(Self.adapter)/ct_full.safetensors", "\(folder)/a.png",
                                          "\(folder)/b/a.png", "--out-dir", "\(folder)/out", "--crop", "28"])
        #expect(names.status != 0)
        #expect(names.stderr.contains("same output name 'a'"))
    }

    @Test func featuresWithTheAdapterInThePath() throws {
        let folder = try BackboneCommandTests.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = try CTPipeBinary.run([
            "features", "--checkpoint", "\(Self.adapter)/ct_full.safetensors", "--input-npy", "\(Self.adapter)/model_input.npy",
            "--out", "\(folder)/last.npy", "--threads", "2",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let (shape, values) = try NPYFile.floatArray("\(folder)/last.npy")
        #expect(shape == [19, 16])
        let golden = try NPYFile.floatArray("\(Self.adapter)/ct_full_block3.npy").values
        expectClose(values, golden, "adapter features, block 3")
        // Without the adapter the same backbone gives something else.
        let plain = try CTPipeBinary.run([
            "features", "--weights", "\(Self.adapter)/tiny_backbone.safetensors", "--input-npy", "\(Self.adapter)/model_input.npy",
            "--out", "\(folder)/plain.npy",
        ])
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(Closeness(try NPYFile.floatArray("\(folder)/plain.npy").values, golden).worstError > 1e-2)
    }
}
