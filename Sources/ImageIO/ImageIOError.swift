// ImageIOError.swift — the one error type of the ImageIO module.

import CImageCodecs
import CTCore

/// A decode, encode or file failure, naming the file and quoting the codec.
public struct ImageIOError: ReasonedError, Equatable {
    public enum Codec: String, Sendable {
        case png, jpeg, file, resize
    }
    /// What kind of failure: most are `.failed`; a header declaring more pixels than
    /// `DecodeLimits.maxPixels` is `.overPixelLimit`, raised before any pixel buffer exists.
    public enum Kind: Sendable, Equatable {
        case failed
        case overPixelLimit(width: Int, height: Int, limit: Int)
    }
    public let codec: Codec
    public let path: String
    public let reason: String
    public let kind: Kind

    public init(codec: Codec, path: String, reason: String, kind: Kind = .failed) {
        self.codec = codec
        self.path = path
        self.reason = reason
        self.kind = kind
    }

    /// `path: codec`.
    public var subject: String? { "\(path): \(codec.rawValue)" }
}

/// Limits checked from the header before any pixel buffer is allocated, and
/// the memory cap of the decoder itself.
public struct DecodeLimits: Sendable, Equatable {
    /// The default pixel limit: 64 * 2^20 (~67 megapixels). The largest images of
    /// the five datasets (Mapillary's, about 25 MP) fit with headroom.
    public static let defaultMaxPixels = 64 << 20
    /// Bytes the JPEG decoder may use per pixel of the limit (three 16-bit DCT
    /// coefficient planes of a progressive 4:4:4 file), plus a fixed margin for
    /// its row buffers and tables.
    public static let decoderBytesPerPixel = 6
    public static let decoderMemoryMargin = 64 << 20

    /// Largest accepted width*height (at least 1).
    public let maxPixels: Int
    /// Largest total the JPEG decoder's memory manager may allocate
    /// (progressive coefficient buffers above all); derived from `maxPixels`
    /// unless given.
    public let maxDecoderMemory: Int

    public init(maxPixels: Int = DecodeLimits.defaultMaxPixels, maxDecoderMemory: Int? = nil) {
        let pixels = max(1, maxPixels)
        self.maxPixels = pixels
        if let maxDecoderMemory {
            self.maxDecoderMemory = max(1, maxDecoderMemory)
        } else {
            let (perPixel, o1) = pixels.multipliedReportingOverflow(by: DecodeLimits.decoderBytesPerPixel)
            let (total, o2) = perPixel.addingReportingOverflow(DecodeLimits.decoderMemoryMargin)
            self.maxDecoderMemory = o1 || o2 ? Int.max : total
        }
    }
    public static let `default` = DecodeLimits()

    /// The C shim's form.
    var c: ct_decode_limits {
        ct_decode_limits(max_pixels: UInt64(maxPixels), max_decoder_memory: UInt64(maxDecoderMemory))
    }
    /// No bound: header-only reads, which allocate nothing for pixels.
    static let unbounded = ct_decode_limits(max_pixels: 0, max_decoder_memory: 0)
}
