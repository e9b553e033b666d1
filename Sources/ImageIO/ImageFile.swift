// ImageFile.swift — reading and writing image files by path, format sniffed
// from the signature (never from the extension).

import CTCore

/// The container format of an image file.
public enum ImageFormat: String, Sendable, Codable {
    case png, jpeg

    /// Detects the format from the first bytes.
    public static func sniff(_ bytes: [UInt8]) -> ImageFormat? {
        if bytes.count >= 8, Array(bytes[0 ..< 8]) == PNG.signature { return .png }
        if bytes.count >= 3, bytes[0] == 0xFF, bytes[1] == 0xD8, bytes[2] == 0xFF { return .jpeg }
        return nil
    }
}

public enum ImageFile {
    /// Reads a file's bytes, turning file-system failures into `ImageIOError`.
    public static func bytes(_ path: String) throws(ImageIOError) -> [UInt8] {
        do { return try FileBytes.read(path) } catch {
            throw ImageIOError(codec: .file, path: path, reason: error.reason)
        }
    }

    /// Decodes any PNG or JPEG to 8-bit RGB.
    public static func readRGB(_ path: String, limits: DecodeLimits = .default) throws(ImageIOError) -> Image8 {
        let data = try bytes(path)
        switch ImageFormat.sniff(data) {
        case .png: return try PNG.decodeRGB(data, path: path, limits: limits)
        case .jpeg: return try JPEG.decode(data, path: path, rgb: true, limits: limits).0
        case nil: throw unknownFormat(data, path: path)
        }
    }

    /// Decodes a one-channel 8-bit label file (grey or palette index plane).
    public static func readLabel(_ path: String, limits: DecodeLimits = .default) throws(ImageIOError) -> LabelMap {
        let data = try bytes(path)
        switch ImageFormat.sniff(data) {
        case .png: return try PNG.decodeLabel(data, path: path, limits: limits)
        case .jpeg: throw ImageIOError(codec: .jpeg, path: path, reason: "label maps must be PNG (JPEG is lossy)")
        case nil: throw unknownFormat(data, path: path)
        }
    }

    /// Encodes a PNG (compressed over `threads` threads) and writes it atomically (fsync'ed before the
    /// rename unless `durability` is `.atomic`).
    public static func writePNG(_ image: Image8, to path: String, format: PNG.EncodeFormat = .direct,
                                level: Int = 6, durability: AtomicFile.Durability = .durable, threads: Int = 1) throws(ImageIOError) {
        let encoded = try PNG.encode(image, format: format, level: level, path: path, threads: threads)
        try write(encoded, to: path, durability: durability)
    }

    /// Encodes a JPEG and writes it atomically.
    public static func writeJPEG(_ image: Image8, to path: String, quality: Int = 90) throws(ImageIOError) {
        let encoded = try JPEG.encode(image, quality: quality, path: path)
        try write(encoded, to: path)
    }

    static func write(_ bytes: [UInt8], to path: String, durability: AtomicFile.Durability = .durable) throws(ImageIOError) {
        do { try AtomicFile.write(bytes, to: path, durability: durability) } catch {
            throw ImageIOError(codec: .file, path: path, reason: error.reason)
        }
    }

    static func unknownFormat(_ data: [UInt8], path: String) -> ImageIOError {
        ImageIOError(codec: .file, path: path,
                     reason: data.isEmpty ? "file is empty" : "not a PNG or JPEG file (unrecognised signature)")
    }
}
