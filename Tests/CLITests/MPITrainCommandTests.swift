// MPITrainCommandTests.swift — data-parallel training under `mpirun -np 2`
// (docs/training.md, "Several processes (MPI)"): the loss curve and the final
// checkpoint equal a single process's bit for bit (same threads per sample);
// a rank killed with SIGKILL ends the whole job within seconds and `--resume`
// under mpirun finishes it with the same final checkpoint; a resume with
// another process count is refused. The evaluation after training is sharded
// over the ranks: metrics.json and the label files equal a single process's,
// rank 1's shard records name it, a rank killed while evaluating ends the job
// and `--resume` finishes it; the job exits with rank 0's status. Skipped,
// with a message, where mpirun is not installed (scripts/setup.sh installs it).

import CTCore
import Foundation
import Testing

enum MPIRun {
    /// mpirun on PATH, or nil.
    static var mpirun: String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/mpirun" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static var available: Bool {
        if mpirun == nil { print("MPITrainCommandTests: skipped, mpirun is not installed (scripts/setup.sh installs openmpi-bin)") }
        return mpirun != nil
    }

    /// `mpirun --oversubscribe -np <ranks> ctpipe <arguments>` (allowed as root), not yet started.
    static func process(ranks: Int, _ arguments: [String]) -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: mpirun!)
        process.arguments = ["--oversubscribe", "-np", "\(ranks)", CTPipeBinary.url.path] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        process.environment = environment
        return process
    }

    /// Runs to the end (killed after `timeout` seconds): exit status and stderr.
    static func run(ranks: Int, _ arguments: [String], timeout: Double = 300) throws -> (status: Int32, stderr: String) {
        let process = process(ranks: ranks, arguments)
        let err = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = err
        try process.run()
        let pid = process.processIdentifier
        let finished = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            if finished.wait(timeout: .now() + timeout) == .timedOut { kill(pid, SIGKILL) }
        }
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        finished.signal()
        return (process.terminationStatus, String(decoding: stderr, as: UTF8.self))
    }

    /// The ctpipe processes mpirun `parent` started (its children running ctpipe).
    static func ranks(of parent: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, Int32(fields[1]) == parent else { return false }
            let command = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? ""
            return command.contains(CTPipeBinary.url.path)
        }.sorted()
    }
}

