// NonRegularFileCLITests.swift — a FIFO named as a checkpoint, weight file or
// image, or lying in a dataset, is refused by name and the command returns:
// each run is killed after a timeout, so a command that blocks fails here.

import Foundation
import TestSupport
import Testing

@Suite struct NonRegularFileCLITests {
    static let refused = "is not a regular file (a FIFO, socket or device); refused"

    @Test(arguments: [
        ["infer", "--checkpoint", "FIFO", "/nonexistent.png", "--out-dir", "OUT"],
        ["infer", "--checkpoint", "FIFO", "/nonexistent.png", "--out-dir", "OUT", "--adapter", "rein"],
        ["features", "--weights", "FIFO", "--image", "/nonexistent.png", "--out", "OUT/x.npy"],
        ["features", "--checkpoint", "FIFO", "--image", "/nonexistent.png", "--out", "OUT/x.npy"],
        ["convert-weights", "FIFO", "OUT/x.safetensors"],
        ["inspect", "FIFO"],
    ])
    func aFIFOArgumentIsRefusedByName(_ arguments: [String]) throws {
        let fifo = try FIFO(named: "input.bin")
        defer { fifo.remove() }
        let resolved = arguments.map { $0 == "FIFO" ? fifo.path : $0 == "OUT" ? fifo.folder.path + "/out" : $0 }
            .map { $0.replacingOccurrences(of: "OUT/", with: fifo.folder.path + "/out/") }
        let result = try CTPipeBinary.run(resolved, timeout: 60)
        #expect(!result.timedOut, "\(arguments[0]) blocked on a FIFO")
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains(fifo.path) && result.stderr.contains(Self.refused), "\(result.stderr)")
    }

    @Test func aFIFOInADatasetIsAProblemNamingIt() throws {
        let dir = try TemporaryFolder("fifo-cli")
        defer { dir.remove() }
        let synth = try CTPipeBinary.run(["synth", "--dataset", "cityscapes", "--out", dir.path, "--count", "1",
                                          "--size", "32x16", "--split", "val"])
        #expect(synth.status == 0, "\(synth.stderr)")
        let fifo = try FIFO(named: "leftImg8bit/val/zurich/fifo_000000_000000_leftImg8bit.png", in: dir)
        let inspect = try CTPipeBinary.run(["inspect", "--dataset", "cityscapes", dir.path, "--split", "val", "--scan"], timeout: 60)
        #expect(!inspect.timedOut)
        #expect(inspect.status == 2, "\(inspect.stderr)")
        #expect(inspect.stdout.contains(fifo.path) && inspect.stdout.contains("unreadable_file"), "\(inspect.stdout)")
    }
}
