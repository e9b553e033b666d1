// DecodeLimitManifestTests.swift — `execution.max_pixels`: read and checked by the
// manifest loader, and applied where the runner decodes predictions and labels.

import Datasets
import Foundation
import ImageIO
import ManifestSchema
import PipelineRunner
import RunFolder
import Testing

@Suite struct DecodeLimitManifestTests {
    static let pipeline = #"{"version": 1, "name": "p", "stages": ["read", "predictions", "metric"]}"#

    func manifest(execution: String?) -> String {
        """
        {"version": 1, "name": "limits", "pipeline": \(Self.pipeline),
         "datasets": [{"kind": "cityscapes", "root": "data/cityscapes"}],
         "predictions": {"dir": "preds"}\(execution.map { #", "execution": "# + $0 } ?? "")}
        """
    }

    @Test func maxPixelsDefaultsTo64MegapixelsAndCanBeSet() throws {
        let fixture = try ManifestFixture()
        let plain = try ManifestLoader.load(try fixture.write(manifest(execution: nil)))
        #expect(plain.execution.maxPixels == 64 << 20)
        #expect(plain.execution.decodeLimits == DecodeLimits.default)
        let set = try ManifestLoader.load(try fixture.write(manifest(execution: #"{"max_pixels": 30000000}"#)))
        #expect(set.execution.decodeLimits.maxPixels == 30_000_000)
    }

    @Test func maxPixelsOutOfRangeIsAProblemWithItsPath() throws {
        let fixture = try ManifestFixture()
        let zero = try fixture.problems(manifest(execution: #"{"max_pixels": 0}"#))
        #expect(zero.contains { $0.hasPrefix("$.execution.max_pixels: 0 is out of range") }, "\(zero)")
        let text = try fixture.problems(manifest(execution: #"{"max_pixels": "lots"}"#))
        #expect(text.contains { $0.hasPrefix("$.execution.max_pixels:") }, "\(text)")
    }

    @Test func predictionFolderAppliesItsLimitToPredictionsAndLabels() throws {
        let dir = NSTemporaryDirectory() + "ctpipe-limits-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir + "/preds", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let plane = Image8(width: 20, height: 10, channels: 1, pixels: [UInt8](repeating: 1, count: 200))
        try ImageFile.writePNG(plane, to: dir + "/preds/a.png")
        try ImageFile.writePNG(plane, to: dir + "/a_label.png")
        let sample = Sample(id: "a", imagePath: dir + "/a.png", labelPath: dir + "/a_label.png", dataset: .cityscapes,
                            encoding: .trainIds)
        let open = PredictionFolder(dir: dir + "/preds", format: .trainid)
        #expect(throws: Never.self) { try Scoring.pair(sample, dataset: "d", predictions: open) }
        let tight = PredictionFolder(dir: dir + "/preds", format: .trainid, limits: DecodeLimits(maxPixels: 199))
        let error = #expect(throws: RunProblem.self) { try Scoring.pair(sample, dataset: "d", predictions: tight) }
        #expect("\(error.map { "\($0)" } ?? "")".contains("declared size 20x10 (200 pixels) exceeds the limit of 199 pixels"))
        let prediction = #expect(throws: RunProblem.self) { try tight.load(id: "a", dataset: "d") }
        #expect("\(prediction.map { "\($0)" } ?? "")".contains("exceeds the limit of 199 pixels"))
    }
}
