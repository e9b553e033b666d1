// AccumulationTests.swift — gradient accumulation: an optimiser step over
// micro-batches [[a], [a]] (accumulate 2) equals one over the batch [[a, a]]
// bit for bit (the same products, summed in the same order), and one over
// [[a]] up to float rounding (the mean loss per non-ignored pixel is the same);
// a step over [[a], [b]] uses the mean of the two micro-batches' losses.

import CTCore
import Model
import Tensor
import TestSupport
import Testing
@testable import Training

@Suite(.serialized) struct AccumulationTests {
    static func example(_ name: String, _ i: Int) throws -> TrainingExample {
        TrainingExample(image: try fixtures.floats("\(name)_image\(i).npy"), label: try fixtures.npy("\(name)_label\(i).npy").bytes)
    }

    /// The step's result, the updated parameters, and the summed gradients the step used.
    static func step(_ microBatches: [[TrainingExample]]) throws -> (StepResult, [Tensor], [Float]) {
        let model = try SegmentationCheckpoint.load(fixtures.path("ct_lowrank.safetensors"))   // a 16 x 16 case
        let layout = try ParameterLayout(model)
        let trainer = try Trainer(model: model, optimiser: AdamW(config: AdamWConfig(learningRate: 1e-3), layout: layout),
                                  schedule: LearningRateSchedule(baseRate: 1e-3, iterations: 10, power: 0.9),
                                  cropSize: 16, threads: 2, activationCheckpointing: false)
        let result = try trainer.step(iteration: 0, microBatches: microBatches)
        return (result, trainer.layout.tensors(of: trainer.model), Array(trainer.gradients.all))
    }

    /// Largest |x - y| / (|y| + 1e-6) over all tensors.
    static func worst(_ x: [Tensor], _ y: [Tensor]) -> Float {
        var worst: Float = 0
        for (a, b) in zip(x, y) {
            for (u, v) in zip(a.storage, b.storage) { worst = max(worst, abs(u - v) / (abs(v) + 1e-6)) }
        }
        return worst
    }

    @Test func accumulatedMicroBatchesEqualOneBatch() throws {
        let a = try Self.example("ct_lowrank", 0)
        let (single, afterSingle, gSingle) = try Self.step([[a]])
        let (batch, afterBatch, gBatch) = try Self.step([[a, a]])
        let (accumulated, afterAccumulated, gAccumulated) = try Self.step([[a], [a]])
        #expect(gAccumulated == gBatch, "the same gradients, bit for bit")
        let gWorst = zip(gAccumulated, gSingle).reduce(Float(0)) { max($0, abs($1.0 - $1.1) / (abs($1.1) + 1e-6)) }
        #expect(gWorst <= 1e-5, "accumulated gradients are those of one micro-batch of the same mean loss (worst \(gWorst))")
        #expect(gSingle.contains { $0 != 0 })
        #expect(Self.worst(afterAccumulated, afterBatch) == 0, "accumulate 2 x batch 1 == batch 2, bit for bit")
        #expect(Self.worst(afterAccumulated, afterSingle) <= 1e-5, "the same mean loss gives the same step")
        #expect(afterAccumulated.count == afterSingle.count)
        #expect(abs(accumulated.loss - batch.loss) <= 1e-12 && abs(single.loss - batch.loss) <= 1e-12)
        #expect(accumulated.pixels == 2 * single.pixels)
    }

    @Test func lossIsTheMeanOverMicroBatches() throws {
        let a = try Self.example("ct_lowrank", 0), b = try Self.example("ct_lowrank", 1)
        let (la, _, ga) = try Self.step([[a]])
        let (lb, _, gb) = try Self.step([[b]])
        let (both, _, gBoth) = try Self.step([[a], [b]])
        #expect(abs(both.loss - (la.loss + lb.loss) / 2) <= 1e-12)
        // accumulate 2: the gradient is the mean of the micro-batches' mean-loss gradients
        let gWorst = zip(gBoth, zip(ga, gb)).reduce(Float(0)) { worst, item in
            let expected = (item.1.0 + item.1.1) / 2
            return max(worst, abs(item.0 - expected) / (abs(expected) + 1e-6))
        }
        #expect(gWorst <= 1e-4, "worst relative difference \(gWorst)")
    }
}

/// A training step updates the model's one trainable buffer in place: no copy, no rebuild.
struct InPlaceStepTests {
    @Test func stepUpdatesTheTrainableStorageInPlace() throws {
        let model = try SegmentationCheckpoint.load(fixtures.path("ct_lowrank.safetensors"))
        let storage = model.trainableStorage
        let layout = try ParameterLayout(model)
        #expect(storage.count == layout.valueCount)
        // Every trainable parameter views the one storage, at its layout offset.
        var offsets: [Int] = []
        struct Offsets: ParameterVisitor {
            let storage: ParameterStorage
            var found: [Int] = []
            mutating func visit(_ p: inout Parameter, _ info: ParameterInfo) throws(WeightError) {
                if info.trainable { found.append(p.buffer === storage ? p.offset : -1) }
            }
        }
        var visitor = Offsets(storage: storage)
        var copy = model
        try copy.walkParameters(&visitor, .init())
        offsets = visitor.found
        #expect(offsets == layout.offsets)
        let before = Array(storage.values)
        let trainer = try Trainer(model: model, optimiser: AdamW(config: AdamWConfig(learningRate: 1e-3), layout: layout),
                                  schedule: LearningRateSchedule(baseRate: 1e-3, iterations: 10, power: 0.9),
                                  cropSize: 16, threads: 2, activationCheckpointing: false)
        _ = try trainer.step(iteration: 0, microBatches: [[try AccumulationTests.example("ct_lowrank", 0)]])
        #expect(trainer.model.trainableStorage === storage)
        #expect(Array(storage.values) != before)
        #expect(trainer.model.head.classifier.weight.buffer === storage)
    }
}
