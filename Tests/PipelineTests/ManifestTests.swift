import CTCore
import Datasets
import Foundation
import ManifestSchema
import Model
import PipelineRunner
import RunFolder
import Testing

/// A scratch folder with a manifest and optional dataset folders.
struct ManifestFixture {
    let folder: String
    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-manifest-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder + "/data/cityscapes", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: folder + "/preds", withIntermediateDirectories: true)
    }
    func write(_ text: String, name: String = "m.json") throws -> String {
        let path = folder + "/" + name
        try AtomicFile.write(text: text, to: path)
        return path
    }
    func problems(_ text: String) throws -> [String] {
        do {
            _ = try ManifestLoader.load(try write(text))
            return []
        } catch let error as ManifestError {
            return error.problems.map(\.description)
        }
    }
}

@Suite struct ManifestTests {
    static let pipeline = #"{"version": 1, "name": "p", "stages": ["read", "predictions", "metric"]}"#

    @Test func validManifestResolvesPathsAndDefaults() throws {
        let fixture = try ManifestFixture()
        let path = try fixture.write("""
        {"version": 1, "name": "eval-city", "pipeline": \(Self.pipeline),
         "datasets": [{"kind": "cityscapes", "root": "data/cityscapes"}],
         "predictions": {"dir": "preds"}}
        """)
        let manifest = try ManifestLoader.load(path)
        #expect(manifest.datasets[0].root == fixture.folder + "/data/cityscapes")
        #expect(manifest.datasets[0].name == "cityscapes-val")
        #expect(manifest.datasets[0].scale == (1024, 512))
        #expect(manifest.execution.shards == 8 && manifest.execution.onError == .fail)
        #expect(manifest.outputs.dir == fixture.folder + "/runs")
        #expect(manifest.configurationHash.count == 64)
    }

    @Test func everyProblemIsReportedWithItsPath() throws {
        let fixture = try ManifestFixture()
        let problems = try fixture.problems("""
        {"version": 1, "name": "x", "pipeline": \(Self.pipeline), "sede": 3,
         "datasets": [{"kind": "cityscapes", "root": "data/cityscapes"},
                      {"kind": "bdd100k", "root": "data/bdd100k", "scale": [1280]},
                      {"kind": "kitti", "root": "data/cityscapes"}],
         "predictions": {"dir": "preds", "format": "rgb"},
         "execution": {"shards": 0, "workers": "two"}}
        """)
        #expect(problems.contains { $0.hasPrefix("$.sede: unknown key (did you mean \"seed\"?)") })
        #expect(problems.contains { $0.hasPrefix("$.datasets[1].root: folder not found: data/bdd100k") })
        #expect(problems.contains("$.datasets[1].scale: expected 2 integers, found 1"))
        #expect(problems.contains { $0.hasPrefix("$.datasets[2].kind: \"kitti\" is not one of cityscapes") })
        #expect(problems.contains { $0.hasPrefix("$.predictions.format: \"rgb\" is not one of") })
        #expect(problems.contains("$.execution.shards: 0 is out of range 1...100000"))
        #expect(problems.contains("$.execution.workers: expected an integer, found a string"))
    }

