import CTCore
import Foundation
import ManifestSchema
import Metrics
import PipelineRunner
import RunFolder
import Testing

/// A copy of the committed scoring fixture (Cityscapes layout + predictions)
/// in a scratch folder, with a manifest next to it.
struct ScoringFixture {
    let folder: String
    let expected: [String: Any]

    init() throws {
        let source = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/score").path
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-run-\(UUID())").path
        try FileManager.default.copyItem(atPath: source, toPath: folder)
        let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/expected.json"))
        expected = try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    func manifest(shards: Int, workers: Int, formats: [String] = ["trainid", "color", "labelid", "overlay", "cvat"],
                  name: String = "score") throws -> Manifest {
        let formatList = formats.map { "\"\($0)\"" }.joined(separator: ", ")
        let stages = formats.isEmpty ? #""read", "predictions", "metric""# : #""read", "predictions", "metric", "write""#
        let path = folder + "/\(name)-\(shards)-\(workers).json"
        try AtomicFile.write(text: """
        {"version": 1, "name": "\(name)",
         "pipeline": {"version": 1, "stages": [\(stages)]},
         "datasets": [{"kind": "cityscapes", "root": "cityscapes", "name": "city"}],
         "predictions": {"dir": "predictions", "format": "trainid"},
         "outputs": {"dir": "runs", "formats": [\(formatList)]},
         "execution": {"shards": \(shards), "workers": \(workers)}}
        """, to: path)
        return try ManifestLoader.load(path)
    }

    var expectedConfusion: [UInt64] {
        (expected["confusion"] as! [[Int]]).flatMap { $0.map(UInt64.init) }
    }
}

@Suite struct RunnerTests {
    func quiet() -> RunOptions {
        var options = RunOptions()
        options.quiet = true
        return options
    }

    @Test(arguments: [(1, 1), (3, 1), (3, 2), (8, 2)])
    func metricsMatchNumpyForAnyShardingAndWorkers(shards: Int, workers: Int) throws {
        let fixture = try ScoringFixture()
        let summary = try Runner(manifest: try fixture.manifest(shards: shards, workers: workers), options: quiet()).run()
        let report = try #require(summary.report)
        let city = try #require(report["city"])
        #expect(city.matrix.counts == fixture.expectedConfusion, "confusion matrix equals the numpy computation")
        #expect(city.images == 5)
        let mIoU = try #require(city.metrics.meanIoU)
        #expect(abs(mIoU * 100 - (fixture.expected["mIoU"] as! Double)) < 1e-9)
        #expect(FileManager.default.fileExists(atPath: summary.runDirectory + "/metrics.json"))
        #expect(FileManager.default.fileExists(atPath: summary.runDirectory + "/metrics.csv"))
    }

    @Test func writerOutputsEveryFormat() throws {
        let fixture = try ScoringFixture()
        let summary = try Runner(manifest: try fixture.manifest(shards: 2, workers: 2), options: quiet()).run()
        let out = summary.runDirectory + "/outputs/city"
        let id = "lindau/lindau_000003_000007"
        for file in ["trainid/\(id).png", "color/\(id).png", "labelid/\(id)_labelIds.png", "overlay/\(id).png",
                     "cvat/SegmentationClass/\(id).png", "cvat/labelmap.txt", "cvat/ImageSets/Segmentation/default.txt"] {
            #expect(FileManager.default.fileExists(atPath: "\(out)/\(file)"), "\(file) written")
        }
        let index = try String(contentsOfFile: "\(out)/cvat/ImageSets/Segmentation/default.txt", encoding: .utf8)
        #expect(index.split(separator: "\n").count == 5)
        // the written trainId PNG equals the prediction where it was in range
        let written = try FileBytes.read("\(out)/trainid/\(id).png")
        let source = try FileBytes.read(fixture.folder + "/predictions/lindau/lindau_000003_000007.png")
        #expect(!written.isEmpty && !source.isEmpty)
    }

