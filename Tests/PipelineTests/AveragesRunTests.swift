// AveragesRunTests.swift — named averages through a whole run of the score-predictions
// pipeline on synthetic sets: metrics.json, metrics.csv, the console table, the results
// history and report.html show each named average (the mean of its sets' mIoUs), and
// without `averages` the default "Avg." over every set is unchanged.

import CTCore
import Foundation
import ImageIO
import ManifestSchema
import Metrics
import PipelineRunner
import RunReports
import Testing

/// Three Cityscapes-layout sets (`a`, `b`, `c`, one city each) of 64 x 32 labels with predictions
/// that are right with a per-set probability, so the sets' mIoUs differ.
struct CitySetsFixture {
    let folder: String
    static let sets = [("a", "aachen", 230), ("b", "bochum", 170), ("c", "cologne", 110)]

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-sets-\(UUID())").path
        var state: UInt64 = 2024
        func next() -> UInt8 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
        let width = 64, height = 32
        for (set, city, right) in Self.sets {
            for i in 0 ..< 3 {
                let stem = String(format: "%@_%06d_000019", city, i)
                var label = [UInt8](repeating: 0, count: width * height), prediction = label
                for y in 0 ..< height {
                    for x in 0 ..< width {
                        let k = (x / 16 + y / 8 + i) % 6
                        label[y * width + x] = [7, 8, 11, 21, 23, 26][k]
                        prediction[y * width + x] = Int(next()) < right ? [0, 1, 2, 8, 10, 13][k] : next() % 19
                    }
                }
                let image = Image8(width: width, height: height, channels: 3, pixels: (0 ..< width * height * 3).map { _ in next() })
                try ImageFile.writePNG(image, to: "\(folder)/\(set)/leftImg8bit/val/\(city)/\(stem)_leftImg8bit.png")
                try ImageFile.writePNG(Image8(width: width, height: height, channels: 1, pixels: label),
                                       to: "\(folder)/\(set)/gtFine/val/\(city)/\(stem)_gtFine_labelIds.png")
                try ImageFile.writePNG(Image8(width: width, height: height, channels: 1, pixels: prediction),
                                       to: "\(folder)/predictions/\(city)/\(stem).png")
            }
        }
    }

    /// A score-predictions manifest over the three sets; `extra` adds top-level fields.
    func manifest(_ extra: String = "", file: String = "sets.json") throws -> Manifest {
        try AtomicFile.write(text: """
        {"version": 1, "name": "sets", "pipeline": {"version": 1, "stages": ["read", "predictions", "metric"]},
         "datasets": [{"kind": "cityscapes", "root": "a", "name": "a"}, {"kind": "cityscapes", "root": "b", "name": "b"},
                      {"kind": "cityscapes", "root": "c", "name": "c"}],
         "predictions": {"dir": "predictions"},
         "execution": {"shards": 2, "workers": 2}\(extra)}
        """, to: folder + "/" + file)
        return try ManifestLoader.load(folder + "/" + file)
    }

    var history: String { folder + "/runs/history.sqlite" }

    func options() -> RunOptions {
        var options = RunOptions()
        options.quiet = true
        options.completion.historyDatabase = history
        return options
    }
}

/// metrics.json parsed with Foundation (an independent reader of what the run wrote).
func metricsJSON(_ runFolder: String) throws -> [String: Any] {
    try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: runFolder + "/metrics.json"))) as! [String: Any]
}

/// A set's mIoU as written in metrics.json (percent).
func writtenMeanIoU(_ metrics: [String: Any], _ name: String) -> Double? {
    (metrics["datasets"] as! [[String: Any]]).first { $0["name"] as? String == name }?["mIoU"] as? Double
}

/// The values of the console summary row named `name` (nil when there is none).
func tableRow(_ table: String, _ name: String) -> [String]? {
    for line in table.split(separator: "\n") {
        let fields = line.split(separator: " ").map(String.init)
        if fields.first == name { return Array(fields.dropFirst()) }
    }
    return nil
}

