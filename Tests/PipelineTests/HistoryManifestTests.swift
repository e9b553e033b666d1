import CTCore
import Foundation
import ManifestSchema
import Testing

@Suite struct HistoryManifestTests {
    func manifest(_ history: String?) -> String {
        """
        {"version": 1, "name": "h", "pipeline": \(ManifestTests.pipeline),
         "datasets": [{"kind": "cityscapes", "root": "data/cityscapes"}],
         "predictions": {"dir": "preds"}, "outputs": {"dir": "out"}\(history.map { ", \"history\": \($0)" } ?? "")}
        """
    }

    @Test func defaultsAndResolvedPaths() throws {
        let fixture = try ManifestFixture()
        let plain = try ManifestLoader.load(try fixture.write(manifest(nil)))
        #expect(plain.history == Manifest.HistorySpec())
        #expect(plain.historyDatabase == fixture.folder + "/out/history.sqlite", "next to the run root")
        let set = try ManifestLoader.load(try fixture.write(manifest("""
            {"db": "db/h.sqlite", "journal": "delete",
             "regression": {"baseline": "h/20250301-020000", "max_miou_drop": 0.5, "max_class_iou_drop": 3}}
            """), name: "set.json"))
        #expect(set.historyDatabase == fixture.folder + "/db/h.sqlite")
        #expect(set.history.journal == .delete)
        #expect(set.history.regression == Manifest.RegressionSpec(baseline: .run("h/20250301-020000"), maxMeanIoUDrop: 0.5, maxClassIoUDrop: 3))
        let previous = try ManifestLoader.load(try fixture.write(manifest(#"{"regression": {"max_miou_drop": 1}}"#), name: "p.json"))
        #expect(previous.history.regression?.baseline == .previous)
        #expect(previous.history.regression?.maxClassIoUDrop == nil)
        // Where results are recorded and how they are judged does not change what the run computes.
        #expect(set.configurationHash == plain.configurationHash && previous.configurationHash == plain.configurationHash)
    }

    @Test func problemsNameTheirPaths() throws {
        let fixture = try ManifestFixture()
        let problems = try fixture.problems(manifest("""
            {"db": "", "journal": "memory", "keep": 3,
             "regression": {"max_miou_drop": -1, "max_class_iou_drop": "5", "baseline": ""}}
            """))
        #expect(problems.contains { $0.hasPrefix("$.history.db:") })
        #expect(problems.contains { $0.hasPrefix("$.history.journal:") })
        #expect(problems.contains { $0.hasPrefix("$.history.keep:") })
        #expect(problems.contains { $0.hasPrefix("$.history.regression.max_miou_drop:") })
        #expect(problems.contains { $0.hasPrefix("$.history.regression.max_class_iou_drop:") })
        #expect(problems.contains { $0.hasPrefix("$.history.regression.baseline:") })
        #expect(try fixture.problems(manifest(#"{"regression": {}}"#)).contains { $0.hasPrefix("$.history.regression:") })
        #expect(try fixture.problems(manifest(#"{"record": false, "regression": {"max_miou_drop": 1}}"#))
            .contains { $0.contains("needs \"record\": true") })
        #expect(try fixture.problems(manifest(#"{"db": "data"}"#)).contains { $0.contains("is a folder") })
        #expect(try fixture.problems(manifest(#""runs/h.sqlite""#)).contains { $0.hasPrefix("$.history:") })
    }
}
