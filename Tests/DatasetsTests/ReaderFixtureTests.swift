// ReaderFixtureTests.swift — every reader on the Pillow-written fixture trees:
// sample order, ids, paths, metadata, chosen layout, and the trainId planes
// after mapping, against scripts/make_dataset_fixtures.py's numpy results.

import Foundation
import ImageIO
import TestSupport
import Testing

@testable import Datasets

@Suite struct ReaderFixtureTests {
    static let allCases: [DatasetCases.Case] = (try? DatasetCases.all()) ?? []

    func reader(_ c: DatasetCases.Case) throws -> any DatasetReader {
        try DatasetReaders.make(kind: DatasetKind(rawValue: c.dataset)!, root: DatasetCases.folder + "/" + c.root,
                                split: c.split, condition: c.condition.flatMap(ACDCCondition.init(rawValue:)),
                                layout: DatasetLayout(rawValue: c.layout)!)
    }

    @Test func fixturesArePresent() {
        #expect(Self.allCases.count == 14)
    }

    @Test(arguments: allCases.filter { $0.samples != nil })
    func listsAndMapsLikeTheReference(_ c: DatasetCases.Case) throws {
        let root = DatasetCases.folder + "/" + c.root
        let listing = try reader(c).list()
        let expected = try #require(c.samples)
        #expect(listing.problems.isEmpty, "\(listing.problems)")
        #expect(listing.layout.rawValue == c.resolved)
        #expect(listing.samples.map(\.id) == expected.map(\.id))
        for (sample, want) in zip(listing.samples, expected) {
            #expect(sample.imagePath == root + "/" + want.image)
            #expect(sample.labelPath == root + "/" + want.label)
            #expect(sample.metadata.city == want.city)
            #expect(sample.metadata.condition?.rawValue == want.condition)
            #expect(sample.metadata.sequence == want.sequence)
            if let w = want.original_width, let h = want.original_height {
                #expect(sample.metadata.originalSize == ImageSize(width: w, height: h))
            } else {
                #expect(sample.metadata.originalSize == nil)
            }
            let (image, label) = try sample.load()
            #expect(label.width == want.width && label.height == want.height)
            #expect(image.width == want.width && image.height == want.height && image.channels == 3)
            #expect(label.pixels.map(Int.init) == want.train_ids, "\(sample.id)")
        }
        // A scan agrees with the per-sample planes.
        let scan = DatasetScanner.scan(listing.samples)
        #expect(scan.problems.isEmpty, "\(scan.problems)")
        var counts = [Int](repeating: 0, count: 256)
        for want in expected { for v in want.train_ids { counts[v] += 1 } }
        #expect(scan.classPixels == counts)
        #expect(scan.unknownValues.allSatisfy { $0 == 0 })
    }

