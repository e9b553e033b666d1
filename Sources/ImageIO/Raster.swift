// Raster.swift — decoded pixels: interleaved, row-major, no padding.

/// A decoded image or label map: `height` rows of `width` pixels of `channels`
/// interleaved samples. Label maps are one-channel `Raster<UInt8>`.
public struct Raster<Sample: FixedWidthInteger & UnsignedInteger & Sendable>: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let channels: Int
    public var pixels: [Sample]

    public init(width: Int, height: Int, channels: Int, pixels: [Sample]) {
        precondition(width >= 0 && height >= 0 && channels > 0, "Raster: bad dimensions \(width)x\(height)x\(channels)")
        precondition(pixels.count == width * height * channels,
                     "Raster: \(pixels.count) samples for \(width)x\(height)x\(channels)")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// A raster filled with one value.
    public init(width: Int, height: Int, channels: Int, filledWith value: Sample) {
        self.init(width: width, height: height, channels: channels,
                  pixels: [Sample](repeating: value, count: width * height * channels))
    }

    /// Sample `c` of pixel (x, y).
    @inlinable public subscript(x: Int, y: Int, c: Int) -> Sample {
        get { pixels[(y * width + x) * channels + c] }
        set { pixels[(y * width + x) * channels + c] = newValue }
    }
}

/// 8-bit image (RGB, grey, RGBA...).
public typealias Image8 = Raster<UInt8>
/// 16-bit image (16-bit PNG samples).
public typealias Image16 = Raster<UInt16>
/// A one-channel label map (label ids, trainIds, palette indices).
public typealias LabelMap = Raster<UInt8>

/// A decoded file whose sample depth is known only at run time.
public enum DecodedImage: Sendable, Equatable {
    case uint8(Image8)
    case uint16(Image16)

    public var width: Int { switch self { case .uint8(let r): r.width; case .uint16(let r): r.width } }
    public var height: Int { switch self { case .uint8(let r): r.height; case .uint16(let r): r.height } }
    public var channels: Int { switch self { case .uint8(let r): r.channels; case .uint16(let r): r.channels } }
}
