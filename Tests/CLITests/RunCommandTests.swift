import CTCore
import Foundation
import ImageIO
import Testing

/// A Cityscapes-layout dataset with prediction PNGs, big enough that a run
/// can be killed half-way.
struct KillableRunFixture {
    let folder: String
    let samples: Int

    init(samples: Int = 80, width: Int = 256, height: Int = 128) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-kill-\(UUID())").path
        self.samples = samples
        var state: UInt64 = 12345
        func next() -> UInt8 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
        for i in 0 ..< samples {
            let stem = String(format: "aachen_%06d_%06d", i / 10, i % 10)
            var label = [UInt8](repeating: 0, count: width * height)
            var prediction = label
            for y in 0 ..< height {
                for x in 0 ..< width {
                    let id = UInt8([7, 8, 11, 21, 23, 26][(x / 40 + y / 40 + i) % 6])
                    label[y * width + x] = id
                    prediction[y * width + x] = next() < 200 ? [0, 1, 2, 8, 10, 13][(x / 40 + y / 40 + i) % 6] : next() % 19
                }
            }
            let image = Image8(width: width, height: height, channels: 3, pixels: (0 ..< width * height * 3).map { _ in next() })
            try ImageFile.writePNG(image, to: "\(folder)/cityscapes/leftImg8bit/val/aachen/\(stem)_leftImg8bit.png")
            try ImageFile.writePNG(Image8(width: width, height: height, channels: 1, pixels: label),
                                   to: "\(folder)/cityscapes/gtFine/val/aachen/\(stem)_gtFine_labelIds.png")
            try ImageFile.writePNG(Image8(width: width, height: height, channels: 1, pixels: prediction),
                                   to: "\(folder)/predictions/aachen/\(stem).png")
        }
        try AtomicFile.write(text: """
        {"version": 1, "name": "kill", "pipeline": {"version": 1, "stages": ["read", "predictions", "metric", "write"]},
         "datasets": [{"kind": "cityscapes", "root": "cityscapes", "name": "city"}],
         "predictions": {"dir": "predictions"},
         "outputs": {"dir": "runs", "formats": ["trainid", "color", "overlay"]},
         "execution": {"shards": 40, "workers": 1}}
        """, to: folder + "/kill.json")
    }

    var manifest: String { folder + "/kill.json" }

    func records(in run: String) -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: run + "/shards/city")) ?? []).filter { $0.hasSuffix(".json") }.count
    }

    /// The run folders of the manifest, oldest first.
    func runs() -> [String] {
        let root = folder + "/runs/kill"
        return ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).sorted().map { "\(root)/\($0)" }
    }
}

@Suite(.serialized) struct RunCommandTests {
    /// The metrics of a run folder without the free-text parts that differ by run.
    func metrics(_ run: String) throws -> String {
        try String(contentsOfFile: run + "/metrics.json", encoding: .utf8)
    }

