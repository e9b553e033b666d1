// WeightFormatTests.swift — the same weights through every supported file format.
//
// small/model.safetensors (HF hub names), small_official.pth (torch.save of the
// state dict under facebookresearch names), small_mmseg.pth (MMSegmentation
// checkpoint: `state_dict` with `backbone.` names in float16, adapter and head
// tensors alongside, numpy objects in `meta`), and ctpipe safetensors written here.

import CTCore
import Foundation
@testable import Model
import Tensor
import TestSupport
import Testing

@Suite struct WeightFormatTests {
    static func path(_ name: String) -> String { fixtures.url("backbone/\(name)").path }

    static func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-weights-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func finalFeatures(_ model: DINOv2) throws -> [Float] {
        let image = try fixtures.floatArray("backbone/small_28x42_input.npy").values
        let a = try model.makeActivations(height: 28, width: 42, threads: 2)
        return try image.withUnsafeBufferPointer { try model.features($0, a, at: .finalNorm) }.storage
    }

    @Test func officialPthEqualsHuggingFace() throws {
        let hf = try DINOv2Weights.load(Self.path("small/model.safetensors"))
        let official = try DINOv2Weights.load(Self.path("small_official.pth"), options: WeightLoadOptions(heads: 2))
        #expect(official.kind == .officialPth)
        #expect(official.model.config == hf.model.config)
        let a = DINOv2Weights.officialStateDict(hf.model), b = DINOv2Weights.officialStateDict(official.model)
        #expect(a.keys.sorted() == b.keys.sorted())
        for (name, t) in a { #expect(b[name] == t, "\(name) differs between the .pth and the safetensors file") }
        expectClose(try Self.finalFeatures(official.model), try fixtures.floatArray("backbone/small_28x42_final.npy").values,
                    "official .pth forward")
    }

    @Test func headsComeFromConfigJSONOrTheWidthRule() throws {
        #expect(try DINOv2Weights.load(Self.path("small/model.safetensors")).model.config.heads == 2)   // config.json
        #expect(try DINOv2Weights.load(Self.path("small_official.pth")).model.config.heads == 1)         // 16 / 64 -> 1
    }

    @Test func mmsegFloat16Checkpoint() throws {
        let hf = try DINOv2Weights.load(Self.path("small/model.safetensors")).model
        let mmseg = try DINOv2Weights.load(Self.path("small_mmseg.pth"), options: WeightLoadOptions(heads: 2))
        #expect(mmseg.kind == .mmsegPth)
        let a = DINOv2Weights.officialStateDict(hf), b = DINOv2Weights.officialStateDict(mmseg.model)
        #expect(a.keys.sorted() == b.keys.sorted())
        for (name, t) in a {
            // float16 keeps 11 significant bits: relative rounding <= 2^-11 (normals).
            let worst = zip(t.storage, b[name]!.storage).map { abs($0 - $1) / max(abs($0), 6.2e-5) }.max() ?? 0
            #expect(worst <= 4.9e-4, "\(name): float16 upcast off by \(worst)")
        }
        expectClose(try Self.finalFeatures(mmseg.model), try fixtures.floatArray("backbone/small_28x42_final.npy").values,
                    tolerance: 0.1, "float16 weights forward (sanity; the weights are checked above)")
    }

    @Test func mmsegContainerIsFound() throws {
        let contents = try TorchCheckpoint.read(Self.path("small_mmseg.pth"))
        #expect(contents.container == "state_dict")
        #expect(contents.tensors["decode_head.conv_seg.weight"]?.shape == [19, 16, 1, 1])
        #expect(contents.tensors["backbone.reins.scale"]?.shape == [])
    }

    @Test func ctpipeSafetensorsRoundTrip() throws {
        let hf = try DINOv2Weights.load(Self.path("reg/model.safetensors")).model
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("ckpt.safetensors").path
        var file = DINOv2Weights.ctpipeFile(hf)
        // Adapter and head tensors share the file; the backbone loader leaves them alone.
        file.tensors["backbone.reins.scale"] = Tensor(shape: [1], storage: [1e-3])
        file.tensors["decode_head.linear.weight"] = Tensor(zeros: [19, 64])
        try SafeTensors.write(file, to: out)
        let loaded = try DINOv2Weights.load(out)   // no config.json here: heads from the metadata
        #expect(loaded.kind == .ctpipeSafetensors)
        #expect(loaded.model.config == hf.config)
        let a = DINOv2Weights.officialStateDict(hf), b = DINOv2Weights.officialStateDict(loaded.model)
        for (name, t) in a { #expect(b[name] == t, "\(name)") }
    }

    /// A converted backbone file whose `ctpipe.config` carries a key this version does not know
    /// (in the backbone configuration, or beside it) is refused, naming the key.
    @Test(arguments: [("backbone", "backbone.window_size"), ("", "window_size")])
    func aBackboneFileSettingThisVersionDoesNotKnowIsRefusedByName(_ level: String, _ named: String) throws {
        let model = try DINOv2Weights.load(Self.path("reg/model.safetensors")).model
        var file = DINOv2Weights.ctpipeFile(model)
        let json = try #require(file.metadata[DINOv2Weights.configKey])
        var object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        if level.isEmpty {
            object["window_size"] = 7
        } else {
            var backbone = try #require(object[level] as? [String: Any])
            backbone["window_size"] = 7
            object[level] = backbone
        }
        file.metadata[DINOv2Weights.configKey] = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("backbone.safetensors").path
        try SafeTensors.write(file, to: out)
        #expect { try DINOv2Weights.load(out) } throws: {
            "\($0)".contains("has the setting '\(named)', which this ctpipe does not know")
        }
        // The file as written is read.
        file.metadata[DINOv2Weights.configKey] = json
        try SafeTensors.write(file, to: out)
        #expect(try DINOv2Weights.load(out).model.config == model.config)
    }

    @Test func patchSizeConversionKeepsClsAndBias() throws {
        let model = try DINOv2Weights.load(Self.path("small/model.safetensors")).model
        let converted = PatchSizeConversion.convert(model, patchSize: 16, gridSize: 4)
        #expect(converted.config.patchSize == 16 && converted.config.gridSize == 4)
        #expect(converted.patchEmbed.weight.shape == [16, 3, 16, 16])
        #expect(converted.patchEmbed.bias == model.patchEmbed.bias)
        #expect(converted.posEmbed.shape == [1, 17, 16])
        #expect(Array(converted.posEmbed.storage[0 ..< 16]) == Array(model.posEmbed.storage[0 ..< 16]))
        // Runs at 32 x 64 (grid 2 x 4) and round-trips through a ctpipe file.
        let a = try converted.makeActivations(height: 32, width: 64, threads: 2)
        let image = [Float](repeating: 0.5, count: 3 * 32 * 64)
        let features = try image.withUnsafeBufferPointer { try converted.features($0, a, at: .finalNorm) }
        #expect(features.shape == [9, 16])
        #expect(features.storage.allSatisfy { $0.isFinite })
    }
}
