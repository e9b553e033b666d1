import CTCore
import Foundation
import ManifestSchema
import Metrics
import PipelineRunner
import RunFolder
import RunReports
import Testing

/// The metric cells of a report: (metric, dataset, class) -> (data-value, shown text).
func reportCells(_ html: String) -> [String: (value: String, text: String)] {
    let pattern = #"data-metric="([^"]+)" data-dataset="([^"]*)"(?: data-class="([^"]+)")? data-value="([^"]+)">([^<]*)<"#
    let regex = try! NSRegularExpression(pattern: pattern)
    var cells: [String: (String, String)] = [:]
    let ns = html as NSString
    for m in regex.matches(in: html, range: NSRange(location: 0, length: ns.length)) {
        func group(_ i: Int) -> String { m.range(at: i).location == NSNotFound ? "" : ns.substring(with: m.range(at: i)) }
        cells["\(group(1))|\(group(2))|\(group(3))"] = (group(4), group(5))
    }
    return cells
}

/// Every match of one capture group.
func captures(_ pattern: String, in text: String) -> [String] {
    let regex = try! NSRegularExpression(pattern: pattern)
    let ns = text as NSString
    return regex.matches(in: text, range: NSRange(location: 0, length: ns.length)).map { ns.substring(with: $0.range(at: 1)) }
}

@Suite struct ReportTests {
    func options(history: String) -> RunOptions {
        var options = RunOptions()
        options.quiet = true
        options.completion.historyDatabase = history
        return options
    }

