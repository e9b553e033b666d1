// PNG.swift — PNG decode (all bit depths, colour types, Adam7, tRNS) and
// encode (grey 8/16, RGB, RGBA, palette with a given colour table).
//
// The libpng calls live in CImageCodecs (setjmp stays in C); this file turns
// their flag + message into `ImageIOError`s naming the file.

import CImageCodecs
import Dispatch
import Synchronization

/// How PNG samples are delivered.
public enum PNGDecodeMode: Sendable {
    /// As stored: a palette file gives its index plane (label files), grey
    /// stays grey, alpha stays, 16-bit stays 16-bit. 1/2/4-bit grey is scaled to
    /// 8 bit; 1/2/4-bit palette indices are unpacked.
    case native
    /// 8-bit RGB: palette expanded, grey replicated, alpha/tRNS dropped, 16-bit
    /// reduced to the high byte.
    case rgb
    /// 8-bit RGBA: tRNS turned into alpha, opaque images get alpha 255.
    case rgba

    var c: ct_png_mode {
        switch self {
        case .native: CT_PNG_NATIVE
        case .rgb: CT_PNG_RGB8
        case .rgba: CT_PNG_RGBA8
        }
    }
}

/// What a PNG header says, independent of how it is decoded.
public struct PNGInfo: Sendable, Equatable {
    public enum ColorType: String, Sendable, Codable {
        case gray, rgb, palette, grayAlpha = "gray_alpha", rgba
        init(code: Int32) {
            switch code {
            case 0: self = .gray
            case 2: self = .rgb
            case 3: self = .palette
            case 4: self = .grayAlpha
            default: self = .rgba
            }
        }
        /// Samples per pixel as stored.
        public var channels: Int {
            switch self {
            case .gray, .palette: 1
            case .grayAlpha: 2
            case .rgb: 3
            case .rgba: 4
            }
        }
    }
    public var width: Int
    public var height: Int
    public var bitDepth: Int
    public var colorType: ColorType
    public var interlaced: Bool
    public var hasTransparency: Bool
    /// PLTE entries as RGB triples (empty when the file has no palette).
    public var palette: [UInt8]
    public var paletteSize: Int { palette.count / 3 }
}

/// PNG codec entry points.
public enum PNG {
    public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Reads only the header.
    public static func info(_ bytes: [UInt8], path: String) throws(ImageIOError) -> PNGInfo {
        var cinfo = ct_png_info()
        let ok = bytes.withUnsafeBufferPointer { ct_png_read($0.baseAddress, $0.count, CT_PNG_NATIVE, DecodeLimits.unbounded, nil, 0, &cinfo) }
        guard ok else { throw ImageIOError(codec: .png, path: path, reason: message(&cinfo.message)) }
        return PNGInfo(cinfo)
    }

