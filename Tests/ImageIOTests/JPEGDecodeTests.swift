// JPEGDecodeTests.swift — JPEG fixtures (baseline, progressive, grey, 4:4:4 to
// 4:1:1 subsampling, restart markers, non-transformed RGB) against Pillow's
// decode: both use libjpeg-turbo's islow IDCT and fancy upsampling, so the
// comparison is exact.

import ImageIO
import TestSupport
import Testing

@Suite struct JPEGDecodeTests {
    @Test(arguments: FixtureManifest.loaded.jpeg)
    func headerMatches(_ entry: FixtureManifest.JPEGEntry) throws {
        let info = try JPEG.info(ImageFile.bytes(fixtures.path(entry.file)), path: entry.file)
        #expect(info.width == entry.width)
        #expect(info.height == entry.height)
        #expect(info.components == entry.components)
        #expect(info.progressive == entry.progressive)
        #expect(info.colorSpace == entry.color_space)
    }

    @Test(arguments: FixtureManifest.loaded.jpeg)
    func pixelsMatchPillow(_ entry: FixtureManifest.JPEGEntry) throws {
        let bytes = try ImageFile.bytes(fixtures.path(entry.file))
        let (native, _) = try JPEG.decode(bytes, path: entry.file, rgb: false)
        let nativeDiff = difference(.uint8(native), try fixtures.npy(entry.expected["native"]!.npy))
        #expect(nativeDiff == nil, "\(entry.file) native: \(nativeDiff ?? "")")
        let (rgb, _) = try JPEG.decode(bytes, path: entry.file, rgb: true)
        let rgbDiff = difference(.uint8(rgb), try fixtures.npy(entry.expected["rgb"]!.npy))
        #expect(rgbDiff == nil, "\(entry.file) rgb: \(rgbDiff ?? "")")
        #expect(try ImageFile.readRGB(fixtures.path(entry.file)) == rgb)
    }

    @Test func jpegLabelFileIsRejected() throws {
        let path = fixtures.path("jpeg/gray_baseline.jpg")
        let error = #expect(throws: ImageIOError.self) { try ImageFile.readLabel(path) }
        #expect(error?.reason.contains("lossy") == true)
    }

    @Test func encodeDecodeIsCloseAndKeepsLayout() throws {
        // A smooth gradient: JPEG at quality 95 stays within a few levels of it.
        let (w, h) = (41, 23)
        var pixels = [UInt8]()
        for y in 0 ..< h { for x in 0 ..< w { pixels += [UInt8(x * 6), UInt8(y * 10), UInt8(128 + x - y)] } }
        let rgb = Image8(width: w, height: h, channels: 3, pixels: pixels)
        let encoded = try JPEG.encode(rgb, quality: 95)
        let info = try JPEG.info(encoded, path: "mem.jpg")
        #expect(info.width == w && info.height == h && info.components == 3 && !info.progressive)
        let (decoded, _) = try JPEG.decode(encoded, path: "mem.jpg")
        let maxDiff = zip(decoded.pixels, rgb.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
        #expect(maxDiff <= 8)
        let grey = Image8(width: 9, height: 5, channels: 1, pixels: (0 ..< 45).map { UInt8($0 * 5) })
        let (greyBack, greyInfo) = try JPEG.decode(JPEG.encode(grey, quality: 100), path: "mem.jpg", rgb: false)
        #expect(greyInfo.colorSpace == "gray" && greyBack.channels == 1)
        #expect(zip(greyBack.pixels, grey.pixels).allSatisfy { abs(Int($0) - Int($1)) <= 2 })
    }
}
