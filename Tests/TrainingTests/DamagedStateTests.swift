// DamagedStateTests.swift — a training state or checkpoint configuration that does
// not make sense is refused with what was wrong, never run as something else.

import CTCore
import Foundation
import Model
import Tensor
import TestSupport
import Testing
import Training

@Suite struct DamagedStateTests {
    static func scratch(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-damaged-\(UUID())-\(name)").path
    }

    @Test(arguments: [(-5, 0, "iteration -5 is negative"), (3, 7, "optimiser_step 7 is outside 0...3")])
    func impossibleCountersAreRefused(_ iteration: Int, _ step: Int, _ message: String) throws {
        let model = try SegmentationCheckpoint.load(fixtures.path("ct_lowrank.safetensors"))
        let layout = try ParameterLayout(model)
        let path = Self.scratch("state.safetensors")
        try TrainingState.save(TrainingState(iteration: iteration, optimiserStep: step, seed: 0, samplesPerIteration: 2,
                                             adamW: AdamWConfig()), optimiser: AdamW(config: AdamWConfig(), layout: layout), to: path)
        #expect { try TrainingState.load(path, layout: layout) } throws: { "\($0)".contains(message) }
        try TrainingState.save(TrainingState(iteration: 3, optimiserStep: 3, seed: 0, samplesPerIteration: 2, adamW: AdamWConfig()),
                               optimiser: AdamW(config: AdamWConfig(), layout: layout), to: path)
        #expect(try TrainingState.load(path, layout: layout).0.iteration == 3)
    }

    /// Moments edited in a state file: another shape, NaN or infinity, a negative second moment.
    @Test func misshapenOrNonFiniteMomentsAreRefused() throws {
        let model = try SegmentationCheckpoint.load(fixtures.path("ct_lowrank.safetensors"))
        let layout = try ParameterLayout(model)
        let path = Self.scratch("moments.safetensors")
        try TrainingState.save(TrainingState(iteration: 3, optimiserStep: 3, seed: 0, samplesPerIteration: 2, adamW: AdamWConfig()),
                               optimiser: AdamW(config: AdamWConfig(), layout: layout), to: path)
        let written = try SafeTensors.read(path)
        let name = layout.specs[0].name, shape = layout.specs[0].shape
        func refusal(_ edit: (inout SafeTensorsFile) -> Void) throws -> String {
            var file = written
            edit(&file)
            try SafeTensors.write(file, to: path)
            do { _ = try TrainingState.load(path, layout: layout) } catch { return "\(error)" }
            return "loaded"
        }
        #expect(try refusal { _ in } == "loaded")
        #expect(try refusal { $0.tensors["exp_avg." + name] = Tensor(shape: [2], storage: [0, 0]) }
            == "\(path): moments of '\(name)' have shape [2], expected \(shape)")
        let nonFinite = "\(path): a damaged training state: the moments of '\(name)' hold values that are not finite (or a negative second moment)"
        #expect(try refusal { $0.tensors["exp_avg." + name]!.storage[0] = .nan } == nonFinite)
        #expect(try refusal { $0.tensors["exp_avg_sq." + name]!.storage[0] = .infinity } == nonFinite)
        #expect(try refusal { $0.tensors["exp_avg_sq." + name]!.storage[0] = -1 } == nonFinite)
    }

    @Test func aCheckpointSettingThisVersionDoesNotKnowIsRefusedByName() throws {
        let source = fixtures.path("ct_lowrank.safetensors")
        var file = try SafeTensors.read(source)
        let json = try #require(file.metadata[DINOv2Weights.configKey])
        var object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        var adapter = try #require(object["adapter"] as? [String: Any])
        adapter["window"] = "hann"   // a setting this version does not have
        object["adapter"] = adapter
        file.metadata[DINOv2Weights.configKey] = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        let path = Self.scratch("unknown.safetensors")
        try SafeTensors.write(file, to: path)
        #expect { try SegmentationCheckpoint.load(path) } throws: { "\($0)".contains("'adapter.window'") }
    }
}
