// ResumeRefusalTests.swift — `run --resume` of a training run whose training
// state is damaged or belongs to another training: refused before any
// iteration, naming the state file and what was wrong. The state is one a
// short run wrote, edited on disk the way damage or a copied file would.

import CTCore
import Foundation
import ManifestSchema
import Model
import PipelineRunner
import Tensor
import Testing

/// A finished two-iteration training run of the tiny backbone (checkpoints after each iteration).
struct TrainedRunFixture {
    let folder: String
    let manifest: Manifest
    let run: String

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-resume-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try AtomicFile.write(text: """
        {"version": 1, "name": "resume", "seed": 7, "pipeline": {"version": 1, "stages": ["read", "train"]},
         "datasets": [{"name": "gta", "kind": "gta5", "root": "data/gta", "role": "train",
                       "synthesize": {"count": 2, "seed": 1, "size": [48, 32]}}],
         "model": {"backbone": "tiny", "adapter": "causal-tune", "tokens": 4},
         "training": {"iterations": 2, "batch_size": 1, "crop_size": 32, "lr": 0.001, "checkpoint_interval": 1},
         "outputs": {"dir": "runs"}}
        """, to: folder + "/train.json")
        manifest = try ManifestLoader.load(folder + "/train.json")
        run = folder + "/runs/trained"
        _ = try Runner(manifest: manifest, options: Self.options(run: run, resume: false)).run()
    }

    static func options(run: String, resume: Bool) -> RunOptions {
        var options = RunOptions()
        options.quiet = true
        options.resume = resume
        options.runDirectory = run
        options.completion.record = false
        options.completion.report = false
        return options
    }

    /// A copy of the run folder whose latest training state `damage` edits (its metadata JSON and tensors).
    func damagedCopy(_ damage: (inout [String: Any], inout SafeTensorsFile) throws -> Void) throws -> String {
        let copy = folder + "/runs/copy-\(UUID())"
        try FileManager.default.copyItem(atPath: run, toPath: copy)
        let state = copy + "/checkpoints/iter_000002.state.safetensors"
        var file = try SafeTensors.read(state)
        let key = "ctpipe.training_state"
        let json = try #require(file.metadata[key])
        var header = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        try damage(&header, &file)
        file.metadata[key] = String(decoding: try JSONSerialization.data(withJSONObject: header), as: UTF8.self)
        try SafeTensors.write(file, to: state)
        return copy
    }

    /// The error of resuming `copy` (nil: it resumed).
    func resumeError(_ copy: String) -> String? {
        do {
            _ = try Runner(manifest: manifest, options: Self.options(run: copy, resume: true)).run()
            return nil
        } catch { return "\(error)" }
    }
}

@Suite(.serialized) struct ResumeRefusalTests {
    @Test func damagedOrForeignTrainingStatesAreRefusedWithWhatWasWrong() throws {
        let fixture = try TrainedRunFixture()
        defer { try? FileManager.default.removeItem(atPath: fixture.folder) }
        let state = "iter_000002.state.safetensors"
        // The state as written resumes (nothing left to train).
        #expect(fixture.resumeError(try fixture.damagedCopy { _, _ in }) == nil)

        let seed = fixture.resumeError(try fixture.damagedCopy { header, _ in header["seed"] = 8 })
        #expect(seed == "resuming: the training state \(state) was trained with other settings than the manifest's (state vs manifest): seed 8 vs 7; it does not belong to this training")

        let batch = fixture.resumeError(try fixture.damagedCopy { header, _ in header["samples_per_iteration"] = 4 })
        #expect(batch?.contains("samples per iteration 4 vs 1 (batch_size 1 x accumulate 1)") == true, "\(batch ?? "resumed")")

        let optimiser = fixture.resumeError(try fixture.damagedCopy { header, _ in header["lr"] = 0.5 })
        #expect(optimiser?.contains("(state vs manifest): lr 0.5 vs 0.001;") == true, "\(optimiser ?? "resumed")")

        let beyond = fixture.resumeError(try fixture.damagedCopy { header, _ in header["iteration"] = 9 })
        #expect(beyond == "resuming: the training state \(state) is at iteration 9, beyond the manifest's 2; it does not belong to this training")

        let name = try #require(try SafeTensors.read(fixture.run + "/checkpoints/\(state)").tensors.keys.filter { $0.hasPrefix("exp_avg.") }.min())
        let tensor = String(name.dropFirst("exp_avg.".count))
        let shape = fixture.resumeError(try fixture.damagedCopy { _, file in file.tensors[name] = Tensor(shape: [1], storage: [0]) })
        #expect(shape?.hasPrefix("resuming: ") == true && shape?.contains("\(state): moments of '\(tensor)' have shape [1], expected") == true,
                "\(shape ?? "resumed")")

        for value in [Float.nan, .infinity] {
            let nonFinite = fixture.resumeError(try fixture.damagedCopy { _, file in file.tensors[name]!.storage[0] = value })
            #expect(nonFinite?.hasPrefix("resuming: ") == true
                    && nonFinite?.contains("\(state): a damaged training state: the moments of '\(tensor)' hold values that are not finite") == true,
                    "\(nonFinite ?? "resumed")")
        }
        let negative = fixture.resumeError(try fixture.damagedCopy { _, file in file.tensors["exp_avg_sq." + tensor]!.storage[0] = -1 })
        #expect(negative?.contains("the moments of '\(tensor)' hold values that are not finite (or a negative second moment)") == true,
                "\(negative ?? "resumed")")
    }
}
