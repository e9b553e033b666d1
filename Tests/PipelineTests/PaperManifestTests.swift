// PaperManifestTests.swift — manifests/paper/ (written by scripts/make_paper_manifests.py):
// every manifest validates except for the data and weights that are not here, which it names;
// each carries the paper's settings (seeds, LoRA rank 16, the linear head said so, the paper's
// averages, data under data/ and weights under checkpoints/); manifests/README.md lists each one.

import Datasets
import Foundation
import ManifestSchema
import Model
import Testing

enum PaperManifests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let folder = repository + "/manifests/paper"
    /// Every manifest file of the folder, sorted.
    static let files: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
        .filter { $0.hasSuffix(".json") }.sorted()
    static func path(_ file: String) -> String { folder + "/" + file }
    static let headNote = "The paper's rows use Mask2Former; ctpipe trains the linear head."
    /// The file as JSON, read with Foundation.
    static func json(_ file: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path(file)))) as! [String: Any]
    }
}

@Suite struct PaperManifestTests {
    @Test func theFolderHoldsEveryTable() {
        #expect(PaperManifests.files.count >= 20, "\(PaperManifests.files)")
    }

    /// Without the datasets and the weights, the only problems are the missing folders and files, each named
    /// at its JSON path with what to download; read without checking files, nothing is wrong.
    @Test(arguments: PaperManifests.files)
    func validatesButForMissingFilesAndFolders(_ file: String) throws {
        let path = PaperManifests.path(file)
        _ = try ManifestLoader.load(path, checkFiles: false)
        do {
            _ = try ManifestLoader.load(path)
        } catch let error as ManifestError {
            for problem in error.problems {
                let missingRoot = problem.path.hasPrefix("$.datasets[") && problem.path.hasSuffix("].root")
                    && problem.message.hasPrefix("folder not found: ../../data/")
                let missingFile = ["$.model.weights", "$.model.checkpoint"].contains(problem.path)
                    && problem.message.hasPrefix("file not found: ../../checkpoints/")
                #expect(missingRoot || missingFile, "\(file): \(problem)")
            }
        }
    }

    @Test(arguments: PaperManifests.files)
    func carriesThePaperSettings(_ file: String) throws {
        let manifest = try ManifestLoader.load(PaperManifests.path(file), checkFiles: false)
        let model = try #require(manifest.model)
        #expect(manifest.name == "paper-" + file.dropLast(5))
        #expect(model.backbone == .vitl14)
        #expect(model.weights?.contains("/checkpoints/dinov2_converted") == true, "\(model.weights ?? "no weights")")
        #expect(manifest.datasets.allSatisfy { $0.root.contains("/data/") && $0.synthesize == nil })
        let evaluated = manifest.datasets.filter { $0.role == .eval }
        #expect(manifest.averages.count == 1 && manifest.averages.first?.name == "Avg.")
        // The average covers every evaluated set (an ACDC "all" dataset by its four conditions).
        let members = Set(manifest.averages.flatMap(\.over))
        let reported = Set(evaluated.flatMap { d in d.kind == .acdc && d.condition == "all"
            ? ["fog", "night", "rain", "snow"].map { "\(d.name)/\($0)" } : [d.name] })
        #expect(members == reported, "\(file): averages \(members), evaluated \(reported)")
        if manifest.pipeline.stages.contains(.train) {
            #expect(manifest.seeds == [0, 1, 2])
            let description = try PaperManifests.json(file)["description"] as? String ?? ""
            #expect(model.head == .linear && description.contains(PaperManifests.headNote))
            #expect(model.adapter.rank == 16 && model.adapter.tokens == 100 && model.stated.contains(.rank))
            #expect(model.crop == manifest.training.cropSize, "\(file): the window is the training crop")
            #expect(manifest.training.iterations == 40_000)
        } else {
            #expect(model.head == .mask2former && model.checkpoint?.contains("/checkpoints/") == true)
            #expect(model.stated.contains(.adapter))
        }
    }

    /// Tables 2 and 3 and the grid of Fig. 4: every transform, every filter, Rein, and at least 3 x 3 cut-offs.
    @Test func theAblationsAreAllThere() throws {
        var transforms = Set<FrequencyTransform>(), filters = Set<FrequencyFilter>(), kinds = Set<AdapterKind>()
        var cutoffs = Set<[Double]>()
        for file in PaperManifests.files {
            let manifest = try ManifestLoader.load(PaperManifests.path(file), checkFiles: false)
            guard let adapter = manifest.model?.adapter, manifest.pipeline.stages.contains(.train) else { continue }
            kinds.insert(adapter.kind)
            if adapter.kind == .causalTune {
                transforms.insert(adapter.transform)
                filters.insert(adapter.filter)
                if adapter.filter == .bandpass { cutoffs.insert([adapter.dl, adapter.dh]) }
            }
        }
        #expect(kinds == [.causalTune, .rein])
        #expect(transforms == [.dct, .fft, .haar])
        #expect(filters == [.bandpass, .lowcut, .highcut])
        #expect(cutoffs.count >= 9 && cutoffs.contains([0.2, 0.7]))
    }

    @Test func theReadmeListsEveryManifest() throws {
        let readme = try String(contentsOfFile: PaperManifests.repository + "/manifests/README.md", encoding: .utf8)
        for file in PaperManifests.files {
            #expect(readme.contains("| `\(file)` |"), "manifests/README.md does not list \(file)")
        }
    }
}
