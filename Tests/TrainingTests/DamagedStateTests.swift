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
