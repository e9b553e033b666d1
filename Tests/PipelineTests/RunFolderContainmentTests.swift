// RunFolderContainmentTests.swift — every file a run writes resolves inside its
// run folder: names that would climb out (`..`, `/`, empty, control characters)
// are refused even when they reach a writer directly, and so is a symbolic link
// inside the run folder that leads elsewhere; nothing is written outside.

import CTCore
import Foundation
import ImageIO
import LabelFiles
import ManifestSchema
import Metrics
import PipelineRunner
import RunFolder
import Testing

@Suite struct RunFolderContainmentTests {
    /// `<tmp>/ctpipe-contain-<UUID>/{run, outside}`: a run folder and a folder beside it that must stay empty.
    struct Place {
        let top: String
        var run: String { top + "/run" }
        var outside: String { top + "/outside" }

        init() throws {
            top = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-contain-\(UUID())").path
            for folder in [top + "/run", top + "/outside"] {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            }
        }

        /// Every entry below `top` outside the run folder (the run folder itself excluded).
        var strayEntries: [String] {
            let all = (FileManager.default.enumerator(atPath: top)?.allObjects as? [String]) ?? []
            return all.filter { $0 != "run" && !$0.hasPrefix("run/") && $0 != "outside" }.sorted()
        }
    }

    static let label = LabelMap(width: 2, height: 2, channels: 1, pixels: [0, 1, 2, 255])

    @Test(arguments: ["", ".", "..", "a/b", "x\u{0}y", "tab\there", "bell\u{7}"])
    func aComponentThatIsNotOneNameIsRefused(_ name: String) throws {
        let place = try Place()
        let directory = try RunDirectory(path: place.run)
        #expect(ContainedFolder.componentProblem(name) != nil)
        #expect(throws: RunError.self) { try directory.file(["outputs", name, "a.png"]) }
        #expect(throws: RunError.self) { try directory.writeJSON(.object([:]), to: ["shards", name, "0-of-1.json"]) }
        #expect(place.strayEntries.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: place.run + "/outputs"), "nothing is created for a refused path")
    }

