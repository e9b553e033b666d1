// MetricsTests.swift — confusion matrix and IoU/mIoU/aAcc/mAcc against a
// numpy re-implementation of MMSeg's IoUMetric, exact merging, undefined
// classes, the metrics.json format and the terminal tables.

import CTCore
import Foundation
@testable import Metrics
import TestSupport
import Testing

struct IoUFixture: Decodable {
    var classCount: Int
    var images: Int
    var intersection: [UInt64]
    var union: [UInt64]
    var areaPred: [UInt64]
    var areaLabel: [UInt64]
    var iou: [Double?]
    var acc: [Double?]
    var aAcc: Double
    var mIoU: Double
    var mAcc: Double
    var confusion: [[UInt64]]
}

enum MetricsFixture {
    static func load() throws -> (IoUFixture, preds: [[UInt8]], labels: [[UInt8]]) {
        let fx = try fixtures.decode(IoUFixture.self, from: "iou_metric.json")
        func planes(_ name: String) throws -> [[UInt8]] {
            let a = try fixtures.npy(name)
            let n = a.shape[0], size = a.shape[1] * a.shape[2]
            return (0 ..< n).map { Array(a.bytes[$0 * size ..< ($0 + 1) * size]) }
        }
        return (fx, try planes("preds.npy"), try planes("labels.npy"))
    }
}

func close(_ a: Double?, _ b: Double?) -> Bool {
    switch (a, b) {
    case (nil, nil): return true
    case let (x?, y?): return abs(x - y) <= 1e-12
    default: return false
    }
}

@Suite struct ConfusionMatrixTests {
    @Test func matchesMMSegIoUMetric() throws {
        let (fx, preds, labels) = try MetricsFixture.load()
        var set = DatasetMetrics(name: "random", classCount: fx.classCount)
        for (p, l) in zip(preds, labels) { try set.accumulate(prediction: p, label: l) }
        let m = set.matrix
        #expect(set.images == fx.images)
        for c in 0 ..< fx.classCount {
            #expect(m.intersection(c) == fx.intersection[c], "intersection \(c)")
            #expect(m.union(c) == fx.union[c], "union \(c)")
            #expect(m.predictedPixels(c) == fx.areaPred[c], "pred area \(c)")
            #expect(m.groundTruthPixels(c) == fx.areaLabel[c], "label area \(c)")
            for p in 0 ..< fx.classCount {
                #expect(m.count(groundTruth: c, prediction: p) == fx.confusion[c][p])
            }
        }
        let metrics = set.metrics
        for c in 0 ..< fx.classCount {
            #expect(close(metrics.iou[c], fx.iou[c]), "IoU \(c): \(String(describing: metrics.iou[c])) vs \(String(describing: fx.iou[c]))")
            #expect(close(metrics.accuracy[c], fx.acc[c]), "Acc \(c)")
        }
        #expect(metrics.iou[7] == nil && metrics.accuracy[7] == nil, "class 7 never occurs: undefined")
        #expect(metrics.iou[9] == 0 && metrics.accuracy[9] == 0, "class 9 labelled, never predicted")
        #expect(close(metrics.meanIoU, fx.mIoU))
        #expect(close(metrics.meanAccuracy, fx.mAcc))
        #expect(close(metrics.pixelAccuracy, fx.aAcc))
        #expect(m.predictionOutOfRange.reduce(0, +) > 0 && m.labelOutOfRange.reduce(0, +) > 0)
    }

    @Test func mergingIsExactAndOrderIndependent() throws {
        let (fx, preds, labels) = try MetricsFixture.load()
        var whole = ConfusionMatrix(classCount: fx.classCount)
        for (p, l) in zip(preds, labels) { try whole.accumulate(prediction: p, label: l) }
        for split in [[0, 1, 2], [3, 4, 5]] as [[Int]] {
            var a = ConfusionMatrix(classCount: fx.classCount), b = ConfusionMatrix(classCount: fx.classCount)
            for i in split.reversed() { try a.accumulate(prediction: preds[i], label: labels[i]) }
            for i in (0 ..< preds.count).filter({ !split.contains($0) }) {
                try b.accumulate(prediction: preds[i], label: labels[i])
            }
            var ab = a, ba = b
            try ab.merge(b)
            try ba.merge(a)
            #expect(ab == whole && ba == whole)
        }
        #expect(throws: MetricsError.self) { try whole.merge(ConfusionMatrix(classCount: 5)) }
        #expect(throws: MetricsError.self) { try whole.accumulate(prediction: [0, 1], label: [0]) }
    }

