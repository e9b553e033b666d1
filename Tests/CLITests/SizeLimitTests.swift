// SizeLimitTests.swift — size and count arguments beyond the documented limits are
// usage errors (exit 64, the option named) before any work, not allocation failures.

import Foundation
import Testing

@Suite struct SizeLimitTests {
    @Test(arguments: [
        (["features", "--weights", "/nonexistent.pth", "--image", "/nonexistent.png", "--out", "/tmp/x.npy", "--size", "99999999999x14"], "--size"),
        (["convert-weights", "/nonexistent.pth", "/tmp/x.safetensors", "--patch-size", "16", "--grid", "100000"], "--grid"),
        (["convert-weights", "/nonexistent.pth", "/tmp/x.safetensors", "--patch-size", "1000", "--grid", "32"], "--patch-size"),
        (["infer", "--checkpoint", "/nonexistent.safetensors", "/nonexistent.png", "--out-dir", "/tmp/x", "--scale", "60000x60000"], "--scale"),
        (["infer", "--checkpoint", "/nonexistent.safetensors", "/nonexistent.png", "--out-dir", "/tmp/x", "--crop", "0"], "--crop"),
        (["synth", "--dataset", "cityscapes", "--out", "/tmp/x", "--count", "1000000000"], "--count"),
        (["synth", "--dataset", "cityscapes", "--out", "/tmp/x", "--size", "16384x16384"], "--size"),
    ])
    func outOfRangeIsAUsageError(_ arguments: [String], _ option: String) throws {
        let result = try CTPipeBinary.run(arguments)
        #expect(result.status == 64, "\(arguments): \(result.stderr)")
        #expect(result.stderr.contains(option), "\(result.stderr)")
    }

    static let huge = String(Int.max)

    /// Every integer option has an upper bound: the largest Int (and one past each
    /// bound) is a usage error naming the option, never a trap or an attempt.
    @Test(arguments: [
        (["metric", "--dataset", "cityscapes", "/nonexistent", "--pred", "/nonexistent", "--jobs", huge], "--jobs"),
        (["metric", "--dataset", "cityscapes", "/nonexistent", "--pred", "/nonexistent", "-j", "1025"], "--jobs"),
        (["run", "/nonexistent.json", "--jobs", huge], "--jobs"),
        (["run", "/nonexistent.json", "--jobs", "1025"], "--jobs"),
        (["run", "/nonexistent.json", "--shard", "0/\(huge)"], "--shard"),
        (["run", "/nonexistent.json", "--shard", "0/100001"], "--shard"),
        (["infer", "--checkpoint", "/nonexistent.safetensors", "/nonexistent.png", "--out-dir", "/tmp/x", "--jobs", huge], "--jobs"),
        (["infer", "--checkpoint", "/nonexistent.safetensors", "/nonexistent.png", "--out-dir", "/tmp/x", "--threads", huge], "--threads"),
        (["infer", "--checkpoint", "/nonexistent.safetensors", "/nonexistent.png", "--out-dir", "/tmp/x", "--stride", huge], "--stride"),
        (["features", "--weights", "/nonexistent.pth", "--image", "/nonexistent.png", "--out", "/tmp/x.npy", "--threads", huge], "--threads"),
        (["features", "--weights", "/nonexistent.pth", "--image", "/nonexistent.png", "--out", "/tmp/x.npy", "--heads", huge], "--heads"),
        (["features", "--weights", "/nonexistent.pth", "--image", "/nonexistent.png", "--out", "/tmp/x.npy", "--heads", "1025"], "--heads"),
        (["features", "--weights", "/nonexistent.pth", "--image", "/nonexistent.png", "--out", "/tmp/x.npy", "--block", huge], "--block"),
        (["features", "--weights", "/nonexistent.pth", "--image", "/nonexistent.png", "--out", "/tmp/x.npy", "--max-pixels", huge], "--max-pixels"),
        (["convert-weights", "/nonexistent.pth", "/tmp/x.safetensors", "--threads", huge], "--threads"),
        (["convert-weights", "/nonexistent.pth", "/tmp/x.safetensors", "--heads", huge], "--heads"),
        (["convert-weights", "/nonexistent.pth", "/tmp/x.safetensors", "--patch-size", huge, "--grid", "32"], "--patch-size"),
        (["inspect", "/nonexistent.png", "--max-pixels", huge], "--max-pixels"),
        (["synth", "--dataset", "cityscapes", "--out", "/tmp/x", "--count", huge], "--count"),
        (["synth", "--dataset", "cityscapes", "--out", "/tmp/x", "--seed", huge + "0"], "--seed"),
        (["history", "--db", "/nonexistent.db", "--last", huge], "--last"),
        (["history", "--db", "/nonexistent.db", "--last", "1000001"], "--last"),
    ])
    func hugeIntegersAreUsageErrors(_ arguments: [String], _ option: String) throws {
        let result = try CTPipeBinary.run(arguments, timeout: 60)
        #expect(result.status == 64, "\(arguments): \(result.stderr)")
        #expect(result.stderr.contains(option), "\(result.stderr)")
    }
}
