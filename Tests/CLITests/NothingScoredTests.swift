// NothingScoredTests.swift — a run whose evaluation scored no image (an empty
// split) is not a success: exit 5, nothing recorded in the history.

import CTCore
import Foundation
import Testing

@Suite struct NothingScoredTests {
    @Test func anEmptySplitExits5AndRecordsNothing() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-empty-\(UUID())").path
        for sub in ["/data/gtFine/val", "/data/leftImg8bit/val", "/preds"] {
            try FileManager.default.createDirectory(atPath: folder + sub, withIntermediateDirectories: true)
        }
        let manifest = folder + "/empty.json"
        try AtomicFile.write(text: """
        {"version": 1, "name": "empty", "pipeline": {"version": 1, "stages": ["read", "predictions", "metric"]},
         "datasets": [{"kind": "cityscapes", "root": "data"}], "predictions": {"dir": "preds"},
         "history": {"db": "history.sqlite"}}
        """, to: manifest)
        let result = try CTPipeBinary.run(["run", manifest, "--quiet"])
        #expect(result.status == 5, "\(result.stderr)")
        #expect(result.stderr.contains("scored no image"))
        #expect(!FileManager.default.fileExists(atPath: folder + "/history.sqlite"))

        let metric = try CTPipeBinary.run(["metric", "--dataset", "cityscapes", folder + "/data", "--pred", folder + "/preds"])
        #expect(metric.status == 5, "\(metric.stderr)")
        let inspect = try CTPipeBinary.run(["inspect", "--dataset", "cityscapes", folder + "/data", "--split", "val", "--scan"])
        #expect(inspect.status == 5, "\(inspect.stderr)")
    }
}
