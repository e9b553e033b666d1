// PaperTwinTests.swift — the synthetic twin of each paper manifest (manifests/paper/): the same
// pipeline, seeds, averages and model settings (adapter, transform, filter, cut-offs, tokens, rank,
// head), with synthesized data of the same kinds, splits, conditions and layouts, the `tiny`
// backbone (randomly initialised), 32-pixel crops and two iterations. The twins are made here from
// the paper files by substitution, so they follow every change of the paper manifests. Every twin
// validates and runs (few iterations, tiny sizes); the representatives cover every distinct
// (adapter, filter, transform, head) and every Table 1 setting.

import CTCore
import Foundation
import ManifestSchema
import Model
import PipelineRunner
import Testing

enum PaperTwin {
    /// The tiny released-style Rein + Mask2Former checkpoint of scripts/make_paper_twin_fixtures.py.
    static let fixtures = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/paper_twin").path

    /// The twin of `file` (manifests/paper/), written into `folder`; returns its path.
    static func write(_ file: String, into folder: String) throws -> String {
        var m = try PaperManifests.json(file)
        m["description"] = "Synthetic twin of manifests/paper/\(file)"
        // A pipeline named by path resolves from the paper folder.
        if let pipeline = m["pipeline"] as? String {
            m["pipeline"] = URL(fileURLWithPath: PaperManifests.folder).appendingPathComponent(pipeline).standardizedFileURL.path
        }
        let datasets = try #require(m["datasets"] as? [[String: Any]])
        m["datasets"] = datasets.enumerated().map { i, d -> [String: Any] in
            var d = d
            let train = d["role"] as? String == "train"
            d["root"] = "data/\(d["name"] as! String)"   // one root per dataset: two splits of one root would not both be made
            d["synthesize"] = ["count": train ? 4 : 1, "seed": i + 1, "size": [64, 32]]
            d["scale"] = [64, 32]
            return d
        }
        var model = try #require(m["model"] as? [String: Any])
        if model["head"] as? String == "mask2former" {
            model["checkpoint"] = fixtures + "/rein_mask2former.pth"
            model["weights"] = fixtures + "/dinov2.pth"
        } else {
            model["backbone"] = "tiny"
            model["weights"] = nil
        }
        model["crop"] = 32
        model["stride"] = 16
        m["model"] = model
        if var training = m["training"] as? [String: Any] {
            training["iterations"] = 2
            training["batch_size"] = 2
            training["crop_size"] = 32
            training["checkpoint_interval"] = 2
            training["eval_interval"] = 0
            if training["warmup_iterations"] != nil { training["warmup_iterations"] = 1 }
            m["training"] = training
        }
        m["outputs"] = ["dir": "runs", "formats": (m["outputs"] as? [String: Any])?["formats"] ?? []]
        m["execution"] = ["shards": 2, "workers": 2]
        let path = folder + "/" + file
        try AtomicFile.write(Array(try JSONSerialization.data(withJSONObject: m, options: [.sortedKeys])), to: path)
        return path
    }

    /// The files to run: the first of each (adapter, filter, transform, head) and of each setting (datasets and
    /// crop), shorter names first (the main rows before their variants).
    static var representatives: [String] {
        var seen = Set<String>(), chosen: [String] = []
        for file in PaperManifests.files.sorted(by: { ($0.count, $0) < ($1.count, $1) }) {
            guard let m = try? PaperManifests.json(file), let model = m["model"] as? [String: Any] else { continue }
            let adapter = model["adapter"] as? String ?? "causal-tune"
            let combination = [adapter, adapter == "causal-tune" ? model["filter"] as? String ?? "bandpass" : "-",
                               adapter == "causal-tune" ? model["transform"] as? String ?? "dct" : "-",
                               model["head"] as? String ?? "linear"].joined(separator: "/")
            let datasets = (m["datasets"] as? [[String: Any]] ?? []).map { "\($0["kind"] ?? "")" }.joined(separator: ",")
            let setting = "\(datasets)@\(model["crop"] ?? "")"
            let newCombination = seen.insert(combination).inserted, newSetting = seen.insert(setting).inserted
            if newCombination || newSetting { chosen.append(file) }
        }
        return chosen
    }
}