    /// Decodes a whole PNG. Truncated, corrupt (CRC, zlib) or oversized files
    /// throw; no partial image is ever returned.
    public static func decode(_ bytes: [UInt8], path: String, mode: PNGDecodeMode = .native,
                              limits: DecodeLimits = .default) throws(ImageIOError) -> (DecodedImage, PNGInfo) {
        var cinfo = ct_png_info()
        let headerOK = bytes.withUnsafeBufferPointer {
            ct_png_read($0.baseAddress, $0.count, mode.c, limits.c, nil, 0, &cinfo)
        }
        guard headerOK else {
            let kind: ImageIOError.Kind = cinfo.over_limit != 0
                ? .overPixelLimit(width: Int(cinfo.width), height: Int(cinfo.height), limit: limits.maxPixels) : .failed
            throw ImageIOError(codec: .png, path: path, reason: message(&cinfo.message), kind: kind)
        }
        // ct_png_read refused sizes beyond the limit (and sides beyond 65535) already.
        let width = Int(cinfo.width), height = Int(cinfo.height)
        let channels = Int(cinfo.out_channels), sampleBytes = Int(cinfo.out_bytes_per_sample)
        // Deflate expands at most 1032:1, so a file too short to hold the declared
        // image is rejected here, before a buffer of the declared size exists.
        let storedBits = Int(cinfo.bit_depth) * PNGInfo.ColorType(code: cinfo.color_type).channels
        let filtered = height * (1 + (width * storedBits + 7) / 8)
        guard filtered <= bytes.count * 1032 + 1024 else {
            throw ImageIOError(codec: .png, path: path,
                               reason: "declared size \(width)x\(height) needs \(filtered) bytes of filtered image data, "
                                   + "more than the \(bytes.count) compressed bytes of the file can hold (file truncated or header corrupt)")
        }
        let count = width * height * channels
        // On failure the array is returned empty (initialized = 0): no partial
        // image escapes and the declared-size buffer is never touched in full.
        func samples<Sample>() throws(ImageIOError) -> [Sample] {
            var ok = false
            let pixels = [Sample](unsafeUninitializedCapacity: count) { buffer, initialized in
                let raw = UnsafeMutableRawBufferPointer(buffer)
                ok = bytes.withUnsafeBufferPointer { src in
                    ct_png_read(src.baseAddress, src.count, mode.c, limits.c,
                                raw.baseAddress!.assumingMemoryBound(to: UInt8.self), raw.count, &cinfo)
                }
                initialized = ok ? count : 0
            }
            guard ok else { throw ImageIOError(codec: .png, path: path, reason: message(&cinfo.message)) }
            return pixels
        }
        let image: DecodedImage
        if sampleBytes == 2 {
            image = .uint16(Image16(width: width, height: height, channels: channels, pixels: try samples()))
        } else {
            image = .uint8(Image8(width: width, height: height, channels: channels, pixels: try samples()))
        }
        return (image, PNGInfo(cinfo))
    }

    /// Decodes to 8-bit RGB (images fed to the model).
    public static func decodeRGB(_ bytes: [UInt8], path: String, limits: DecodeLimits = .default) throws(ImageIOError) -> Image8 {
        guard case .uint8(let image) = try decode(bytes, path: path, mode: .rgb, limits: limits).0 else {
            throw ImageIOError(codec: .png, path: path, reason: "internal: RGB decode returned 16-bit samples")
        }
        return image
    }

    /// Decodes a one-channel 8-bit label file: grey values or palette indices.
    public static func decodeLabel(_ bytes: [UInt8], path: String, limits: DecodeLimits = .default) throws(ImageIOError) -> LabelMap {
        let (image, info) = try decode(bytes, path: path, mode: .native, limits: limits)
        guard case .uint8(let plane) = image, plane.channels == 1 else {
            throw ImageIOError(codec: .png, path: path,
                               reason: "a label file must be 8-bit grey or palette, found \(info.bitDepth)-bit \(info.colorType.rawValue)")
        }
        return plane
    }

    /// How an image is stored when encoded.
    public enum EncodeFormat: Sendable, Equatable {
        /// 8-bit grey, RGB or RGBA, chosen from the raster's channels (1, 3, 4; 2 = grey+alpha).
        case direct
        /// Indexed: one-channel raster of indices and an RGB colour table
        /// (up to 256 triples), as Cityscapes-style colour masks and annotation
        /// tools use.
        case palette([UInt8])
    }

    /// Encodes an 8-bit raster. `level` is the zlib compression level 0...9. Large images are
    /// compressed in row parts, `threads` of them at a time (the bytes do not depend on `threads`).
    public static func encode(_ image: Image8, format: EncodeFormat = .direct, level: Int = 6,
                              path: String = "<memory>", threads: Int = 1) throws(ImageIOError) -> [UInt8] {
        let colorType: Int32
        var palette: [UInt8] = []
        switch format {
        case .direct:
            colorType = try directColorType(channels: image.channels, path: path)
        case .palette(let table):
            guard image.channels == 1 else {
                throw ImageIOError(codec: .png, path: path, reason: "a palette PNG needs a one-channel index plane, got \(image.channels) channels")
            }
            guard table.count % 3 == 0, (3 ... 768).contains(table.count) else {
                throw ImageIOError(codec: .png, path: path, reason: "palette must hold 1 to 256 RGB triples, got \(table.count) bytes")
            }
            let size = table.count / 3
            // One vectorisable pass for the maximum; the offending index is looked up only on failure.
            let largest = image.pixels.withUnsafeBufferPointer { $0.max() ?? 0 }
            if Int(largest) >= size {
                throw ImageIOError(codec: .png, path: path, reason: "index \(largest) is outside the \(size)-colour palette")
            }
            colorType = 3
            palette = table
        }
        return try encodeInParts(image, colorType: colorType, palette: palette, level: level, path: path, threads: threads,
                                 bytesPerPart: bytesPerPart)
    }