    @Test func synthesizedDatasetNeedsNoRootAndIsGeneratedOnce() throws {
        let fixture = try ManifestFixture()
        let path = try fixture.write("""
        {"version": 1, "name": "syn", "pipeline": \(Self.pipeline),
         "datasets": [{"kind": "bdd100k", "root": "data/synthetic-bdd",
                       "synthesize": {"count": 3, "seed": 5, "size": [64, 32]}}],
         "predictions": {"dir": "preds"}}
        """)
        let manifest = try ManifestLoader.load(path)
        #expect(manifest.datasets[0].synthesize == Manifest.SynthesizeSpec(count: 3, seed: 5, width: 64, height: 32))
        // Staging folders of a killed generation (its process gone) are removed; a live process's is kept.
        var deadPID: Int32 = 4_000_000
        while kill(deadPID, 0) == 0 || errno != ESRCH { deadPID -= 1 }
        let abandoned = fixture.folder + "/data/synthetic-bdd.synth-\(deadPID)"
        let live = fixture.folder + "/data/synthetic-bdd.synth-1"
        for folder in [abandoned, live] {
            try FileManager.default.createDirectory(atPath: folder + "/images", withIntermediateDirectories: true)
        }
        var options = RunOptions()
        options.quiet = true
        // The predictions folder is empty: every sample is a problem, but the data was generated.
        #expect(throws: RunError.self) { try Runner(manifest: manifest, options: options).run() }
        let images = try FileManager.default.contentsOfDirectory(atPath: fixture.folder + "/data/synthetic-bdd/images/10k/val")
        #expect(images.count == 3)
        #expect(try FileManager.default.contentsOfDirectory(atPath: fixture.folder + "/data").filter { $0.contains(".synth-") }
            == ["synthetic-bdd.synth-1"])
    }

    @Test func versionAndStageRules() throws {
        let fixture = try ManifestFixture()
        let problems = try fixture.problems("""
        {"version": 2, "name": "x",
         "pipeline": {"version": 1, "stages": ["metric", "read"]},
         "datasets": [{"kind": "cityscapes", "root": "data/cityscapes"}]}
        """)
        #expect(problems.contains("$.version: version 2 is not supported (this ctpipe reads version 1)"))
        #expect(problems.contains("$.pipeline.stages: the first stage must be \"read\""))
    }

    @Test func pipelineFileAndDefaultsMerge() throws {
        let fixture = try ManifestFixture()
        _ = try fixture.write("""
        {"version": 1, "name": "score", "stages": ["read", "predictions", "metric"],
         "defaults": {"execution": {"shards": 3, "on_error": "skip"}, "seed": 7}}
        """, name: "score.json")
        let path = try fixture.write("""
        {"version": 1, "name": "run1", "pipeline": "score.json",
         "datasets": [{"kind": "cityscapes", "root": "data/cityscapes"}],
         "predictions": {"dir": "preds"}, "execution": {"shards": 5}}
        """)
        let manifest = try ManifestLoader.load(path)
        #expect(manifest.execution.shards == 5, "the manifest overrides the pipeline default")
        #expect(manifest.execution.onError == .skip, "the pipeline default fills what the manifest omits")
        #expect(manifest.seed == 7)
    }

    @Test func shippedPipelinesAreValid() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("pipelines").path
        let files = try FileManager.default.contentsOfDirectory(atPath: root).filter { $0.hasSuffix(".json") }
        #expect(files.count >= 4)
        let fixture = try ManifestFixture()
        for file in files {
            let problems = try fixture.problems("""
            {"version": 1, "name": "x", "pipeline": "\(root)/\(file)",
             "datasets": [{"kind": "cityscapes", "root": "data/cityscapes", "role": "eval"},
                          {"kind": "cityscapes", "name": "train", "root": "data/cityscapes", "role": "train"}],
             "model": {"backbone": "vits14"}, "training": {"crop_size": 518}, "predictions": {"dir": "preds"}}
            """)
            #expect(problems.isEmpty, "\(file): \(problems)")
        }
    }
}

@Suite struct ShippedManifestTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    @Test(arguments: ["gta2city", "city2acdc", "city2bm"])
    func paperManifestsAreValidAndNameWhatIsMissing(name: String) throws {
        let path = "\(Self.root)/manifests/\(name).json"
        let manifest = try ManifestLoader.load(path, checkFiles: false)
        #expect(manifest.training.iterations == 40_000 && manifest.training.batchSize == 4 && manifest.training.lr == 1e-4)
        #expect(manifest.model?.backbone == .vitl14)
        // The released configs' LoRAReins: 100 tokens of lora_dim 16.
        #expect(manifest.model?.adapter.tokens == 100 && manifest.model?.adapter.rank == 16)
        #expect(manifest.pipeline.stages == [.read, .train, .infer, .metric, .write])
        do {
            _ = try ManifestLoader.load(path)
        } catch let error as ManifestError {
            // Without the data and weights, only missing files are reported, each with what to download.
            for problem in error.problems {
                #expect(problem.message.contains("not found") && problem.message.contains("download"), "\(problem)")
            }
        }
    }
}

