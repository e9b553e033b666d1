// PixelDecoderGradientTests.swift — the training path of Mask2Former's pixel
// decoder and of the feature pyramid against PyTorch autograd, and the
// decoder's backward against finite differences of its own forward.
//
// Fixtures (scripts/make_pixel_decoder_gradient_fixtures.py): the gradients of
// L = Σ w ⊙ mask_features + Σ w ⊙ multi_scale, w[i] = sin(0.7 i + 0.3)·cos(0.013 i),
// of HuggingFace's Mask2FormerPixelDecoder on the forward fixture's weights and
// inputs (PixelDecoderGoldenTests), w.r.t. every parameter and the four input
// maps; and of the pyramid's four bilinear levels w.r.t. the patch tokens on a
// 5 x 7 and a 4 x 6 grid.
// Tolerance: per tensor, max |actual - expected| / max |expected| ≤ 1e-4 (a
// float32 forward and backward through two encoder layers, GroupNorms and a
// softmax against float64; the measured worst is printed).

import CTCore
import Foundation
@testable import Model
import Tensor
import TestSupport
import Testing

/// Every parameter a walk visits, by name.
struct ParameterCollector: ParameterVisitor {
    var parameters: [(name: String, parameter: Parameter)] = []
    mutating func visit(_ parameter: inout Parameter, _ info: ParameterInfo) throws(WeightError) {
        parameters.append((info.name, parameter))
    }
}

/// The fixtures' loss weights: w[i] = sin(0.7 i + 0.3)·cos(0.013 i), float32-rounded.
func lossWeights(_ count: Int) -> [Float] {
    (0 ..< count).map { Float(sin(0.7 * Double($0) + 0.3) * cos(0.013 * Double($0))) }
}

/// max |a - e| / max |e|.
func scaledError(_ actual: [Float], _ expected: [Float]) -> Double {
    precondition(actual.count == expected.count)
    let scale = Double(expected.map(abs).max() ?? 0)
    var worst = 0.0
    for (a, e) in zip(actual, expected) {
        let d = Double(abs(a - e))
        worst = max(worst, d.isNaN ? .infinity : d)
    }
    return worst / max(scale, 1e-30)
}

