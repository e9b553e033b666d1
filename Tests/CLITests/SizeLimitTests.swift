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
}
