// BackboneCommandTests.swift — `ctpipe features` and `ctpipe convert-weights`
// on the tiny DINOv2 fixtures of the Model tests (goldens from PyTorch).

import CTCore
import Foundation
import TestSupport
import Testing

@Suite struct BackboneCommandTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../ModelTests/Fixtures/backbone").standardizedFileURL.path

    static func temporaryFolder() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }

    @Test func featuresMatchPyTorch() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let f = Self.fixtures
        let result = try CTPipeBinary.run([
            "features", "--weights", "\(f)/small/model.safetensors", "--input-npy", "\(f)/small_28x42_input.npy",
            "--final-norm", "--out", "\(folder)/final.npy", "--pca-png", "\(folder)/pca.png", "--norm-png", "\(folder)/norm.png",
            "--threads", "2",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let (shape, values) = try NPYFile.floatArray("\(folder)/final.npy")
        #expect(shape == [7, 16])
        let golden = try NPYFile.floatArray("\(f)/small_28x42_final.npy").values
        expectClose(values, golden, "final norm features")
        #expect(result.stdout.contains("\"tokens\" : 7"))
        for png in ["pca.png", "norm.png"] {
            let inspect = try CTPipeBinary.run(["inspect", "\(folder)/\(png)"])
            #expect(inspect.stdout.contains("\"width\" : 42") && inspect.stdout.contains("\"height\" : 28"), "\(png)")
        }
        // --block 0 from the official .pth (heads given: the width rule would say 1).
        let block = try CTPipeBinary.run([
            "features", "--weights", "\(f)/small_official.pth", "--heads", "2", "--input-npy", "\(f)/small_28x42_input.npy",
            "--block", "0", "--out", "\(folder)/block0.npy",
        ])
        #expect(block.status == 0, "\(block.stderr)")
        let golden0 = try NPYFile.floatArray("\(f)/small_28x42_block0.npy").values
        expectClose(try NPYFile.floatArray("\(folder)/block0.npy").values, golden0, "block 0 features")
    }

    @Test func imagePathMatchesOpenCVAndPyTorch() throws {
        // photo_40x60.png -> cv2.resize INTER_LINEAR to 28x42 -> ImageNet normalisation -> forward (PyTorch).
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let f = Self.fixtures
        let result = try CTPipeBinary.run(["features", "--weights", "\(f)/small/model.safetensors", "--image",
                                           "\(f)/photo_40x60.png", "--size", "28x42", "--final-norm", "--out", "\(folder)/p.npy"])
        #expect(result.status == 0, "\(result.stderr)")
        let golden = try NPYFile.floatArray("\(f)/photo_28x42_final.npy").values
        expectClose(try NPYFile.floatArray("\(folder)/p.npy").values, golden, "image features")
    }

    @Test func featuresFromAnImageFile() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // An RGB image written by ctpipe itself (a PCA picture, 70 x 28).
        let f = Self.fixtures
        _ = try CTPipeBinary.run(["features", "--weights", "\(f)/small/model.safetensors", "--input-npy",
                                  "\(f)/small_70x28_input.npy", "--out", "\(folder)/x.npy", "--pca-png", "\(folder)/in.png"])
        let result = try CTPipeBinary.run(["features", "--weights", "\(f)/reg/model.safetensors", "--image", "\(folder)/in.png",
                                           "--size", "28x56", "--out", "\(folder)/reg.npy"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try NPYFile.floatArray("\(folder)/reg.npy").shape == [1 + 4 + 8, 16])
        // Default size: rounded to multiples of 14 (70x28 stays).
        let plain = try CTPipeBinary.run(["features", "--weights", "\(f)/reg/model.safetensors", "--image", "\(folder)/in.png",
                                          "--out", "\(folder)/reg2.npy"])
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(try NPYFile.floatArray("\(folder)/reg2.npy").shape == [1 + 4 + 10, 16])
    }

    @Test func convertWeightsThenRun() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let f = Self.fixtures
        let convert = try CTPipeBinary.run(["convert-weights", "\(f)/small_mmseg.pth", "\(folder)/c.safetensors",
                                            "--patch-size", "16", "--grid", "4", "--heads", "2"])
        #expect(convert.status == 0, "\(convert.stderr)")
        #expect(convert.stdout.contains("MMSegmentation") && convert.stdout.contains("\"patch_size\" : 16"))
        let x = [Float](repeating: 0.25, count: 3 * 32 * 48)
        try AtomicFile.write(NPYArray(shape: [3, 32, 48], float32: x).encoded(), to: "\(folder)/x.npy")
        let run = try CTPipeBinary.run(["features", "--weights", "\(folder)/c.safetensors", "--input-npy", "\(folder)/x.npy",
                                        "--out", "\(folder)/o.npy"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try NPYFile.floatArray("\(folder)/o.npy").shape == [7, 16])
    }

    @Test func errorsAreOneLineMessages() throws {
        let f = Self.fixtures
        let bad = try CTPipeBinary.run(["features", "--weights", "\(f)/bad_opcode.pth", "--input-npy",
                                        "\(f)/small_28x42_input.npy", "--out", "/tmp/never.npy"])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("unsupported opcode INT"))
        let both = try CTPipeBinary.run(["features", "--weights", "w", "--image", "a.png", "--input-npy", "x.npy", "--out", "o.npy"])
        #expect(both.status == 64)
        let size = try CTPipeBinary.run(["features", "--weights", "\(f)/small/model.safetensors", "--input-npy",
                                         "\(f)/small_28x42_input.npy", "--block", "5", "--out", "/tmp/never.npy"])
        #expect(size.status == 1 && size.stderr.contains("block 5 does not exist"), "\(size.stderr)")
    }
}
