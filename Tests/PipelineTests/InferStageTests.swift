// InferStageTests.swift — the runner's infer stage: a model built once from the
// manifest's `model` section, per sample the test pipeline's resize, slide
// inference and a prediction at the label's size, scored and written exactly as
// the predictions path does.

import CTCore
import Foundation
import ImageIO
import Inference
import ManifestSchema
import Metrics
import Model
import PipelineRunner
import RunFolder
import Tensor
import Testing

@Suite(.serialized) struct InferStageTests {
    /// A tiny random DINOv2 with patch 16 (a 512 crop is a 32 x 32 grid) and a Causal-Tune model on it.
    static func tinyCheckpoint(at path: String) throws -> SegmentationModel {
        let config = DINOv2Config(embedDim: 16, depth: 2, heads: 2, patchSize: 16, registers: 0, gridSize: 32, ffnHidden: 32)
        var rng = SplitMix64(seed: 5)
        var tensors: [String: Tensor] = [:]
        for (name, shape) in DINOv2Weights.expectedShapes(config) {
            let n = shape.reduce(1, *)
            let scale: Float = shape.count >= 2 ? 1 / Float(shape.dropFirst().reduce(1, *)).squareRoot() : 0.3
            let offset: Float = name.contains("norm") && name.hasSuffix("weight") ? 1 : 0
            tensors[name] = Tensor(shape: shape, storage: (0 ..< n).map { _ in offset + scale * Float.random(in: -1 ... 1, using: &rng) })
        }
        let backbone = try DINOv2Weights.build(tensors, naming: .official, path: "random", options: WeightLoadOptions(heads: 2))
        let model = try SegmentationModel.initialised(backbone: backbone, backboneName: "tiny", adapter: AdapterConfig(tokens: 8),
                                                      head: LinearHeadConfig(blocks: [0, 1, 1, 1], classes: 4), seed: 9)
        try SegmentationCheckpoint.save(model, to: path, embedBackbone: true)
        return model
    }

    /// A manifest running pipelines/evaluate.json with the tiny checkpoint (model.safetensors) over the
    /// fixture's Cityscapes set at 48 x 24, writing `formats`, with the given `execution` object.
    static func manifest(in folder: String, name: String, formats: [String], execution: String) throws -> Manifest {
        let path = folder + "/\(name).json"
        try AtomicFile.write(text: """
        {"version": 1, "name": "\(name)", "pipeline": "\(FileManager.default.currentDirectoryPath)/pipelines/evaluate.json",
         "datasets": [{"kind": "cityscapes", "root": "cityscapes", "name": "city", "scale": [48, 24]}],
         "model": {"backbone": "tiny", "checkpoint": "model.safetensors"},
         "outputs": {"dir": "runs", "formats": [\(formats.map { "\"\($0)\"" }.joined(separator: ", "))]},
         "execution": \(execution)}
        """, to: path)
        return try ManifestLoader.load(path)
    }

