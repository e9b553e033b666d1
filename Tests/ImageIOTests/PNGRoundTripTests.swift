import ImageIO
import Testing

@Suite struct PNGRoundTripTests {
    @Test(arguments: [1, 3, 4])
    func eightBitRoundTripIsExact(channels: Int) throws {
        let pixels = (0 ..< 7 * 5 * channels).map { UInt8(truncatingIfNeeded: $0 &* 37) }
        let image = Image8(width: 7, height: 5, channels: channels, pixels: pixels)
        let bytes = try PNG.encode(image, level: 9)
        let (decoded, info) = try PNG.decode(bytes, path: "mem.png")
        #expect(decoded == .uint8(image))
        #expect(info.bitDepth == 8)
    }

    @Test func paletteRoundTripKeepsIndicesAndColours() throws {
        let palette: [UInt8] = (0 ..< 19 * 3).map { UInt8($0 * 4) }
        let labels = Image8(width: 6, height: 4, channels: 1, pixels: (0 ..< 24).map { UInt8($0 % 19) })
        let bytes = try PNG.encode(labels, format: .palette(palette))
        #expect(try PNG.decodeLabel(bytes, path: "mem.png") == labels)
        let info = try PNG.info(bytes, path: "mem.png")
        #expect(info.colorType == .palette && info.palette == palette)
    }

    @Test func sixteenBitGreyRoundTrip() throws {
        let image = Image16(width: 3, height: 2, channels: 1, pixels: [0, 1, 255, 256, 40000, 65535])
        let (decoded, info) = try PNG.decode(try PNG.encode(image), path: "mem.png")
        #expect(decoded == .uint16(image))
        #expect(info.bitDepth == 16)
    }

    @Test func paletteIndexOutsideTableIsRejected() {
        let labels = Image8(width: 2, height: 1, channels: 1, pixels: [0, 5])
        #expect(throws: ImageIOError.self) { try PNG.encode(labels, format: .palette([0, 0, 0, 1, 1, 1])) }
    }
}
