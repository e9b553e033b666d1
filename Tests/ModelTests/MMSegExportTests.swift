// MMSegExportTests.swift — the MMSegmentation .pth writer (TorchCheckpointWriter,
// PickleWriter, ZipWriter, Mask2FormerModel.writeMMSegCheckpoint): a file
// torch.save wrote (scripts/make_mmseg_export_fixtures.py) read by ctpipe's
// reader, re-written by ctpipe's writer and read again must give torch's names,
// shapes and values; a random Mask2Former model exported and loaded back must
// give its tensors bit for bit. (The script's --check mode torch.loads what
// the writer produces; see docs/mask2former.md.)

import CTCore
import Foundation
@testable import Model
import Tensor
import TestSupport
import Testing

@Suite struct MMSegExportTests {
    static let folder = "mmseg_export/"

    struct Expected: Decodable {
        struct Entry: Decodable { let name: String; let shape: [Int]; let values: [Double] }
        let tensors: [Entry]
        let classes: [String]
        let iter: Int
    }

    /// Every tensor of a checkpoint (adapter, head, backbone), by name.
    static func all(_ file: MMSegCheckpoint) -> [String: Tensor] {
        file.adapter.merging(file.head) { a, _ in a }.merging(file.backbone) { a, _ in a }
    }

    static func expectMatches(_ tensors: [String: Tensor], _ expected: Expected, _ what: String) {
        #expect(Set(tensors.keys) == Set(expected.tensors.map(\.name)), "\(what): names")
        for entry in expected.tensors {
            guard let t = tensors[entry.name] else { continue }
            #expect(t.shape == entry.shape, "\(what): \(entry.name) shape")
            // Exact: the values are float32 numbers, written and read without arithmetic.
            #expect(t.storage.map(\.bitPattern) == entry.values.map { Float($0).bitPattern }, "\(what): \(entry.name) values")
        }
    }

    @Test func torchSavedFileAndOurRewriteAgree() throws {
        let expected = try fixtures.decode(Expected.self, from: Self.folder + "expected.json")
        let torchFile = try MMSegCheckpoint.read(fixtures.path(Self.folder + "torch_saved.pth"))
        Self.expectMatches(Self.all(torchFile), expected, "torch.save's file")
        #expect(torchFile.classes == expected.classes && torchFile.meta["iter"] == String(expected.iter))

        // Our writer, the same tensors in torch's order, the same meta.
        let tmp = try TemporaryFolder("mmseg-export")
        defer { tmp.remove() }
        let ordered = expected.tensors.map { (name: $0.name, tensor: Self.all(torchFile)[$0.name]!) }
        let meta: [(String, PickleOutput)] = [("iter", .int(expected.iter)),
                                              ("dataset_meta", .dict([("classes", .tuple(expected.classes.map { .string($0) }))]))]
        try TorchCheckpointWriter.write(stateDict: ordered, meta: meta, to: tmp.path + "/ours.pth")
        let ours = try MMSegCheckpoint.read(tmp.path + "/ours.pth")
        Self.expectMatches(Self.all(ours), expected, "ctpipe's file")
        #expect(ours.classes == expected.classes && ours.meta["iter"] == String(expected.iter))
        #expect(ours.container == "state_dict" && ours.other == ["meta"])

        // The archive's records: torch's (its random serialization id aside), data 64-byte aligned in both.
        func records(_ path: String) throws -> (names: Set<String>, unaligned: [String]) {
            let bytes = try FileBytes.read(path)
            return try bytes.withUnsafeBytes { raw in
                let entries = try ZipArchive(raw, path: path).entries.values
                let names = Set(entries.map { String($0.name.drop { $0 != "/" }.dropFirst()) })
                return (names, entries.filter { $0.offset % 64 != 0 }.map(\.name))
            }
        }
        let theirs = try records(fixtures.path(Self.folder + "torch_saved.pth")), mine = try records(tmp.path + "/ours.pth")
        #expect(mine.names == theirs.names.subtracting([".data/serialization_id"]))
        #expect(theirs.unaligned.isEmpty && mine.unaligned.isEmpty)
    }

    /// A random model at the whole-model fixture's sizes.
    static func randomModel(seed: UInt64 = 9) throws -> Mask2FormerModel {
        let loaded = try Mask2FormerModelTests.load()
        return try Mask2FormerModel.random(config: loaded.config, backbone: loaded.backbone, seed: seed)
    }

