// PNGDecodeTests.swift — every PNG fixture decoded in every mode and compared
// with the pixels Pillow/OpenCV produce (see scripts/make_imageio_fixtures.py).

import CTCore
import ImageIO
import TestSupport
import Testing

@Suite struct PNGDecodeTests {
    @Test func manifestLoads() throws {
        let manifest = try FixtureManifest.load()
        #expect(manifest.png.count >= 36)
        #expect(manifest.jpeg.count >= 9)
        #expect(manifest.broken.count >= 12)
        #expect(manifest.resize.count >= 30)
    }

    @Test(arguments: FixtureManifest.loaded.png)
    func headerMatches(_ entry: FixtureManifest.PNGEntry) throws {
        let info = try PNG.info(ImageFile.bytes(fixtures.path(entry.file)), path: entry.file)
        #expect(info.width == entry.width)
        #expect(info.height == entry.height)
        #expect(info.bitDepth == entry.bit_depth)
        #expect(info.colorType.rawValue == entry.color_type)
        #expect(info.paletteSize == entry.palette_size)
        #expect(info.interlaced == entry.interlaced)
        #expect(info.hasTransparency == entry.transparency)
    }

    @Test(arguments: FixtureManifest.loaded.png)
    func pixelsMatchThirdPartyDecoders(_ entry: FixtureManifest.PNGEntry) throws {
        let bytes = try ImageFile.bytes(fixtures.path(entry.file))
        #expect(!entry.expected.isEmpty)
        for (name, expected) in entry.expected.sorted(by: { $0.key < $1.key }) {
            let mode: PNGDecodeMode
            switch name {
            case "native": mode = .native
            case "rgb": mode = .rgb
            case "rgba": mode = .rgba
            default: Issue.record("unknown mode \(name)"); continue
            }
            let (image, info) = try PNG.decode(bytes, path: entry.file, mode: mode)
            #expect(info.width == entry.width && info.height == entry.height)
            let diff = difference(image, try fixtures.npy(expected.npy))
            #expect(diff == nil, "\(entry.file) .\(name) vs \(expected.reference): \(diff ?? "")")
        }
    }

    /// The label entry points give the index plane of palette files and the
    /// samples of 8-bit grey files, identical to the .native decode.
    @Test(arguments: FixtureManifest.loaded.png.filter {
        ($0.color_type == "palette" || $0.color_type == "gray") && $0.bit_depth == 8
    })
    func labelEntryPointsGiveTheIndexPlane(_ entry: FixtureManifest.PNGEntry) throws {
        let expected = try fixtures.image8(entry.expected["native"]!.npy)
        #expect(try ImageFile.readLabel(fixtures.path(entry.file)) == expected)
        #expect(try PNG.decodeLabel(ImageFile.bytes(fixtures.path(entry.file)), path: entry.file) == expected)
    }

    @Test(arguments: FixtureManifest.loaded.png.filter { $0.expected["rgb"] != nil })
    func readRGBMatchesTheRGBMode(_ entry: FixtureManifest.PNGEntry) throws {
        let expected = try fixtures.image8(entry.expected["rgb"]!.npy)
        #expect(try ImageFile.readRGB(fixtures.path(entry.file)) == expected)
    }

    @Test func sixteenBitLabelFileIsRejected() throws {
        let path = fixtures.path("png/gray16.png")
        let error = #expect(throws: ImageIOError.self) { try ImageFile.readLabel(path) }
        #expect(error?.path == path)
        #expect(error?.reason.contains("16-bit gray") == true)
    }

    @Test func pixelLimitIsApplied() throws {
        let path = fixtures.path("png/rgb8.png")
        let error = #expect(throws: ImageIOError.self) {
            try ImageFile.readRGB(path, limits: DecodeLimits(maxPixels: 100))
        }
        #expect(error?.reason.contains("exceeds the limit of 100 pixels") == true)
    }
}
