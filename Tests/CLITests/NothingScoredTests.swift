// NothingScoredTests.swift — a run that did nothing is not a success, whatever
// its pipeline: an eval dataset with an empty split, no sample processed (every
// one skipped), or an evaluation that scored no image exit 5 naming the dataset,
// and nothing is recorded in the history.

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
        #expect(result.stderr.contains("scored no image of dataset cityscapes-val"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/history.sqlite"))

        let metric = try CTPipeBinary.run(["metric", "--dataset", "cityscapes", folder + "/data", "--pred", folder + "/preds"])
        #expect(metric.status == 5, "\(metric.stderr)")
        let inspect = try CTPipeBinary.run(["inspect", "--dataset", "cityscapes", folder + "/data", "--split", "val", "--scan"])
        #expect(inspect.status == 5, "\(inspect.stderr)")
    }

    /// A folder with an empty Cityscapes val split (`data`), a predictions folder and `history` pointing inside it.
    static func emptySplitFolder() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-empty-\(UUID())").path
        for sub in ["/data/gtFine/val", "/data/leftImg8bit/val", "/preds"] {
            try FileManager.default.createDirectory(atPath: folder + sub, withIntermediateDirectories: true)
        }
        return folder
    }

    @Test func aPipelineWithoutMetricOverAnEmptySplitExits5NamingTheDataset() throws {
        let folder = try Self.emptySplitFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let manifest = folder + "/write.json"
        try AtomicFile.write(text: """
        {"version": 1, "name": "write", "pipeline": {"version": 1, "stages": ["read", "predictions", "write"]},
         "datasets": [{"kind": "cityscapes", "root": "data", "name": "nothing-here"}], "predictions": {"dir": "preds"},
         "outputs": {"dir": "runs", "formats": ["trainid"]}, "history": {"db": "history.sqlite"}}
        """, to: manifest)
        let result = try CTPipeBinary.run(["run", manifest, "--quiet"])
        #expect(result.status == 5, "\(result.stderr)")
        #expect(result.stderr.contains("nothing done: dataset nothing-here: its listing holds no sample (an empty split)"),
                "\(result.stderr)")
        #expect(result.stderr.contains("nothing was recorded in the history"))
        #expect(!FileManager.default.fileExists(atPath: folder + "/history.sqlite"))
    }

    @Test func aPipelineWithoutMetricThatProcessedNoSampleExits5() throws {
        let folder = try Self.emptySplitFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect(try CTPipeBinary.run(["synth", "--dataset", "cityscapes", "--out", folder + "/full", "--count", "2",
                                      "--size", "32x16", "--split", "val"]).status == 0)
        let manifest = folder + "/skip.json"
        try AtomicFile.write(text: """
        {"version": 1, "name": "skip", "pipeline": {"version": 1, "stages": ["read", "predictions", "write"]},
         "datasets": [{"kind": "cityscapes", "root": "full", "name": "city"}], "predictions": {"dir": "preds"},
         "outputs": {"dir": "runs", "formats": ["trainid"]}, "execution": {"on_error": "skip"},
         "history": {"db": "history.sqlite"}}
        """, to: manifest)
        let result = try CTPipeBinary.run(["run", manifest, "--quiet"])
        #expect(result.status == 5, "\(result.stderr)")
        #expect(result.stderr.contains("no sample was processed: every sample of city was skipped"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/history.sqlite"))
    }
}
