// ReleasedAdapterTrainingTests.swift — the trainer refuses what ctpipe does not
// train: the released Causal-Tune replay and Rein's token -> query link.

import Model
import Training
import Testing

@Suite struct ReleasedAdapterTrainingTests {
    static func model(_ adapter: AdapterConfig) throws -> SegmentationModel {
        let backbone = DINOv2.randomlyInitialised(config: DINOv2Config(embedDim: 16, depth: 2, heads: 2, patchSize: 16, registers: 0,
                                                                       gridSize: 2, ffnHidden: 32), seed: 1)
        return try SegmentationModel.initialised(backbone: backbone, adapter: adapter, seed: 1)
    }

    @Test func releasedReplayAndQueryLinkAreNotTrained() throws {
        let released = try Self.model(AdapterConfig(kind: .causalTuneReleased, tokens: 4, rank: 2))
        #expect(throws: TrainingError.self) { try SegmentationTrainer(model: released, height: 32, width: 32, threads: 1) }
        do { _ = try SegmentationTrainer(model: released, height: 32, width: 32, threads: 1) } catch {
            #expect(error.reason.contains("causal-tune-released") && error.reason.contains("inference only"))
        }
        let linked = try Self.model(AdapterConfig(kind: .rein, tokens: 4, queryLink: true, queryDims: 8))
        do {
            _ = try SegmentationTrainer(model: linked, height: 32, width: 32, threads: 1)
            Issue.record("a model with the query link was accepted for training")
        } catch { #expect(error.reason.contains("query")) }
        _ = try SegmentationTrainer(model: try Self.model(AdapterConfig(kind: .rein, tokens: 4, rank: 2)), height: 32, width: 32, threads: 1)
    }
}