    @Test func resumeRecomputesOnlyMissingShardsWithIdenticalResults() throws {
        let fixture = try ScoringFixture()
        let manifest = try fixture.manifest(shards: 4, workers: 1, formats: ["trainid"])
        let first = try Runner(manifest: manifest, options: quiet()).run()
        let metrics = try FileBytes.read(first.runDirectory + "/metrics.json")
        // Lose two shard records and the merged results, as a killed run would.
        for k in [1, 3] { try FileManager.default.removeItem(atPath: first.runDirectory + "/shards/city/\(k)-of-4.json") }
        try FileManager.default.removeItem(atPath: first.runDirectory + "/metrics.json")
        var options = quiet()
        options.resume = true
        let resumed = try Runner(manifest: manifest, options: options).run()
        #expect(resumed.runDirectory == first.runDirectory)
        #expect(resumed.shardsRun == 2 && resumed.shardsSkipped == 2)
        #expect(try FileBytes.read(resumed.runDirectory + "/metrics.json") == metrics)
    }

    @Test func stoppedRunLeavesNoRecordsAndResumes() throws {
        let fixture = try ScoringFixture()
        let manifest = try fixture.manifest(shards: 2, workers: 1, formats: [])
        let stop = StopFlag()
        stop.set()
        #expect(throws: RunInterrupted.self) { try Runner(manifest: manifest, options: quiet(), stop: stop).run() }
        var options = quiet()
        options.resume = true
        let resumed = try Runner(manifest: manifest, options: options).run()
        #expect(resumed.shardsRun == 2)
        #expect(resumed.report?["city"]?.matrix.counts == fixture.expectedConfusion)
    }

    @Test func shardJobsThenMergeEqualOneProcess() throws {
        let fixture = try ScoringFixture()
        let manifest = try fixture.manifest(shards: 3, workers: 1, formats: [])
        var folder = ""
        for i in 0 ..< 3 {
            var options = quiet()
            options.shard = ShardSelection(parsing: "\(i)/3")
            let summary = try Runner(manifest: manifest, options: options).run()
            folder = summary.runDirectory
            #expect((summary.report == nil) == (i < 2), "metrics only once every shard is done")
        }
        let merged = try RunMerge.merge(runDirectory: folder)
        #expect(merged["city"]?.matrix.counts == fixture.expectedConfusion)
    }

    @Test func missingPredictionFailsOrIsSkipped() throws {
        let fixture = try ScoringFixture()
        try FileManager.default.removeItem(atPath: fixture.folder + "/predictions/munster/munster_000001_000002.png")
        #expect(throws: RunError.self) {
            try Runner(manifest: try fixture.manifest(shards: 1, workers: 1, formats: []), options: quiet()).run()
        }
        let path = fixture.folder + "/skip.json"
        try AtomicFile.write(text: """
        {"version": 1, "name": "skip", "pipeline": {"version": 1, "stages": ["read", "predictions", "metric"]},
         "datasets": [{"kind": "cityscapes", "root": "cityscapes", "name": "city"}],
         "predictions": {"dir": "predictions"}, "execution": {"on_error": "skip", "shards": 2}}
        """, to: path)
        let summary = try Runner(manifest: try ManifestLoader.load(path), options: quiet()).run()
        #expect(summary.problems.count == 1)
        #expect(summary.problems.first?.sample == "munster/munster_000001_000002")
        #expect(summary.report?["city"]?.images == 4)
        #expect(summary.report?["city"]?.skipped == 1, "metrics state how many samples were skipped")
    }

