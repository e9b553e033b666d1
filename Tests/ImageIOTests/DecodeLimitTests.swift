// DecodeLimitTests.swift — a header declaring more pixels than the limit is refused
// before any pixel or coefficient buffer exists, and the JPEG decoder's own
// memory is capped: a few hundred hostile bytes cannot make a decode take gigabytes.

import CTCore
import Foundation
import ImageIO
import Testing

/// Hostile files built byte by byte.
enum HostileImages {
    /// A PNG signature and IHDR (8-bit RGB) declaring `width` x `height`, one empty IDAT, IEND.
    static func png(width: UInt32, height: UInt32) -> [UInt8] {
        var bytes: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var ihdr = be32(width) + be32(height)
        ihdr += [8, 2, 0, 0, 0]
        bytes += chunk("IHDR", ihdr)
        bytes += chunk("IDAT", [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])
        bytes += chunk("IEND", [])
        return bytes
    }

    /// A progressive (SOF2) one-component JPEG declaring `width` x `height` whose
    /// only scan is a DC scan of a few zero bytes: libjpeg would decode it into
    /// full-size coefficient buffers, padding the missing data with zeros.
    static func progressiveJPEG(width: UInt16, height: UInt16) -> [UInt8] {
        var bytes: [UInt8] = [0xFF, 0xD8]
        bytes += [0xFF, 0xDB, 0x00, 0x43, 0x00] + [UInt8](repeating: 1, count: 64)           // DQT
        bytes += [0xFF, 0xC2, 0x00, 0x0B, 0x08] + be16(height) + be16(width) + [1, 1, 0x11, 0]  // SOF2, grey
        bytes += [0xFF, 0xC4, 0x00, 0x14, 0x00, 1] + [UInt8](repeating: 0, count: 15) + [0]  // DHT: DC code "0" -> 0
        bytes += [0xFF, 0xDA, 0x00, 0x08, 1, 1, 0x00, 0, 0, 0x00]                           // SOS: DC first scan
        bytes += [0x00, 0x00, 0x00, 0x00]
        bytes += [0xFF, 0xD9]
        return bytes
    }

    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
    static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return be32(UInt32(data.count)) + body + be32(crc32(body))
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0 ..< 8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }
}

@Suite struct DecodeLimitTests {
    @Test func defaultLimitIs64Megapixels() {
        #expect(DecodeLimits.default.maxPixels == 64 << 20)
        #expect(DecodeLimits.default.maxDecoderMemory == (64 << 20) * 6 + (64 << 20))
        #expect(DecodeLimits(maxPixels: 0).maxPixels == 1)
        #expect(DecodeLimits(maxPixels: Int.max).maxDecoderMemory == Int.max)
    }

    @Test func pngHeaderBeyondTheLimitIsRefused() throws {
        let bytes = HostileImages.png(width: 100_000, height: 100_000)
        for mode in [PNGDecodeMode.native, .rgb, .rgba] {
            let error = #expect(throws: ImageIOError.self) { try PNG.decode(bytes, path: "huge.png", mode: mode) }
            #expect(error?.kind == .overPixelLimit(width: 100_000, height: 100_000, limit: 64 << 20))
            #expect(error?.path == "huge.png")
            #expect(error?.reason.contains("declared size 100000x100000") == true)
            #expect(error?.reason.contains("exceeds the limit of 67108864 pixels") == true)
        }
        // Within 65535 per side but over a custom limit.
        let wide = HostileImages.png(width: 4000, height: 3000)
        let error = #expect(throws: ImageIOError.self) {
            try PNG.decodeRGB(wide, path: "wide.png", limits: DecodeLimits(maxPixels: 1_000_000))
        }
        #expect(error?.kind == .overPixelLimit(width: 4000, height: 3000, limit: 1_000_000))
        #expect(error?.description.contains("wide.png") == true)
        // The header alone is still described (no pixels are allocated for it).
        #expect(try PNG.info(wide, path: "wide.png").width == 4000)
    }

    @Test func progressiveJPEGBeyondTheLimitIsRefused() throws {
        let bytes = HostileImages.progressiveJPEG(width: 60_000, height: 60_000)
        #expect(bytes.count < 200)
        let info = try JPEG.info(bytes, path: "huge.jpg")
        #expect(info.progressive && info.width == 60_000)
        for rgb in [false, true] {
            let error = #expect(throws: ImageIOError.self) { try JPEG.decode(bytes, path: "huge.jpg", rgb: rgb) }
            #expect(error?.kind == .overPixelLimit(width: 60_000, height: 60_000, limit: 64 << 20))
            #expect(error?.reason.contains("declared size 60000x60000 (3600000000 pixels) exceeds the limit of 67108864 pixels") == true)
            #expect(error?.description.hasPrefix("huge.jpg") == true)
        }
    }

    @Test func fileReaderPassesTheLimitOn() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ctpipe-limits-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/big.jpg"
        try Data(HostileImages.progressiveJPEG(width: 2000, height: 1000)).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: ImageIOError.self) {
            try ImageFile.readRGB(path, limits: DecodeLimits(maxPixels: 1_999_999))
        }
        #expect(error?.kind == .overPixelLimit(width: 2000, height: 1000, limit: 1_999_999))
        #expect(error?.path == path)
    }

    /// Within the pixel limit, the decoder's memory manager still stops at its cap:
    /// the coefficient buffers of a 4096x4096 progressive file need 32 MiB.
    @Test func jpegDecoderMemoryIsCapped() throws {
        let bytes = HostileImages.progressiveJPEG(width: 4096, height: 4096)
        let error = #expect(throws: ImageIOError.self) {
            try JPEG.decode(bytes, path: "coefficients.jpg", rgb: false,
                            limits: DecodeLimits(maxPixels: 64 << 20, maxDecoderMemory: 4 << 20))
        }
        #expect(error?.kind == .failed)
        let reason = error?.reason.lowercased() ?? ""
        #expect(reason.contains("insufficient memory") || reason.contains("backing store"), "\(reason)")
        // With the default cap the same file gets as far as its missing data.
        let truncated = #expect(throws: ImageIOError.self) { try JPEG.decode(bytes, path: "coefficients.jpg", rgb: false) }
        #expect(truncated?.kind == .failed)
        #expect(truncated?.reason.lowercased().contains("memory") == false)
    }
}
