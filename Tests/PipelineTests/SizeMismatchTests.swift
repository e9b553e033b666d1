// SizeMismatchTests.swift — `datasets[i].size_mismatch` on a GTA5 tree with one
// image/label pair of different sizes: what the listing decides from the
// headers under each rule, and what a short train + evaluate run through the
// runner then does (skip: the pair is left out and recorded; fail: the run
// stops naming it; resize-label: trained on and scored with its label at the
// image's size).

import CTCore
import Datasets
import Foundation
import ImageIO
import ManifestSchema
import Metrics
import PipelineRunner
import RunFolder
import Testing

/// A synthetic GTA5 tree (raw layout, 4 pairs of 48x32) whose second label is 48x30.
struct MismatchedGTA5 {
    let folder: String
    var root: String { folder + "/gta" }
    /// The pair whose sizes differ.
    let image: String, label: String

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-mismatch-\(UUID())").path
        var options = SynthOptions(dataset: .gta5, root: folder + "/gta")
        options.count = 4
        options.seed = 5
        options.size = ImageSize(width: 48, height: 32)
        options.rawOnly = true
        _ = try SyntheticDataset.write(options)
        let sample = try GTA5Reader(root: folder + "/gta").list().samples[1]
        (image, label) = (sample.imagePath, sample.labelPath)
        let full = try ImageFile.readLabel(label)
        try ImageFile.writePNG(Resize.nearest(full, width: 48, height: 30), to: label)
    }

    func listing(_ rule: SizeMismatchRule) throws -> DatasetListing {
        try GTA5Reader(root: root).list().checkingPairSizes(rule)
    }

    /// A train + infer + metric manifest reading the tree for training and for evaluation.
    func manifest(_ rule: String, name: String = "mismatch", extra: String = "") throws -> Manifest {
        let path = folder + "/\(name)-\(rule).json"
        try AtomicFile.write(text: """
        {"version": 1, "name": "\(name)", "seed": 3,
         "pipeline": {"version": 1, "stages": ["read", "train", "infer", "metric"]},
         "datasets": [
           {"name": "gta-train", "kind": "gta5", "root": "gta", "role": "train", "size_mismatch": "\(rule)"},
           {"name": "gta-eval", "kind": "gta5", "root": "gta", "scale": [48, 32], "size_mismatch": "\(rule)"}
         ],
         "model": {"backbone": "tiny", "adapter": "causal-tune", "tokens": 4},
         "training": {"iterations": 2, "batch_size": 2, "crop_size": 32, "checkpoint_interval": 2\(extra)},
         "outputs": {"dir": "runs"}, "execution": {"shards": 2, "workers": 1}}
        """, to: path)
        return try ManifestLoader.load(path)
    }

    func remove() { try? FileManager.default.removeItem(atPath: folder) }
}

@Suite(.serialized) struct SizeMismatchTests {
    func quiet(_ runDirectory: String? = nil) -> RunOptions {
        var options = RunOptions()
        options.quiet = true
        options.runDirectory = runDirectory
        options.completion.record = false
        options.completion.report = false
        return options
    }

    @Test func listingDecidesFromTheHeaders() throws {
        let tree = try MismatchedGTA5()
        defer { tree.remove() }
        let plain = try GTA5Reader(root: tree.root).list()
        #expect(plain.samples.count == 4 && plain.problems.isEmpty)

        for rule in [SizeMismatchRule.skip, .fail] {
            let listing = try tree.listing(rule)
            #expect(listing.samples.map(\.id) == plain.samples.map(\.id).filter { $0 != plain.samples[1].id })
            #expect(listing.problems.count == 1)
            let problem = try #require(listing.problems.first)
            #expect(problem.kind == .sizeMismatch && problem.file == tree.label)
            #expect(problem.message == "label is 48x30 but its image \(tree.image) is 48x32")
            #expect(problem.description.contains(tree.label) && problem.description.contains(tree.image))
        }

        let resized = try tree.listing(.resizeLabel)
        #expect(resized.problems.isEmpty && resized.samples.map(\.id) == plain.samples.map(\.id))
        #expect(resized.samples.map(\.resizedLabelSize) == [nil, ImageSize(width: 48, height: 32), nil, nil])
        let (image, label) = try resized.samples[1].load()
        #expect(image.width == label.width && image.height == label.height)
        let raw = try plain.samples[1].loadLabel()
        #expect(label == Resize.nearest(raw, width: 48, height: 32, rule: .opencv))
        #expect(throws: DatasetProblem.self) { try plain.samples[1].load() }
        #expect(try resized.samples[0].loadLabel() == plain.samples[0].loadLabel(), "matching pairs are untouched")
    }

