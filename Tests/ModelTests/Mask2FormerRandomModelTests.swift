// Mask2FormerRandomModelTests.swift — the random-weight Mask2Former model the
// benchmarks build (`Mask2FormerModel.random`, `RandomParameters`) and the head
// run alone on a window's pyramid (`headScores`), on the sizes of the
// whole-model golden fixture.

import CTCore
import Foundation
import Model
import Tensor
import TestSupport
import Testing

@Suite struct Mask2FormerRandomModelTests {
    @Test func randomModelBindsEveryTensorOfTheLoadedOne() throws {
        let loaded = try Mask2FormerModelTests.load()
        let model = try Mask2FormerModel.random(config: loaded.config, backbone: loaded.backbone, seed: 5)
        let expected = loaded.stateDict(), random = model.stateDict()
        #expect(Set(random.keys) == Set(expected.keys))
        for (name, tensor) in expected { #expect(random[name]?.shape == tensor.shape, "\(name)") }
        let again = try Mask2FormerModel.random(config: loaded.config, backbone: loaded.backbone, seed: 5).stateDict()
        let other = try Mask2FormerModel.random(config: loaded.config, backbone: loaded.backbone, seed: 6).stateDict()
        let name = "decode_head.transformer_decoder.layers.0.ffn.layers.0.0.weight"
        #expect(again[name]!.storage == random[name]!.storage)
        #expect(other[name]!.storage != random[name]!.storage)
        let norm = try #require(random["decode_head.transformer_decoder.post_norm.weight"]).storage
        #expect(norm.allSatisfy { abs($0 - 1) <= 0.1 })
    }

    @Test func randomModelScoresAreBoundedAndSurviveItsFile() throws {
        let loaded = try Mask2FormerModelTests.load()
        let model = try Mask2FormerModel.random(config: loaded.config, backbone: loaded.backbone, seed: 5)
        let c = try Mask2FormerModelGoldenTests.sizes().cases[1]
        let image = try fixtures.floatArray(Mask2FormerModelTests.folder + c.image).values
        let scores = try Mask2FormerModelTests.scores(model, image, height: c.height, width: c.width, threads: 2)
        // Σ_q softmax(class_q)[c] · sigmoid(mask_q): in [0, Q], not all zero.
        let q = Float(model.config.decoder.queries)
        #expect(scores.allSatisfy { $0.isFinite && $0 >= 0 && $0 <= q })
        #expect(scores.contains { $0 > 1e-3 })
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-m2f-random-\(UUID()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SafeTensors.write(model.ctpipeFile(), to: path)
        let reloaded = try Mask2FormerModel.load(ctpipe: path)
        #expect(try Mask2FormerModelTests.scores(reloaded, image, height: c.height, width: c.width, threads: 2) == scores)
    }

    @Test(arguments: [1, 2])
    func headAloneOnTheWindowPyramidRepeatsTheScores(threads: Int) throws {
        let model = try Mask2FormerModelTests.load()
        let c = try Mask2FormerModelGoldenTests.sizes().cases[1]
        let image = try fixtures.floatArray(Mask2FormerModelTests.folder + c.image).values
        let expected = try fixtures.floatArray(Mask2FormerModelTests.folder + c.scores).values
        let workspace = try model.makeWorkspace(height: c.height, width: c.width, threads: threads)
        try image.withUnsafeBufferPointer { try model.scores($0, workspace) }
        let first = Array(workspace.scores)
        workspace.scores.update(repeating: .nan)
        model.headScores(workspace)
        #expect(Array(workspace.scores) == first)
        expectClose(Array(workspace.scores), expected, tolerance: 1e-4, "head alone, \(threads) threads")
    }
}
