// PNGRoundTripTests.swift — encode -> decode is exact for every supported
// layout and compression level, and the encoder's bytes are well-formed PNG
// when checked with zlib directly (chunk CRCs, IHDR/PLTE fields, inflated size).

import CZlib
import ImageIO
import TestSupport
import Testing

@Suite struct PNGRoundTripTests {
    static let levels = [0, 1, 6, 9]

    /// Deterministic, moderately compressible samples.
    static func samples(_ count: Int, seed: UInt32) -> [UInt8] {
        var state = seed
        return (0 ..< count).map { i in
            state = state &* 1_664_525 &+ 1_013_904_223
            return UInt8(truncatingIfNeeded: (i % 7 == 0) ? Int(state >> 24) : i / 3)
        }
    }

    @Test(arguments: [1, 2, 3, 4], levels)
    func eightBitRoundTripIsExact(channels: Int, level: Int) throws {
        let image = Image8(width: 23, height: 11, channels: channels, pixels: Self.samples(23 * 11 * channels, seed: 7))
        let bytes = try PNG.encode(image, level: level)
        let (decoded, info) = try PNG.decode(bytes, path: "mem.png")
        #expect(decoded == .uint8(image))
        #expect(info.bitDepth == 8 && info.colorType.channels == channels && !info.interlaced)
        let structure = try PNGStructure(bytes)
        #expect(structure.width == 23 && structure.height == 11 && structure.bitDepth == 8)
        #expect(structure.colorType == [1: 0, 2: 4, 3: 2, 4: 6][channels])
        #expect(structure.inflatedSize == 11 * (1 + 23 * channels))
    }

    @Test(arguments: levels)
    func paletteRoundTripKeepsIndicesAndColours(level: Int) throws {
        let palette: [UInt8] = (0 ..< 19 * 3).map { UInt8($0 * 4) }
        let labels = Image8(width: 26, height: 9, channels: 1, pixels: Self.samples(26 * 9, seed: 3).map { $0 % 19 })
        let bytes = try PNG.encode(labels, format: .palette(palette), level: level)
        #expect(try PNG.decodeLabel(bytes, path: "mem.png") == labels)
        let info = try PNG.info(bytes, path: "mem.png")
        #expect(info.colorType == .palette && info.palette == palette && info.paletteSize == 19)
        // Checked without our decoder: colour type 3, 8-bit indices, a 19-entry PLTE, no tRNS.
        let structure = try PNGStructure(bytes)
        #expect(structure.colorType == 3 && structure.bitDepth == 8)
        #expect(structure.chunks["PLTE"] == palette)
        #expect(structure.chunks["tRNS"] == nil)
        #expect(structure.inflatedSize == 9 * (1 + 26))
        // Expanded to RGB the indices map through the palette.
        let rgb = try PNG.decodeRGB(bytes, path: "mem.png")
        for i in [0, 5, 100, 233] {
            let index = Int(labels.pixels[i])
            #expect(Array(rgb.pixels[3 * i ..< 3 * i + 3]) == Array(palette[3 * index ..< 3 * index + 3]))
        }
    }

    @Test(arguments: [1, 2, 3, 4], levels)
    func sixteenBitRoundTripIsExact(channels: Int, level: Int) throws {
        let count = 7 * 5 * channels
        let pixels: [UInt16] = (0 ..< count).map { UInt16(truncatingIfNeeded: $0 &* 2897 &+ ($0 % 3 == 0 ? 65535 : 0)) }
        let image = Image16(width: 7, height: 5, channels: channels, pixels: pixels)
        let bytes = try PNG.encode(image, level: level)
        let (decoded, info) = try PNG.decode(bytes, path: "mem.png")
        #expect(decoded == .uint16(image))
        #expect(info.bitDepth == 16)
        // Big-endian on disk: the first stored sample's high byte comes first.
        let structure = try PNGStructure(bytes)
        #expect(structure.bitDepth == 16 && structure.inflatedSize == 5 * (1 + 7 * channels * 2))
        // .rgb reduces to the high byte.
        let rgb = try PNG.decodeRGB(bytes, path: "mem.png")
        #expect(rgb.pixels[0] == UInt8(pixels[0] >> 8))
    }