@Suite struct PaperTwinTests {
    @Test func everyTwinValidates() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-twins-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for file in PaperManifests.files {
            let paper = try ManifestLoader.load(PaperManifests.path(file), checkFiles: false)
            let twin = try ManifestLoader.load(try PaperTwin.write(file, into: folder))
            #expect(twin.pipeline.stages == paper.pipeline.stages && twin.seeds == paper.seeds && twin.averages == paper.averages)
            let p = try #require(paper.model), t = try #require(twin.model)
            #expect(t.adapter == p.adapter && t.head == p.head && t.stated == p.stated, "\(file): model settings differ")
            #expect(twin.datasets.map(\.kind) == paper.datasets.map(\.kind) && twin.datasets.map(\.role) == paper.datasets.map(\.role))
            #expect(twin.datasets.map(\.condition) == paper.datasets.map(\.condition)
                    && twin.datasets.map(\.layout) == paper.datasets.map(\.layout))
        }
    }

    @Test func representativesCoverEveryCombination() {
        let chosen = PaperTwin.representatives
        #expect(chosen.count >= 9 && chosen.count < PaperManifests.files.count, "\(chosen)")
        for name in ["g2cbm-512.json", "c2bm-1024.json", "c2acdc-1024.json", "g2cbm-512-haar.json", "g2cbm-512-fft.json",
                     "g2cbm-512-rein.json", "g2cbm-512-lowcut.json", "g2cbm-512-highcut.json", "g2cbm-512-rein-released.json"] {
            #expect(chosen.contains(name), "\(name) is not run")
        }
    }

    /// The twin runs to the end: every seed finished, every set and average with a value per seed; a trained
    /// model records the paper manifest's adapter settings.
    @Test(arguments: PaperManifests.files)
    func twinRuns(_ file: String) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-twin-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let manifest = try ManifestLoader.load(try PaperTwin.write(file, into: folder))
        var options = RunOptions()
        options.quiet = true
        options.completion.historyDatabase = folder + "/history.sqlite"
        let paper = try #require(try ManifestLoader.load(PaperManifests.path(file), checkFiles: false).model)
        var runFolders: [String] = []
        if let seeds = manifest.seeds {
            let result = try SeedSweep(manifest: manifest, options: options).run()
            #expect(result.status == 0 && result.errors.isEmpty, "\(file): \(result.errors)")
            let summary = try summaryJSON(result.folder)
            #expect(summary["complete"] as? Bool == true)
            for key in ["datasets", "averages"] {
                for row in try #require(summary[key] as? [[String: Any]]) {
                    #expect(row["n"] as? Int == seeds.count && row["mean"] is Double, "\(file): \(key) \(row)")
                }
            }
            #expect((summary["averages"] as? [[String: Any]])?.map { $0["name"] as? String } == manifest.averages.map(\.name))
            runFolders = result.outcomes.map(\.runDirectory)
        } else {
            let summary = try Runner(manifest: manifest, options: options).run()
            #expect(summary.problems.isEmpty && summary.report != nil, "\(file): \(summary.problems)")
            runFolders = [summary.runDirectory]
        }
        for run in runFolders {
            let metrics = try metricsJSON(run)
            #expect((metrics["averages"] as? [[String: Any]])?.count == manifest.averages.count, "\(run)")
            guard manifest.pipeline.stages.contains(.train) else { continue }
            let config = try #require(try SafeTensors.metadata(run + "/model.safetensors")[DINOv2Weights.configKey])
            let stored = try JSONDecoder().decode(SegmentationConfig.self, from: Data(config.utf8))
            #expect(stored.adapter == paper.adapter, "\(file): trained \(stored.adapter), manifest \(paper.adapter)")
        }
    }
}