@Suite struct AveragesRunTests {
    @Test func namedAveragesAreWrittenShownRecordedAndReported() throws {
        let fixture = try CitySetsFixture()
        let summary = try Runner(manifest: try fixture.manifest(#", "averages": {"AB": ["a", "b"], "one": ["c"]}"#),
                                 options: fixture.options()).run()
        let json = try metricsJSON(summary.runDirectory)
        let a = try #require(writtenMeanIoU(json, "a")), b = try #require(writtenMeanIoU(json, "b"))
        let c = try #require(writtenMeanIoU(json, "c"))
        #expect(a > b && b > c, "the sets differ (\(a), \(b), \(c))")
        #expect(json["average"] == nil, "named averages replace the default")
        let averages = try #require(json["averages"] as? [[String: Any]])
        #expect(averages.map { $0["name"] as! String } == ["AB", "one"])
        #expect(averages.map { $0["over"] as! [String] } == [["a", "b"], ["c"]])
        let ab = try #require(averages[0]["mIoU"] as? Double)
        #expect(abs(ab - (a + b) / 2) < 1e-12)
        #expect(averages[1]["mIoU"] as? Double == c)

        // metrics.json reads back with its averages.
        let report = try #require(summary.report)
        let reread = try MetricsReport.decode(try FileBytes.read(summary.runDirectory + "/metrics.json"), path: "metrics.json")
        #expect(reread == report)
        #expect(report.averages == [AverageGroup(name: "AB", over: ["a", "b"]), AverageGroup(name: "one", over: ["c"])])

        // The console table and metrics.csv: one row per average, no "Avg.".
        let table = MetricsTable.summary(report)
        #expect(tableRow(table, "AB") == [String(format: "%.2f", ab)], "\(table)")
        #expect(tableRow(table, "one") == [String(format: "%.2f", c)], "\(table)")
        #expect(tableRow(table, "Avg.") == nil)
        let csv = try String(contentsOfFile: summary.runDirectory + "/metrics.csv", encoding: .utf8).split(separator: "\n")
            .map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let abRow = try #require(csv.first { $0.first == "AB" })
        #expect(abRow[1] == "" && abs(Double(abRow[2])! - ab) < 1e-12 && abRow.dropFirst(3).allSatisfy(\.isEmpty))
        #expect(csv.last?.first == "one" && !csv.contains { $0.first == "Avg." })

        // The history holds the averages (and the seed), not the default Avg.
        let recorded = try #require(try HistoryStore(path: fixture.history, create: false).runs().last)
        #expect(recorded.averageMeanIoU == nil)
        #expect(recorded.seed == 0)
        #expect(recorded.averages.map(\.name) == ["AB", "one"] && recorded.averages.map(\.over) == [["a", "b"], ["c"]])
        #expect(abs(recorded.averages[0].mIoU! - ab) < 1e-12)

        // report.html: one row per average, its exact value in data-value.
        let html = try String(contentsOfFile: try #require(summary.completion?.reportFile), encoding: .utf8)
        let cells = reportCells(html)
        #expect(cells["average.mIoU|AB|"]?.value == "\(ab)" && cells["average.mIoU|AB|"]?.text == String(format: "%.2f", ab))
        #expect(cells["average.mIoU|one|"]?.value == "\(c)")
        #expect(cells["average.mIoU||"] == nil)
    }

    @Test func withoutAveragesTheDefaultAvgIsOverEverySet() throws {
        let fixture = try CitySetsFixture()
        let summary = try Runner(manifest: try fixture.manifest(), options: fixture.options()).run()
        let json = try metricsJSON(summary.runDirectory)
        let values = try ["a", "b", "c"].map { try #require(writtenMeanIoU(json, $0)) }
        let average = try #require(json["average"] as? [String: Any])
        #expect(average["over"] as? [String] == ["a", "b", "c"])
        let mean = try #require(average["mIoU"] as? Double)
        #expect(abs(mean - values.reduce(0, +) / 3) < 1e-12)
        #expect(json["averages"] == nil)
        let report = try #require(summary.report)
        #expect(report.averages == nil)
        #expect(tableRow(MetricsTable.summary(report), "Avg.") == [String(format: "%.2f", mean)])
        let recorded = try #require(try HistoryStore(path: fixture.history, create: false).runs().last)
        #expect(abs(recorded.averageMeanIoU! - mean) < 1e-12 && recorded.averages.isEmpty)
        let cells = reportCells(try String(contentsOfFile: try #require(summary.completion?.reportFile), encoding: .utf8))
        #expect(cells["average.mIoU||"]?.value == "\(mean)")
    }

    @Test func aDropOfANamedAverageIsARegression() throws {
        let fixture = try CitySetsFixture()
        let thresholds = #", "averages": {"AB": ["a", "b"]}, "history": {"regression": {"max_miou_drop": 1}}"#
        let first = try Runner(manifest: try fixture.manifest(thresholds), options: fixture.options()).run()
        #expect(first.completion?.exitStatus == 0)
        // Set a's predictions all wrong: a and the average over a and b drop.
        for i in 0 ..< 3 {
            try ImageFile.writePNG(Image8(width: 64, height: 32, channels: 1, pixels: [UInt8](repeating: 18, count: 64 * 32)),
                                   to: String(format: "%@/predictions/aachen/aachen_%06d_000019.png", fixture.folder, i))
        }
        let second = try Runner(manifest: try fixture.manifest(thresholds), options: fixture.options()).run()
        let check = try #require(second.completion?.regression)
        #expect(check.compared == ["a", "b", "c", "AB"])
        #expect(check.findings.map(\.dataset) == ["a", "AB"] && check.findings.map(\.average) == [nil, true])
        let a = try #require(check.findings.first), ab = try #require(check.findings.last)
        #expect(abs(ab.drop - a.drop / 2) < 1e-9, "b is unchanged, so the average drops by half of a's drop")
        #expect(second.completion?.exitStatus == 4)
    }
}