    @Test func higherLevelsCompressAtLeastAsWell() throws {
        let image = Image8(width: 64, height: 32, channels: 3, pixels: Self.samples(64 * 32 * 3, seed: 11))
        let sizes = try Self.levels.map { try PNG.encode(image, level: $0).count }
        #expect(sizes[0] > sizes[1] && sizes[1] >= sizes[3])
    }

    @Test func invalidEncodeRequestsAreRejected() {
        let labels = Image8(width: 2, height: 1, channels: 1, pixels: [0, 5])
        #expect(throws: ImageIOError.self) { try PNG.encode(labels, format: .palette([0, 0, 0, 1, 1, 1])) }
        #expect(throws: ImageIOError.self) { try PNG.encode(labels, format: .palette([0, 0])) }
        #expect(throws: ImageIOError.self) { try PNG.encode(labels, level: 10) }
        let rgb = Image8(width: 1, height: 1, channels: 3, pixels: [1, 2, 3])
        #expect(throws: ImageIOError.self) { try PNG.encode(rgb, format: .palette([0, 0, 0])) }
        let empty = Image8(width: 0, height: 3, channels: 1, pixels: [])
        #expect(throws: ImageIOError.self) { try PNG.encode(empty) }
    }

    @Test func writePNGWritesAFileThatReadsBack() throws {
        let path = "/tmp/ctpipe-imageio-\(UInt32.random(in: 0 ... .max))/out.png"
        let image = Image8(width: 5, height: 4, channels: 3, pixels: Self.samples(60, seed: 5))
        try ImageFile.writePNG(image, to: path, level: 3)
        #expect(try ImageFile.readRGB(path) == image)
    }
}

/// A PNG read with zlib only: every chunk's CRC is checked, IHDR parsed and the
/// concatenated IDAT payload inflated.
struct PNGStructure {
    var width = 0, height = 0, bitDepth = 0, colorType = 0, interlace = 0
    var chunks: [String: [UInt8]] = [:]
    var order: [String] = []
    var inflatedSize = 0

    init(_ bytes: [UInt8]) throws {
        guard bytes.count > 8, Array(bytes[0 ..< 8]) == PNG.signature else { throw FixtureError("bad signature") }
        func u32(_ i: Int) -> Int { Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3]) }
        var offset = 8
        var idat: [UInt8] = []
        while offset + 12 <= bytes.count {
            let length = u32(offset)
            let kind = String(decoding: bytes[offset + 4 ..< offset + 8], as: UTF8.self)
            guard offset + 12 + length <= bytes.count else { throw FixtureError("\(kind) overruns the file") }
            let body = Array(bytes[offset + 4 ..< offset + 8 + length])
            let crc = body.withUnsafeBufferPointer { crc32(0, $0.baseAddress, UInt32($0.count)) }
            guard crc == UInt(u32(offset + 8 + length)) else { throw FixtureError("\(kind): CRC mismatch") }
            let data = Array(body[4...])
            order.append(kind)
            if kind == "IDAT" { idat += data } else { chunks[kind] = data }
            offset += 12 + length
        }
        guard order.first == "IHDR", order.last == "IEND", offset == bytes.count else {
            throw FixtureError("chunk order \(order)")
        }
        let ihdr = chunks["IHDR"]!
        width = Int(ihdr[0]) << 24 | Int(ihdr[1]) << 16 | Int(ihdr[2]) << 8 | Int(ihdr[3])
        height = Int(ihdr[4]) << 24 | Int(ihdr[5]) << 16 | Int(ihdr[6]) << 8 | Int(ihdr[7])
        bitDepth = Int(ihdr[8])
        colorType = Int(ihdr[9])
        interlace = Int(ihdr[12])
        var out = [UInt8](repeating: 0, count: 1 << 22)
        var outLength = UInt(out.count)
        let status = out.withUnsafeMutableBufferPointer { dst in
            idat.withUnsafeBufferPointer { src in
                uncompress(dst.baseAddress, &outLength, src.baseAddress, UInt(src.count))
            }
        }
        guard status == Z_OK else { throw FixtureError("IDAT does not inflate (zlib status \(status))") }
        inflatedSize = Int(outLength)
    }
}
