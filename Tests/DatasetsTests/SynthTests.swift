// SynthTests.swift — the generator writes trees every reader accepts, in both
// layouts, consistently encoded; scenes cover all 19 classes; output is
// deterministic per seed and independent of thread scheduling.

import CTCore
import Foundation
import ImageIO
import TestSupport
import Testing

@testable import Datasets

@Suite struct SynthTests {
    func synth(_ kind: DatasetKind, _ root: String, count: Int = 3, seed: UInt64 = 5, split: String = "train",
               rawOnly: Bool = false, size: ImageSize = ImageSize(width: 64, height: 32)) throws -> SynthSummary {
        var o = SynthOptions(dataset: kind, root: root)
        o.count = count
        o.seed = seed
        o.split = split
        o.rawOnly = rawOnly
        o.size = size
        return try SyntheticDataset.write(o)
    }

    @Test(arguments: DatasetKind.allCases)
    func readersAcceptSynthesizedTrees(_ kind: DatasetKind) throws {
        let tmp = try TemporaryFolder("datasets")
        defer { tmp.remove() }
        let split = kind == .mapillary ? "val" : "train"
        let summary = try synth(kind, tmp.path, split: split)
        let images = kind == .acdc ? 12 : 3
        #expect(summary.images == images)
        let auto = try DatasetReaders.make(kind: kind, root: tmp.path, split: kind == .gta5 ? nil : split).list()
        #expect(auto.problems.isEmpty, "\(auto.problems)")
        #expect(auto.samples.count == images)
        let expectedLayout: DatasetLayout = switch kind {
        case .bdd100k: .raw
        case .mapillary: .half
        default: .converted
        }
        #expect(auto.layout == expectedLayout)
        let raw = try DatasetReaders.make(kind: kind, root: tmp.path, split: kind == .gta5 ? nil : split, layout: .raw).list()
        #expect(raw.problems.isEmpty && raw.samples.count == images)
        let scan = DatasetScanner.scan(raw.samples, decodeImages: true)
        #expect(scan.problems.isEmpty, "\(scan.problems)")
        #expect(scan.unknownValues.allSatisfy { $0 == 0 })
        // Raw labels mapped through their encoding equal the converted trainId files.
        if kind != .bdd100k {
            let converted = try DatasetReaders.make(kind: kind, root: tmp.path, split: kind == .gta5 ? nil : split,
                                                    layout: .converted).list()
            #expect(converted.samples.map(\.id) == raw.samples.map(\.id))
            for (a, b) in zip(raw.samples, converted.samples) { #expect(try a.loadLabel() == b.loadLabel(), "\(a.id)") }
        }
        if kind == .acdc { #expect(Set(raw.samples.compactMap(\.metadata.condition)) == Set(ACDCCondition.allCases)) }
        if kind == .cityscapes { #expect(raw.samples.allSatisfy { $0.metadata.city != nil }) }
        if kind == .mapillary { #expect(raw.samples.allSatisfy { $0.metadata.originalSize != nil }) }
    }

    @Test func rawOnlyTreesAreReadRaw() throws {
        let tmp = try TemporaryFolder("datasets")
        defer { tmp.remove() }
        _ = try synth(.gta5, tmp.path + "/gta", rawOnly: true)
        _ = try synth(.cityscapes, tmp.path + "/cs", rawOnly: true)
        _ = try synth(.mapillary, tmp.path + "/map", split: "train", rawOnly: true)
        #expect(try GTA5Reader(root: tmp.path + "/gta").list().layout == .raw)
        #expect(try CityscapesReader(root: tmp.path + "/cs").list().layout == .raw)
        let map = try MapillaryReader(root: tmp.path + "/map").list()
        #expect(map.layout == .raw && map.samples.count == 3 && map.problems.isEmpty)
        let gtaLabel = try PNG.info(ImageFile.bytes(try GTA5Reader(root: tmp.path + "/gta").list().samples[0].labelPath), path: "")
        #expect(gtaLabel.colorType == .palette && gtaLabel.paletteSize == 256)
        #expect(Array(gtaLabel.palette[21 ..< 24]) == [128, 64, 128])   // labelId 7 (road) has the road colour
    }

    @Test func allNineteenClassesOccurInTwentyScenes() {
        for style: SceneStyle in [.game, .camera, .phone] {
            var seen = Set<UInt8>()
            for i in 0 ..< 20 { seen.formUnion(SceneRenderer.render(seed: 11, index: i, width: 192, height: 96, style: style).trainIds.pixels) }
            #expect(seen.isSuperset(of: (0 ... 18).map(UInt8.init)), "\(style): missing \(Set((0 ... 18).map(UInt8.init)).subtracting(seen).sorted())")
        }
    }

    @Test func renderingIsDeterministicPerSeed() {
        let a = SceneRenderer.render(seed: 3, index: 4, width: 96, height: 48, style: .adverse(.snow))
        let b = SceneRenderer.render(seed: 3, index: 4, width: 96, height: 48, style: .adverse(.snow))
        let c = SceneRenderer.render(seed: 4, index: 4, width: 96, height: 48, style: .adverse(.snow))
        #expect(a.image == b.image && a.classes == b.classes)
        #expect(a.image != c.image)
    }

    @Test func stylesDiffer() {
        // Same scene, different condition: labels equal, pixels differ; night is darker, fog is flatter.
        let render = { (style: SceneStyle) in SceneRenderer.render(seed: 9, index: 1, width: 96, height: 48, style: style) }
        let fog = render(.adverse(.fog)), night = render(.adverse(.night)), snow = render(.adverse(.snow)), rain = render(.adverse(.rain))
        #expect(fog.classes == night.classes && fog.classes == snow.classes && fog.classes == rain.classes)
        func mean(_ image: Image8) -> Double { Double(image.pixels.reduce(0) { $0 + Int($1) }) / Double(image.pixels.count) }
        func spread(_ image: Image8) -> Double {
            let m = mean(image)
            return (image.pixels.reduce(0.0) { $0 + (Double($1) - m) * (Double($1) - m) } / Double(image.pixels.count)).squareRoot()
        }
        func saturation(_ image: Image8) -> Double {
            var total = 0
            for i in stride(from: 0, to: image.pixels.count, by: 3) {
                let p = image.pixels[i ..< i + 3]
                total += Int(p.max()!) - Int(p.min()!)
            }
            return Double(total) / Double(image.pixels.count / 3)
        }
        #expect(mean(night.image) < mean(fog.image) * 0.5)
        // Over a few scenes: the game look is more saturated than the automotive camera's,
        // and fog has less contrast than the game look.
        var game = 0.0, camera = 0.0, gameSpread = 0.0, fogSpread = 0.0
        for i in 0 ..< 4 {
            let g = SceneRenderer.render(seed: 2, index: i, width: 96, height: 48, style: .game).image
            game += saturation(g)
            gameSpread += spread(g)
            camera += saturation(SceneRenderer.render(seed: 2, index: i, width: 96, height: 48, style: .camera).image)
            fogSpread += spread(SceneRenderer.render(seed: 2, index: i, width: 96, height: 48, style: .adverse(.fog)).image)
        }
        #expect(game > camera * 1.5)
        #expect(fogSpread < gameSpread * 0.8)
    }

    @Test func writtenFilesAreIdenticalPerSeed() throws {
        let tmp = try TemporaryFolder("datasets")
        defer { tmp.remove() }
        for kind in [DatasetKind.bdd100k, .mapillary] {
            _ = try synth(kind, tmp.path + "/a-\(kind)", count: 4, seed: 1)
            _ = try synth(kind, tmp.path + "/b-\(kind)", count: 4, seed: 1)
            _ = try synth(kind, tmp.path + "/c-\(kind)", count: 4, seed: 2)
            let files = try #require(FileTree.files(under: tmp.path + "/a-\(kind)"))
            #expect(files == FileTree.files(under: tmp.path + "/b-\(kind)"))
            #expect(files != FileTree.files(under: tmp.path + "/c-\(kind)"))   // names derive from the seed
            for f in files {
                let a = try Data(contentsOf: URL(fileURLWithPath: tmp.path + "/a-\(kind)/" + f))
                let b = try Data(contentsOf: URL(fileURLWithPath: tmp.path + "/b-\(kind)/" + f))
                #expect(a == b, "\(f)")
            }
        }
    }

    @Test func parallelScanEqualsSequentialSum() throws {
        let tmp = try TemporaryFolder("datasets")
        defer { tmp.remove() }
        _ = try synth(.gta5, tmp.path, count: 9)
        let samples = try GTA5Reader(root: tmp.path).list().samples
        let scan = DatasetScanner.scan(samples)
        var counts = [Int](repeating: 0, count: 256)
        for s in samples { for v in try s.loadLabel().pixels { counts[Int(v)] += 1 } }
        #expect(scan.classPixels == counts)
        #expect(counts.reduce(0, +) == 9 * 64 * 32)
    }

    @Test func rejectsBadOptions() {
        var o = SynthOptions(dataset: .mapillary, root: "/tmp/unused")
        o.split = "holdout"
        #expect(throws: DatasetError.self) { try SyntheticDataset.write(o) }
        o = SynthOptions(dataset: .gta5, root: "/tmp/unused")
        o.count = 0
        #expect(throws: DatasetError.self) { try SyntheticDataset.write(o) }
    }

    @Test func splitMixMatchesReferenceValues() {
        // Reference outputs of SplitMix64 seeded with 1234567 (Vigna's splitmix64.c).
        var r = SplitMix64(seed: 1_234_567)
        #expect(r.next() == 6_457_827_717_110_365_317)
        #expect(r.next() == 3_203_168_211_198_807_973)
    }
}