    /// Filtered bytes per part of an 8-bit image's encoding (at least; whole rows): the parts are
    /// compressed independently (ct_png_parts.c), `threads` at a time. The split depends only on
    /// the image's size, so the file's bytes do not depend on the thread count.
    static let bytesPerPart = 1 << 19

    /// The row ranges an h-row image of `rowBytes` bytes per row is encoded in.
    static func parts(height: Int, rowBytes: Int, bytesPerPart: Int = bytesPerPart) -> [Range<Int>] {
        let count = max(1, min(height, (height * (rowBytes + 1)) / max(1, bytesPerPart)))
        return (0 ..< count).map { k in (k * height / count) ..< ((k + 1) * height / count) }
    }

    /// The encoding of `encode` with a given part size (tests compare splits).
    static func encodeInParts(_ image: Image8, colorType: Int32, palette: [UInt8], level: Int, path: String,
                              threads: Int, bytesPerPart: Int) throws(ImageIOError) -> [UInt8] {
        guard (0 ... 9).contains(level) else {
            throw ImageIOError(codec: .png, path: path, reason: "compression level must be 0...9, got \(level)")
        }
        guard image.width > 0, image.height > 0, image.width <= Int(CT_PNG_MAX_SIDE), image.height <= Int(CT_PNG_MAX_SIDE) else {
            throw ImageIOError(codec: .png, path: path, reason: "cannot encode a \(image.width)x\(image.height) image (sides 1...\(CT_PNG_MAX_SIDE))")
        }
        let ranges = parts(height: image.height, rowBytes: image.width * image.channels, bytesPerPart: bytesPerPart)
        let compressed = PartSlots(count: ranges.count)
        let workers = max(1, min(threads, ranges.count))
        let (w, h, channels) = (UInt32(image.width), UInt32(image.height), Int32(image.channels))
        let adaptive: Int32 = colorType == 3 ? 0 : 1
        image.pixels.withUnsafeBufferPointer { pixels in
            nonisolated(unsafe) let base = pixels.baseAddress!   // read only, while this call waits for the workers
            let run: @Sendable (Int) -> Void = { worker in
                for k in stride(from: worker, to: ranges.count, by: workers) {
                    var text = [CChar](repeating: 0, count: Int(CT_MESSAGE_CAPACITY))
                    let r = ranges[k]
                    if !ct_png_part_compress(base, w, h, channels, adaptive, Int32(level), UInt32(r.lowerBound), UInt32(r.upperBound),
                                             k == ranges.count - 1 ? 1 : 0, compressed.part(k), &text) {
                        compressed.fail(k, message(&text))
                    }
                }
            }
            if workers == 1 { run(0) } else { DispatchQueue.concurrentPerform(iterations: workers, execute: run) }
        }
        if let failure = compressed.firstFailure { throw ImageIOError(codec: .png, path: path, reason: failure) }
        var buffer = ct_buffer()
        var text = [CChar](repeating: 0, count: Int(CT_MESSAGE_CAPACITY))
        let ok = palette.withUnsafeBufferPointer { pal in
            ct_png_assemble(w, h, colorType, pal.baseAddress, Int32(palette.count / 3), Int32(level), compressed.part(0),
                            Int32(ranges.count), &buffer, &text)
        }
        defer { ct_buffer_free(&buffer) }
        guard ok else { throw ImageIOError(codec: .png, path: path, reason: message(&text)) }
        return Array(UnsafeBufferPointer(start: buffer.bytes, count: buffer.size))
    }