    @Test func undefinedClassesLeaveTheMean() throws {
        var m = ConfusionMatrix(classCount: 3)
        try m.accumulate(prediction: [0, 0, 1, 1, 0], label: [0, 0, 1, 0, 255])
        let metrics = SegmentationMetrics(m)
        #expect(metrics.iou[2] == nil)
        #expect(metrics.iou[0] == 2.0 / 3.0 && metrics.iou[1] == 0.5)
        #expect(metrics.meanIoU == (2.0 / 3.0 + 0.5) / 2)
        #expect(metrics.pixelAccuracy == 0.75)
        #expect(SegmentationMetrics(ConfusionMatrix(classCount: 4)).meanIoU == nil)
        #expect(SegmentationMetrics.average([0.5, nil, 0.3]) == 0.4)
    }
}

@Suite struct MetricsReportTests {
    static func report() throws -> MetricsReport {
        let (fx, preds, labels) = try MetricsFixture.load()
        var a = DatasetMetrics(name: "cityscapes", classCount: fx.classCount)
        var b = DatasetMetrics(name: "bdd", classCount: fx.classCount)
        for i in 0 ..< 3 { try a.accumulate(prediction: preds[i], label: labels[i]) }
        for i in 3 ..< 6 { try b.accumulate(prediction: preds[i], label: labels[i]) }
        return MetricsReport(datasets: [a, b])
    }

