// PNGPartsTests.swift — 8-bit PNGs compressed in row parts (ct_png_parts.c):
// exact round trips through libpng, streams that zlib inflates with a valid
// Adler-32 and chunk CRCs (PNGStructure), the same bytes whatever the thread
// count, and almost the size of one part.

@testable import ImageIO
import TestSupport
import Testing

@Suite struct PNGPartsTests {
    /// Piecewise-constant labels with some noise (label maps and colour masks) or noisy samples.
    static func image(width: Int, height: Int, channels: Int, noisy: Bool, seed: UInt32) -> Image8 {
        var state = seed
        let pixels = (0 ..< width * height * channels).map { i -> UInt8 in
            state = state &* 1_664_525 &+ 1_013_904_223
            let x = i / channels % width, y = i / channels / width
            return noisy ? UInt8(truncatingIfNeeded: state >> 24) : (state >> 28 == 0 ? UInt8(state >> 24 & 15) : UInt8((x / 37 + y / 23 + i % channels) % 19))
        }
        return Image8(width: width, height: height, channels: channels, pixels: pixels)
    }

    static let palette: [UInt8] = (0 ..< 19 * 3).map { UInt8($0 * 4) }

    @Test(arguments: [(1, false), (2, true), (3, false), (4, true), (1, true)])
    func partsRoundTripAndDoNotDependOnThreads(channels: Int, noisy: Bool) throws {
        let image = Self.image(width: 301, height: 97, channels: channels, noisy: noisy, seed: UInt32(channels))
        let colorType: Int32 = [1: 0, 2: 4, 3: 2, 4: 6][channels]!
        let whole = try PNG.encodeInParts(image, colorType: colorType, palette: [], level: 6, path: "mem.png", threads: 1,
                                          bytesPerPart: 1 << 30)
        for bytesPerPart in [1, 3000, 9000] {
            let parts = PNG.parts(height: image.height, rowBytes: image.width * channels, bytesPerPart: bytesPerPart)
            #expect(parts.count > 1 && parts.first?.lowerBound == 0 && parts.last?.upperBound == image.height)
            #expect(zip(parts, parts.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound && !$0.isEmpty })
            let bytes = try PNG.encodeInParts(image, colorType: colorType, palette: [], level: 6, path: "mem.png", threads: 1,
                                              bytesPerPart: bytesPerPart)
            for threads in [2, 3, 8] {
                #expect(try PNG.encodeInParts(image, colorType: colorType, palette: [], level: 6, path: "mem.png",
                                              threads: threads, bytesPerPart: bytesPerPart) == bytes,
                        "\(parts.count) parts on \(threads) threads")
            }
            let (decoded, _) = try PNG.decode(bytes, path: "mem.png")
            #expect(decoded == .uint8(image), "\(parts.count) parts, \(channels) channels")
            let structure = try PNGStructure(bytes)   // zlib: CRCs, the whole stream with its Adler-32
            #expect(structure.inflatedSize == image.height * (1 + image.width * channels))
            // Primed with the previous rows, a split costs little: a sync marker and a block's code tables a part.
            #expect(Double(bytes.count) <= Double(whole.count) * 1.02 + Double(150 * parts.count), "\(bytes.count) vs \(whole.count) bytes")
        }
    }

    @Test func palettePartsKeepIndicesAndColours() throws {
        let labels = Self.image(width: 517, height: 64, channels: 1, noisy: false, seed: 9)
        let bytes = try PNG.encodeInParts(labels, colorType: 3, palette: Self.palette, level: 9, path: "mem.png", threads: 2,
                                          bytesPerPart: 4096)
        #expect(PNG.parts(height: 64, rowBytes: 517, bytesPerPart: 4096).count == 8)
        #expect(try PNG.decodeLabel(bytes, path: "mem.png") == labels)
        let structure = try PNGStructure(bytes)
        #expect(structure.colorType == 3 && structure.chunks["PLTE"] == Self.palette)
        #expect(structure.inflatedSize == 64 * (1 + 517))
    }

    /// The public encoder splits large images (bytesPerPart of filtered rows a part) the same way at any thread count.
    @Test func largeImagesSplitWhateverTheThreads() throws {
        let image = Self.image(width: 1500, height: 900, channels: 1, noisy: false, seed: 4)
        #expect(PNG.parts(height: 900, rowBytes: 1500).count == 2)
        let one = try PNG.encode(image, level: 6, threads: 1)
        #expect(try PNG.encode(image, level: 6, threads: 2) == one)
        #expect(try PNG.decodeLabel(one, path: "mem.png") == image)
        // One row per part at most: a 3-row image of very wide rows is 3 parts, not more.
        #expect(PNG.parts(height: 3, rowBytes: 60_000, bytesPerPart: 1000).count == 3)
    }
}
