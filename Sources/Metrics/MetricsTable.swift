// MetricsTable.swift — plain-text tables of a report for the terminal.
// Percentages are shown x100 with two decimals (printf "%.2f", round to
// nearest); undefined values as "-".

import Foundation

public enum MetricsTable {
    /// "97.83" for 0.978312..., "-" for nil.
    public static func percent(_ value: Double?) -> String {
        guard let value else { return "-" }
        return String(format: "%.2f", value * 100)
    }

    /// Per-class IoU/Acc of one set, then its mIoU, mAcc, aAcc.
    public static func render(_ set: DatasetMetrics) -> String {
        let m = set.metrics
        let nameWidth = max(5, set.classNames.map(\.count).max() ?? 0)
        var lines = ["\(set.name) (\(set.images) images)",
                     pad("class", nameWidth) + "  " + left("IoU", 7) + "  " + left("Acc", 7)]
        for (i, name) in set.classNames.enumerated() {
            lines.append(pad(name, nameWidth) + "  " + left(percent(m.iou[i]), 7) + "  " + left(percent(m.accuracy[i]), 7))
        }
        lines.append("mIoU \(percent(m.meanIoU))  mAcc \(percent(m.meanAccuracy))  aAcc \(percent(m.pixelAccuracy))")
        return lines.joined(separator: "\n") + "\n"
    }

    /// One line per set (mIoU, mAcc, aAcc, images), then one per average (`averageRows`: the
    /// named groups, or "Avg." over every set).
    public static func summary(_ report: MetricsReport) -> String {
        let averages = report.averageRows
        let nameWidth = max(7, (report.datasets.map(\.name.count) + averages.map(\.name.count)).max() ?? 0)
        var lines = [pad("dataset", nameWidth) + "  " + left("mIoU", 7) + "  " + left("mAcc", 7) + "  "
            + left("aAcc", 7) + "  " + left("images", 7)]
        for set in report.datasets {
            let m = set.metrics
            lines.append(pad(set.name, nameWidth) + "  " + left(percent(m.meanIoU), 7) + "  "
                + left(percent(m.meanAccuracy), 7) + "  " + left(percent(m.pixelAccuracy), 7) + "  "
                + left(String(set.images), 7))
        }
        for average in averages {
            lines.append(pad(average.name, nameWidth) + "  " + left(percent(average.mIoU), 7))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Every set's class table, then the summary.
    public static func render(_ report: MetricsReport) -> String {
        (report.datasets.map { render($0) } + [summary(report)]).joined(separator: "\n")
    }

    static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }

    static func left(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
    }
}
