// ExitStatusTests.swift — refusals that scripts tell apart by exit status:
// 65 for a manifest with problems (a crop the model's patch size does not
// divide, found before anything runs), 66 for a manifest that cannot be read
// as a file (missing, a folder, a FIFO), 3 for `metric` with skipped samples.

import CTCore
import Foundation
import Testing

@Suite struct ExitStatusTests {
    static func folder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-exit-\(UUID())").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A pipeline that trains the tiny backbone (patch 16) and then slides a 7-pixel window: refused by
    /// `validate` and by `run` before anything runs (no dataset synthesized, no run folder), not after training.
    @Test func aCropThePatchSizeDoesNotDivideExits65() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let manifest = folder + "/crop7.json"
        try AtomicFile.write(text: """
        {"version": 1, "name": "crop7", "pipeline": {"version": 1, "stages": ["read", "train", "infer", "metric"]},
         "datasets": [{"name": "gta", "kind": "gta5", "root": "data/gta", "role": "train", "synthesize": {"count": 2, "size": [64, 32]}},
                      {"name": "city", "kind": "cityscapes", "root": "data/city", "synthesize": {"count": 2, "size": [64, 32]}}],
         "model": {"backbone": "tiny", "crop": 7, "stride": 7},
         "training": {"iterations": 2, "batch_size": 1, "crop_size": 32}}
        """, to: manifest)
        let problem = "$.model.crop: 7 is not a multiple of the patch size 16 of the backbone tiny; use a crop such as 16"
        let validate = try CTPipeBinary.run(["validate", manifest])
        #expect(validate.status == 65, "\(validate.stderr)")
        #expect(validate.stderr.contains(problem), "\(validate.stderr)")
        let run = try CTPipeBinary.run(["run", manifest, "--quiet"])
        #expect(run.status == 65 && run.stderr.contains(problem), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/data") && !FileManager.default.fileExists(atPath: folder + "/runs"),
                "nothing ran")

        try AtomicFile.write(text: String(decoding: try FileBytes.read(manifest), as: UTF8.self)
            .replacingOccurrences(of: #""crop": 7, "stride": 7"#, with: #""crop": 32, "stride": 16"#), to: manifest)
        let fixed = try CTPipeBinary.run(["validate", manifest])
        #expect(fixed.status == 0, "\(fixed.stderr)")
    }

    @Test func aManifestThatIsNotAReadableFileExits66() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let fifo = folder + "/fifo.json"
        #expect(mkfifo(fifo, 0o600) == 0)
        try FileManager.default.createDirectory(atPath: folder + "/folder.json", withIntermediateDirectories: true)
        for (path, message) in [(folder + "/absent.json", "file not found"), (folder + "/folder.json", "is a folder, expected a file"),
                                (fifo, "is not a regular file (a FIFO, socket or device); refused")] {
            for command in [["validate", path], ["run", path, "--quiet"]] {
                let result = try CTPipeBinary.run(command)
                #expect(result.status == 66, "\(command): \(result.stderr)")
                #expect(result.stderr.contains("\(path): \(message)"), "\(command): \(result.stderr)")
            }
        }
        #expect(!FileManager.default.fileExists(atPath: folder + "/runs"))
    }

    /// `metric` scores what it can and exits 3 when a sample had no prediction (0 when every sample was scored).
    @Test func metricWithSkippedSamplesExits3() throws {
        let fixture = try KillableRunFixture(samples: 3, width: 64, height: 32)
        defer { try? FileManager.default.removeItem(atPath: fixture.folder) }
        let arguments = ["metric", "--dataset", "cityscapes", fixture.folder + "/cityscapes", "--pred", fixture.folder + "/predictions", "--json"]
        let complete = try CTPipeBinary.run(arguments)
        #expect(complete.status == 0, "\(complete.stderr)")
        try FileManager.default.removeItem(atPath: fixture.folder + "/predictions/aachen/aachen_000000_000001.png")
        let partial = try CTPipeBinary.run(arguments)
        #expect(partial.status == 3, "\(partial.stderr)")
        #expect(partial.stderr.contains("skipped: ") && partial.stderr.contains("aachen_000000_000001"), "\(partial.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(partial.stdout.utf8)) as? [String: Any])
        let datasets = try #require(report["datasets"] as? [[String: Any]])
        #expect(datasets.first?["samples"] as? Int == 2 && datasets.first?["skipped"] as? Int == 1,
                "the other samples are scored: \(partial.stdout)")
    }
}
