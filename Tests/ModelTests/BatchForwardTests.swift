// BatchForwardTests.swift — a batch of B images through one forward pass gives
// what B single-image forwards give (the golden tests pin the single forward to
// PyTorch). The model is wide enough (C = 128) that the Linear layers split
// their B·T rows over the kernel threads, and the grid is large enough for two
// attention query blocks per image, so the batch changes how rows are grouped
// into GEMM calls and attention items; the values must not change by a bit.

import CTCore
import Foundation
import Model
import Tensor
import TestSupport
import Testing

@Suite(.serialized) struct BatchForwardTests {
    /// A random model: C = 128, 2 heads, 2 blocks, 14-pixel patches, stored grid 4.
    static func model(registers: Int, ffn: FeedForwardKind) throws -> DINOv2 {
        let config = DINOv2Config(embedDim: 128, depth: 2, heads: 2, patchSize: 14, registers: registers, gridSize: 4,
                                  ffnHidden: ffn == .mlp ? 512 : 256, ffn: ffn)
        var rng = SplitMix64(seed: UInt64(17 + registers))
        var tensors: [String: Tensor] = [:]
        for (name, shape) in DINOv2Weights.expectedShapes(config) {
            let n = shape.reduce(1, *)
            let scale: Float = shape.count >= 2 && name != "pos_embed" ? (3 / Float(shape.dropFirst().reduce(1, *))).squareRoot() : 0.5
            let offset: Float = name.hasSuffix("gamma") || (name.contains("norm") && name.hasSuffix("weight")) ? 1 : 0
            tensors[name] = Tensor(shape: shape, storage: rng.floats(n).map { offset + scale * $0 })
        }
        return try DINOv2Weights.build(tensors, naming: .official, path: "random", options: WeightLoadOptions(heads: 2))
    }

    @Test(arguments: [(1, 0, FeedForwardKind.mlp), (2, 4, .mlp), (3, 0, .swiglu)])
    func batchOfFourEqualsFourSingles(threads: Int, registers: Int, ffn: FeedForwardKind) throws {
        do {
            let model = try Self.model(registers: registers, ffn: ffn)
            let height = 168, width = 182, batch = 4, pixels = 3 * height * width
            var rng = SplitMix64(seed: 99)
            let images = rng.floats(batch * pixels, in: -2 ... 2)
            let single = try model.makeActivations(height: height, width: width, threads: threads)
            let t = single.tokens, c = model.config.embedDim
            #expect(t == 1 + registers + 12 * 13 && t > Attention.queryBlock)
            var expectedBlocks: [[Float]] = Array(repeating: [], count: model.config.depth)
            var expectedFinal: [Float] = []
            for b in 0 ..< batch {
                try images.withUnsafeBufferPointer { all in
                    try model.forward(UnsafeBufferPointer(rebasing: all[(b * pixels) ..< ((b + 1) * pixels)]), single) { i, x in
                        expectedBlocks[i] += Array(x)
                    }
                }
                model.applyFinalNorm(single)
                expectedFinal += Array(single.normed)
            }
            let arena = try model.makeActivations(height: height, width: width, batch: batch, threads: threads)
            #expect(arena.rows == batch * t)
            var blocks: [[Float]] = []
            try images.withUnsafeBufferPointer { try model.forward($0, arena) { _, x in blocks.append(Array(x)) } }
            model.applyFinalNorm(arena)
            #expect(blocks.count == model.config.depth)
            for (i, state) in blocks.enumerated() {
                Self.expectIdentical(state, expectedBlocks[i], "batch of 4, block \(i), threads \(threads)")
            }
            Self.expectIdentical(Array(arena.normed), expectedFinal, "batch of 4, final norm, threads \(threads)")
            let features = try images.withUnsafeBufferPointer { try model.features($0, arena, at: .finalNorm) }
            #expect(features.shape == [batch, t, c])
            #expect(features.storage == expectedFinal, "features() of a batch: (B, T, C) of the final norm")
        }
    }

    /// Bit-identical, or a failure naming the worst element (not the whole arrays).
    static func expectIdentical(_ actual: [Float], _ expected: [Float], _ label: String,
                                sourceLocation: SourceLocation = #_sourceLocation) {
        let identical = actual == expected
        let c = Closeness(actual, expected)
        #expect(identical, "\(label): not bit-identical; worst element \(c.worstIndex): \(c.actual) vs \(c.expected)",
                sourceLocation: sourceLocation)
    }

    @Test func rejectsBadBatchInputs() throws {
        let model = try Self.model(registers: 0, ffn: .mlp)
        #expect(throws: ModelInputError.self) { _ = try model.makeActivations(height: 28, width: 28, batch: 0, threads: 2) }
        let arena = try model.makeActivations(height: 28, width: 28, batch: 3, threads: 2)
        let oneImage = [Float](repeating: 0, count: 3 * 28 * 28)
        #expect(throws: ModelInputError.self) { try oneImage.withUnsafeBufferPointer { try model.forward($0, arena) } }
    }
}
