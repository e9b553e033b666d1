// FuzzRegressionTests.swift — every input the fuzzer (or the bad-input campaign)
// found to crash, hang or over-allocate a reader is kept under
// Regressions/<target>/ and replayed here: each must now be answered, promptly,
// with every reader step accepting it or refusing it with a reason.
// Also checks that the targets reach the readers' depths on good input (a
// fuzzer stopped at the first check finds nothing).

import CTCore
import Foundation
import FuzzTargets
import TestSupport
import XCTest

final class FuzzRegressionTests: XCTestCase {
    static let workspace = try! FuzzWorkspace(pipelines: repositoryFolder + "/pipelines")
    static let repositoryFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    var regressions: URL { (Bundle.module.resourceURL ?? Bundle.module.bundleURL).appendingPathComponent("Regressions") }

    func testEveryFoundInputIsAnsweredWithReasons() throws {
        var replayed = 0
        for target in FuzzTarget.allCases {
            let folder = regressions.appendingPathComponent(target.rawValue)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            for name in names.sorted() where !name.hasPrefix(".") {
                let bytes = try FileBytes.read(folder.appendingPathComponent(name).path)
                let start = Date()
                let lines = target.run(bytes, in: Self.workspace)
                let seconds = Date().timeIntervalSince(start)
                XCTAssertLessThan(seconds, 10, "\(target.rawValue)/\(name) took \(seconds) s")
                XCTAssertFalse(lines.isEmpty, "\(target.rawValue)/\(name)")
                for line in lines where line.contains(": refused:") {
                    XCTAssertFalse(line.hasSuffix("(empty message)"), "\(target.rawValue)/\(name): \(line)")
                }
                replayed += 1
            }
        }
        XCTAssertGreaterThan(replayed, 0, "no regression input found under \(regressions.path)")
    }

    /// A fixture the project's tests use, by its path in the repository.
    func fixture(_ relative: String) throws -> [UInt8] {
        try FileBytes.read(Self.repositoryFolder + "/Tests/" + relative)
    }

    func testPickleTargetRebuildsAWholeCheckpointFromItsPickle() throws {
        let archive = try fixture("ModelTests/Fixtures/backbone/small_official.pth")
        let seeds = FuzzTarget.pickle.seeds(fromFixture: archive, index: 0)
        XCTAssertEqual(seeds.count, 1)
        let lines = FuzzTarget.pickle.run(seeds[0], in: Self.workspace)
        // The wrapped pickle gets storages of the sizes it names, so the backbone loads.
        XCTAssertTrue(lines.contains { $0.hasPrefix("dinov2: accepted") }, "\(lines)")
        // A damaged pickle is refused by the unpickler, not by the zip layer.
        var damaged = seeds[0]
        damaged[damaged.count / 2] ^= 0xFF
        let refused = FuzzTarget.pickle.run(damaged, in: Self.workspace)
        XCTAssertFalse(refused.contains { $0.contains("zip archive") }, "\(refused)")
    }

    func testLabelTargetReachesEachKindsLoader() throws {
        let seeds = FuzzTarget.labels.builtInSeeds(in: Self.workspace)
        XCTAssertEqual(seeds.count, 5)
        for seed in seeds {
            let lines = FuzzTarget.labels.run(seed, in: Self.workspace)
            XCTAssertTrue(lines.contains { $0.contains(" load: accepted ") }, "\(lines)")
        }
        let lines = FuzzTarget.labels.run([0] + Array("not a png".utf8), in: Self.workspace)
        XCTAssertTrue(lines.contains { $0.contains(" load: refused: ") }, "\(lines)")
    }

    func testManifestTargetValidatesTheProjectsManifests() throws {
        let bytes = try FileBytes.read(Self.repositoryFolder + "/manifests/demo.json")
        let lines = FuzzTarget.manifest.run(bytes, in: Self.workspace)
        XCTAssertEqual(lines.count, 1)
        // Its datasets are not in the workspace, so validation reports them, naming the field.
        XCTAssertTrue(lines[0].hasPrefix("manifest: "), "\(lines)")
        let refused = FuzzTarget.manifest.run(Array("{\"version\": 1, \"name\": \"\"}".utf8), in: Self.workspace)
        XCTAssertTrue(refused[0].contains("$.name"), "\(refused)")
    }
}