    @Test(arguments: [(3, 2)])
    func inferScoresAndWritesEverySample(shards: Int, workers: Int) throws {
        let fixture = try ScoringFixture()
        _ = try Self.tinyCheckpoint(at: fixture.folder + "/model.safetensors")
        let manifest = try Self.manifest(in: fixture.folder, name: "infer", formats: ["trainid", "overlay"],
                                         execution: #"{"shards": \#(shards), "workers": \#(workers)}"#)
        var options = RunOptions()
        options.quiet = true
        let summary = try Runner(manifest: manifest, options: options).run()
        let report = try #require(summary.report?["city"])
        #expect(report.images == 5 && summary.problems.isEmpty)

        // Every written prediction equals the Segmenter's on the resized image, at label size.
        let model = try SegmentationCheckpoint.load(fixture.folder + "/model.safetensors")
        let segmenter = try Segmenter(model: model)
        let workspace = SegmenterWorkspace(threads: 2)
        var labelled = 0
        for id in ["frankfurt/frankfurt_000000_000019", "lindau/lindau_000003_000007", "munster/munster_000001_000005"] {
            let city = id.split(separator: "/")[0]
            let image = try ImageFile.readRGB("\(fixture.folder)/cityscapes/leftImg8bit/val/\(city)/\(id.split(separator: "/")[1])_leftImg8bit.png")
            let resized = Resize.bilinear(image, width: 48, height: 24)
            let expected = try segmenter.segment(resized, outputHeight: image.height, outputWidth: image.width, workspace: workspace)
            let written = try ImageFile.readLabel("\(summary.runDirectory)/outputs/city/trainid/\(id).png")
            #expect(written.pixels == expected.pixels, "\(id)")
            let overlay = try ImageFile.readRGB("\(summary.runDirectory)/outputs/city/overlay/\(id).png")
            #expect(overlay.width == image.width && overlay.height == image.height)
            labelled += 1
        }
        #expect(labelled == 3)
        #expect(report.matrix.counts.reduce(0, +) > 0)
    }

    /// One worker of two threads with a shard of several samples decodes each next sample while the
    /// last one's later steps run (ShardContext): the same files and scores as one thread, and a sample
    /// whose image does not decode is skipped as itself, its problem found ahead reported in its turn.
    @Test func decodingAheadChangesNothing() throws {
        let fixture = try ScoringFixture()
        _ = try Self.tinyCheckpoint(at: fixture.folder + "/model.safetensors")
        let broken = "lindau/lindau_000003_000007"
        try AtomicFile.write(Array("not a PNG".utf8), to: fixture.folder + "/cityscapes/leftImg8bit/val/\(broken)_leftImg8bit.png")
        func run(threads: Int) throws -> RunSummary {
            let manifest = try Self.manifest(in: fixture.folder, name: "ahead-\(threads)", formats: ["trainid", "color"],
                                             execution: #"{"shards": 1, "workers": 1, "on_error": "skip"}"#)
            var options = RunOptions()
            options.quiet = true
            options.threads = threads
            return try Runner(manifest: manifest, options: options).run()
        }
        let one = try run(threads: 1), two = try run(threads: 2)
        for summary in [one, two] {
            #expect(summary.problems.map(\.sample) == [broken])
            #expect(summary.problems.first?.file.hasSuffix("\(broken)_leftImg8bit.png") == true)
            let report = try #require(summary.report?["city"])
            #expect(report.images == 4 && report.skipped == 1)
        }
        #expect(one.report?["city"]?.matrix.counts == two.report?["city"]?.matrix.counts)
        var compared = 0
        for id in ["frankfurt/frankfurt_000000_000019", "frankfurt/frankfurt_000000_000020", "munster/munster_000001_000002",
                   "munster/munster_000001_000005"] {
            for format in ["trainid", "color"] {
                let a = try Data(contentsOf: URL(fileURLWithPath: "\(one.runDirectory)/outputs/city/\(format)/\(id).png"))
                let b = try Data(contentsOf: URL(fileURLWithPath: "\(two.runDirectory)/outputs/city/\(format)/\(id).png"))
                #expect(a == b, "\(format) \(id)")
                compared += 1
            }
        }
        #expect(compared == 8)
        #expect(!FileManager.default.fileExists(atPath: "\(two.runDirectory)/outputs/city/trainid/\(broken).png"))
    }

    @Test func checkpointAndManifestMustAgree() throws {
        let fixture = try ScoringFixture()
        _ = try Self.tinyCheckpoint(at: fixture.folder + "/model.safetensors")
        let path = fixture.folder + "/bad.json"
        try AtomicFile.write(text: """
        {"version": 1, "name": "bad", "pipeline": {"version": 1, "stages": ["read", "infer", "metric"]},
         "datasets": [{"kind": "cityscapes", "root": "cityscapes", "name": "city"}],
         "model": {"checkpoint": "model.safetensors", "adapter": "rein", "tokens": 8}}
        """, to: path)
        var options = RunOptions()
        options.quiet = true
        #expect {
            try Runner(manifest: try ManifestLoader.load(path), options: options).run()
        } throws: { error in
            "\(error)".contains("adapter rein vs causal-tune")
        }
        // The checkpoint records its transform (dct); a manifest stating another one disagrees.
        try AtomicFile.write(text: """
        {"version": 1, "name": "bad", "pipeline": {"version": 1, "stages": ["read", "infer", "metric"]},
         "datasets": [{"kind": "cityscapes", "root": "cityscapes", "name": "city"}],
         "model": {"checkpoint": "model.safetensors", "transform": "fft"}}
        """, to: path)
        #expect {
            try Runner(manifest: try ManifestLoader.load(path), options: options).run()
        } throws: { error in
            "\(error)".contains("transform fft vs dct")
        }
    }
}