    func perImage(_ fixture: ScoringFixture) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: fixture.folder + "/per_image.json"))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    @Test func reportNumbersEqualMetricsJSON() throws {
        let fixture = try ScoringFixture()
        let db = fixture.folder + "/h.sqlite"
        let manifest = try fixture.manifest(shards: 2, workers: 2, formats: [])
        _ = try Runner(manifest: manifest, options: options(history: db)).run()
        let summary = try Runner(manifest: manifest, options: options(history: db)).run()
        let completion = try #require(summary.completion)
        #expect(completion.errors.isEmpty, "\(completion.errors)")
        #expect(completion.historyDatabase == db)
        let file = try #require(completion.reportFile)
        let html = try String(contentsOfFile: file, encoding: .utf8)

        // Numbers: every value of metrics.json, exact in data-value and rounded in the text. The
        // numbers are taken from the file's text (Double(String) rounds correctly).
        let text = try String(contentsOfFile: summary.runDirectory + "/metrics.json", encoding: .utf8)
        var expected: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let l = String(line)
            if let m = captures(#"^ +"(?:mIoU|mAcc|aAcc)": ([^,]+),$"#, in: l).first {
                expected["\(l.split(separator: "\"")[1])|city|"] = m
            }
            let row = captures(#"\{"trainId": \d+, "name": "([^"]+)", "IoU": ([^,]+), "Acc": ([^,]+),"#, in: l)
            if let name = row.first {
                let values = captures(#""(?:IoU|Acc)": ([^,]+),"#, in: l)
                expected["IoU|city|\(name)"] = values[0]
                expected["Acc|city|\(name)"] = values[1]
            }
        }
        #expect(expected.count == 3 + 2 * 19)
        let cells = reportCells(html)
        for (key, want) in expected {
            guard let cell = cells[key] else { Issue.record("\(key) missing from the report"); continue }
            if let v = Double(want) {
                #expect(Double(cell.value) == v, "\(key): \(cell.value) vs \(want)")
                #expect(cell.text == String(format: "%.2f", v), "\(key) shown as \(cell.text)")
            } else {
                #expect(want == "null" && cell.value == "null" && cell.text == "-", "\(key) undefined")
            }
        }
        #expect(cells["samples|city|"]?.value == "5" && cells["skipped|city|"]?.value == "0")
        #expect(abs(Double(cells["mIoU|city|"]!.value)! - (fixture.expected["mIoU"] as! Double)) < 1e-9, "and equal to numpy's")

        // Charts: per-class bars with the IoUs, the trend over both recorded runs, no loss chart.
        #expect(captures(#"<svg class="chart class-iou" data-dataset="([^"]+)""#, in: html) == ["city"])
        let bars = captures(#"<rect class="bar" data-class="[^"]+" data-value="([^"]+)""#, in: html).compactMap(Double.init)
        let ious = (0 ..< 19).compactMap { i in expected["IoU|city|\(CityscapesClasses.names(count: 19)[i])"].flatMap(Double.init) }
        #expect(bars == ious)
        #expect(captures(#"<circle class="point" data-dataset="city" data-run="([^"]+)""#, in: html).count == 2)
        #expect(!html.contains(#"class="chart loss""#))
        #expect(html.contains(#"<section id="regression""#) == false, "no thresholds, no check")
        #expect(!html.contains("http://") || !html.contains("src=\"http"), "nothing fetched")
        #expect(captures(#"(?:src|href)="([^"]+)""#, in: html).allSatisfy { $0.hasPrefix("data:image/png;base64,") })
    }

    @Test func galleryIsWorstFirstWithNumpyScores() throws {
        let fixture = try ScoringFixture()
        let expected = try perImage(fixture)
        let order = expected["gallery_order"] as! [String]
        let scores = expected["scores"] as! [String: [String: Any]]
        for shards in [1, 3, 5] {
            let db = fixture.folder + "/g\(shards).sqlite"
            let summary = try Runner(manifest: try fixture.manifest(shards: shards, workers: 2, formats: [], name: "g\(shards)"),
                                     options: options(history: db)).run()
            let data = try ReportData.load(runDirectory: summary.runDirectory)
            let items = try #require(data.gallery["city"])
            #expect(items.map(\.id) == order, "gallery order with \(shards) shards")
            for item in items {
                let want = scores[item.id]!
                #expect(abs(item.mIoU! - (want["mIoU"] as! Double)) < 1e-9, "\(item.id) mIoU")
                #expect(abs(item.aAcc! - (want["aAcc"] as! Double)) < 1e-9, "\(item.id) aAcc")
                // Thumbnails are PNGs of the label's size (24x12 here: smaller than the thumbnail width).
                for png in [item.image, item.truth, item.prediction] {
                    #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
                }
            }
            let html = HTMLReport.render(data)
            #expect(captures(#"<figure class="triplet" data-rank="\d+" data-id="([^"]+)""#, in: html) == order)
            #expect(captures(#"(<img alt)"#, in: html).count == 3 * order.count)
        }
    }

    @Test func lossCurveOnlyWhenTheRunTrained() throws {
        let fixture = try ScoringFixture()
        let summary = try Runner(manifest: try fixture.manifest(shards: 1, workers: 1, formats: []),
                                 options: options(history: fixture.folder + "/l.sqlite")).run()
        var lines = (0 ..< 30).map { #"{"iteration": \#($0 * 10), "loss": \#(3.0 / Double($0 + 1)), "lr": 0.0001}"# }
        lines.insert(#"{"event": "eval", "iteration": 100, "mIoU": 41.5}"#, at: 12)
        try AtomicFile.write(text: lines.joined(separator: "\n") + "\n", to: summary.runDirectory + "/train_log.jsonl")
        let data = try ReportData.load(runDirectory: summary.runDirectory)
        #expect(data.loss.count == 30, "lines without a loss are not points")
        #expect(data.loss.last == LossPoint(iteration: 290, loss: 0.1))
        let html = HTMLReport.render(data)
        #expect(captures(#"<svg class="chart loss" data-points="(\d+)""#, in: html) == ["30"])
        #expect(html.contains(#"data-metric="loss" data-value="0.1">0.1000<"#))
    }

    @Test func reportOfAnUnfinishedRunSaysSo() throws {
        let fixture = try ScoringFixture()
        #expect(throws: RunError.self) { try ReportData.load(runDirectory: fixture.folder + "/nothing-here") }
    }
}

@Suite struct ShardMergeCompletionTests {
    /// Shard jobs write no history; the merge records once, with the metrics and
    /// gallery of a single-process run.
    @Test func mergedShardsEqualOneProcessAndRecordOnce() throws {
        let fixture = try ScoringFixture()
        let db = fixture.folder + "/merge.sqlite"
        var single = RunOptions()
        single.quiet = true
        single.completion.historyDatabase = fixture.folder + "/single.sqlite"
        let manifest = try fixture.manifest(shards: 3, workers: 1, formats: [])
        let one = try Runner(manifest: manifest, options: single).run()

        var folder = ""
        for i in 0 ..< 3 {
            var options = RunOptions()
            options.quiet = true
            options.shard = ShardSelection(parsing: "\(i)/3")
            options.completion.historyDatabase = db
            let summary = try Runner(manifest: manifest, options: options).run()
            folder = summary.runDirectory
            #expect(summary.completion == nil, "a shard job leaves history and report to the merge")
        }
        #expect(!FileManager.default.fileExists(atPath: db))
        var options = CompletionOptions()
        options.historyDatabase = db
        let (report, completion) = try RunMerge.mergeAndFinish(runDirectory: folder, options: options)
        #expect(completion.errors.isEmpty, "\(completion.errors)")
        #expect(try FileBytes.read(folder + "/metrics.json") == FileBytes.read(one.runDirectory + "/metrics.json"))
        #expect(report == one.report)
        let store = try HistoryStore(path: db, create: false)
        #expect(try store.runs().map(\.runID) == ["score/\(URL(fileURLWithPath: folder).lastPathComponent)"])
        #expect(try store.runs().first?.results == HistoryStore(path: fixture.folder + "/single.sqlite", create: false).runs().first?.results)
        #expect(try ReportData.load(runDirectory: folder).gallery["city"]?.map(\.id)
            == ReportData.load(runDirectory: one.runDirectory).gallery["city"]?.map(\.id))
        // Merging again replaces the record instead of adding one.
        _ = try RunMerge.mergeAndFinish(runDirectory: folder, options: options)
        #expect(try store.count() == 1)
    }
}