    @Test func aDatasetNameWithDotDotReachingTheWritersIsRefused() throws {
        let place = try Place()
        let directory = try RunDirectory(path: place.run)
        // A shard record of a dataset called "../.." would land two folders above shards/.
        let shard = ShardID(dataset: "../..", index: 0, count: 1)
        let record = ShardRecord(configurationHash: "h", dataset: shard.dataset, shard: 0, shards: 1, ids: [], skipped: [],
                                 metrics: MetricsReport())
        let error = try #require(throws: RunError.self) { try directory.write(record, to: RunDirectory.shardRecord(shard)) }
        #expect(error.description.contains(place.run + "/shards/../../0-of-1.json"), "the refusal names the path: \(error)")
        #expect(error.description.contains("refused: a name holds '/' ('../..')"), "\(error)")
        #expect(throws: RunError.self) { try directory.write(record, to: RunDirectory.shardRecord(ShardID(dataset: "..", index: 0, count: 1))) }
        // Label files and the CVAT index of that dataset.
        let writer = LabelWriter(formats: LabelFileFormat.allCases)
        #expect(throws: ContainmentError.self) {
            try writer.write(prediction: Self.label, image: nil, id: "a", into: directory.outputs(".."))
        }
        #expect(throws: ContainmentError.self) { try writer.finish(ids: ["a"], into: directory.outputs("../../outside")) }
        #expect(throws: RunError.self) { try directory.galleryFile(dataset: "..", id: "a") }
        #expect(place.strayEntries.isEmpty)
        #expect((try FileManager.default.contentsOfDirectory(atPath: place.outside)).isEmpty)
    }

    @Test(arguments: ["../../outside/a", "frankfurt/../../../outside/a", "/abs", "a//b", "a/", "", "a/./b", "nul\u{0}"])
    func aSampleIdThatWouldLeaveTheFolderIsRefused(_ id: String) throws {
        let place = try Place()
        let directory = try RunDirectory(path: place.run)
        let writer = LabelWriter(formats: LabelFileFormat.allCases)
        let image = Image8(width: 2, height: 2, channels: 3, filledWith: 7)
        let error = try #require(throws: ContainmentError.self) {
            try writer.write(prediction: Self.label, image: image, id: id, into: directory.outputs("city"))
        }
        #expect(error.path.hasPrefix(place.run + "/outputs/city/"), "the refusal names the path: \(error)")
        #expect(throws: RunError.self) { try directory.galleryFile(dataset: "city", id: id) }
        #expect(place.strayEntries.isEmpty)
        #expect((try FileManager.default.contentsOfDirectory(atPath: place.outside)).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: place.run + "/outputs"), "nothing is created for a refused id")
    }

    @Test func ordinaryIdsAndNamesAreWrittenInside() throws {
        let place = try Place()
        let directory = try RunDirectory(path: place.run)
        let writer = LabelWriter(formats: LabelFileFormat.allCases)
        let image = Image8(width: 2, height: 2, channels: 3, filledWith: 7)
        let written = try writer.write(prediction: Self.label, image: image, id: "frankfurt/frankfurt_000000_000294",
                                       into: directory.outputs("city"))
        #expect(written.count == 5)
        #expect(written.contains(place.run + "/outputs/city/labelid/frankfurt/frankfurt_000000_000294_labelIds.png"))
        for file in written { #expect(FileManager.default.fileExists(atPath: file)) }
        // A link inside the run folder that stays inside is followed.
        try FileManager.default.createSymbolicLink(atPath: place.run + "/alias", withDestinationPath: place.run + "/outputs")
        #expect(try directory.file(["alias", "city", "x.png"]) == place.run + "/alias/city/x.png")
    }

    @Test func aLinkInsideTheRunFolderLeadingOutsideIsRefused() throws {
        let place = try Place()
        let directory = try RunDirectory(path: place.run)
        try FileManager.default.createDirectory(atPath: place.run + "/outputs", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: place.run + "/outputs/city", withDestinationPath: place.outside)
        let error = try #require(throws: RunError.self) { try directory.file(["outputs", "city", "trainid", "a.png"]) }
        #expect(error.description.contains("outside \(place.run)"), "\(error)")
        let writer = LabelWriter(formats: [.trainid, .cvat])
        #expect(throws: ContainmentError.self) {
            try writer.write(prediction: Self.label, image: nil, id: "a", into: directory.outputs("city"))
        }
        #expect(throws: ContainmentError.self) { try writer.finish(ids: ["a"], into: directory.outputs("city")) }
        // A link standing where a file goes, or a dangling one, is refused too.
        try FileManager.default.createSymbolicLink(atPath: place.run + "/metrics.json", withDestinationPath: place.outside + "/m.json")
        #expect(throws: RunError.self) { try directory.write(bytes: [1], to: ["metrics.json"]) }
        // events.jsonl is appended to: a link there is never written through.
        try FileManager.default.createSymbolicLink(atPath: place.run + "/events.jsonl", withDestinationPath: place.outside + "/events.jsonl")
        directory.event("test")
        #expect((try FileManager.default.contentsOfDirectory(atPath: place.outside)).isEmpty, "nothing was written outside")
    }

    /// The whole runner: the dataset's label folder in the run folder replaced by a link to a
    /// folder outside before `--resume`; the resumed run stops naming it and writes nothing there.
    @Test func aResumedRunRefusesALinkedOutputsFolder() throws {
        let fixture = try ScoringFixture()
        let manifest = try fixture.manifest(shards: 2, workers: 1, formats: ["trainid", "cvat"])
        var options = RunOptions()
        options.quiet = true
        let first = try Runner(manifest: manifest, options: options).run()
        let outside = fixture.folder + "/outside"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try FileManager.default.removeItem(atPath: first.runDirectory + "/outputs/city")
        try FileManager.default.createSymbolicLink(atPath: first.runDirectory + "/outputs/city", withDestinationPath: outside)
        try FileManager.default.removeItem(atPath: first.runDirectory + "/shards/city/1-of-2.json")
        options.resume = true
        let error = try #require(throws: RunError.self) { try Runner(manifest: manifest, options: options).run() }
        #expect(error.description.contains(first.runDirectory + "/outputs/city"), "\(error)")
        #expect(error.description.contains("outside"), "\(error)")
        #expect((try FileManager.default.contentsOfDirectory(atPath: outside)).isEmpty, "nothing was written outside")
        try? FileManager.default.removeItem(atPath: fixture.folder)
    }
}