    @Test func jsonRoundTripsAndReads() throws {
        let report = try Self.report()
        let bytes = report.encoded()
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix("{\n  \"format\": \"ctpipe-metrics\",\n  \"version\": 1,"))
        #expect(text.contains("{\"trainId\": 0, \"name\": \"road\", \"IoU\": "), "one line per class")
        #expect(text.contains("\"name\": \"traffic light\""))
        let decoded = try MetricsReport.decode(bytes, path: "metrics.json")
        #expect(decoded == report)
        #expect(decoded.encoded() == bytes)
        // The Codable path writes the same schema.
        let viaEncoder = try JSONEncoder().encode(report)
        #expect(try MetricsReport.decode([UInt8](viaEncoder), path: "encoder.json") == report)
        // Names are escaped.
        var odd = DatasetMetrics(name: "a \"quoted\"\\ set\n", classCount: 2)
        try odd.accumulate(prediction: [0, 1], label: [0, 0])
        let oddReport = MetricsReport(datasets: [odd])
        #expect(try MetricsReport.decode(oddReport.encoded(), path: "odd.json") == oddReport)
        // Stored percentages are the unrounded x100 values.
        let object = try JSONSerialization.jsonObject(with: Data(bytes)) as! [String: Any]
        let sets = object["datasets"] as! [[String: Any]]
        #expect(sets[0]["mIoU"] as? Double == report.datasets[0].metrics.meanIoU! * 100)
        #expect((object["average"] as! [String: Any])["mIoU"] as? Double == report.averageMeanIoU! * 100)
    }

    @Test func shardsMergeByName() throws {
        let full = try Self.report()
        var left = MetricsReport(datasets: [full.datasets[0]], partial: true)
        var halfB = DatasetMetrics(name: "bdd")
        let (_, preds, labels) = try MetricsFixture.load()
        try halfB.accumulate(prediction: preds[3], label: labels[3])
        var restB = DatasetMetrics(name: "bdd")
        for i in 4 ..< 6 { try restB.accumulate(prediction: preds[i], label: labels[i]) }
        try left.merge(MetricsReport(datasets: [restB], partial: true))
        try left.merge(MetricsReport(datasets: [halfB], partial: true))
        #expect(left.datasets.map(\.name) == ["cityscapes", "bdd"])
        #expect(left.datasets[1].matrix == full.datasets[1].matrix && left.datasets[1].images == 3)
        #expect(left.averageMeanIoU == (full.datasets[0].metrics.meanIoU! + full.datasets[1].metrics.meanIoU!) / 2)
    }

    @Test func badFilesAreNamed() throws {
        let good = String(decoding: try Self.report().encoded(), as: UTF8.self)
        let wrongVersion = good.replacingOccurrences(of: "\"version\": 1", with: "\"version\": 9")
        #expect(throws: MetricsError.self) { try MetricsReport.decode(Array(wrongVersion.utf8), path: "m.json") }
        do {
            _ = try MetricsReport.decode(Array(wrongVersion.utf8), path: "m.json")
        } catch {
            #expect(error.description.hasPrefix("m.json: $.version"), "\(error)")
        }
        let badRow = good.replacingOccurrences(of: "\"confusion\": [\n        [", with: "\"confusion\": [\n        [7, ")
        #expect(badRow != good)
        #expect(throws: MetricsError.self) { try MetricsReport.decode(Array(badRow.utf8), path: "m.json") }
        #expect(throws: MetricsError.self) { try MetricsReport.decode(Array("{}".utf8), path: "m.json") }
    }

    @Test func namedAveragesRoundTripAndReplaceAvg() throws {
        var report = try Self.report()
        let city = report.datasets[0].metrics.meanIoU!, bdd = report.datasets[1].metrics.meanIoU!
        report.averages = [AverageGroup(name: "both", over: ["cityscapes", "bdd"]), AverageGroup(name: "missing", over: ["bdd", "acdc"])]
        #expect(report.meanIoU(of: report.averages![0]) == (city + bdd) / 2)
        #expect(report.meanIoU(of: report.averages![1]) == nil, "a group with a set that has no mIoU has no value")
        #expect(report.averageRows.map(\.name) == ["both", "missing"])
        let bytes = report.encoded()
        let object = try JSONSerialization.jsonObject(with: Data(bytes)) as! [String: Any]
        #expect(object["average"] == nil)
        let groups = object["averages"] as! [[String: Any]]
        #expect(groups[0]["name"] as? String == "both" && groups[0]["mIoU"] as? Double == (city + bdd) / 2 * 100)
        #expect(groups[1]["mIoU"] is NSNull && groups[1]["over"] as? [String] == ["bdd", "acdc"])
        let decoded = try MetricsReport.decode(bytes, path: "metrics.json")
        #expect(decoded == report && decoded.encoded() == bytes)
        #expect(try MetricsReport.decode([UInt8](try JSONEncoder().encode(report)), path: "encoder.json") == report)
        let table = MetricsTable.summary(report)
        #expect(table.hasSuffix("\nboth          \(MetricsTable.percent((city + bdd) / 2))\nmissing           -\n"), "\(table)")
        #expect(!table.contains("Avg."))

        // A file from before named averages whose "Avg." names fewer sets reads as one group "Avg.".
        let old = String(decoding: try Self.report().encoded(), as: UTF8.self)
            .replacingOccurrences(of: "\"over\": [\"cityscapes\", \"bdd\"]", with: "\"over\": [\"bdd\"]")
        #expect(old.contains("\"over\": [\"bdd\"]"))
        let legacy = try MetricsReport.decode(Array(old.utf8), path: "old.json")
        #expect(legacy.averages == [AverageGroup(name: "Avg.", over: ["bdd"])] && legacy.averageRows.first?.mIoU == bdd)
    }

    @Test func tablesShowPercentages() throws {
        let report = try Self.report()
        let table = MetricsTable.render(report)
        #expect(table.contains("cityscapes (3 images)"))
        #expect(table.contains("road "))
        #expect(table.contains("Avg.  "))
        #expect(MetricsTable.percent(0.523456) == "52.35")
        #expect(MetricsTable.percent(nil) == "-")
        let set = report.datasets[0]
        #expect(MetricsTable.render(set).contains("mIoU \(MetricsTable.percent(set.metrics.meanIoU))"))
    }
}
