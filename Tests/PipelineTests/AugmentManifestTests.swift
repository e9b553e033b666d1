// AugmentManifestTests.swift — `training.augment` and `datasets[i].size_mismatch`
// in the manifest: every field read, every bad value reported with its JSON
// path; and in the runner: the defaults written out train exactly like no
// `augment` at all, another pipeline trains differently, and a run folder
// whose checkpoint was trained with another pipeline is not continued.

import Augment
import CTCore
import Datasets
import Foundation
import ManifestSchema
import PipelineRunner
import RunFolder
import Testing

@Suite struct AugmentManifestTests {
    func manifest(training: String = "", dataset: String = "") throws -> (ManifestFixture, String) {
        let fixture = try ManifestFixture()
        let text = """
        {"version": 1, "name": "aug", "pipeline": \(ManifestTests.pipeline),
         "datasets": [{"kind": "cityscapes", "root": "data/cityscapes"\(dataset)}],
         "predictions": {"dir": "preds"}\(training.isEmpty ? "" : ", \"training\": {\(training)}")}
        """
        return (fixture, text)
    }

    func load(training: String = "", dataset: String = "") throws -> Manifest {
        let (fixture, text) = try manifest(training: training, dataset: dataset)
        return try ManifestLoader.load(try fixture.write(text))
    }

    func problems(training: String = "", dataset: String = "") throws -> [String] {
        let (fixture, text) = try manifest(training: training, dataset: dataset)
        return try fixture.problems(text)
    }

