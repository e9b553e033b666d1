import Foundation
import ManifestSchema
import RunReports
import Testing

@Suite struct RegressionTests {
    /// A run with one dataset: mIoU and two classes' IoUs.
    func run(_ id: String, _ name: String = "city", mIoU: Double?, road: Double?, car: Double?) -> HistoryRun {
        HistoryRun(runID: id, recordedAt: "", manifestName: "m", manifestFile: "", configurationHash: "", checkpointHash: nil,
                   runDirectory: "", ctpipeVersion: "", gitCommit: nil, host: "", wallSeconds: 0, averageMeanIoU: mIoU,
                   results: [HistoryResult(dataset: name, samples: 1, skipped: 0, mIoU: mIoU, aAcc: nil, mAcc: nil,
                                           classes: [HistoryClassIoU(trainId: 0, name: "road", iou: road),
                                                     HistoryClassIoU(trainId: 13, name: "car", iou: car)])])
    }

    @Test func dropsBeyondTheThresholdsAreFindings() {
        let spec = Manifest.RegressionSpec(maxMeanIoUDrop: 1.0, maxClassIoUDrop: 5.0)
        let base = run("m/a", mIoU: 60, road: 90, car: 70)
        // Within the limits (exactly at them counts as allowed).
        let fine = RegressionCheck.compare(current: run("m/b", mIoU: 59, road: 85, car: 71), baseline: base, spec: spec)
        #expect(!fine.regressed && fine.compared == ["city"] && fine.baselineRunID == "m/a")
        // Beyond both.
        let bad = RegressionCheck.compare(current: run("m/c", mIoU: 57.5, road: 84.9, car: 70), baseline: base, spec: spec)
        #expect(bad.regressed)
        #expect(bad.findings.count == 2)
        let miou = try? #require(bad.findings.first { $0.className == nil })
        #expect(miou?.dataset == "city" && miou?.baseline == 60 && miou?.current == 57.5 && miou?.drop == 2.5 && miou?.threshold == 1)
        let road = bad.findings.first { $0.className == "road" }
        #expect(road != nil && abs(road!.drop - 5.1) < 1e-9)
        #expect(bad.summary.contains("city: mIoU 60.00 -> 57.50 (-2.50 points; allowed 1.00)"))
        #expect(bad.summary.contains("city: class \"road\" IoU 90.00 -> 84.90"))
        // Improvements never count.
        #expect(!RegressionCheck.compare(current: run("m/d", mIoU: 80, road: 99, car: 99), baseline: base, spec: spec).regressed)
    }

    @Test func onlyConfiguredThresholdsAndComparableValuesCount() {
        let base = run("m/a", mIoU: 60, road: 90, car: nil)
        let current = run("m/b", mIoU: 50, road: 10, car: 0)
        let classesOnly = RegressionCheck.compare(current: current, baseline: base, spec: .init(maxClassIoUDrop: 5))
        #expect(classesOnly.findings.map(\.className) == ["road"], "car had no IoU before: not compared")
        let meanOnly = RegressionCheck.compare(current: current, baseline: base, spec: .init(maxMeanIoUDrop: 5))
        #expect(meanOnly.findings.map(\.className) == [nil])
        // A dataset the baseline does not have is not compared.
        let other = RegressionCheck.compare(current: run("m/b", "bdd", mIoU: 1, road: 1, car: 1), baseline: base,
                                            spec: .init(maxMeanIoUDrop: 0, maxClassIoUDrop: 0))
        #expect(!other.regressed && other.compared.isEmpty)
        // No baseline yet.
        let first = RegressionCheck.compare(current: current, baseline: nil, spec: .init(maxMeanIoUDrop: 0))
        #expect(!first.regressed && first.baselineRunID == nil)
        #expect(first.summary.contains("nothing to compare"))
    }

    @Test func namedAveragesAreComparedByName() {
        func withAverages(_ id: String, _ averages: [HistoryAverage]) -> HistoryRun {
            var r = run(id, mIoU: 60, road: 90, car: 70)
            r.averages = averages
            return r
        }
        let base = withAverages("m/a", [HistoryAverage(name: "ACDC", over: ["acdc/fog", "acdc/night"], mIoU: 50),
                                        HistoryAverage(name: "gone", over: ["x"], mIoU: 50)])
        let current = withAverages("m/b", [HistoryAverage(name: "ACDC", over: ["acdc/fog", "acdc/night"], mIoU: 48.5),
                                           HistoryAverage(name: "new", over: ["y"], mIoU: 0)])
        let check = RegressionCheck.compare(current: current, baseline: base, spec: .init(maxMeanIoUDrop: 1))
        #expect(check.compared == ["city", "ACDC"], "averages in both runs are compared; others are not")
        #expect(check.findings == [RegressionFinding(dataset: "ACDC", className: nil, average: true, baseline: 50, current: 48.5,
                                                     drop: 1.5, threshold: 1)])
        #expect(check.summary.contains("ACDC: average mIoU 50.00 -> 48.50 (-1.50 points; allowed 1.00)"))
        // Within the limit, or only a class threshold: nothing.
        #expect(!RegressionCheck.compare(current: current, baseline: base, spec: .init(maxMeanIoUDrop: 1.5)).regressed)
        #expect(!RegressionCheck.compare(current: current, baseline: base, spec: .init(maxClassIoUDrop: 0)).regressed)
    }
}
