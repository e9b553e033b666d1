// NonRegularWeightFileTests.swift — a FIFO given as weights, as a checkpoint
// (or training state: all are mapped), or as the config.json beside HF
// weights is refused by name without blocking; an oversized config.json too.

import CTCore
import Foundation
@testable import Model
import TestSupport
import Testing

@Suite struct NonRegularWeightFileTests {
    @Test func aFIFOAsAWeightFileIsRefusedPromptlyByName() throws {
        let fifo = try FIFO(named: "model.safetensors")
        defer { fifo.remove() }
        let path = fifo.path, expected = "\(path): \(RegularFile.notRegularReason)"
        let readers: [(String, @Sendable () throws -> Void)] = [
            ("MappedFile", { _ = try MappedFile(path: path) }),
            ("DINOv2Weights.load", { _ = try DINOv2Weights.load(path) }),
            ("SafeTensors.read", { _ = try SafeTensors.read(path) }),
            ("SegmentationCheckpoint.load", { _ = try SegmentationCheckpoint.load(path) }),
            ("TorchCheckpoint.read", { _ = try TorchCheckpoint.read(path) }),
        ]
        for (name, read) in readers {
            let failure = fifo.failure(read)
            #expect(failure == expected, "\(name) blocked (nil) or said otherwise: \(failure ?? "nil")")
        }
    }

    /// HF-named weights (heads not given) copied into a folder whose config.json is `make`'s.
    static func loadBesideConfig(_ make: (String) throws -> Void) throws -> (config: String, failure: String?) {
        let folder = try TemporaryFolder("hf-config")
        defer { folder.remove() }
        let weights = folder.path + "/model.safetensors"
        try FileManager.default.copyItem(atPath: fixtures.path("backbone/small/model.safetensors"), toPath: weights)
        let config = folder.path + "/config.json"
        try make(config)
        do {
            _ = try DINOv2Weights.load(weights)
            return (config, nil)
        } catch { return (config, "\(error)") }
    }

    @Test func aFIFOAsTheConfigBesideHFWeightsIsRefusedPromptly() throws {
        let folder = try TemporaryFolder("hf-config")
        defer { folder.remove() }
        let weights = folder.path + "/model.safetensors"
        try FileManager.default.copyItem(atPath: fixtures.path("backbone/small/model.safetensors"), toPath: weights)
        let fifo = try FIFO(named: "config.json", in: folder)
        let failure = try #require(fifo.failure { _ = try DINOv2Weights.load(weights) }, "the config.json FIFO blocked")
        #expect(failure.hasPrefix("\(fifo.path): \(RegularFile.notRegularReason)"), "\(failure)")
    }

    @Test func anOversizedConfigBesideHFWeightsIsRefused() throws {
        let (config, failure) = try Self.loadBesideConfig { path in
            try AtomicFile.write([UInt8](repeating: UInt8(ascii: " "), count: DINOv2Weights.huggingFaceConfigLimit + 1), to: path)
        }
        #expect(failure?.hasPrefix("\(config): is \(DINOv2Weights.huggingFaceConfigLimit + 1) bytes") == true, "\(failure ?? "loaded")")
    }

    @Test func theConfigBesideHFWeightsStillGivesTheHeads() throws {
        let (_, failure) = try Self.loadBesideConfig { path in
            try FileManager.default.copyItem(atPath: fixtures.path("backbone/small/config.json"), toPath: path)
        }
        #expect(failure == nil)
    }
}
