// WeightErrorTests.swift — bad weight files fail with the tensor, the expected
// and the found shape named; bad pickles with the opcode named.

import CTCore
import Foundation
@testable import Model
import Tensor
import TestSupport
import Testing

@Suite struct WeightErrorTests {
    static func hubTensors() throws -> [String: Tensor] {
        try SafeTensors.read(fixtures.path("backbone/small/model.safetensors")).tensors
    }

    /// Loads `tensors` written as a safetensors file; returns the error.
    static func loadError(_ tensors: [String: Tensor]) throws -> WeightError? {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-bad-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("model.safetensors").path
        try SafeTensors.write(SafeTensorsFile(tensors: tensors), to: path)
        do {
            _ = try DINOv2Weights.load(path, options: WeightLoadOptions(heads: 2))
            return nil
        } catch { return error }
    }

    static func fixtureError(_ name: String) -> WeightError? {
        do {
            _ = try DINOv2Weights.load(fixtures.url("backbone/\(name)").path)
            return nil
        } catch { return error }
    }

    @Test func missingTensor() throws {
        var t = try Self.hubTensors()
        t["encoder.layer.1.attention.attention.key.weight"] = nil
        let error = try #require(try Self.loadError(t))
        #expect(error.tensor == "encoder.layer.1.attention.attention.key.weight")
        #expect(error.reason.contains("missing") && error.reason.contains("[16, 16]"), "\(error)")
    }

    @Test func misShapedTensor() throws {
        var t = try Self.hubTensors()
        t["encoder.layer.0.mlp.fc2.weight"] = Tensor(zeros: [16, 32])
        let error = try #require(try Self.loadError(t))
        #expect(error.tensor == "encoder.layer.0.mlp.fc2.weight")
        #expect(error.reason == "expected shape [16, 64], found [16, 32]", "\(error)")
    }

    @Test func misShapedPositionGrid() throws {
        var t = try Self.hubTensors()
        t["embeddings.position_embeddings"] = Tensor(zeros: [1, 12, 16])
        let error = try #require(try Self.loadError(t))
        #expect(error.tensor == "embeddings.position_embeddings")
        #expect(error.reason.contains("found [1, 12, 16]"), "\(error)")
    }

    @Test func extraTensor() throws {
        var t = try Self.hubTensors()
        t["encoder.layer.0.attention.attention.rotary.weight"] = Tensor(zeros: [4])
        let error = try #require(try Self.loadError(t))
        #expect(error.tensor == "encoder.layer.0.attention.attention.rotary.weight")
        #expect(error.reason.contains("unexpected") && error.reason.contains("[4]"), "\(error)")
    }

    @Test func misNamedTensor() throws {
        var t = try Self.hubTensors()
        t["layernorm.gamma"] = t.removeValue(forKey: "layernorm.weight")
        let error = try #require(try Self.loadError(t))
        #expect(error.tensor == "layernorm.weight" && error.reason.contains("missing"), "\(error)")
    }

    @Test func unsupportedPickleOpcode() throws {
        let error = try #require(Self.fixtureError("bad_opcode.pth"))
        #expect(error.description.contains("unsupported opcode INT 'I' (0x49)"), "\(error)")
    }

    @Test func picklesNeverCallArbitraryGlobals() throws {
        let error = try #require(Self.fixtureError("bad_global.pth"))
        #expect(error.description.contains("os.system") && error.description.contains("not a dict of tensors"), "\(error)")
    }

    @Test func legacyTorchFormat() throws {
        let error = try #require(Self.fixtureError("legacy_format.pth"))
        #expect(error.description.contains("legacy"), "\(error)")
    }

    @Test func notAWeightFile() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-bad-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let text = folder.appendingPathComponent("notes.pth").path
        try AtomicFile.write(text: "hello", to: text)
        #expect(throws: WeightError.self) { _ = try DINOv2Weights.load(text) }
        // A truncated archive: the central directory is gone.
        var bytes = try FileBytes.read(fixtures.path("backbone/small_official.pth"))
        bytes.removeLast(200)
        let truncated = folder.appendingPathComponent("cut.pth").path
        try AtomicFile.write(bytes, to: truncated)
        do {
            _ = try DINOv2Weights.load(truncated)
            Issue.record("a truncated archive loaded")
        } catch {
            #expect(error.description.contains("zip archive"), "\(error)")
        }
        #expect(throws: WeightError(path: folder.path + "/none.pth", reason: "file not found")) {
            _ = try DINOv2Weights.load(folder.path + "/none.pth")
        }
    }
}
