// Mask2FormerTrainerTests.swift — the whole Mask2Former model's gradients through
// Mask2FormerTrainer: every trainable tensor against central finite differences
// of the float64-accumulated loss (float32 network) along a seeded random unit
// direction and the gradient's own direction, on a tiny model (backbone C 32,
// 4 blocks; head width 16, 2 decoder layers, 1 encoder layer, 4 queries), with
// a fixed point stream and uniform points only (importance share 0), so the
// loss is a smooth function of the parameters away from the matching's and the
// attention masks' jumps (a step crossing one is retried smaller, or skipped)
// and the kinks (ReLU, bilinear taps). Also: activation checkpointing gives
// the same gradients bit for bit; a training step is bit-identical for the same
// thread count and close across thread counts; the initialiser follows mmdet.

import CTCore
import Foundation
@testable import Model
import Tensor
import TestSupport
import Testing
@testable import Training

@Suite(.serialized) struct Mask2FormerTrainerTests {
    static let side = 32

    /// A tiny model: backbone C 32, 4 blocks of 2 heads, patch 8 (4 x 4 grid at 32 px), out indices 0...3;
    /// head width 16, 2 decoder layers, 1 encoder layer, 4 queries, 3 classes.
    static func model(kind: AdapterKind = .rein, rank: Int = 0, trainsBackbone: Bool = false, seed: UInt64 = 5) throws -> Mask2FormerModel {
        let b = DINOv2Config(embedDim: 32, depth: 4, heads: 2, patchSize: 8, registers: 0, gridSize: 4, ffnHidden: 64)
        let backbone = DINOv2.randomlyInitialised(config: b, seed: 11)
        let adapter = AdapterConfig(kind: kind, tokens: 4, rank: rank, queryLink: true, queryDims: 16)
        let pixel = PixelDecoderConfig(inChannels: [32, 32, 32, 32], featureChannels: 16, outChannels: 16, encoderLevels: 3,
                                       encoderLayers: 1, heads: 2, points: 2, feedforward: 32, groupNormGroups: 4)
        let decoder = Mask2FormerDecoderConfig(embedDim: 16, heads: 2, queries: 4, classes: 3, layers: 2, feedForward: 32, levels: 3)
        let config = Mask2FormerConfig(adapter: adapter, outIndices: [0, 1, 2, 3], pixelDecoder: pixel, decoder: decoder)
        var model = try Mask2FormerModel.initialised(config: config, backbone: backbone, seed: seed)
        // mmdet starts the deformable attention's offsets and weights at zero and the adapter's scale at 1e-3:
        // nudge every trainable value so no gradient is trivially zero or masked by a constant.
        var rng = SplitMix64(seed: 77)
        let values = model.trainableStorage.values
        for i in values.indices { values[i] += 0.05 * Float.random(in: -1 ... 1, using: &rng) }
        model.parametersChanged()
        return trainsBackbone ? model.training(backbone: true) : model
    }

    static func example(_ seed: UInt64) -> TrainingExample {
        var rng = SplitMix64(seed: seed)
        let image = (0 ..< 3 * side * side).map { _ in Float.random(in: -2 ... 2, using: &rng) }
        // Three regions (classes 0, 2 and ignore) and a stripe of class 1.
        var label = [UInt8](repeating: 0, count: side * side)
        for y in 0 ..< side {
            for x in 0 ..< side {
                label[y * side + x] = x > 20 ? 2 : y < 6 ? 255 : (x + y) % 11 < 3 ? 1 : 0
            }
        }
        return TrainingExample(image: image, label: label)
    }

    static var lossConfig: Mask2FormerLossConfig {
        var c = Mask2FormerLossConfig()
        c.points = 48
        c.importanceSampleRatio = 0
        return c
    }

    /// The loss, and what makes it jump: the decoder's attention masks (sigmoid(mask logits) < 0.5) and the matchings.
    static func loss(_ trainer: Mask2FormerTrainer, _ model: Mask2FormerModel,
                     _ example: TrainingExample) throws -> (loss: Double, discrete: [Bool], matches: [[Mask2FormerMatch]]) {
        var random = SplitMix64(seed: 2024)
        let result = try example.image.withUnsafeBufferPointer { image in
            try example.label.withUnsafeBufferPointer { try trainer.loss(model: model, image: image, labels: $0, random: &random) }
        }
        return (result.total, Array(trainer.buffers.decoder.buffers.bools), result.outputs.map(\.matches))
    }