    @Test func problemTreeReportsEveryKind() throws {
        let c = try #require(Self.allCases.first { $0.root == "problems_gta5" })
        let root = DatasetCases.folder + "/" + c.root
        let listing = try reader(c).list()
        #expect(listing.layout == .raw)
        #expect(listing.samples.map(\.id) == c.sample_ids)
        #expect(Set(listing.problems.map { DatasetCases.ExpectedProblem(file: $0.file, kind: $0.kind.rawValue) })
            == Set(c.problems.map { DatasetCases.ExpectedProblem(file: root + "/" + $0.file, kind: $0.kind) }))
        for problem in listing.problems {
            #expect(problem.description.hasPrefix(problem.file + ": "))
        }
        let scan = DatasetScanner.scan(listing.samples)
        let want = try #require(c.scan_problems)
        #expect(scan.problems.map { DatasetCases.ExpectedProblem(file: $0.file, kind: $0.kind.rawValue) }
            == want.map { DatasetCases.ExpectedProblem(file: root + "/" + $0.file, kind: $0.kind) })
        var unknown: [String: Int] = [:]
        for v in 0 ..< 256 where scan.unknownValues[v] > 0 { unknown[String(v)] = scan.unknownValues[v] }
        #expect(unknown == c.unknown_values)
        // Messages say what is wrong.
        let mismatch = try #require(scan.problems.first { $0.kind == .sizeMismatch })
        #expect(mismatch.message == "label is 32x14 but its image is 32x16")
        let values = try #require(scan.problems.first { $0.kind == .unknownLabelValues })
        #expect(values.message.contains("34 (3 px)") && values.message.contains("200 (2 px)"))
        #expect(scan.scannedSamples == 4)   // 00007's label is unreadable
    }

    @Test func loadingReportsAndResolvesSizeMismatch() throws {
        let reader = try GTA5Reader(root: DatasetCases.folder + "/problems_gta5")
        let sample = try #require(reader.list().samples.first { $0.id == "00002" })
        #expect(throws: DatasetProblem.self) { try sample.load() }
        do {
            _ = try sample.load()
        } catch {
            #expect(error.kind == .sizeMismatch && error.file == sample.labelPath)
        }
        let (image, label) = try sample.load(sizePolicy: .resizeLabel)
        #expect(label.width == image.width && label.height == image.height)
        let strictSample = try #require(reader.list().samples.first { $0.id == "00005" })
        #expect(throws: DatasetProblem.self) { try strictSample.loadLabel(strict: true) }
        let lenient = try strictSample.loadLabel()
        #expect(lenient.pixels[0] == 255 && lenient.pixels[32] == 255)
        let unreadable = try #require(reader.list().samples.first { $0.id == "00006" })
        #expect(throws: DatasetProblem.self) { try unreadable.loadImage() }
    }

    @Test func explicitLayoutOverridesAuto() throws {
        let converted = try CityscapesReader(root: DatasetCases.folder + "/cityscapes", split: "val").list()
        let raw = try CityscapesReader(root: DatasetCases.folder + "/cityscapes", split: "val", layout: .raw).list()
        #expect(converted.layout == .converted && raw.layout == .raw)
        #expect(converted.samples.first?.encoding == .trainIds)
        #expect(raw.samples.first?.encoding == .cityscapesLabelIds)
        #expect(try converted.samples.map { try $0.loadLabel() } == raw.samples.map { try $0.loadLabel() })
    }

    @Test func missingSplitFoldersAreReported() throws {
        let listing = try CityscapesReader(root: DatasetCases.folder + "/cityscapes", split: "train").list()
        #expect(listing.samples.isEmpty)
        #expect(listing.problems.map(\.kind) == [.missingFolder])
        #expect(listing.problems[0].file.hasSuffix("/leftImg8bit/train"))
        let acdc = try ACDCReader(root: DatasetCases.folder + "/acdc", split: "test").list()
        #expect(acdc.problems.count == 4 && acdc.problems.allSatisfy { $0.kind == .missingFolder })
    }

    @Test func badOptionsThrow() {
        #expect(throws: DatasetError.self) { try DatasetReaders.make(kind: .gta5, root: DatasetCases.folder + "/gta5", split: "val") }
        #expect(throws: DatasetError.self) { try DatasetReaders.make(kind: .cityscapes, root: "/nonexistent/root") }
        #expect(throws: DatasetError.self) {
            try DatasetReaders.make(kind: .cityscapes, root: DatasetCases.folder + "/cityscapes", layout: .half)
        }
        #expect(throws: DatasetError.self) {
            try DatasetReaders.make(kind: .bdd100k, root: DatasetCases.folder + "/bdd100k", condition: .fog)
        }
        #expect(throws: DatasetError.self) { try MapillaryReader(root: DatasetCases.folder + "/mapillary", split: "train", layout: .half) }
        #expect(throws: DatasetError.self) { try MapillaryReader(root: DatasetCases.folder + "/mapillary", split: "holdout") }
    }

    @Test func mapillaryConfigProblems() throws {
        let tmp = try TemporaryFolder("datasets")
        defer { tmp.remove() }
        let images = tmp.path + "/training/images", labels = tmp.path + "/training/v1.2/labels"
        try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: labels, withIntermediateDirectories: true)
        let missing = try MapillaryReader(root: tmp.path, layout: .raw).list()
        #expect(missing.problems.map(\.kind) == [.badConfig])
        #expect(missing.problems[0].file == tmp.path + "/config_v1.2.json")
        try Data("{\"labels\": [{\"name\": \"x\"}]}".utf8).write(to: URL(fileURLWithPath: tmp.path + "/config_v1.2.json"))
        let malformed = try MapillaryReader(root: tmp.path, layout: .raw).list()
        #expect(malformed.problems.map(\.kind) == [.badConfig])
        #expect(malformed.problems[0].message.contains("labels[0].readable"))
    }

    @Test func mapillaryV20ReadsItsOwnConfigAndFolder() throws {
        let tmp = try TemporaryFolder("datasets")
        defer { tmp.remove() }
        let fm = FileManager.default
        let src = DatasetCases.folder + "/mapillary"
        try fm.createDirectory(atPath: tmp.path + "/training/v2.0", withIntermediateDirectories: true)
        try fm.copyItem(atPath: src + "/training/images", toPath: tmp.path + "/training/images")
        try fm.copyItem(atPath: src + "/training/v1.2/labels", toPath: tmp.path + "/training/v2.0/labels")
        // A v2.0-style config whose first entries are renamed: index 13 (road in v1.2) becomes a
        // class the rule ignores, so the v2.0 mapping must come from this file, not from v1.2.
        var labels = MapillaryConfig.v12.labels
        labels[13] = MapillaryLabel(name: "construction--flat--road-shoulder", readable: "Road Shoulder",
                                    color: (0, 0, 0), instances: false, evaluate: true)
        try Data(MapillaryConfig(labels: labels).jsonText().utf8).write(to: URL(fileURLWithPath: tmp.path + "/config_v2.0.json"))
        let listing = try DatasetReaders.make(kind: .mapillary, root: tmp.path, layout: .raw, mapillaryVersion: "v2.0").list()
        #expect(listing.problems.isEmpty && listing.samples.count == 2)
        let sample = listing.samples[0]
        #expect(sample.encoding.name == "mapillary_v2.0_palette")
        #expect(sample.encoding.lut[13] == 255 && sample.encoding.lut[15] == 1)
        let raw = try sample.loadRawLabel(), mapped = try sample.loadLabel()
        for (r, m) in zip(raw.pixels, mapped.pixels) where r == 13 { #expect(m == 255) }
        #expect(throws: DatasetError.self) { try DatasetReaders.make(kind: .gta5, root: tmp.path, mapillaryVersion: "v2.0") }
    }

    @Test func headerSizesMatchDecodedSizes() throws {
        for c in Self.allCases {
            for s in c.samples ?? [] {
                let path = DatasetCases.folder + "/" + c.root + "/" + s.image
                let size = try ImageHeader.size(path).get()
                let decoded = try ImageFile.readRGB(path)
                #expect(size == ImageSize(width: decoded.width, height: decoded.height), "\(path)")
            }
        }
        guard case .failure(let p) = ImageHeader.size(DatasetCases.folder + "/problems_gta5/images/00006.png") else {
            Issue.record("truncated header accepted")
            return
        }
        #expect(p.kind == .unreadableFile)
    }
}
