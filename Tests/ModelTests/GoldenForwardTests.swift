// GoldenForwardTests.swift — the DINOv2 forward against HuggingFace transformers.
//
// Fixtures (scripts/make_backbone_fixtures.py): tiny random-weight Dinov2Model /
// Dinov2WithRegistersModel / SwiGLU models run in PyTorch; hidden states after
// every block and the final norm. The plain model's goldens use the official
// (offset, scale_factor) position resize patched into HF; `_hfsize_` uses HF's
// own `size=` resize; the register model uses HF's (= official `_reg`) resize.

import CTCore
import Foundation
@testable import Model
import Tensor
import TestSupport
import Testing

@Suite(.serialized) struct GoldenForwardTests {
    struct Case: CustomStringConvertible, Sendable {
        let model: String, input: String, height: Int, width: Int, blocks: Int
        var description: String { input }
    }

    static let cases = [
        Case(model: "small", input: "small_28x42", height: 28, width: 42, blocks: 2),   // grid 3x3 -> 2x3
        Case(model: "small", input: "small_70x28", height: 70, width: 28, blocks: 2),   // grid 3x3 -> 5x2
        Case(model: "small", input: "small_42x42", height: 42, width: 42, blocks: 2),   // stored grid
        Case(model: "reg", input: "reg_42x56", height: 42, width: 56, blocks: 2),       // 4 registers, 3x3 -> 3x4
        Case(model: "swiglu", input: "swiglu_42x42", height: 42, width: 42, blocks: 1), // SwiGLU FFN
    ]

    static func load(_ model: String, options: WeightLoadOptions = .init()) throws -> LoadedBackbone {
        try DINOv2Weights.load(fixtures.url("backbone/\(model)/model.safetensors").path, options: options)
    }

    static func input(_ c: Case) throws -> [Float] {
        let name = c.model == "swiglu" ? "small_42x42" : c.input
        let (shape, values) = try fixtures.floatArray("backbone/\(name)_input.npy")
        #expect(shape == [3, c.height, c.width])
        return values
    }

    @Test(arguments: cases)
    func everyBlockAndFinalNorm(_ c: Case) throws {
        let loaded = try Self.load(c.model)
        let model = loaded.model
        #expect(loaded.kind == .huggingFaceSafetensors)
        #expect(model.config.depth == c.blocks)
        let image = try Self.input(c)
        let a = try model.makeActivations(height: c.height, width: c.width, threads: 2)
        var states: [[Float]] = []
        try image.withUnsafeBufferPointer { image in
            try model.embed(image, a)
            let embeddings = Array(a.x)
            expectClose(embeddings, try fixtures.floatArray("backbone/\(c.input)_embeddings.npy").values, "\(c) embeddings")
            try model.forward(image, a) { _, x in states.append(Array(x)) }
        }
        #expect(states.count == c.blocks)
        for (i, state) in states.enumerated() {
            expectClose(state, try fixtures.floatArray("backbone/\(c.input)_block\(i).npy").values, "\(c) block \(i)")
        }
        model.applyFinalNorm(a)
        expectClose(Array(a.normed), try fixtures.floatArray("backbone/\(c.input)_final.npy").values, "\(c) final norm")
    }

    @Test func featuresAtABlockAndFinal() throws {
        let model = try Self.load("small").model
        let c = Self.cases[0]
        let image = try Self.input(c)
        let a = try model.makeActivations(height: c.height, width: c.width, threads: 2)
        let block0 = try image.withUnsafeBufferPointer { try model.features($0, a, at: .block(0)) }
        #expect(block0.shape == [1 + 6, 16])
        expectClose(block0.storage, try fixtures.floatArray("backbone/small_28x42_block0.npy").values, "features block 0")
        let final = try image.withUnsafeBufferPointer { try model.features($0, a, at: .finalNorm) }
        expectClose(final.storage, try fixtures.floatArray("backbone/small_28x42_final.npy").values, "features final")
    }

    @Test func huggingFaceSizeFlavour() throws {
        let model = try Self.load("small", options: WeightLoadOptions(interpolation: .size)).model
        let image = try fixtures.floatArray("backbone/small_28x42_input.npy").values
        let a = try model.makeActivations(height: 28, width: 42, threads: 2)
        let final = try image.withUnsafeBufferPointer { try model.features($0, a, at: .finalNorm) }
        expectClose(final.storage, try fixtures.floatArray("backbone/small_28x42_hfsize_final.npy").values, "HF size= flavour")
        // And the official flavour really is different at this size.
        let official = try fixtures.floatArray("backbone/small_28x42_final.npy").values
        #expect(Closeness(final.storage, official).worstError > 1e-3)
    }

    @Test func interpolationFlavourFollowsRegisters() throws {
        #expect(try Self.load("small").model.config.interpolation == .offset)
        #expect(try Self.load("reg").model.config.interpolation == .antialiased)
        #expect(try Self.load("reg").model.config.registers == 4)
    }

    @Test func arenaIsReusedAcrossImages() throws {
        let model = try Self.load("small").model
        let a = try model.makeActivations(height: 28, width: 42, threads: 2)
        let image = try fixtures.floatArray("backbone/small_28x42_input.npy").values
        let first = try image.withUnsafeBufferPointer { try model.features($0, a, at: .finalNorm) }
        let zeros = [Float](repeating: 0, count: image.count)
        _ = try zeros.withUnsafeBufferPointer { try model.features($0, a, at: .finalNorm) }
        let again = try image.withUnsafeBufferPointer { try model.features($0, a, at: .finalNorm) }
        #expect(first == again)
    }

    @Test func rejectsBadInputs() throws {
        let model = try Self.load("small").model
        #expect(throws: ModelInputError.self) { _ = try model.makeActivations(height: 30, width: 42, threads: 2) }
        let a = try model.makeActivations(height: 28, width: 42, threads: 2)
        let short = [Float](repeating: 0, count: 10)
        #expect(throws: ModelInputError.self) { try short.withUnsafeBufferPointer { try model.embed($0, a) } }
        let image = [Float](repeating: 0, count: 3 * 28 * 42)
        #expect(throws: ModelInputError.self) {
            _ = try image.withUnsafeBufferPointer { try model.features($0, a, at: .block(2)) }
        }
    }
}
