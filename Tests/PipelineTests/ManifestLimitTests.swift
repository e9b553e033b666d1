// ManifestLimitTests.swift — what a manifest may not be: too large, not UTF-8,
// not a regular file, nameless, stage-less, with a description that is not
// text, or with names that would not stay one folder inside the run folder.

import CTCore
import Foundation
import ManifestSchema
import Testing

@Suite struct ManifestLimitTests {
    static let pipeline = #"{"version": 1, "name": "p", "stages": ["read", "predictions", "metric"]}"#

    static func manifest(name: String = "\"m\"", description: String? = nil, stages: String = #"["read", "predictions", "metric"]"#,
                         datasetName: String? = nil) -> String {
        let d = description.map { #", "description": \#($0)"# } ?? ""
        let n = datasetName.map { #", "name": \#($0)"# } ?? ""
        return """
        {"version": 1, "name": \(name)\(d), "pipeline": {"version": 1, "name": "p", "stages": \(stages)},
         "datasets": [{"kind": "cityscapes", "root": "data/cityscapes"\(n)}], "predictions": {"dir": "preds"}}
        """
    }

    @Test func emptyNamesStageListsAndNonTextDescriptionsAreProblems() throws {
        let fixture = try ManifestFixture()
        #expect(try fixture.problems(Self.manifest()).isEmpty)
        #expect(try fixture.problems(Self.manifest(name: "\"\"")).contains { $0.hasPrefix("$.name") && $0.contains("must not be empty") })
        #expect(try fixture.problems(Self.manifest(stages: "[]")).contains { $0.contains("stages") && $0.contains("no stage") })
        #expect(try fixture.problems(Self.manifest(description: "[1, 2]")).contains { $0.hasPrefix("$.description") })
        #expect(try fixture.problems(Self.manifest(description: "\"fine\"")).isEmpty)
    }

    @Test(arguments: ["\"../escape\"", "\"a/b\"", "\"\"", "\".hidden\"", "\"x\\u0000y\"", "\"tab\\there\""])
    func datasetNamesStayOneFolder(_ name: String) throws {
        let problems = try ManifestFixture().problems(Self.manifest(datasetName: name))
        #expect(problems.contains { $0.hasPrefix("$.datasets[0].name") }, "\(name): \(problems)")
    }

    @Test func manifestNamesStayOneFolder() throws {
        let problems = try ManifestFixture().problems(Self.manifest(name: "\"../up\""))
        #expect(problems.contains { $0.hasPrefix("$.name") })
    }

    @Test func oversizedAndNonUTF8FilesAreRefusedBeforeParsing() throws {
        let fixture = try ManifestFixture()
        let big = fixture.folder + "/big.json"
        try AtomicFile.write(Array(repeating: UInt8(ascii: " "), count: ManifestLoader.maximumFileBytes + 1), to: big)
        #expect { try ManifestLoader.load(big) } throws: { "\($0)".contains("more than the \(ManifestLoader.maximumFileBytes)") }
        let utf16 = fixture.folder + "/utf16.json"
        try AtomicFile.write([UInt8](Data(Self.manifest().utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] })), to: utf16)
        #expect { try ManifestLoader.load(utf16) } throws: { "\($0)".contains("not UTF-8") }
    }

    @Test func aFIFOIsRefusedWithoutBlocking() throws {
        let fixture = try ManifestFixture()
        let fifo = fixture.folder + "/fifo.json"
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect { try ManifestLoader.load(fifo) } throws: { "\($0)".contains("not a regular file") }
        #expect { try FileBytes.read(fifo) } throws: { "\($0)".contains("not a regular file") }
    }
}
