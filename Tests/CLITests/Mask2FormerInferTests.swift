// Mask2FormerInferTests.swift — `ctpipe infer` with Mask2Former models: a converted
// file runs without --adapter and its --save-logits scores are the slide average of
// the model's window scores; an MMSeg .pth without --adapter is told the choices.

import CTCore
import Foundation
import ImageIO
import Inference
import Model
import Testing

@Suite struct Mask2FormerInferTests {
    /// The whole-model fixture of the model tests (a tiny Rein model with the Mask2Former head).
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../ModelTests/Fixtures/mask2former_model").standardizedFileURL.path

    static func model() throws -> Mask2FormerModel {
        try Mask2FormerModel.load(checkpoint: fixture + "/checkpoint.pth", weights: fixture + "/dinov2.pth", adapter: .rein,
                                  options: Mask2FormerLoadOptions(backbone: WeightLoadOptions(heads: 4), heads: 4, points: 4,
                                                                  groupNormGroups: 8, decoderHeads: 4, outIndices: [0, 1, 2, 3]))
    }

    @Test func aConvertedModelSavesTheSlideAverageOfItsWindowScores() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-m2f-infer-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let model = try Self.model()
        try SafeTensors.write(model.ctpipeFile(), to: folder + "/model.safetensors")
        var rng = SplitMix64(seed: 11)
        let image = Image8(width: 48, height: 32, channels: 3, pixels: (0 ..< 48 * 32 * 3).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        try ImageFile.writePNG(image, to: folder + "/street.png")

        let result = try CTPipeBinary.run(["infer", "--checkpoint", folder + "/model.safetensors", folder + "/street.png",
                                           "--out-dir", folder + "/out", "--crop", "32", "--stride", "16", "--scale", "48x32",
                                           "--save-logits", "--threads", "2"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("\"adapter\" : \"rein\""))
        let saved = try NPYArray.decode(try FileBytes.read(folder + "/out/logits/street.npy"), path: "street.npy")
        let k = model.classes
        #expect(saved.shape == [k, 32, 48])
        let values = saved.bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }

        // Two windows (x 0 and 16) over the normalised image, averaged where they overlap.
        let planes = InputNormalization.planes(image)
        let workspace = try model.makeWorkspace(height: 32, width: 32, threads: 2)
        var sum = [Float](repeating: 0, count: k * 32 * 48), count = [Float](repeating: 0, count: 48)
        for x0 in [0, 16] {
            var window = [Float](repeating: 0, count: 3 * 32 * 32)
            for c in 0 ..< 3 { for y in 0 ..< 32 { for x in 0 ..< 32 { window[(c * 32 + y) * 32 + x] = planes[(c * 32 + y) * 48 + x0 + x] } } }
            try window.withUnsafeBufferPointer { try model.scores($0, workspace) }
            for c in 0 ..< k { for y in 0 ..< 32 { for x in 0 ..< 32 { sum[(c * 32 + y) * 48 + x0 + x] += workspace.scores[(c * 32 + y) * 32 + x] } } }
            for x in 0 ..< 32 { count[x0 + x] += 1 }
        }
        let expected = sum.indices.map { sum[$0] / count[$0 % 48] }
        let worst = zip(values, expected).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-6, "saved logits differ from the slide average by \(worst)")
        #expect(FileManager.default.fileExists(atPath: folder + "/out/trainid/street.png"))
    }

    @Test func aPthWithoutAdapterIsToldTheChoices() throws {
        let result = try CTPipeBinary.run(["infer", "--checkpoint", Self.fixture + "/checkpoint.pth", "--weights", Self.fixture + "/dinov2.pth",
                                           "/nonexistent.png", "--out-dir", "/tmp/ctpipe-never"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("rein|causal-tune-released|causal-tune"), "\(result.stderr)")
    }
}
