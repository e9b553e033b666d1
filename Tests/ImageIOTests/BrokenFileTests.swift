// BrokenFileTests.swift — damaged and hostile files must throw an ImageIOError
// that names the file and says what is wrong; never crash, never return pixels.

import CTCore
import ImageIO
import TestSupport
import Testing

@Suite struct BrokenFileTests {
    @Test(arguments: FixtureManifest.loaded.broken)
    func readRGBThrowsNamingTheFile(_ entry: FixtureManifest.BrokenEntry) throws {
        let path = fixtures.path(entry.file)
        let error = #expect(throws: ImageIOError.self) { try ImageFile.readRGB(path) }
        #expect(error?.path == path)
        #expect(error?.description.hasPrefix(path) == true)
        let reason = error?.reason.lowercased() ?? ""
        for word in entry.expect {
            #expect(reason.contains(word.lowercased()), "\(entry.file): reason '\(error?.reason ?? "")' lacks '\(word)'")
        }
    }

    /// The codec entry points (not only the sniffing file reader) reject the file too.
    @Test(arguments: FixtureManifest.loaded.broken)
    func codecEntryPointsThrow(_ entry: FixtureManifest.BrokenEntry) throws {
        let bytes = try ImageFile.bytes(fixtures.path(entry.file))
        if entry.codec == "png" {
            for mode in [PNGDecodeMode.native, .rgb, .rgba] {
                let error = #expect(throws: ImageIOError.self) { try PNG.decode(bytes, path: entry.file, mode: mode) }
                #expect(error?.codec == .png && error?.path == entry.file)
            }
            let label = #expect(throws: ImageIOError.self) { try PNG.decodeLabel(bytes, path: entry.file) }
            #expect(label?.path == entry.file)
        } else {
            for rgb in [false, true] {
                let error = #expect(throws: ImageIOError.self) { try JPEG.decode(bytes, path: entry.file, rgb: rgb) }
                #expect(error?.codec == .jpeg && error?.path == entry.file)
            }
        }
    }

    /// Header-only reads of the huge-dimension files succeed (the header is
    /// valid); the refusal comes before any pixel buffer exists.
    @Test func hugeDeclaredSizesFailBeforeAllocating() throws {
        let clock = ContinuousClock()
        for file in ["broken/huge_ihdr.png", "broken/huge_ihdr_small_data.png"] {
            let bytes = try ImageFile.bytes(fixtures.path(file))
            let info = try PNG.info(bytes, path: file)
            #expect(info.width * info.height >= 8000 * 8000)
            let elapsed = clock.measure {
                #expect(throws: ImageIOError.self) { try PNG.decode(bytes, path: file, mode: .rgb) }
            }
            #expect(elapsed < .seconds(1), "\(file) took \(elapsed)")
        }
    }

    @Test func missingFileAndFolderAreFileErrors() {
        let missing = #expect(throws: ImageIOError.self) { try ImageFile.readRGB("/nonexistent/x.png") }
        #expect(missing?.codec == .file && missing?.reason.contains("not found") == true)
        let folder = #expect(throws: ImageIOError.self) { try ImageFile.readRGB(fixtures.path) }
        #expect(folder?.reason.contains("folder") == true)
    }
}