extension ShippedManifestTests {
    /// The paper's "Avg." columns: ACDC's four conditions (not Cityscapes val); the three targets of G -> C, B, M.
    @Test func paperManifestsAverageWhatThePaperAverages() throws {
        func averages(_ name: String) throws -> [Manifest.Average] {
            try ManifestLoader.load("\(Self.root)/manifests/\(name).json", checkFiles: false).averages
        }
        #expect(try averages("city2acdc") == [Manifest.Average(name: "ACDC", over: ["acdc/fog", "acdc/night", "acdc/rain", "acdc/snow"])])
        #expect(try averages("gta2city") == [Manifest.Average(name: "Avg.", over: ["cityscapes", "bdd100k", "mapillary"])])
        #expect(try averages("city2bm").isEmpty, "the default Avg. over its two targets")
    }
}

@Suite struct ShardTests {
    @Test(arguments: [(0, 1), (1, 1), (7, 3), (10, 4), (100, 8), (3, 8)])
    func shardsPartitionSamples(samples: Int, shards: Int) {
        var seen: [Int] = []
        for k in 0 ..< shards { seen += Array(ShardID(dataset: "d", index: k, count: shards).range(samples: samples)) }
        #expect(seen == Array(0 ..< samples))
    }

    @Test func poolKeepsJobOrder() {
        let results = ShardPool.run(Array(0 ..< 50), workers: 4) { $0 * $0 }
        #expect(results == (0 ..< 50).map { $0 * $0 })
    }

    @Test(arguments: [(0, 2), (1, 2), (5, 2), (7, 3), (2, 5), (9, 1)])
    func ranksShareTheJobsRoundRobin(jobs: Int, ranks: Int) {
        let assignment = ShardAssignment(jobs: jobs, ranks: ranks)
        let shares = (0 ..< ranks).map(assignment.jobs(of:))
        #expect(shares.flatMap { $0 }.sorted() == Array(0 ..< jobs), "every job goes to exactly one rank")
        for (rank, share) in shares.enumerated() {
            #expect(share.allSatisfy { $0 % ranks == rank }, "rank \(rank) takes jobs rank, rank + N, ...: \(share)")
            #expect(share == share.sorted())
        }
        #expect(assignment.jobs(of: ranks).isEmpty)
    }

    @Test func shardSelectionParses() {
        #expect(ShardSelection(parsing: "2/5") == ShardSelection(parsing: "2/5"))
        #expect(ShardSelection(parsing: "5/5") == nil)
        #expect(ShardSelection(parsing: "x") == nil)
    }
}

@Suite struct DemoManifestTests {
    @Test func embeddedDemoIsTheShippedFile() throws {
        let path = "\(ShippedManifestTests.root)/manifests/demo.json"
        let file = try String(contentsOfFile: path, encoding: .utf8)
        #expect(DemoManifest.text == file.trimmingCharacters(in: .newlines), "Sources/ManifestSchema/DemoManifest.swift must hold manifests/demo.json verbatim")
        let manifest = try ManifestLoader.load(path)
        let embedded = try ManifestLoader.load(text: DemoManifest.text, as: path)
        #expect(manifest.configurationHash == embedded.configurationHash)
        #expect(manifest.pipeline.stages == [.read, .train, .infer, .metric, .write])
        #expect(manifest.model?.backbone == .tiny && manifest.model?.weights == nil)
        #expect(manifest.datasets.allSatisfy { $0.synthesize != nil }, "the demo generates every dataset it reads")
        #expect(Set(manifest.datasets.map(\.kind)) == [.gta5, .cityscapes, .acdc])
    }
}