    @Test func everyFieldIsRead() throws {
        #expect(try load().training.augment == AugmentSettings())
        #expect(try load(training: #""augment": {}"#).training.augment == AugmentSettings())
        let given = try load(training: """
            "crop_size": 256, "augment": {"short_edges": [128, 256, 384], "max_size": 700, "cat_max_ratio": 1,
                                           "flip_probability": 0.25, "photometric": false}
            """).training
        #expect(given.augment == AugmentSettings(shortEdges: [128, 256, 384], maxSize: 700, catMaxRatio: 1,
                                                 flipProbability: 0.25, photometric: false))
        #expect(TrainPipeline(cropSize: given.cropSize, settings: given.augment).resize?.scales == [128, 256, 384])
        let defaultEdges = try load(training: #""crop_size": 256, "augment": {"short_edges": "default", "flip_probability": 0}"#).training
        #expect(defaultEdges.augment.shortEdges == nil)
        #expect(defaultEdges.augment.shortEdges(cropSize: 256) == RandomChoiceResize.scales(base: 256))
        #expect(defaultEdges.augment.maxSize(cropSize: 256) == 1024)
        let off = try load(training: #""augment": {"short_edges": []}"#).training.augment
        #expect(off.shortEdges == [] && TrainPipeline(cropSize: 512, settings: off).resize == nil)
    }

    @Test(arguments: [
        (#""augment": [1]"#, "$.training.augment: expected an object, found an array"),
        (#""augment": {"photometrics": true}"#, "$.training.augment.photometrics: unknown key (did you mean \"photometric\"?); allowed: short_edges, max_size, cat_max_ratio, flip_probability, photometric"),
        (#""augment": {"short_edges": "all"}"#, "$.training.augment.short_edges: \"all\" is not \"default\"; give \"default\" (the configs' list for the crop size) or a list of short-edge lengths ([] turns the resize off)"),
        (#""augment": {"short_edges": 512}"#, "$.training.augment.short_edges: expected a list of integers or \"default\", found an integer"),
        (#""augment": {"short_edges": [256, 0]}"#, "$.training.augment.short_edges[1]: 0 is out of range 1...16384"),
        (#""augment": {"short_edges": [256, "x"]}"#, "$.training.augment.short_edges[1]: expected an integer, found a string"),
        (#""augment": {"max_size": 0}"#, "$.training.augment.max_size: 0 is out of range 1...65535"),
        (#""augment": {"max_size": 2048.5}"#, "$.training.augment.max_size: expected an integer, found a number"),
        (#""augment": {"cat_max_ratio": 1.5}"#, "$.training.augment.cat_max_ratio: 1.5 is out of range 0.0...1.0"),
        (#""augment": {"cat_max_ratio": "0.75"}"#, "$.training.augment.cat_max_ratio: expected a number, found a string"),
        (#""augment": {"flip_probability": -0.5}"#, "$.training.augment.flip_probability: -0.5 is out of range 0.0...1.0"),
        (#""augment": {"flip_probability": null}"#, "$.training.augment.flip_probability: expected a number, found null"),
        (#""augment": {"photometric": "yes"}"#, "$.training.augment.photometric: expected true or false, found a string"),
    ])
    func badAugmentIsReportedWithItsPath(training: String, problem: String) throws {
        #expect(try problems(training: training) == [problem])
    }

    @Test func everyBadFieldIsReportedAtOnce() throws {
        let found = try problems(training: """
            "augment": {"short_edges": [0], "max_size": -1, "cat_max_ratio": 2, "flip_probability": 2, "photometric": 1}
            """)
        #expect(found.map { String($0.prefix(while: { $0 != ":" })) } == [
            "$.training.augment.short_edges[0]", "$.training.augment.max_size", "$.training.augment.cat_max_ratio",
            "$.training.augment.flip_probability", "$.training.augment.photometric",
        ])
    }

    @Test func sizeMismatchIsRead() throws {
        #expect(try load().datasets[0].sizeMismatch == .skip)
        for rule in SizeMismatchRule.allCases {
            #expect(try load(dataset: #", "size_mismatch": "\#(rule.rawValue)""#).datasets[0].sizeMismatch == rule)
        }
        #expect(try problems(dataset: #", "size_mismatch": "resize""#) == [
            "$.datasets[0].size_mismatch: \"resize\" is not one of skip, fail, resize-label",
        ])
        #expect(try problems(dataset: #", "size_mismatch": true"#) == [
            "$.datasets[0].size_mismatch: expected a string, found a boolean",
        ])
    }

    @Test func theConfigurationHashCoversBoth() throws {
        let plain = try load().configurationHash
        #expect(try load(training: #""augment": {"flip_probability": 0.4}"#).configurationHash != plain)
        #expect(try load(dataset: #", "size_mismatch": "resize-label""#).configurationHash != plain)
    }
}

/// A tiny training run on a synthesized GTA5 set, with a chosen `training` section.
struct AugmentTrainingFixture {
    let folder: String

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-augment-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    func manifest(iterations: Int, augment: String?, name: String) throws -> Manifest {
        let path = folder + "/\(name).json"
        try AtomicFile.write(text: """
        {"version": 1, "name": "aug", "seed": 9,
         "pipeline": {"version": 1, "stages": ["read", "train"]},
         "datasets": [{"name": "gta", "kind": "gta5", "root": "data/gta", "role": "train",
                       "synthesize": {"count": 4, "seed": 2, "size": [64, 48]}}],
         "model": {"backbone": "tiny", "adapter": "causal-tune", "tokens": 4},
         "training": {"iterations": \(iterations), "batch_size": 2, "crop_size": 32, "lr": 0.001,
                      "checkpoint_interval": 2\(augment.map { ", \"augment\": \($0)" } ?? "")},
         "outputs": {"dir": "runs"}}
        """, to: path)
        return try ManifestLoader.load(path)
    }

    func options(_ run: String) -> RunOptions {
        var options = RunOptions()
        options.quiet = true
        options.runDirectory = folder + "/runs/" + run
        options.completion.record = false
        options.completion.report = false
        return options
    }

    /// The `loss` values of a run's train_log.jsonl, as written.
    func losses(_ run: String) throws -> [String] {
        try String(contentsOfFile: folder + "/runs/\(run)/train_log.jsonl", encoding: .utf8).split(separator: "\n")
            .map { String($0.split(separator: ",")[1]) }
    }

    func remove() { try? FileManager.default.removeItem(atPath: folder) }
}

@Suite(.serialized) struct AugmentTrainingTests {
    @Test func defaultsWrittenOutTrainLikeNoAugment() throws {
        let fixture = try AugmentTrainingFixture()
        defer { fixture.remove() }
        _ = try Runner(manifest: try fixture.manifest(iterations: 3, augment: nil, name: "plain"), options: fixture.options("plain")).run()
        let spelled = #"{"short_edges": [16, 19, 22, 25, 28, 32, 35, 38, 41, 44, 48, 51, 54, 57, 60, 64], "max_size": 128, "cat_max_ratio": 0.75, "flip_probability": 0.5, "photometric": true}"#
        _ = try Runner(manifest: try fixture.manifest(iterations: 3, augment: spelled, name: "spelled"),
                       options: fixture.options("spelled")).run()
        _ = try Runner(manifest: try fixture.manifest(iterations: 3, augment: #"{"short_edges": [], "photometric": false}"#, name: "off"),
                       options: fixture.options("off")).run()
        let plain = try fixture.losses("plain")
        #expect(plain.count == 3)
        #expect(try fixture.losses("spelled") == plain, "the same pipeline, bit for bit")
        #expect(try fixture.losses("off") != plain, "another pipeline makes other examples")
    }

    @Test func anotherPipelineDoesNotContinueACheckpoint() throws {
        let fixture = try AugmentTrainingFixture()
        defer { fixture.remove() }
        _ = try Runner(manifest: try fixture.manifest(iterations: 2, augment: nil, name: "first"), options: fixture.options("run")).run()
        // The same folder, more iterations (a new configuration), another flip probability: refused.
        let changed = try fixture.manifest(iterations: 4, augment: #"{"flip_probability": 0.25}"#, name: "changed")
        do {
            _ = try Runner(manifest: changed, options: fixture.options("run")).run()
            Issue.record("a checkpoint of another pipeline was continued")
        } catch let error as RunError {
            #expect("\(error)".contains("resuming: the checkpoint iter_000002.state.safetensors was trained with another data pipeline"))
            #expect("\(error)".contains(#""flip_probability":0.5"#) && "\(error)".contains(#""flip_probability":0.25"#))
        }
        // The defaults written out are the same pipeline: continued.
        let same = try fixture.manifest(iterations: 4, augment: #"{"short_edges": "default", "max_size": 128}"#, name: "same")
        _ = try Runner(manifest: same, options: fixture.options("run")).run()
        #expect(try fixture.losses("run").count == 4)
        let events = try String(contentsOfFile: fixture.folder + "/runs/run/events.jsonl", encoding: .utf8)
        #expect(events.contains("train_resume"))
    }
}
