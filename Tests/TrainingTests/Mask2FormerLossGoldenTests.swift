// Mask2FormerLossGoldenTests.swift — the Mask2Former training loss against
// HuggingFace transformers' Mask2FormerHungarianMatcher / Mask2FormerLoss and
// torch autograd (mask2former_loss_cases.json, scripts/make_mask2former_loss_fixtures.py):
// targets, the seeded points, the matching cost and assignment, every output's
// loss terms, and the gradients of scale x the loss for every output's logits.
//
// Tolerances (float32 against float64): cost entries and loss terms within
// 1e-6 relative (reached: 1e-7; float32 point values and GEMM sums of 64
// points); gradients within 5e-5 of the tensor's scale (Closeness; reached
// 1e-5, the float32 rounding of point weights and sigmoids). The points must
// be equal bit for bit, and the importance-sampled point sets the same as HF's
// (a different set moves the mask gradients by far more than the tolerance).

import CTCore
import Testing
import TestSupport
import Training

struct Mask2FormerLossGoldenTests {
    struct Output: Decodable {
        let cost: [Double]
        let match_queries: [Int]
        let match_targets: [Int]
        let matcher_points: [Double]
        let class_loss: Double
        let mask_loss: Double
        let dice_loss: Double
    }

    struct Case: Decodable {
        let name: String
        let seed: UInt64
        let queries: Int
        let classes: Int
        let mask_height: Int
        let mask_width: Int
        let height: Int
        let width: Int
        let outputs: Int
        let points: Int
        let scale: Float
        let label: [UInt8]
        let target_classes: [Int]
        let class_logits: [Float]
        let mask_logits: [Float]
        let per_output: [Output]
        let total: Double
        let class_gradients: [Float]
        let mask_gradients: [Float]

        var shape: Mask2FormerPredictionShape {
            Mask2FormerPredictionShape(queries: queries, classes: classes, maskHeight: mask_height, maskWidth: mask_width)
        }

        var config: Mask2FormerLossConfig {
            var c = Mask2FormerLossConfig()
            c.points = points
            return c
        }

        func targets() throws -> Mask2FormerTargets {
            try Mask2FormerTargets(label: label, height: height, width: width, classCount: classes)
        }
    }

    static func cases() throws -> [Case] {
        try fixtures.decode([Case].self, from: "mask2former_loss_cases.json")
    }

    static func close(_ a: Double, _ b: Double, _ tolerance: Double = 1e-6) -> Bool {
        abs(a - b) <= tolerance * max(abs(b), 1e-3)
    }

    struct Run {
        var result: Mask2FormerLossResult
        var classGradients: [Float]
        var maskGradients: [Float]
    }

    static func run(_ c: Case, threads: Int) throws -> Run {
        let targets = try c.targets()
        let shape = c.shape
        var classGradients = [Float](repeating: .nan, count: c.class_logits.count)
        var maskGradients = [Float](repeating: .nan, count: c.mask_logits.count)
        var random = SplitMix64(seed: c.seed)
        let result = try c.class_logits.withUnsafeBufferPointer { cls in
            try c.mask_logits.withUnsafeBufferPointer { masks in
                try classGradients.withUnsafeMutableBufferPointer { cg in
                    try maskGradients.withUnsafeMutableBufferPointer { mg in
                        let o = 0 ..< c.outputs
                        return try Mask2FormerLoss.evaluate(
                            classLogits: o.map { cls.baseAddress! + $0 * shape.classLogitCount },
                            maskLogits: o.map { masks.baseAddress! + $0 * shape.maskLogitCount },
                            shape: shape, targets: targets, config: c.config,
                            factors: .perSample(targets, queries: c.queries, config: c.config), scale: c.scale,
                            classGradients: o.map { cg.baseAddress! + $0 * shape.classLogitCount },
                            maskGradients: o.map { mg.baseAddress! + $0 * shape.maskLogitCount },
                            random: &random, threads: threads)
                    }
                }
            }
        }
        return Run(result: result, classGradients: classGradients, maskGradients: maskGradients)
    }

    @Test func targetsAreMMSegs() throws {
        for c in try Self.cases() {
            let targets = try c.targets()
            #expect(targets.classes == c.target_classes, "\(c.name)")
            for (i, cls) in targets.classes.enumerated() {
                let mask = targets.mask(i)
                #expect(mask == c.label.map { Int($0) == cls ? 1 : 0 }, "\(c.name) mask \(i)")
            }
        }
    }

    @Test func pointsAreTheSeededStream() throws {
        for c in try Self.cases() where !c.target_classes.isEmpty {
            var random = SplitMix64(seed: c.seed)
            let points = PointSampling.uniformPoints(c.points, &random)
            #expect(points.map(Double.init) == c.per_output[0].matcher_points, "\(c.name)")
        }
    }