    /// Encodes a 16-bit grey raster (one channel).
    public static func encode(_ image: Image16, level: Int = 6, path: String = "<memory>") throws(ImageIOError) -> [UInt8] {
        try encodeRaw(image, colorType: directColorType(channels: image.channels, path: path), palette: [],
                      level: level, path: path)
    }

    /// The PNG colour type of unindexed samples: grey, grey+alpha, RGB or RGBA by channel count.
    private static func directColorType(channels: Int, path: String) throws(ImageIOError) -> Int32 {
        switch channels {
        case 1: 0
        case 2: 4
        case 3: 2
        case 4: 6
        default: throw ImageIOError(codec: .png, path: path, reason: "cannot encode \(channels) channels")
        }
    }

    /// Encodes a raster of 16-bit samples through libpng.
    private static func encodeRaw<Sample>(_ image: Raster<Sample>, colorType: Int32, palette: [UInt8], level: Int,
                                          path: String) throws(ImageIOError) -> [UInt8] {
        guard (0 ... 9).contains(level) else {
            throw ImageIOError(codec: .png, path: path, reason: "compression level must be 0...9, got \(level)")
        }
        guard image.width > 0, image.height > 0 else {
            throw ImageIOError(codec: .png, path: path, reason: "cannot encode an empty \(image.width)x\(image.height) image")
        }
        var buffer = ct_buffer()
        var text = [CChar](repeating: 0, count: Int(CT_MESSAGE_CAPACITY))
        let ok = image.pixels.withUnsafeBytes { raw in
            palette.withUnsafeBufferPointer { pal in
                ct_png_encode(raw.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt32(image.width), UInt32(image.height),
                              colorType, Int32(Sample.bitWidth), pal.baseAddress, Int32(palette.count / 3), Int32(level),
                              &buffer, &text)
            }
        }
        defer { ct_buffer_free(&buffer) }
        guard ok else { throw ImageIOError(codec: .png, path: path, reason: message(&text)) }
        return Array(UnsafeBufferPointer(start: buffer.bytes, count: buffer.size))
    }
}

extension PNGInfo {
    init(_ c: ct_png_info) {
        var copy = c
        let palette = withUnsafeBytes(of: &copy.palette) { Array($0.prefix(Int(c.palette_size) * 3)) }
        self.init(width: Int(c.width), height: Int(c.height), bitDepth: Int(c.bit_depth),
                  colorType: ColorType(code: c.color_type), interlaced: c.interlace != 0,
                  hasTransparency: c.has_trns != 0, palette: palette)
    }
}

/// Reads a NUL-terminated message out of a fixed-size C char array.
func message<T>(_ tuple: inout T) -> String {
    withUnsafeBytes(of: &tuple) { raw in
        let bytes = raw.prefix(while: { $0 != 0 })
        let text = String(decoding: bytes, as: UTF8.self)
        return text.isEmpty ? "unknown codec failure" : text
    }
}

/// The compressed parts of one encoding, each written by one worker; freed with the slots.
private final class PartSlots: @unchecked Sendable {
    private let parts: UnsafeMutablePointer<ct_png_part>
    private let count: Int
    private let failures: Mutex<[String?]>

    init(count: Int) {
        self.count = count
        parts = .allocate(capacity: count)
        parts.initialize(repeating: ct_png_part(data: ct_buffer(), adler: 1, length: 0), count: count)
        failures = Mutex(Array(repeating: nil, count: count))
    }

    deinit {
        for k in 0 ..< count { ct_png_part_free(parts + k) }
        parts.deallocate()
    }

    func part(_ k: Int) -> UnsafeMutablePointer<ct_png_part> { parts + k }
    func fail(_ k: Int, _ message: String) { failures.withLock { $0[k] = message } }
    /// The first part's failure in row order.
    var firstFailure: String? { failures.withLock { $0.lazy.compactMap { $0 }.first } }
}