    @Test func randomModelRoundTripsThroughTheMMSegFile() throws {
        let model = try Self.randomModel()
        let tmp = try TemporaryFolder("mmseg-export")
        defer { tmp.remove() }
        let path = tmp.path + "/model.pth"
        try model.writeMMSegCheckpoint(to: path)
        let expected = model.stateDict()

        let file = try MMSegCheckpoint.read(path)
        #expect(file.backbone.isEmpty && file.skipped.isEmpty)
        let written = Self.all(file)
        #expect(Set(written.keys) == Set(expected.keys.filter { !SegmentationModel.isBackboneParameter($0) }))
        for (name, tensor) in written { #expect(tensor == expected[name], "\(name)") }
        #expect(file.meta.isEmpty)   // meta holds only the dict `ctpipe` (not a plain scalar)
        #expect(file.other == ["meta"])

        let loaded = try Mask2FormerModel.load(checkpoint: path, weights: fixtures.path(Mask2FormerModelTests.folder + "dinov2.pth"),
                                               adapter: .rein, options: try Mask2FormerModelTests.options())
        #expect(loaded.config == model.config)
        #expect(loaded.stateDict() == expected)

        // With the backbone: the file alone rebuilds the model.
        try model.writeMMSegCheckpoint(to: path, includeBackbone: true)
        let whole = try MMSegCheckpoint.read(path)
        #expect(!whole.backbone.isEmpty)
        let alone = try Mask2FormerModel.load(checkpoint: path, weights: nil, adapter: .rein, options: try Mask2FormerModelTests.options())
        #expect(alone.stateDict() == expected)
        let order = model.mmsegStateDict(includeBackbone: true).map(\.name)
        #expect(order.first == "backbone.cls_token" && SegmentationModel.isBackboneParameter(order.first!))
        #expect(order.firstIndex { $0.hasPrefix("backbone.reins.") }! < order.firstIndex { $0.hasPrefix("decode_head.") }!)
    }

    @Test func metaCarriesTheClassesAndPalette() throws {
        let model = try Self.randomModel()
        let tmp = try TemporaryFolder("mmseg-export")
        defer { tmp.remove() }
        try model.writeMMSegCheckpoint(to: tmp.path + "/m.pth",
                                       meta: model.mmsegMeta(classes: ["road", "car", "sky"], palette: [[1, 2, 3], [4, 5, 6], [7, 8, 9]]))
        #expect(try MMSegCheckpoint.read(tmp.path + "/m.pth").classes == ["road", "car", "sky"])
    }

    @Test func zip64RecordsRoundTrip() throws {
        // Every offset written as zip64 (the path a > 4 GiB file with its backbone takes).
        let model = try Self.randomModel()
        let tensors = model.mmsegStateDict()
        let bytes = try TorchCheckpointWriter.encode(stateDict: tensors, meta: [], path: "zip64.pth", zip: ZipWriter(zip64Threshold: 0))
        let file = try bytes.withUnsafeBytes { try MMSegCheckpoint.parse($0, path: "zip64.pth") }
        let read = Self.all(file)
        #expect(read.count == tensors.count)
        for (name, tensor) in tensors { #expect(read[name] == tensor, "\(name)") }
        // The zip64 end record is there (its signature), and the plain writer leaves it out.
        let signature: [UInt8] = [0x50, 0x4B, 0x06, 0x06]
        func has(_ b: [UInt8]) -> Bool { (0 ..< b.count - 3).contains { Array(b[$0 ..< $0 + 4]) == signature } }
        #expect(has(bytes))
        #expect(!has(try TorchCheckpointWriter.encode(stateDict: tensors, meta: [], path: "plain.pth")))
    }

    @Test func writerRefusesTwiceNamedTensorsAndUnwritablePaths() throws {
        let t = Tensor(shape: [2], storage: [1, 2])
        #expect(throws: WeightError.self) {
            _ = try TorchCheckpointWriter.encode(stateDict: [("decode_head.a", t), ("decode_head.a", t)], meta: [], path: "x.pth")
        }
        let tmp = try TemporaryFolder("mmseg-export")
        defer { tmp.remove() }
        try AtomicFile.write([1], to: tmp.path + "/file")
        do {
            try TorchCheckpointWriter.write(stateDict: [("decode_head.a", t)], meta: [], to: tmp.path + "/file/x.pth")
            Issue.record("writing under a regular file succeeded")
        } catch {
            #expect(error.path.contains("file"))
        }
    }

    @Test func pickleIntegersTakePythonsOpcodes() {
        func bytes(_ i: Int) -> [UInt8] { var out: [UInt8] = []; PickleWriter.int(i, into: &out); return out }
        #expect(bytes(7) == [0x4B, 7])
        #expect(bytes(300) == [0x4D, 0x2C, 0x01])
        #expect(bytes(-1) == [0x4A, 0xFF, 0xFF, 0xFF, 0xFF])
        #expect(bytes(1 << 40) == [0x8A, 6, 0, 0, 0, 0, 0, 1])
        #expect(bytes(-(1 << 40)) == [0x8A, 6, 0, 0, 0, 0, 0, 0xFF])
        // Read back by ctpipe's unpickler.
        for value in [0, 255, 256, 65535, 65536, -5, Int(Int32.max), Int(Int32.max) + 1, 1 << 40, -(1 << 40), Int.max, Int.min] {
            let pickle = PickleWriter.encode(.tuple([.int(value)]))
            let read = pickle.withUnsafeBytes { raw in try? TorchCheckpoint.load(pickle: raw, path: "p").0 }
            guard case .tuple(let items)? = read, case .int(let v)? = items.first else {
                Issue.record("\(value) did not read back"); continue
            }
            #expect(v == value)
        }
    }
}