@Suite struct PixelDecoderGradientTests {
    /// One forward (keep:) and backward of `decoder` on `inputs`: (mask features, multi-scale, gradient
    /// buffer over the decoder's storage, input gradients).
    static func run(_ decoder: PixelDecoder, shapes: [LevelShape], inputs: [[Float]], threads: Int, dMask: [Float], dMulti: [Float],
                    withGradients: Bool = true) throws -> (mask: [Float], multi: [Float], grads: [Float], inputGrads: [[Float]]) {
        let ws = try PixelDecoderWorkspace(decoder: decoder, shapes: shapes, threads: threads)
        let saved = PixelDecoderSaved(decoder: decoder, workspace: ws)
        let storage = try #require(decoder.maskFeature.weight.buffer)
        var mask = [Float](repeating: .nan, count: decoder.config.outChannels * ws.maskShape.count)
        var multi = [Float](repeating: .nan, count: ws.multiScaleRows * decoder.config.featureChannels)
        var grads = [Float](repeating: 0, count: storage.count)
        let pointers = inputs.map { a -> UnsafeMutablePointer<Float> in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: a.count)
            p.initialize(from: a, count: a.count)
            return p
        }
        defer { pointers.forEach { $0.deallocate() } }
        let features = pointers.map { UnsafePointer($0) }
        mask.withUnsafeMutableBufferPointer { m in
            multi.withUnsafeMutableBufferPointer { s in
                decoder.forward(features: features, workspace: ws, maskFeatures: m.baseAddress!, multiScale: s.baseAddress!, keep: saved)
            }
        }
        grads.withUnsafeMutableBufferPointer { g in
            let gradients = withGradients ? ParameterGradients(values: storage, buffer: g.baseAddress!) : nil
            decoder.backward(maskFeatures: dMask, multiScale: dMulti, features: features, workspace: ws, saved: saved, gradients: gradients)
        }
        return (mask, multi, grads, saved.inputGradients.map { Array($0) })
    }

    static func fixtureInputs() throws -> [[Float]] { try (0 ..< 4).map { try fixtures.floats("pixel_decoder/input\($0).npy") } }

    @Test func decoderGradientsMatchTorch() throws {
        let (decoder, _) = try PixelDecoderGoldenTests.loaded(PixelDecoderGoldenTests.tensors())
        let inputs = try Self.fixtureInputs()
        let expected = try SafeTensors.read(fixtures.path("pixel_decoder_gradients/gradients.safetensors")).tensors
        var collector = ParameterCollector()
        var walked = decoder
        try walked.walkParameters(&collector, PixelDecoderGoldenTests.scope)
        #expect(Set(collector.parameters.map(\.name)) == Set(expected.keys))
        let maskCount = decoder.config.outChannels * 24 * 32, multiCount = (12 * 16 + 6 * 8 + 3 * 4) * 32
        let dMask = lossWeights(maskCount), dMulti = lossWeights(multiCount)
        var results: [Int: [Float]] = [:]
        for threads in [1, 2, 3] {
            let r = try Self.run(decoder, shapes: PixelDecoderGoldenTests.shapes, inputs: inputs, threads: threads, dMask: dMask,
                                 dMulti: dMulti)
            // The training forward gives the inference outputs.
            let (mask, multi) = try PixelDecoderGoldenTests.run(decoder, threads: threads)
            #expect(r.mask == mask && r.multi == multi, "keep: changes the outputs (\(threads) threads)")
            var worst = (0.0, "")
            for (name, p) in collector.parameters {
                let actual = Array(r.grads[p.offset ..< p.offset + p.count])
                let e = try #require(expected[name]).storage
                let error = scaledError(actual, e)
                if error > worst.0 { worst = (error, name) }
                #expect(error <= 1e-4, "\(name): error \(error) relative to max |grad| (\(threads) threads)")
            }
            for i in 0 ..< 4 {
                let e = try fixtures.floats("pixel_decoder_gradients/input\(i)_grad.npy")
                let error = scaledError(r.inputGrads[i], e)
                if error > worst.0 { worst = (error, "input \(i)") }
                #expect(error <= 1e-4, "input map \(i): error \(error) relative to max |grad| (\(threads) threads)")
            }
            print("pixel decoder gradients, \(threads) threads: worst \(worst.1) \(worst.0)")
            results[threads] = r.grads + r.inputGrads.flatMap { $0 }
            // Deterministic for a given thread count.
            let again = try Self.run(decoder, shapes: PixelDecoderGoldenTests.shapes, inputs: inputs, threads: threads, dMask: dMask,
                                     dMulti: dMulti)
            #expect(again.grads == r.grads && again.inputGrads == r.inputGrads, "a second backward differs (\(threads) threads)")
        }
        // Without parameter gradients (all frozen) the input gradients are the same.
        let frozen = try Self.run(decoder, shapes: PixelDecoderGoldenTests.shapes, inputs: inputs, threads: 2, dMask: dMask,
                                  dMulti: dMulti, withGradients: false)
        #expect(frozen.grads.allSatisfy { $0 == 0 })
        #expect(frozen.inputGrads.flatMap { $0 } == Array(try #require(results[2]).suffix(frozen.inputGrads.reduce(0) { $0 + $1.count })))
    }

    /// A tiny decoder with two FPN maps, seeded random parameters.
    static func tinyDecoder() throws -> (PixelDecoder, [LevelShape]) {
        let config = PixelDecoderConfig(inChannels: [3, 3, 4, 5, 6], featureChannels: 8, outChannels: 4, encoderLevels: 3,
                                        encoderLayers: 2, heads: 2, points: 2, feedforward: 12, groupNormGroups: 2)
        var decoder = try PixelDecoder(config: config)
        var random = RandomParameters(count: ParameterList.count(of: decoder), seed: 5)
        try decoder.walkParameters(&random, ParameterScope())
        let shapes = [LevelShape(height: 11, width: 9), LevelShape(height: 6, width: 5), LevelShape(height: 3, width: 3),
                      LevelShape(height: 2, width: 2), LevelShape(height: 1, width: 2)]
        return (decoder, shapes)
    }

    @Test func decoderGradientsMatchFiniteDifferences() throws {
        let (decoder, shapes) = try Self.tinyDecoder()
        var rng = SplitMix64(seed: 17)
        var inputs = zip(decoder.config.inChannels, shapes).map { c, s in (0 ..< c * s.count).map { _ in Float.random(in: -1 ..< 1, using: &rng) } }
        let maskCount = decoder.config.outChannels * shapes[0].count
        let multiCount = (shapes[2].count + shapes[3].count + shapes[4].count) * decoder.config.featureChannels
        let dMask = lossWeights(maskCount), dMulti = lossWeights(multiCount + 5).suffix(multiCount).map { $0 }
        let r = try Self.run(decoder, shapes: shapes, inputs: inputs, threads: 2, dMask: dMask, dMulti: dMulti)
        func loss() throws -> Double {
            let out = try Self.run(decoder, shapes: shapes, inputs: inputs, threads: 2, dMask: dMask, dMulti: dMulti, withGradients: false)
            return zip(out.mask, dMask).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                + zip(out.multi, dMulti).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        var collector = ParameterCollector()
        var walked = decoder
        try walked.walkParameters(&collector, ParameterScope())
        let storage = try #require(decoder.maskFeature.weight.buffer)
        var worst = 0.0
        let h = 1e-3
        // Along a seeded random unit direction per tensor (parameters, then input maps).
        func check(_ name: String, count: Int, gradient: [Float], shift: (Int, Float) -> Void) throws {
            var v = (0 ..< count).map { _ in Double.random(in: -1 ... 1, using: &rng) }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            v = v.map { $0 / norm }
            for (k, x) in v.enumerated() { shift(k, Float(h * x)) }
            let plus = try loss()
            for (k, x) in v.enumerated() { shift(k, Float(-2 * h * x)) }
            let minus = try loss()
            for (k, x) in v.enumerated() { shift(k, Float(h * x)) }
            let numeric = (plus - minus) / (2 * h)
            let analytic = zip(gradient, v).reduce(0.0) { $0 + Double($1.0) * $1.1 }
            let gNorm = gradient.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            let error = abs(numeric - analytic) / max(gNorm, 1e-1)
            worst = max(worst, error)
            #expect(error < 2e-2, "\(name): finite difference \(numeric) vs analytic \(analytic) (|g| \(gNorm))")
        }
        for (name, p) in collector.parameters {
            let base = Array(storage.values[p.offset ..< p.offset + p.count])
            try check(name, count: p.count, gradient: Array(r.grads[p.offset ..< p.offset + p.count])) { k, delta in
                storage.values[p.offset + k] += delta
            }
            for k in 0 ..< p.count { storage.values[p.offset + k] = base[k] }
        }
        for i in inputs.indices {
            let base = inputs[i]
            try check("input \(i)", count: base.count, gradient: r.inputGrads[i]) { k, delta in inputs[i][k] += delta }
            inputs[i] = base
        }
        print("pixel decoder finite differences: \(collector.parameters.count) tensors and 5 maps, worst error relative to |g| \(worst)")
    }

    @Test(arguments: [(5, 7), (4, 6)])
    func pyramidBackwardMatchesTorch(_ grid: (Int, Int)) throws {
        let (h, w) = grid, c = 3, prefix = 2
        let expected = try fixtures.floats("pixel_decoder_gradients/pyramid_\(h)x\(w)_grad.npy")
        for threads in [1, 2] {
            let pyramid = try FeaturePyramid(blocks: [0, 1, 2, 3], depth: 4, embedDim: c, gridHeight: h, gridWidth: w, threads: threads)
            var stream = [Float](repeating: 0, count: (prefix + h * w) * c)
            for j in 0 ..< 4 {
                let dLevel = lossWeights(c * pyramid.heights[j] * pyramid.widths[j])
                stream.withUnsafeMutableBufferPointer { s in
                    pyramid.addGradient(level: j, dLevel, intoStream: s.baseAddress!, prefixTokens: prefix)
                }
            }
            #expect(stream[0 ..< prefix * c].allSatisfy { $0 == 0 }, "CLS and registers get no gradient")
            let error = scaledError(Array(stream[(prefix * c)...]), expected)
            #expect(error <= 1e-6, "pyramid \(h)x\(w), \(threads) threads: error \(error)")
        }
    }
}