@Suite(.serialized) struct MPITrainCommandTests {
    func bytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    @Test func twoRanksGiveTheSingleProcessRunBitForBit() throws {
        guard MPIRun.available else { return }
        let fixture = try TrainingFixture(iterations: 12)
        defer { try? FileManager.default.removeItem(atPath: fixture.folder) }
        let one = fixture.folder + "/runs/one", two = fixture.folder + "/runs/two"
        let single = try CTPipeBinary.run(["run", fixture.manifest, "--run-dir", one, "--threads", "1", "--quiet"])
        #expect(single.status == 0, "\(single.stderr)")
        let shared = try MPIRun.run(ranks: 2, ["run", fixture.manifest, "--run-dir", two, "--threads", "1", "--quiet"])
        #expect(shared.status == 0, "\(shared.stderr)")
        let expected = try fixture.losses(one)
        #expect(expected.count == 12)
        #expect(try fixture.losses(two) == expected, "the loss curve of 2 ranks equals one process's")
        for file in ["model.safetensors", "checkpoints/iter_000012.safetensors", "checkpoints/iter_000012.state.safetensors",
                     "metrics.json"] {
            #expect(bytes(two + "/" + file) != nil && bytes(two + "/" + file) == bytes(one + "/" + file), "\(file) is the same")
        }
        let events = try String(contentsOfFile: two + "/events.jsonl", encoding: .utf8)
        #expect(events.components(separatedBy: "\"train_start\"").count == 2, "rank 0 alone writes events")
        #expect(events.contains("\"processes\":2"))

        // The checkpoint records two processes: one process may not continue it.
        let refused = try CTPipeBinary.run(["run", fixture.manifest, "--run-dir", two, "--resume", "--quiet"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("written by a job of 2 processes, this one has 1") && refused.stderr.contains("mpirun -np 2"),
                "\(refused.stderr)")
    }

    @Test func aKilledRankEndsTheJobAndResumeFinishesIt() throws {
        guard MPIRun.available else { return }
        let fixture = try TrainingFixture(iterations: 120)
        defer { try? FileManager.default.removeItem(atPath: fixture.folder) }
        let reference = fixture.folder + "/runs/reference"
        let single = try CTPipeBinary.run(["run", fixture.manifest, "--run-dir", reference, "--threads", "1", "--quiet"])
        #expect(single.status == 0, "\(single.stderr)")

        let killed = fixture.folder + "/runs/killed"
        let job = MPIRun.process(ranks: 2, ["run", fixture.manifest, "--run-dir", killed, "--threads", "1", "--quiet"])
        job.standardOutput = FileHandle.nullDevice
        job.standardError = FileHandle.nullDevice
        try job.run()
        let deadline = Date().addingTimeInterval(180)
        while job.isRunning && fixture.latestIteration(killed) < 15 && Date() < deadline { usleep(5_000) }
        let ranks = MPIRun.ranks(of: job.processIdentifier)
        #expect(ranks.count == 2, "mpirun runs two ctpipe processes: \(ranks)")
        #expect(job.isRunning, "the job finished before a rank could be killed")
        guard let victim = ranks.last else {
            kill(job.processIdentifier, SIGKILL)
            job.waitUntilExit()
            return
        }
        kill(victim, SIGKILL)
        let killedAt = Date()
        while job.isRunning && Date().timeIntervalSince(killedAt) < 30 { usleep(10_000) }
        let ended = !job.isRunning
        if !ended { kill(job.processIdentifier, SIGKILL) }
        job.waitUntilExit()
        #expect(ended && Date().timeIntervalSince(killedAt) < 15, "the job ends within seconds of a rank's death")
        #expect(job.terminationStatus != 0)
        #expect(MPIRun.ranks(of: job.processIdentifier).isEmpty, "no rank is left running")
        let reached = fixture.latestIteration(killed)
        #expect(reached >= 15 && reached < 120, "killed after checkpoint \(reached)")

        let resumed = try MPIRun.run(ranks: 2, ["run", fixture.manifest, "--run-dir", killed, "--resume", "--threads", "1", "--quiet"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try fixture.losses(killed) == fixture.losses(reference), "the resumed job's loss curve equals the single process's")
        for file in ["model.safetensors", "checkpoints/iter_000120.safetensors", "checkpoints/iter_000120.state.safetensors"] {
            #expect(bytes(killed + "/" + file) != nil && bytes(killed + "/" + file) == bytes(reference + "/" + file), "\(file) is the same")
        }
    }

    /// Every file below `folder` (relative paths) with its bytes.
    func files(below folder: String) -> [String: Data] {
        var out: [String: Data] = [:]
        for case let path as String in FileManager.default.enumerator(atPath: folder)?.allObjects ?? [] {
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: folder + "/" + path, isDirectory: &isFolder), !isFolder.boolValue {
                out[path] = bytes(folder + "/" + path)
            }
        }
        return out
    }

    /// A shard record as JSON, without the evaluating rank.
    func record(_ run: String, _ k: Int, of shards: Int) throws -> (fields: NSDictionary, rank: Int?) {
        let data = try #require(bytes("\(run)/shards/city/\(k)-of-\(shards).json"), "shard \(k) of \(run) has its record")
        var object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let rank = object.removeValue(forKey: "rank") as? Int
        return (object as NSDictionary, rank)
    }

    @Test func twoRanksShareTheEvaluationAndGiveTheSingleProcessResults() throws {
        guard MPIRun.available else { return }
        let fixture = try TrainingFixture(iterations: 4, evaluation: (images: 10, size: (96, 64), shards: 5, writes: true))
        defer { try? FileManager.default.removeItem(atPath: fixture.folder) }
        let one = fixture.folder + "/runs/one", two = fixture.folder + "/runs/two"
        let single = try CTPipeBinary.run(["run", fixture.manifest, "--run-dir", one, "--threads", "1", "--no-history", "--quiet"])
        #expect(single.status == 0, "\(single.stderr)")
        let shared = try MPIRun.run(ranks: 2, ["run", fixture.manifest, "--run-dir", two, "--threads", "1", "--no-history", "--quiet"])
        #expect(shared.status == 0, "\(shared.stderr)")

        #expect(bytes(two + "/metrics.json") != nil && bytes(two + "/metrics.json") == bytes(one + "/metrics.json"), "metrics.json is the same")
        #expect(bytes(two + "/problems.json") == bytes(one + "/problems.json"))
        let labels = files(below: one + "/outputs")
        #expect(labels.keys.filter { $0.hasSuffix(".png") }.count == 20, "10 images x (trainid, color): \(labels.keys.sorted())")
        #expect(files(below: two + "/outputs") == labels, "the label files are the same")

        // Rank r evaluated shards r, r + 2, ...: its records say so and hold what one process's hold.
        for k in 0 ..< 5 {
            let (expected, none) = try record(one, k, of: 5)
            let (got, rank) = try record(two, k, of: 5)
            #expect(none == nil, "one process records no rank")
            #expect(rank == k % 2, "shard \(k) was evaluated by rank \(k % 2), not \(String(describing: rank))")
            #expect(got == expected, "shard \(k)'s record is the single process's")
        }
        let events = try String(contentsOfFile: two + "/events.jsonl", encoding: .utf8)
        #expect(events.contains("\"event\":\"eval_split\""), "rank 0 logs the split")
        #expect(events.components(separatedBy: "\"shard_finish\"").count == 4, "rank 0 logs its own 3 shards alone")

        // The job's status is rank 0's: a history step that fails ends the run with 1 on every rank, not an abort.
        let failing = try MPIRun.run(ranks: 2, ["run", fixture.manifest, "--run-dir", two, "--resume", "--threads", "1", "--quiet",
                                                "--history", fixture.manifest + "/history.sqlite"])
        #expect(failing.status == 1, "\(failing.stderr)")
        #expect(failing.stderr.contains("error: history"), "\(failing.stderr)")
        #expect(!failing.stderr.contains("MPI_ABORT"), "rank 0's status reaches every rank without an abort: \(failing.stderr)")
    }

    @Test func aRankKilledWhileEvaluatingEndsTheJobAndResumeFinishesIt() throws {
        guard MPIRun.available else { return }
        let fixture = try TrainingFixture(iterations: 2, evaluation: (images: 16, size: (256, 128), shards: 16, writes: true))
        defer { try? FileManager.default.removeItem(atPath: fixture.folder) }
        let reference = fixture.folder + "/runs/reference"
        let single = try CTPipeBinary.run(["run", fixture.manifest, "--run-dir", reference, "--threads", "1", "--no-history", "--quiet"])
        #expect(single.status == 0, "\(single.stderr)")

        let killed = fixture.folder + "/runs/killed"
        let job = MPIRun.process(ranks: 2, ["run", fixture.manifest, "--run-dir", killed, "--threads", "1", "--no-history", "--quiet"])
        job.standardOutput = FileHandle.nullDevice
        job.standardError = FileHandle.nullDevice
        try job.run()
        func records() -> Int { ((try? FileManager.default.contentsOfDirectory(atPath: killed + "/shards/city")) ?? []).count }
        let deadline = Date().addingTimeInterval(180)
        while job.isRunning && records() < 2 && Date() < deadline { usleep(2_000) }
        let ranks = MPIRun.ranks(of: job.processIdentifier)
        let evaluating = job.isRunning && records() < 16
        #expect(ranks.count == 2, "mpirun runs two ctpipe processes: \(ranks)")
        #expect(evaluating, "the job finished its evaluation before a rank could be killed")
        guard let victim = ranks.last, evaluating else {
            kill(job.processIdentifier, SIGKILL)
            job.waitUntilExit()
            return
        }
        kill(victim, SIGKILL)
        let killedAt = Date()
        while job.isRunning && Date().timeIntervalSince(killedAt) < 30 { usleep(10_000) }
        let ended = !job.isRunning
        if !ended { kill(job.processIdentifier, SIGKILL) }
        job.waitUntilExit()
        #expect(ended && Date().timeIntervalSince(killedAt) < 15, "the job ends within seconds of a rank's death")
        #expect(job.terminationStatus != 0)
        #expect(MPIRun.ranks(of: job.processIdentifier).isEmpty, "no rank is left running")
        #expect(!FileManager.default.fileExists(atPath: killed + "/metrics.json"), "nothing was merged")
        let left = records()
        #expect(left < 16, "killed with \(left) of 16 shards evaluated")

        let resumed = try MPIRun.run(ranks: 2, ["run", fixture.manifest, "--run-dir", killed, "--resume", "--threads", "1",
                                                "--no-history", "--quiet"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(bytes(killed + "/metrics.json") != nil && bytes(killed + "/metrics.json") == bytes(reference + "/metrics.json"),
                "the resumed job's metrics equal the single process's")
        #expect(files(below: killed + "/outputs") == files(below: reference + "/outputs"), "and so do its label files")
        let events = try String(contentsOfFile: killed + "/events.jsonl", encoding: .utf8)
        #expect(events.components(separatedBy: "\"eval_split\"").count == 3, "the resumed job split what was left")
    }
}