    @Test func killedRunResumesToIdenticalResults() throws {
        let fixture = try KillableRunFixture()
        // Uninterrupted reference run.
        let reference = try CTPipeBinary.run(["run", fixture.manifest, "--quiet"])
        #expect(reference.status == 0, "\(reference.stderr)")
        let referenceRun = try #require(fixture.runs().last)

        // A run killed with SIGKILL once some, but not all, shards are done.
        let process = Process()
        process.executableURL = CTPipeBinary.url
        process.arguments = ["run", fixture.manifest, "--quiet"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        var killedRun: String?
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, process.isRunning {
            if let run = fixture.runs().first(where: { $0 != referenceRun }), fixture.records(in: run) >= 3 {
                killedRun = run
                break
            }
            usleep(2000)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let run = try #require(killedRun, "the run finished or stalled before it could be killed half-way")
        let done = fixture.records(in: run)
        #expect(done < 40, "killed before the end (\(done) of 40 shards recorded)")
        #expect(!FileManager.default.fileExists(atPath: run + "/metrics.json"))

        let resumed = try CTPipeBinary.run(["run", fixture.manifest, "--resume", "--quiet"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains(run), "resumed the killed run folder")
        #expect(try metrics(run) == metrics(referenceRun))
        // Outputs are byte-identical too.
        let name = "aachen/aachen_000003_000004"
        for format in ["trainid", "color", "overlay"] {
            let a = try FileBytes.read("\(run)/outputs/city/\(format)/\(name).png")
            let b = try FileBytes.read("\(referenceRun)/outputs/city/\(format)/\(name).png")
            #expect(a == b, "\(format) output identical")
        }
    }

    @Test func sigtermStopsCleanlyAndResumes() throws {
        let fixture = try KillableRunFixture()
        let process = Process()
        process.executableURL = CTPipeBinary.url
        process.arguments = ["run", fixture.manifest, "--quiet"]
        let errors = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        var stoppedRun: String?
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, process.isRunning {
            if let run = fixture.runs().first, fixture.records(in: run) >= 2 {
                stoppedRun = run
                break
            }
            usleep(2000)
        }
        kill(process.processIdentifier, SIGTERM)
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let run = try #require(stoppedRun, "the run finished before it could be stopped")
        #expect(process.terminationStatus == 130, "stopped runs exit 130: \(stderr)")
        #expect(stderr.contains("--resume"), "the message says how to continue")
        #expect(fixture.records(in: run) < 40)
        let events = try String(contentsOfFile: run + "/events.jsonl", encoding: .utf8)
        #expect(events.contains("run_interrupted"))

        let resumed = try CTPipeBinary.run(["run", fixture.manifest, "--resume", "--quiet"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let reference = try CTPipeBinary.run(["run", fixture.manifest, "--quiet"])
        #expect(reference.status == 0)
        let referenceRun = try #require(fixture.runs().last)
        #expect(referenceRun != run)
        #expect(try metrics(run) == metrics(referenceRun))
    }

    @Test func aSecondSignalExits130AtOnce() throws {
        let fixture = try KillableRunFixture()
        let process = Process()
        process.executableURL = CTPipeBinary.url
        process.arguments = ["run", fixture.manifest, "--quiet"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, process.isRunning, fixture.runs().first.map({ fixture.records(in: $0) >= 1 }) != true { usleep(2000) }
        kill(process.processIdentifier, SIGINT)
        usleep(50_000)
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit && process.terminationStatus == 130)
    }

    /// Two real processes on one run folder: while a run holds it, a `run --resume` and a `merge` of the
    /// folder are refused at once naming the holder's process id, and the run finishes unaffected.
    @Test func aRunFolderInUseIsRefusedNamingItsHolder() throws {
        let fixture = try KillableRunFixture()
        defer { try? FileManager.default.removeItem(atPath: fixture.folder) }
        let run = fixture.folder + "/runs/locked"
        let process = Process()
        process.executableURL = CTPipeBinary.url
        process.arguments = ["run", fixture.manifest, "--run-dir", run, "--quiet"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, process.isRunning, fixture.records(in: run) < 1 { usleep(2000) }
        let holder = "is in use by another ctpipe process (pid \(process.processIdentifier))"
        let resume = try CTPipeBinary.run(["run", fixture.manifest, "--run-dir", run, "--resume", "--quiet"])
        let merge = try CTPipeBinary.run(["merge", run])
        let stillRunning = process.isRunning
        process.waitUntilExit()
        #expect(stillRunning, "the first run finished before the others tried: the test could not check the lock")
        #expect(resume.status == 1 && resume.stderr.contains(holder), "\(resume.stderr)")
        #expect(merge.status == 1 && merge.stderr.contains(holder), "\(merge.stderr)")

        #expect(process.terminationReason == .exit && process.terminationStatus == 0)
        #expect(fixture.records(in: run) == 40 && FileManager.default.fileExists(atPath: run + "/metrics.json"))
        let events = try String(contentsOfFile: run + "/events.jsonl", encoding: .utf8)
        #expect(events.components(separatedBy: "\"run_start\"").count == 2, "only the first process wrote to the folder")
        let referenceRun = fixture.folder + "/runs/reference"
        #expect(try CTPipeBinary.run(["run", fixture.manifest, "--run-dir", referenceRun, "--quiet"]).status == 0)
        #expect(try metrics(run) == metrics(referenceRun))
    }

    @Test func validateReportsProblemsWithExitCode65() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-validate-\(UUID())").path
        try AtomicFile.write(text: """
        {"version": 1, "name": "bad", "pipeline": {"version": 1, "stages": ["read", "predictions", "metric"]},
         "datasets": [{"kind": "bdd100k", "root": "data/bdd100k"}], "predictions": {"dir": "p"}}
        """, to: folder + "/bad.json")
        let result = try CTPipeBinary.run(["validate", folder + "/bad.json"])
        #expect(result.status == 65)
        #expect(result.stderr.contains("$.datasets[0].root: folder not found: data/bdd100k"))
        #expect(result.stderr.contains("$.predictions.dir: folder not found: p"))
        let run = try CTPipeBinary.run(["run", folder + "/bad.json"])
        #expect(run.status == 65, "run validates first")
        #expect(!FileManager.default.fileExists(atPath: folder + "/runs"), "no work started")
    }
}
