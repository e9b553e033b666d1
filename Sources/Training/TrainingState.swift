// TrainingState.swift — what resuming needs besides the model checkpoint
// (method.md §6: "a second file next to it"): the AdamW moments and step, the
// iteration reached, and the data position. One safetensors file:
//   exp_avg.<tensor name>, exp_avg_sq.<tensor name>   (the moments, checkpoint names)
//   metadata "ctpipe.training_state": JSON {version, iteration, optimiser_step,
//            seed, samples_per_iteration, lr, betas, eps, weight_decay,
//            data_pipeline, loss_random}
// The data order and every augmentation draw are functions of (seed, sample
// position), so the iteration and the seed are the data's whole random state;
// `data_pipeline` records which pipeline made the examples (the runner's
// canonical text of the crop and augmentation settings), absent in states
// written before it was recorded. `loss_random` is the state of the loss's own
// SplitMix64 stream (the Mask2Former loss's points; Trainer.lossRandom), absent
// for a loss that draws nothing.

import Foundation
import Model
import Tensor

public struct TrainingState: Sendable, Equatable {
    public static let metadataKey = "ctpipe.training_state"
    public static let formatVersion = 1

    /// Iterations completed (the next one to run).
    public var iteration: Int
    public var optimiserStep: Int
    public var seed: UInt64
    /// Samples drawn per iteration (batch size x accumulation); positions advance by this.
    public var samplesPerIteration: Int
    public var adamW: AdamWConfig
    /// The training data pipeline the examples came from, as the trainer's caller describes it
    /// (the runner: `AugmentSettings.record(cropSize:)`); nil: not recorded (older states).
    public var dataPipeline: String?
    /// The state of the loss's random stream (Trainer.lossRandom; the Mask2Former loss's points) after
    /// `iteration` iterations; nil: a loss that draws nothing.
    public var lossRandom: UInt64?

    public init(iteration: Int, optimiserStep: Int, seed: UInt64, samplesPerIteration: Int, adamW: AdamWConfig,
                dataPipeline: String? = nil, lossRandom: UInt64? = nil) {
        self.lossRandom = lossRandom
        self.iteration = iteration
        self.optimiserStep = optimiserStep
        self.seed = seed
        self.samplesPerIteration = samplesPerIteration
        self.adamW = adamW
        self.dataPipeline = dataPipeline
    }

    struct Header: Codable {
        var version: Int
        var iteration: Int
        var optimiser_step: Int
        var seed: UInt64
        var samples_per_iteration: Int
        var lr: Double
        var betas: [Double]
        var eps: Double
        var weight_decay: Double
        var data_pipeline: String?
        var loss_random: UInt64?

        /// What is wrong with the values (nil: nothing).
        var problem: String? {
            if iteration < 0 { return "iteration \(iteration) is negative" }
            if optimiser_step < 0 || optimiser_step > iteration {
                return "optimiser_step \(optimiser_step) is outside 0...\(iteration) (one step per iteration)"
            }
            if samples_per_iteration < 1 { return "samples_per_iteration \(samples_per_iteration) is not positive" }
            if betas.count != 2 || !betas.allSatisfy({ $0 >= 0 && $0 < 1 }) { return "betas \(betas) are not two numbers in [0, 1)" }
            if !(lr.isFinite && lr >= 0) { return "lr \(lr) is not a finite non-negative number" }
            if !(eps.isFinite && eps > 0) { return "eps \(eps) is not a finite positive number" }
            if !(weight_decay.isFinite && weight_decay >= 0) { return "weight_decay \(weight_decay) is not a finite non-negative number" }
            return nil
        }
    }

    /// Writes the state and the optimiser's moments atomically.
    public static func save(_ state: TrainingState, optimiser: AdamW, to path: String) throws(TrainingError) {
        var tensors: [String: Tensor] = [:]
        for (i, spec) in optimiser.layout.specs.enumerated() {
            tensors["exp_avg." + spec.name] = Tensor(shape: spec.shape, storage: optimiser.firstMoments[i])
            tensors["exp_avg_sq." + spec.name] = Tensor(shape: spec.shape, storage: optimiser.secondMoments[i])
        }
        let a = state.adamW
        let header = Header(version: formatVersion, iteration: state.iteration, optimiser_step: state.optimiserStep, seed: state.seed,
                            samples_per_iteration: state.samplesPerIteration, lr: a.learningRate, betas: [a.beta1, a.beta2],
                            eps: a.eps, weight_decay: a.weightDecay, data_pipeline: state.dataPipeline,
                            loss_random: state.lossRandom)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = (try? encoder.encode(header)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        do { try SafeTensors.write(SafeTensorsFile(tensors: tensors, metadata: [metadataKey: json]), to: path) } catch {
            throw TrainingError("\(error)")
        }
    }

    /// Reads a state file; the moments must fit `layout` (same names and shapes).
    public static func load(_ path: String, layout: ParameterLayout) throws(TrainingError) -> (TrainingState, AdamW) {
        let file: SafeTensorsFile
        do { file = try SafeTensors.read(path) } catch { throw TrainingError("\(error)") }
        guard let json = file.metadata[metadataKey],
              let header = try? JSONDecoder().decode(Header.self, from: Data(json.utf8)) else {
            throw TrainingError("\(path): not a ctpipe training state (no readable '\(metadataKey)' metadata)")
        }
        guard header.version == formatVersion else {
            throw TrainingError("\(path): training state version \(header.version) is not supported (this ctpipe reads \(formatVersion))")
        }
        if let problem = header.problem { throw TrainingError("\(path): a damaged training state: \(problem)") }
        let config = AdamWConfig(learningRate: header.lr, beta1: header.betas[0], beta2: header.betas[1], eps: header.eps,
                                 weightDecay: header.weight_decay)
        var first: [[Float]] = [], second: [[Float]] = []
        for spec in layout.specs {
            guard let m = file.tensors["exp_avg." + spec.name], let v = file.tensors["exp_avg_sq." + spec.name] else {
                throw TrainingError("\(path): no optimiser moments for tensor '\(spec.name)' (the state belongs to another model)")
            }
            guard m.shape == spec.shape, v.shape == spec.shape else {
                throw TrainingError("\(path): moments of '\(spec.name)' have shape \(m.shapeDescription), expected \(spec.shape)")
            }
            guard m.storage.allSatisfy(\.isFinite), v.storage.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
                throw TrainingError("\(path): a damaged training state: the moments of '\(spec.name)' hold values that are not finite (or a negative second moment)")
            }
            first.append(m.storage)
            second.append(v.storage)
        }
        if file.tensors.count != 2 * layout.count {
            throw TrainingError("\(path): holds \(file.tensors.count / 2) tensors' moments, the model has \(layout.count) trainable tensors")
        }
        let optimiser = try AdamW(config: config, layout: layout, step: header.optimiser_step, firstMoments: first, secondMoments: second)
        return (TrainingState(iteration: header.iteration, optimiserStep: header.optimiser_step, seed: header.seed,
                              samplesPerIteration: header.samples_per_iteration, adamW: config,
                              dataPipeline: header.data_pipeline, lossRandom: header.loss_random), optimiser)
    }
}
