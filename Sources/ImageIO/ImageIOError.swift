// ImageIOError.swift — the one error type of the ImageIO module.

import CTCore

/// A decode, encode or file failure, naming the file and quoting the codec.
public struct ImageIOError: ReasonedError, Equatable {
    public enum Codec: String, Sendable {
        case png, jpeg, file, resize
    }
    public let codec: Codec
    public let path: String
    public let reason: String

    public init(codec: Codec, path: String, reason: String) {
        self.codec = codec
        self.path = path
        self.reason = reason
    }

    /// `path: codec`.
    public var subject: String? { "\(path): \(codec.rawValue)" }
}

/// Limits checked before any pixel buffer is allocated.
public struct DecodeLimits: Sendable, Equatable {
    /// Largest accepted width*height (default 2^28, ~268 megapixels).
    public var maxPixels: Int
    public init(maxPixels: Int = 1 << 28) { self.maxPixels = maxPixels }
    public static let `default` = DecodeLimits()
}
