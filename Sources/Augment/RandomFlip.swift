// RandomFlip.swift — mmcv `RandomFlip(prob=p, direction='horizontal')`.
//
// One draw: numpy `choice(['horizontal', None], p=[p, 1-p])`, i.e. a uniform
// u in [0, 1) and a flip when u < p. Image and label are mirrored together.

import ImageIO

/// Horizontal flip with probability `probability`.
public struct RandomFlip: Sendable, Hashable {
    public var probability: Double

    public init(probability: Double = 0.5) { self.probability = probability }

    /// Draws the decision (one uniform).
    public func drawFlip<R: RandomSource>(_ random: inout R) -> Bool {
        random.uniform(0, 1) < probability
    }

    /// Flips image and label together when the draw says so.
    public func apply<R: RandomSource>(image: Image8, label: LabelMap,
                                       random: inout R) -> (Image8, LabelMap, flipped: Bool) {
        guard drawFlip(&random) else { return (image, label, false) }
        return (Self.mirror(image), Self.mirror(label), true)
    }

    /// Mirrors a raster left-right.
    public static func mirror<S>(_ raster: Raster<S>) -> Raster<S> {
        let c = raster.channels, w = raster.width
        var out = raster.pixels
        raster.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0 ..< raster.height {
                    let row = y * w * c
                    for x in 0 ..< w {
                        let s = row + x * c, d = row + (w - 1 - x) * c
                        for k in 0 ..< c { dst[d + k] = src[s + k] }
                    }
                }
            }
        }
        return Raster(width: w, height: raster.height, channels: c, pixels: out)
    }
}
