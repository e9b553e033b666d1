// BackboneOptions.swift — the options of every command that loads a DINOv2
// backbone: head count, position-resize flavour, threads.

import ArgumentParser
import Model
import Tensor

/// Options shared by the commands that load a backbone.
struct BackboneOptions: ParsableArguments {
    @Option(help: "Attention heads (1...1024), when the weights are not a released size (default: config.json, checkpoint metadata, or C/64).")
    var heads: Int?

    @Option(help: ArgumentHelp("Position-grid resize: offset (official, no registers), antialiased (official _reg), size (HF Dinov2Model). Default: from the weights.",
                               valueName: "offset|antialiased|size"))
    var interpolation: String?

    @Option(help: "Threads (OpenBLAS and kernels), 1...1024; default: all cores.")
    var threads: Int?

    func validate() throws {
        if let heads { try CLILimits.check(heads, within: 1 ... CLILimits.maxHeads, option: "--heads") }
        if let threads { try CLILimits.check(threads, within: 1 ... CLILimits.maxThreads, option: "--threads") }
        if let interpolation, PositionInterpolation(rawValue: interpolation) == nil {
            throw ValidationError("--interpolation must be offset, antialiased or size (got '\(interpolation)').")
        }
    }

    /// One sample with --threads threads (default: all cores).
    var plan: ThreadPlan { threads.map { .singleSample(threads: $0) } ?? ThreadPlan() }

    func load(_ path: String) throws -> LoadedBackbone {
        let options = WeightLoadOptions(heads: heads, interpolation: interpolation.flatMap(PositionInterpolation.init))
        do { return try DINOv2Weights.load(path, options: options) } catch { throw CLIError(error.description) }
    }
}
