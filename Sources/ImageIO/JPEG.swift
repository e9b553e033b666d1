// JPEG.swift — JPEG decode (baseline and progressive, grey and YCbCr) and
// encode (grey, RGB), through libjpeg-turbo in CImageCodecs.

import CImageCodecs

/// What a JPEG header says.
public struct JPEGInfo: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// Components in the file: 1 grey, 3 colour.
    public var components: Int
    public var progressive: Bool
    /// "gray", "ycbcr" or "rgb" (the file's colour space).
    public var colorSpace: String
}

/// JPEG codec entry points.
public enum JPEG {
    /// Reads only the header. CMYK/YCCK files are rejected here already.
    public static func info(_ bytes: [UInt8], path: String) throws(ImageIOError) -> JPEGInfo {
        var cinfo = ct_jpeg_info()
        let ok = bytes.withUnsafeBufferPointer { ct_jpeg_read($0.baseAddress, $0.count, false, DecodeLimits.unbounded, nil, 0, &cinfo) }
        guard ok else { throw ImageIOError(codec: .jpeg, path: path, reason: message(&cinfo.message)) }
        return JPEGInfo(cinfo)
    }

    /// Decodes to 8-bit RGB, or to one-channel grey for grey files when `rgb` is false.
    /// Truncated or damaged entropy data throws instead of returning grey-padded pixels.
    public static func decode(_ bytes: [UInt8], path: String, rgb: Bool = true,
                              limits: DecodeLimits = .default) throws(ImageIOError) -> (Image8, JPEGInfo) {
        var cinfo = ct_jpeg_info()
        let headerOK = bytes.withUnsafeBufferPointer {
            ct_jpeg_read($0.baseAddress, $0.count, rgb, limits.c, nil, 0, &cinfo)
        }
        guard headerOK else { throw error(&cinfo, path: path, limits: limits) }
        // ct_jpeg_read refused sizes beyond the limit (and sides beyond 65500) already.
        let width = Int(cinfo.width), height = Int(cinfo.height), channels = Int(cinfo.out_channels)
        let count = width * height * channels
        var failure: String?
        let pixels = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            let ok = bytes.withUnsafeBufferPointer { src in
                ct_jpeg_read(src.baseAddress, src.count, rgb, limits.c, buffer.baseAddress, count, &cinfo)
            }
            if ok { initialized = count } else {
                initialized = 0     // no partial image escapes
                failure = message(&cinfo.message)
            }
        }
        if let failure { throw ImageIOError(codec: .jpeg, path: path, reason: failure) }
        return (Image8(width: width, height: height, channels: channels, pixels: pixels), JPEGInfo(cinfo))
    }

    static func error(_ cinfo: inout ct_jpeg_info, path: String, limits: DecodeLimits) -> ImageIOError {
        let kind: ImageIOError.Kind = cinfo.over_limit != 0
            ? .overPixelLimit(width: Int(cinfo.width), height: Int(cinfo.height), limit: limits.maxPixels) : .failed
        return ImageIOError(codec: .jpeg, path: path, reason: message(&cinfo.message), kind: kind)
    }

    /// Encodes 8-bit grey or RGB at `quality` (1...100).
    public static func encode(_ image: Image8, quality: Int = 90, path: String = "<memory>") throws(ImageIOError) -> [UInt8] {
        var buffer = ct_buffer()
        var text = [CChar](repeating: 0, count: Int(CT_MESSAGE_CAPACITY))
        let ok = image.pixels.withUnsafeBufferPointer {
            ct_jpeg_encode($0.baseAddress, UInt32(image.width), UInt32(image.height), Int32(image.channels),
                           Int32(quality), &buffer, &text)
        }
        defer { ct_buffer_free(&buffer) }
        guard ok else { throw ImageIOError(codec: .jpeg, path: path, reason: message(&text)) }
        return Array(UnsafeBufferPointer(start: buffer.bytes, count: buffer.size))
    }
}

extension JPEGInfo {
    init(_ c: ct_jpeg_info) {
        let space: String
        switch c.color_space {
        case 1: space = "gray"     // JCS_GRAYSCALE
        case 2: space = "rgb"      // JCS_RGB
        case 3: space = "ycbcr"    // JCS_YCbCr
        case 4: space = "cmyk"
        case 5: space = "ycck"
        default: space = "unknown"
        }
        self.init(width: Int(c.width), height: Int(c.height), components: Int(c.components),
                  progressive: c.progressive != 0, colorSpace: space)
    }
}
