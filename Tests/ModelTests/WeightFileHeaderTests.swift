// WeightFileHeaderTests.swift — a weight file's tensor shapes and metadata read
// from its header alone (safetensors header, a .pth's data.pkl), and the DINOv2
// patch size found there: the same as the full reader's, in every format, without
// touching a storage.

import CTCore
import Foundation
@testable import Model
import Tensor
import TestSupport
import Testing

@Suite struct WeightFileHeaderTests {
    static func scratch(_ name: String) throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-header-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder + "/" + name
    }

    /// The patch size of every backbone fixture, from the header, equals the full reader's.
    @Test(arguments: ["backbone/small/model.safetensors", "backbone/reg/model.safetensors", "backbone/small_official.pth",
                      "backbone/small_mmseg.pth", "mask2former_model/dinov2.pth"])
    func headerPatchSizeEqualsTheLoadedModels(_ name: String) throws {
        let path = fixtures.path(name)
        let found = try #require(DINOv2Weights.patchSize(in: try WeightFileHeader.read(path)))
        #expect(found.patchSize == (try DINOv2Weights.load(path)).model.config.patchSize)
        #expect(found.tensor.hasSuffix(name.hasSuffix(".safetensors") ? "embeddings.patch_embeddings.projection.weight" : "patch_embed.proj.weight"))
    }

    @Test func aCheckpointWithoutBackboneTensorsHasNoPatchSize() throws {
        let header = try WeightFileHeader.read(fixtures.path("mask2former_model/checkpoint.pth"))
        #expect(header.shapes.keys.contains { $0.hasPrefix("backbone.reins.") })
        #expect(DINOv2Weights.patchSize(in: header) == nil)
    }

    /// A converted ctpipe file (prefix `backbone.`, metadata) at patch 16: shapes and metadata from the header.
    @Test func ctpipeSafetensorsHeader() throws {
        let config = DINOv2Config(embedDim: 8, depth: 1, heads: 2, patchSize: 16, registers: 0, gridSize: 2, ffnHidden: 16)
        let path = try Self.scratch("converted.safetensors")
        try SafeTensors.write(DINOv2Weights.ctpipeFile(DINOv2.randomlyInitialised(config: config, seed: 1)), to: path)
        let header = try WeightFileHeader.read(path)
        #expect(header.shapes["backbone.patch_embed.proj.weight"] == [8, 3, 16, 16])
        #expect(header.shapes["backbone.pos_embed"] == [1, 5, 8])
        #expect(header.metadata[DINOv2Weights.configKey] == (try SafeTensors.metadata(path))[DINOv2Weights.configKey])
        let found = try #require(DINOv2Weights.patchSize(in: header))
        #expect(found.patchSize == 16 && found.tensor == "backbone.patch_embed.proj.weight")
    }

    /// Only data.pkl is read: a .pth whose storage is damaged (wrong CRC-32) or missing still gives its shapes,
    /// where the full reader refuses it.
    @Test func aPthHeaderReadsNoStorage() throws {
        var pickle: [UInt8] = [0x80, 0x02, 0x7D, 0x28] + HostileInputTests.string("patch_embed.proj.weight")
        pickle += [0x63] + Array("torch._utils\n_rebuild_tensor_v2\n".utf8)
        pickle += [0x28, 0x28] + HostileInputTests.string("storage") + [0x63] + Array("torch\nFloatStorage\n".utf8)
        pickle += HostileInputTests.string("0") + HostileInputTests.string("cpu") + HostileInputTests.int(4 * 3 * 14 * 14) + [0x74, 0x51]
        pickle += HostileInputTests.int(0)
        pickle += [0x28] + [4, 3, 14, 14].flatMap(HostileInputTests.int) + [0x74]
        pickle += [0x28] + [588, 196, 14, 1].flatMap(HostileInputTests.int) + [0x74]
        pickle += [0x74, 0x52, 0x75, 0x2E]
        let damaged = Zip64Tests.zip64([("archive/data.pkl", pickle), ("archive/byteorder", Array("little".utf8)),
                                        ("archive/data/0", [UInt8](repeating: 0, count: 4 * 588 * 4))],
                                       crcs: ["archive/data/0": 12345])
        let missing = Zip64Tests.zip64([("archive/data.pkl", pickle), ("archive/byteorder", Array("little".utf8))])
        for (name, bytes) in [("damaged.pth", damaged), ("missing.pth", missing)] {
            let path = try Self.scratch(name)
            try AtomicFile.write(bytes, to: path)
            #expect(throws: WeightError.self, "the full reader refuses \(name)") { try TorchCheckpoint.read(path) }
            let header = try WeightFileHeader.read(path)
            #expect(header.shapes == ["patch_embed.proj.weight": [4, 3, 14, 14]] && header.metadata.isEmpty)
            #expect(DINOv2Weights.patchSize(in: header)?.patchSize == 14)
        }
    }

    @Test func filesThatAreNotWeightsAreRefusedWithoutBlocking() throws {
        let text = try Self.scratch("notes.txt")
        try AtomicFile.write(text: "not weights", to: text)
        #expect { try WeightFileHeader.read(text) } throws: { "\($0)".contains("not a PyTorch checkpoint") }
        let fifo = try Self.scratch("fifo.pth")
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect { try WeightFileHeader.read(fifo) } throws: { "\($0)".contains("not a regular file") }
        #expect { try WeightFileHeader.read(fifo + ".absent") } throws: { "\($0)".contains("file not found") }
    }

    /// A kernel that is not [C, 3, p, p] gives no patch size (the full reader names the tensor).
    @Test func aMisshapenKernelGivesNoPatchSize() {
        #expect(DINOv2Weights.patchSize(in: WeightFileHeader(shapes: ["patch_embed.proj.weight": [8, 3, 14, 16]])) == nil)
        #expect(DINOv2Weights.patchSize(in: WeightFileHeader(shapes: ["patch_embed.proj.weight": [8, 1, 14, 14]])) == nil)
        #expect(DINOv2Weights.patchSize(in: WeightFileHeader(shapes: ["dinov2.patch_embed.proj.weight": [8, 3, 14, 14]]))?.tensor
            == "dinov2.patch_embed.proj.weight")
    }
}