    @Test func anEmptyDatasetAmongOthersIsNothingDoneAndNotRecorded() throws {
        let fixture = try ScoringFixture()
        for sub in ["/empty/gtFine/val", "/empty/leftImg8bit/val"] {
            try FileManager.default.createDirectory(atPath: fixture.folder + sub, withIntermediateDirectories: true)
        }
        let path = fixture.folder + "/two.json"
        try AtomicFile.write(text: """
        {"version": 1, "name": "two", "pipeline": {"version": 1, "stages": ["read", "predictions", "write"]},
         "datasets": [{"kind": "cityscapes", "root": "cityscapes", "name": "city"},
                      {"kind": "cityscapes", "root": "empty", "name": "hollow"}],
         "predictions": {"dir": "predictions"}, "outputs": {"dir": "runs", "formats": ["trainid"]},
         "history": {"db": "history.sqlite"}}
        """, to: path)
        let summary = try Runner(manifest: try ManifestLoader.load(path), options: quiet()).run()
        let completion = try #require(summary.completion)
        #expect(completion.nothingDone == "dataset hollow: its listing holds no sample (an empty split)")
        #expect(completion.historyDatabase == nil)
        #expect(!FileManager.default.fileExists(atPath: fixture.folder + "/history.sqlite"))
        #expect(FileManager.default.fileExists(atPath: summary.runDirectory + "/outputs/city/trainid/lindau/lindau_000003_000007.png"),
                "the other dataset's work is kept")
        let events = try String(contentsOfFile: summary.runDirectory + "/events.jsonl", encoding: .utf8)
        #expect(events.contains("nothing_done"))
        // The same run without the empty dataset is a success and is recorded.
        try AtomicFile.write(text: """
        {"version": 1, "name": "one", "pipeline": {"version": 1, "stages": ["read", "predictions", "write"]},
         "datasets": [{"kind": "cityscapes", "root": "cityscapes", "name": "city"}],
         "predictions": {"dir": "predictions"}, "outputs": {"dir": "runs", "formats": ["trainid"]},
         "history": {"db": "history.sqlite"}}
        """, to: path)
        let done = try #require(try Runner(manifest: try ManifestLoader.load(path), options: quiet()).run().completion)
        #expect(done.nothingDone == nil && done.errors.isEmpty, "\(done.errors)")
        #expect(done.historyDatabase != nil)
    }

    @Test func mergeRemovesLeftoversOnceEveryShardFinished() throws {
        let fixture = try ScoringFixture()
        let manifest = try fixture.manifest(shards: 2, workers: 1, formats: ["trainid"])
        var options = quiet()
        options.shard = ShardSelection(parsing: "0/2")
        let folder = try Runner(manifest: manifest, options: options).run().runDirectory
        // What shard processes killed mid-write leave: a label file's and a record's temporary files.
        let leftovers = ["outputs/city/trainid/frankfurt/.frankfurt_000000_000019.png.tmp-4242-1", "shards/city/.1-of-2.json.tmp-4243-7"]
        for file in leftovers { try AtomicFile.write(text: "half", to: folder + "/" + file) }
        // Not every shard has finished: merge refuses and removes nothing (the shard may be writing).
        #expect(throws: RunError.self) { try RunMerge.merge(runDirectory: folder) }
        for file in leftovers { #expect(FileManager.default.fileExists(atPath: folder + "/" + file)) }
        options.shard = ShardSelection(parsing: "1/2")
        _ = try Runner(manifest: manifest, options: options).run()
        for file in leftovers { #expect(FileManager.default.fileExists(atPath: folder + "/" + file), "shard runs do not sweep") }
        let merged = try RunMerge.merge(runDirectory: folder)
        #expect(merged["city"]?.matrix.counts == fixture.expectedConfusion)
        for file in leftovers { #expect(!FileManager.default.fileExists(atPath: folder + "/" + file), "\(file) removed by merge") }
        #expect(FileManager.default.fileExists(atPath: folder + "/outputs/city/trainid/frankfurt/frankfurt_000000_000019.png"))
        let events = try String(contentsOfFile: folder + "/events.jsonl", encoding: .utf8)
        #expect(events.contains("leftovers_removed") && events.contains(".1-of-2.json.tmp-4243-7"))
    }
}
