// DecodeLimitCLITests.swift — `--max-pixels` and the default 64 MP decode limit seen
// from the command line: a hostile header is refused with one line naming the file,
// its declared size and the limit, and the process stays small while refusing it.

import Foundation
import Testing

@Suite struct DecodeLimitCLITests {
    static func hostile(_ name: String) -> String { ImageFixtures.path("hostile/" + name) }

    @Test(arguments: [("progressive_16000x16000.jpg", "16000x16000 (256000000 pixels)"),
                      ("progressive_60000x60000.jpg", "60000x60000 (3600000000 pixels)"),
                      ("ihdr_100000x100000.png", "100000x100000 (10000000000 pixels)")])
    func inspectRefusesHostileHeaders(file: String, declared: String) throws {
        let path = Self.hostile(file)
        let result = try CTPipeBinary.run(["inspect", path])
        #expect(result.status == 1)
        #expect(result.stderr.contains(path), "\(result.stderr)")
        #expect(result.stderr.contains("declared size \(declared) exceeds the limit of 67108864 pixels"), "\(result.stderr)")
    }

    @Test func maxPixelsOptionLowersTheLimit() throws {
        let path = ImageFixtures.path("png/rgb8.png")
        let ok = try CTPipeBinary.run(["inspect", path])
        #expect(ok.status == 0, "\(ok.stderr)")
        let refused = try CTPipeBinary.run(["inspect", path, "--max-pixels", "100"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains(path) && refused.stderr.contains("exceeds the limit of 100 pixels"), "\(refused.stderr)")
    }

    @Test(arguments: ["0", "-5", "4294967297"])
    func maxPixelsOutOfRangeIsAUsageError(value: String) throws {
        let result = try CTPipeBinary.run(["inspect", ImageFixtures.path("png/rgb8.png"), "--max-pixels=\(value)"])
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderr.contains("--max-pixels"), "\(result.stderr)")
    }

    /// `run --max-pixels` overrides the manifest's execution.max_pixels: a label or prediction
    /// over it is a sample problem naming the file (here, with on_error "fail", the run's error).
    @Test func runMaxPixelsOverridesTheManifest() throws {
        let fixture = try KillableRunFixture(samples: 2, width: 64, height: 32)
        defer { try? FileManager.default.removeItem(atPath: fixture.folder) }
        let refused = try CTPipeBinary.run(["run", fixture.manifest, "--quiet", "--max-pixels", "1000"])
        #expect(refused.status == 1, "\(refused.stderr)")
        #expect(refused.stderr.contains("exceeds the limit of 1000 pixels") && refused.stderr.contains(fixture.folder),
                "\(refused.stderr)")
        let ok = try CTPipeBinary.run(["run", fixture.manifest, "--quiet", "--max-pixels", "2048"])
        #expect(ok.status == 0, "\(ok.stderr)")
        let usage = try CTPipeBinary.run(["run", fixture.manifest, "--quiet", "--max-pixels", "0"])
        #expect(usage.status == 64 && usage.stderr.contains("--max-pixels"), "\(usage.stderr)")
    }

    @Test func commandsThatReadImagesTakeTheOption() throws {
        for command in ["inspect", "infer", "features", "metric", "run"] {
            let help = try CTPipeBinary.run([command, "--help"])
            #expect(help.stdout.contains("--max-pixels"), "\(command) --help lacks --max-pixels")
        }
    }

    /// The peak resident memory of `ctpipe inspect` refusing a 122-byte progressive JPEG that
    /// declares 16000x16000 (before the limit: over 0.5 GB of coefficient buffers touched).
    /// Measured as the child's ru_maxrss through a python3 parent (skipped without python3).
    @Test func refusingAHostileJPEGStaysSmall() throws {
        let script = """
        import resource, subprocess, sys
        r = subprocess.run(sys.argv[1:], capture_output=True)
        print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
        """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, CTPipeBinary.url.path, "inspect", Self.hostile("progressive_16000x16000.jpg")]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = Pipe()
        do { try process.run() } catch { return }
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return } // no python3 here
        let fields = text.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        let (status, peakKiB) = try (#require(fields.first), #require(fields.last))
        #expect(status == 1)
        #expect(peakKiB < 150 * 1024, "peak resident memory \(peakKiB) KiB")
    }
}
