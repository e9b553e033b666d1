// Regression.swift — compares a recorded run with its baseline (the previous
// run of the same manifest, or a pinned run id) under the manifest's
// thresholds: a dataset's mIoU, a named average's mIoU, or any class's IoU, that
// drops by more than the allowed percentage points is a regression. `ctpipe run` and `ctpipe merge`
// then exit with status 4 and name what regressed.

import Foundation
import ManifestSchema

/// One threshold exceeded: a dataset's mIoU (className nil), a named average's mIoU
/// (`average` true, `dataset` the average's name) or one class's IoU.
public struct RegressionFinding: Sendable, Equatable, Codable, CustomStringConvertible {
    public var dataset: String
    public var className: String?
    /// True for a named average (the manifest's `averages`); nil otherwise.
    public var average: Bool?
    /// Percentages (x100).
    public var baseline: Double
    public var current: Double
    /// baseline - current, percentage points.
    public var drop: Double
    public var threshold: Double

    enum CodingKeys: String, CodingKey { case dataset, className = "class", average, baseline, current, drop, threshold }

    public init(dataset: String, className: String?, average: Bool? = nil, baseline: Double, current: Double, drop: Double,
                threshold: Double) {
        self.dataset = dataset
        self.className = className
        self.average = average
        self.baseline = baseline
        self.current = current
        self.drop = drop
        self.threshold = threshold
    }

    public var description: String {
        let what = className.map { "class \"\($0)\" IoU" } ?? (average == true ? "average mIoU" : "mIoU")
        return "\(dataset): \(what) \(Self.format(baseline)) -> \(Self.format(current)) "
            + "(-\(Self.format(drop)) points; allowed \(Self.format(threshold)))"
    }

    static func format(_ v: Double) -> String { String(format: "%.2f", v) }
}

/// The outcome of a regression check.
public struct RegressionReport: Sendable, Equatable, Codable {
    /// The run checked.
    public var runID: String
    /// "previous" or "pinned".
    public var baselineKind: String
    /// The run compared with; nil when there was none yet (first run of a manifest).
    public var baselineRunID: String?
    public var maxMeanIoUDrop: Double?
    public var maxClassIoUDrop: Double?
    /// Datasets (groups) and named averages present in both runs and compared.
    public var compared: [String]
    public var findings: [RegressionFinding]

    enum CodingKeys: String, CodingKey {
        case runID = "run_id", baselineKind = "baseline_kind", baselineRunID = "baseline_run_id"
        case maxMeanIoUDrop = "max_miou_drop", maxClassIoUDrop = "max_class_iou_drop", compared, findings
    }

    public var regressed: Bool { !findings.isEmpty }

    /// Lines for stderr.
    public var summary: String {
        guard let baselineRunID else { return "regression check: no earlier run of this manifest in the history yet; nothing to compare" }
        if findings.isEmpty {
            return "regression check: no regression against \(baselineKind) run \(baselineRunID) (\(compared.joined(separator: ", ")))"
        }
        return "REGRESSION against \(baselineKind) run \(baselineRunID):\n" + findings.map { "  \($0)" }.joined(separator: "\n")
    }
}

public enum RegressionCheck {
    /// The exit status of `ctpipe run` / `ctpipe merge` when a regression is found.
    public static let exitStatus: Int32 = 4

    /// Compares `current` with `baseline` (nil: nothing to compare) dataset by dataset, then
    /// named average by named average (by name; `max_miou_drop` applies to both).
    public static func compare(current: HistoryRun, baseline: HistoryRun?, spec: Manifest.RegressionSpec) -> RegressionReport {
        var report = RegressionReport(runID: current.runID, baselineKind: spec.baseline == .previous ? "previous" : "pinned",
                                      baselineRunID: baseline?.runID, maxMeanIoUDrop: spec.maxMeanIoUDrop,
                                      maxClassIoUDrop: spec.maxClassIoUDrop, compared: [], findings: [])
        guard let baseline else { return report }
        for result in current.results {
            guard let before = baseline[result.dataset] else { continue }
            report.compared.append(result.dataset)
            if let limit = spec.maxMeanIoUDrop, let b = before.mIoU, let c = result.mIoU, b - c > limit {
                report.findings.append(RegressionFinding(dataset: result.dataset, className: nil, baseline: b, current: c,
                                                         drop: b - c, threshold: limit))
            }
            if let limit = spec.maxClassIoUDrop {
                for cls in result.classes {
                    guard let old = before.classes.first(where: { $0.trainId == cls.trainId }),
                          let b = old.iou, let c = cls.iou, b - c > limit else { continue }
                    report.findings.append(RegressionFinding(dataset: result.dataset, className: cls.name, baseline: b,
                                                             current: c, drop: b - c, threshold: limit))
                }
            }
        }
        for average in current.averages {
            guard let before = baseline.average(average.name) else { continue }
            report.compared.append(average.name)
            if let limit = spec.maxMeanIoUDrop, let b = before.mIoU, let c = average.mIoU, b - c > limit {
                report.findings.append(RegressionFinding(dataset: average.name, className: nil, average: true, baseline: b,
                                                         current: c, drop: b - c, threshold: limit))
            }
        }
        return report
    }
}