    @Test func matcherCostsAndAssignmentMatchHuggingFace() throws {
        for c in try Self.cases() where !c.target_classes.isEmpty {
            let targets = try c.targets()
            let shape = c.shape
            for (o, expected) in c.per_output.enumerated() {
                let points = expected.matcher_points.map { Float($0) }
                let (cost, matches) = try c.class_logits.withUnsafeBufferPointer { cls in
                    try c.mask_logits.withUnsafeBufferPointer { masks in
                        let cl = cls.baseAddress! + o * shape.classLogitCount
                        let ml = masks.baseAddress! + o * shape.maskLogitCount
                        return (Mask2FormerMatcher.costs(classLogits: cl, maskLogits: ml, shape: shape, targets: targets,
                                                         points: points, config: c.config, threads: 2),
                                try Mask2FormerMatcher.match(classLogits: cl, maskLogits: ml, shape: shape, targets: targets,
                                                             points: points, config: c.config, threads: 2))
                    }
                }
                #expect(cost.count == expected.cost.count)
                for (i, value) in cost.enumerated() {
                    #expect(Self.close(value, expected.cost[i]), "\(c.name) output \(o) cost \(i): \(value) vs \(expected.cost[i])")
                }
                #expect(matches.map(\.query) == expected.match_queries && matches.map(\.target) == expected.match_targets,
                        "\(c.name) output \(o): \(matches)")
            }
        }
    }

    @Test func lossesAndGradientsMatchHuggingFaceAndAutograd() throws {
        for c in try Self.cases() {
            let run = try Self.run(c, threads: 2)
            #expect(run.result.outputs.count == c.outputs)
            for (o, expected) in c.per_output.enumerated() {
                let got = run.result.outputs[o]
                #expect(got.matches.map(\.query) == expected.match_queries, "\(c.name) output \(o)")
                #expect(got.matches.map(\.target) == expected.match_targets, "\(c.name) output \(o)")
                #expect(Self.close(got.classLoss, expected.class_loss), "\(c.name) output \(o) class \(got.classLoss) vs \(expected.class_loss)")
                #expect(Self.close(got.maskLoss, expected.mask_loss), "\(c.name) output \(o) mask \(got.maskLoss) vs \(expected.mask_loss)")
                #expect(Self.close(got.diceLoss, expected.dice_loss), "\(c.name) output \(o) dice \(got.diceLoss) vs \(expected.dice_loss)")
            }
            #expect(Self.close(run.result.total, c.total), "\(c.name) total \(run.result.total) vs \(c.total)")
            expectClose(run.classGradients, c.class_gradients, tolerance: 5e-5, "\(c.name) class-logit gradients")
            expectClose(run.maskGradients, c.mask_gradients, tolerance: 5e-5, "\(c.name) mask-logit gradients")
        }
    }

    @Test func resultsDoNotDependOnTheThreadCount() throws {
        for c in try Self.cases() {
            let one = try Self.run(c, threads: 1), three = try Self.run(c, threads: 3)
            #expect(one.result == three.result, "\(c.name)")
            #expect(one.classGradients == three.classGradients && one.maskGradients == three.maskGradients, "\(c.name)")
        }
    }

    @Test func batchFactorsAreMMDetsAndPerSampleOnesEachImagesOwn() throws {
        let config = Mask2FormerLossConfig()
        let a = try Mask2FormerTargets(label: [0, 1, 2, 255], height: 2, width: 2, classCount: 4)
        let empty = try Mask2FormerTargets(label: [255, 255, 255, 255], height: 2, width: 2, classCount: 4)
        // 10 queries: image a has 3 matched (3 + 0.1·7), the empty image none (0.1·10); masks max(3,1) + max(0,1).
        let batch = Mask2FormerAverageFactors.batch([a, empty], queries: 10, config: config)
        #expect(abs(batch.classFactor - 4.7) < 1e-12 && batch.maskFactor == 4)
        let own = Mask2FormerAverageFactors.perSample(a, queries: 2, config: config)
        #expect(abs(own.classFactor - 2) < 1e-12 && own.maskFactor == 2)
    }

    @Test func badInputsAreTypedErrors() throws {
        #expect(throws: TrainingError.self) {
            try Mask2FormerTargets(label: [0, 7, 255, 1], height: 2, width: 2, classCount: 4)
        }
        #expect(throws: TrainingError.self) {
            try Mask2FormerTargets(label: [0, 1, 2], height: 2, width: 2, classCount: 4)
        }
        var c = try #require(try Self.cases().first { $0.name == "main" })
        var logits = c.mask_logits
        logits[17] = .nan
        c = Case(name: c.name, seed: c.seed, queries: c.queries, classes: c.classes, mask_height: c.mask_height,
                 mask_width: c.mask_width, height: c.height, width: c.width, outputs: c.outputs, points: c.points,
                 scale: c.scale, label: c.label, target_classes: c.target_classes, class_logits: c.class_logits,
                 mask_logits: logits, per_output: c.per_output, total: c.total, class_gradients: c.class_gradients,
                 mask_gradients: c.mask_gradients)
        #expect(throws: TrainingError.self) { try Self.run(c, threads: 1) }
        var config = Mask2FormerLossConfig()
        config.importanceSampleRatio = 1.5
        #expect(throws: TrainingError.self) { try config.validate() }
        #expect(throws: Never.self) { try Mask2FormerLossConfig().validate() }
    }
}
