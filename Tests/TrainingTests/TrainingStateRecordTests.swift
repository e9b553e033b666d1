// TrainingStateRecordTests.swift — the data pipeline a training state records
// survives the round trip, and a state written before it was recorded loads
// with none (the runner then assumes the configs' pipeline).

import CTCore
import Foundation
import Model
import Tensor
import TestSupport
import Testing
import Training

@Suite struct TrainingStateRecordTests {
    @Test func theDataPipelineRoundTrips() throws {
        let model = try SegmentationCheckpoint.load(fixtures.path("ct_lowrank.safetensors"))
        let layout = try ParameterLayout(model)
        let path = DamagedStateTests.scratch("record.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let record = #"{"cat_max_ratio":0.75,"crop_size":32,"flip_probability":0,"photometric":false,"short_edges":[]}"#
        let state = TrainingState(iteration: 2, optimiserStep: 2, seed: 4, samplesPerIteration: 2, adamW: AdamWConfig(),
                                  dataPipeline: record)
        try TrainingState.save(state, optimiser: AdamW(config: AdamWConfig(), layout: layout), to: path)
        #expect(try TrainingState.load(path, layout: layout).0 == state)

        // An older state: the same metadata without `data_pipeline`.
        var file = try SafeTensors.read(path)
        let json = try #require(file.metadata[TrainingState.metadataKey])
        var object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(object["data_pipeline"] as? String == record)
        object["data_pipeline"] = nil
        file.metadata[TrainingState.metadataKey] = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        try SafeTensors.write(file, to: path)
        let older = try TrainingState.load(path, layout: layout).0
        #expect(older.dataPipeline == nil && older.iteration == 2 && older.seed == 4)
    }
}
