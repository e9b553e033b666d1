// MPITrainCommandTests.swift — data-parallel training under `mpirun -np 2`
// (docs/training.md, "Several processes (MPI)"): the loss curve and the final
// checkpoint equal a single process's bit for bit (same threads per sample);
// a rank killed with SIGKILL ends the whole job within seconds and `--resume`
// under mpirun finishes it with the same final checkpoint; a resume with
// another process count is refused. Skipped, with a message, where mpirun is
// not installed (scripts/setup.sh installs it).

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
}