    @Test func listingReadsHeadersOnly() throws {
        let tree = try MismatchedGTA5()
        defer { tree.remove() }
        // The off-size label and a matching image cut to their first 40 bytes: the headers still
        // give their sizes, so the pair is still judged by them.
        let plain = try GTA5Reader(root: tree.root).list()
        for path in [tree.label, plain.samples[2].imagePath] {
            try AtomicFile.write(Array(FileBytes.read(path).prefix(40)), to: path)
        }
        let listing = try tree.listing(.skip)
        #expect(listing.samples.map(\.id) == [plain.samples[0].id, plain.samples[2].id, plain.samples[3].id])
        #expect(listing.problems.map(\.file) == [tree.label])
        #expect(throws: DatasetProblem.self) { try listing.samples[1].loadImage() }
    }

    @Test func skipLeavesThePairOutAndRecordsIt() throws {
        let tree = try MismatchedGTA5()
        defer { tree.remove() }
        let manifest = try tree.manifest("skip")
        #expect(manifest.execution.onError == .fail, "skipping is the manifest's choice, not a failure")
        let summary = try Runner(manifest: manifest, options: quiet()).run()
        let report = try #require(summary.report)
        #expect(try #require(report["gta-eval"]).images == 3)
        let skipped = summary.problems.filter { $0.kind == "size_mismatch" }
        #expect(skipped.map(\.file) == [tree.label], "once: the eval listing's record")
        #expect(skipped.first?.message.contains(tree.image) == true && skipped.first?.message.contains("48x30") == true)
        let problems = try String(contentsOfFile: summary.runDirectory + "/problems.json", encoding: .utf8)
        #expect(problems.contains("size_mismatch"))
        let events = try String(contentsOfFile: summary.runDirectory + "/events.jsonl", encoding: .utf8)
        #expect(events.contains(#""event":"pair_skipped""#) && events.contains(#""dataset":"gta-train""#))
        #expect(events.contains(#""samples":3"#), "the training stream holds the three other pairs")
    }

    @Test func failStopsTheRunNamingThePair() throws {
        let tree = try MismatchedGTA5()
        defer { tree.remove() }
        do {
            _ = try Runner(manifest: try tree.manifest("fail"), options: quiet()).run()
            Issue.record("the run did not fail")
        } catch let error as RunError {
            let text = "\(error)"
            #expect(text.contains("size_mismatch is fail"))
            #expect(text.contains(tree.label) && text.contains(tree.image) && text.contains("48x30") && text.contains("48x32"))
        }
    }

    @Test func resizeLabelTrainsAndScoresEveryPair() throws {
        let tree = try MismatchedGTA5()
        defer { tree.remove() }
        let summary = try Runner(manifest: try tree.manifest("resize-label"), options: quiet()).run()
        #expect(summary.problems.isEmpty)
        let report = try #require(summary.report)
        let eval = try #require(report["gta-eval"])
        #expect(eval.images == 4)
        // Scored against the labels at the images' size: the labelled pixel count says which.
        let labelled = try tree.listing(.resizeLabel).samples.reduce(0) { sum, sample in
            sum + (try sample.loadLabel()).pixels.filter { $0 != 255 }.count
        }
        let counted = eval.matrix.counts.reduce(0, +) + eval.matrix.predictionOutOfRange.reduce(0, +)
        #expect(counted == UInt64(labelled))
        let events = try String(contentsOfFile: summary.runDirectory + "/events.jsonl", encoding: .utf8)
        #expect(events.contains(#""samples":4"#))
    }
}