    static func gradients(_ trainer: Mask2FormerTrainer, _ model: Mask2FormerModel, _ example: TrainingExample,
                          seed: UInt64 = 2024) throws -> (GradientStore, Mask2FormerLossResult) {
        let grads = try GradientStore(model: model)
        var random = SplitMix64(seed: seed)
        let result = try example.image.withUnsafeBufferPointer { image in
            try example.label.withUnsafeBufferPointer {
                try trainer.accumulateGradients(model: model, image: image, labels: $0, scale: 1, random: &random, into: grads)
            }
        }
        return (grads, result)
    }

    @Test(arguments: [("rein", AdapterKind.rein, 0, false), ("causal-tune low-rank", .causalTune, 2, false),
                      ("rein, trainable backbone", .rein, 0, true)])
    func gradientsMatchFiniteDifferences(_ name: String, kind: AdapterKind, rank: Int, trainsBackbone: Bool) throws {
        let model = try Self.model(kind: kind, rank: rank, trainsBackbone: trainsBackbone)
        let trainer = try Mask2FormerTrainer(model: model, height: Self.side, width: Self.side, threads: 2, loss: Self.lossConfig)
        let example = Self.example(3)
        let (grads, result) = try Self.gradients(trainer, model, example)
        #expect(result.outputs.count == 3, "the initial prediction and both decoder layers are supervised")
        #expect(result.outputs.allSatisfy { $0.matches.count == 3 }, "classes 0, 1, 2 matched")
        let layout = trainer.layout
        if trainsBackbone { #expect(layout.specs.contains { $0.name == "backbone.blocks.0.attn.qkv.weight" }) }
        let values = model.trainableStorage.values
        let base = Array(values)
        var rng = SplitMix64(seed: 99)
        var worst = 0.0, worstName = "", checked = 0, skipped = 0
        let reference = try Self.loss(trainer, model, example)
        for (i, spec) in layout.specs.enumerated() {
            let g = grads.buffer(i).map(Double.init)
            let gNorm = g.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let directions = FiniteDifferenceDirections.unit(gradient: g, random: &rng)
            for v in directions {
                func shifted(_ sign: Double, _ h: Double) throws -> (loss: Double, discrete: [Bool], matches: [[Mask2FormerMatch]]) {
                    let o = layout.offsets[i]
                    for k in 0 ..< spec.count { values[o + k] = base[o + k] + Float(sign * h * v[k]) }
                    defer { for k in 0 ..< spec.count { values[o + k] = base[o + k] } }
                    var shiftedModel = model
                    shiftedModel.parametersChanged()
                    return try Self.loss(trainer, shiftedModel, example)
                }
                // A step that flips an attention mask or changes a matching crosses a jump of the loss (in
                // PyTorch too): retry with a smaller one; a direction that keeps crossing is skipped.
                var h = 1e-3, plus = try shifted(1, h), minus = try shifted(-1, h)
                while h > 1.1e-5, plus.discrete != reference.discrete || minus.discrete != reference.discrete
                        || plus.matches != reference.matches || minus.matches != reference.matches {
                    h /= 10
                    (plus, minus) = (try shifted(1, h), try shifted(-1, h))
                }
                guard plus.discrete == reference.discrete, minus.discrete == reference.discrete, plus.matches == reference.matches,
                      minus.matches == reference.matches else { skipped += 1; continue }
                checked += 1
                let numeric = (plus.loss - minus.loss) / (2 * h)
                let analytic = zip(g, v).reduce(0) { $0 + $1.0 * $1.1 }
                // Float32 forward: the loss (~10) carries ~1e-6 relative noise, ~1e-5 / 2h absolute after the difference.
                let error = abs(numeric - analytic) / max(gNorm, 0.1), allowed = 3e-2 + 1e-5 / (2 * h * max(gNorm, 0.1))
                if error > worst { (worst, worstName) = (error, spec.name) }
                #expect(error < allowed, "\(name) \(spec.name): finite difference \(numeric) vs analytic \(analytic) (|g| \(gNorm), h \(h))")
            }
            #expect(gNorm > 0, "\(name) \(spec.name): zero gradient")
        }
        #expect(skipped * 20 <= checked, "\(name): \(skipped) directions skipped (a jump within 1e-5), \(checked) checked")
        print("Mask2Former finite differences \(name): \(layout.count) tensors, \(checked) directions checked, \(skipped) skipped, worst error relative to |g| \(worst) (\(worstName))")
    }

    @Test(arguments: [false, true])
    func activationCheckpointingGivesTheSameGradients(trainsBackbone: Bool) throws {
        let model = try Self.model(kind: .causalTune, rank: 2, trainsBackbone: trainsBackbone)
        let example = Self.example(4)
        let kept = try Mask2FormerTrainer(model: model, height: Self.side, width: Self.side, threads: 2)
        let recomputed = try Mask2FormerTrainer(model: model, height: Self.side, width: Self.side, threads: 2, activationCheckpointing: true)
        let (a, la) = try Self.gradients(kept, model, example)
        let (b, lb) = try Self.gradients(recomputed, model, example)
        #expect(la == lb)
        #expect(Array(a.all) == Array(b.all), "checkpointing recomputes the same values")
        #expect(recomputed.activationBytes < kept.activationBytes)
    }

    /// Two steps (2 micro-batches of 2) of a fresh trainer on `threads`: the trainable values and the stream.
    static func steps(threads: Int) throws -> ([Float], UInt64, [StepResult]) {
        let model = try Self.model(kind: .rein, rank: 0)
        var loss = Mask2FormerLossConfig()
        loss.points = 64
        let trainer = try Trainer(model: model, optimiser: AdamW(config: AdamWConfig(learningRate: 1e-3), layout: try ParameterLayout(model)),
                                  schedule: LearningRateSchedule(baseRate: 1e-3, iterations: 10, power: 0.9), cropSize: Self.side,
                                  threads: threads, activationCheckpointing: false, loss: loss, lossRandom: SplitMix64(seed: 31))
        var results: [StepResult] = []
        for t in 0 ..< 2 {
            results.append(try trainer.step(iteration: t, microBatches: [[Self.example(UInt64(10 + 4 * t)), Self.example(UInt64(11 + 4 * t))],
                                                                         [Self.example(UInt64(12 + 4 * t)), Self.example(UInt64(13 + 4 * t))]]))
        }
        return (Array(trainer.model.trainableStorage.values), trainer.lossRandom.state, results)
    }

    @Test func stepsAreBitIdenticalForAThreadCountAndCloseAcrossThreadCounts() throws {
        let (a, streamA, resultsA) = try Self.steps(threads: 2)
        let (b, streamB, resultsB) = try Self.steps(threads: 2)
        #expect(a == b, "same thread count: the same bits")
        #expect(resultsA == resultsB)
        #expect(streamA == streamB)
        #expect(streamA != SplitMix64(seed: 31).state, "the loss's stream advanced")
        #expect(resultsA.allSatisfy { $0.parts.count == 3 && $0.loss.isFinite && $0.pixels == 4 })
        let (c, streamC, resultsC) = try Self.steps(threads: 1)
        #expect(streamC == streamA, "the stream does not depend on the thread count")
        var worst: Float = 0
        for (x, y) in zip(a, c) { worst = max(worst, abs(x - y)) }
        #expect(worst < 1e-4, "1 vs 2 threads: largest parameter difference \(worst)")
        for (x, y) in zip(resultsA, resultsC) { #expect(abs(x.loss - y.loss) <= 1e-4 * abs(x.loss)) }
    }

    @Test func stepLossIsTheMeanOfThePerImageLosses() throws {
        let model = try Self.model()
        let trainer = try Trainer(model: model, optimiser: AdamW(config: AdamWConfig(learningRate: 0), layout: try ParameterLayout(model)),
                                  schedule: LearningRateSchedule(baseRate: 0, iterations: 10, power: 0.9), cropSize: Self.side,
                                  threads: 2, activationCheckpointing: false, loss: Self.lossConfig, lossRandom: SplitMix64(seed: 8))
        var seeds = SplitMix64(seed: 8)
        let examples = [Self.example(1), Self.example(2), Self.example(3)]
        var expected = 0.0
        let single = try Mask2FormerTrainer(model: model, height: Self.side, width: Self.side, threads: 2, loss: Self.lossConfig)
        for e in examples {
            var random = SplitMix64(seed: seeds.next())
            expected += try e.image.withUnsafeBufferPointer { image in
                try e.label.withUnsafeBufferPointer { try single.loss(model: model, image: image, labels: $0, random: &random).total }
            }
        }
        let result = try trainer.step(iteration: 0, microBatches: [examples])
        #expect(abs(result.loss - expected / 3) <= 1e-12 * abs(expected), "\(result.loss) vs \(expected / 3)")
    }

    @Test func initialisationFollowsMMDet() throws {
        let model = try Mask2FormerModel.initialised(config: try Self.model().config, backbone: try Self.model().backbone, seed: 1)
        let tensors = Dictionary(uniqueKeysWithValues: model.stateDict().map { ($0.key, $0.value) })
        let scope = "decode_head.pixel_decoder.encoder.layers.0.self_attn."
        let offsets = try #require(tensors[scope + "sampling_offsets.weight"]), bias = try #require(tensors[scope + "sampling_offsets.bias"])
        #expect(offsets.storage.allSatisfy { $0 == 0 })
        // Two heads: head 0 points along +x, head 1 along -x (cos π = -1, sin π ~ 0); point p at distance p + 1.
        #expect(Array(bias.storage.prefix(4)) == [1, 0, 2, 0])
        #expect(abs(bias.storage[12] + 1) < 1e-6 && abs(bias.storage[13]) < 1e-6)
        #expect(try #require(tensors[scope + "attention_weights.weight"]).storage.allSatisfy { $0 == 0 })
        #expect(try #require(tensors[scope + "value_proj.bias"]).storage.allSatisfy { $0 == 0 })
        #expect(try #require(tensors["decode_head.pixel_decoder.input_convs.0.gn.weight"]).storage.allSatisfy { $0 == 1 })
        #expect(try #require(tensors["decode_head.transformer_decoder.layers.0.cross_attn.attn.in_proj_bias"]).storage.allSatisfy { $0 == 0 })
        // caffe2_xavier of mask_feature (1x1, 16 in): U(±√(3/16)).
        let mask = try #require(tensors["decode_head.pixel_decoder.mask_feature.weight"]).storage
        #expect(mask.allSatisfy { abs($0) <= (3.0 / 16).squareRoot() } && mask.contains { $0 != 0 })
        // xavier_normal of the decoder's in_proj (48 x 16): std √(2 / 64).
        let inProj = try #require(tensors["decode_head.transformer_decoder.layers.0.self_attn.attn.in_proj_weight"]).storage
        let std = (inProj.reduce(0) { $0 + Double($1 * $1) } / Double(inProj.count)).squareRoot()
        #expect(abs(std - (2.0 / 64).squareRoot()) < 0.03, "std \(std)")
        let again = try Mask2FormerModel.initialised(config: model.config, backbone: model.backbone, seed: 1)
        #expect(Array(again.trainableStorage.values) == Array(model.trainableStorage.values), "seeded")
    }

    @Test func refusesWhatItCannotTrain() throws {
        let model = try Self.model(trainsBackbone: true)
        #expect(throws: TrainingError.self) { try Mask2FormerTrainer(model: model, height: 64, width: 64, threads: 1) }
        let frozen = try Self.model()
        let trainer = try Mask2FormerTrainer(model: frozen, height: Self.side, width: Self.side, threads: 1)
        var random = SplitMix64(seed: 1)
        let grads = try GradientStore(model: frozen)
        let bad = [UInt8](repeating: 7, count: Self.side * Self.side)   // class 7 of a 3-class head
        let image = [Float](repeating: 0, count: 3 * Self.side * Self.side)
        #expect(throws: TrainingError.self) {
            try image.withUnsafeBufferPointer { i in
                try bad.withUnsafeBufferPointer { try trainer.accumulateGradients(model: frozen, image: i, labels: $0, scale: 1, random: &random, into: grads) }
            }
        }
    }
}
