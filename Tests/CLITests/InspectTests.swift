// InspectTests.swift — `ctpipe inspect` on the ImageIO fixtures: JSON header
// fields, --dump-npy against the Pillow/OpenCV goldens, --expand, and a clean
// failure (status 1, one line on stderr naming the file) for broken files.
//
// The fixtures live in Tests/ImageIOTests/Fixtures (written by
// scripts/make_imageio_fixtures.py); the CLI reads files by path, so they are
// used in place rather than copied into this target's bundle.

import CTCore
import Foundation
import Testing

enum ImageFixtures {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("ImageIOTests/Fixtures").path

    static func path(_ relative: String) -> String { folder + "/" + relative }

    static func npy(_ relative: String) throws -> NPYArray {
        try NPYArray.decode(FileBytes.read(path(relative)), path: relative)
    }

    static func temporary(_ name: String) -> String {
        NSTemporaryDirectory() + "ctpipe-inspect-\(UInt32.random(in: 0 ... .max))-" + name
    }
}

@Suite struct InspectTests {
    func json(_ result: CommandResult) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
        return try #require(object as? [String: Any])
    }

    @Test func paletteLabelFileReportsHeaderAndDumpsIndices() throws {
        let out = ImageFixtures.temporary("pal8.npy")
        let result = try CTPipeBinary.run(["inspect", ImageFixtures.path("png/pal8.png"), "--dump-npy", out])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try json(result)
        #expect(report["format"] as? String == "png")
        #expect(report["width"] as? Int == 21 && report["height"] as? Int == 13)
        #expect(report["channels"] as? Int == 1)
        #expect(report["bit_depth"] as? Int == 8)
        #expect(report["color_type"] as? String == "palette")
        #expect(report["palette_size"] as? Int == 34)
        #expect(report["interlace"] as? String == "none")
        #expect(report["transparency"] as? Bool == false)
        let dumped = try NPYArray.decode(FileBytes.read(out), path: out)
        #expect(dumped == (try ImageFixtures.npy("png/pal8.native.npy")))
    }

    @Test(arguments: [("png/pal4_adam7.png", "png/pal4_adam7.rgb.npy"), ("png/pal8_trns.png", "png/pal8_trns.rgba.npy")])
    func expandGivesColours(file: String, expected: String) throws {
        let out = ImageFixtures.temporary("expanded.npy")
        let result = try CTPipeBinary.run(["inspect", ImageFixtures.path(file), "--expand", "--dump-npy", out])
        #expect(result.status == 0, "\(result.stderr)")
        let dumped = try NPYArray.decode(FileBytes.read(out), path: out)
        #expect(dumped == (try ImageFixtures.npy(expected)))
        if file.contains("adam7") { #expect(try json(result)["interlace"] as? String == "adam7") }
    }

    @Test func sixteenBitFileDumpsUInt16() throws {
        let out = ImageFixtures.temporary("rgba16.npy")
        let result = try CTPipeBinary.run(["inspect", ImageFixtures.path("png/rgba16.png"), "--dump-npy", out])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try json(result)
        #expect(report["bit_depth"] as? Int == 16 && report["channels"] as? Int == 4)
        #expect(report["color_type"] as? String == "rgba")
        let dumped = try NPYArray.decode(FileBytes.read(out), path: out)
        #expect(dumped.dtype == .uint16)
        #expect(dumped == (try ImageFixtures.npy("png/rgba16.native.npy")))
    }

    @Test func progressiveJPEGReportsAndDumpsPillowsPixels() throws {
        let out = ImageFixtures.temporary("jpeg.npy")
        let result = try CTPipeBinary.run(["inspect", ImageFixtures.path("jpeg/ycc420_progressive.jpg"), "--dump-npy", out])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try json(result)
        #expect(report["format"] as? String == "jpeg")
        #expect(report["interlace"] as? String == "progressive")
        #expect(report["color_type"] as? String == "ycbcr")
        #expect(report["channels"] as? Int == 3)
        let dumped = try NPYArray.decode(FileBytes.read(out), path: out)
        #expect(dumped == (try ImageFixtures.npy("jpeg/ycc420_progressive.native.npy")))
    }

    @Test(arguments: [("broken/truncated_idat.png", "truncated"), ("broken/bad_crc_idat.png", "CRC"),
                      ("broken/cmyk.jpg", "CMYK"), ("broken/huge_ihdr.png", "limit"),
                      ("broken/empty.png", "empty"), ("broken/truncated.jpg", "Premature end")])
    func brokenFileFailsWithOneLine(file: String, word: String) throws {
        let out = ImageFixtures.temporary("never.npy")
        let path = ImageFixtures.path(file)
        let result = try CTPipeBinary.run(["inspect", path, "--dump-npy", out])
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains(path))
        #expect(result.stderr.contains(word), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }
}
