// PhotoMetricDistortion.swift — mmseg `PhotoMetricDistortion()` with its
// defaults (brightness_delta 32, contrast and saturation ranges (0.5, 1.5),
// hue_delta 18).
//
// Draws, in this order (each step applied when its coin `randint(2)` is 1):
//   a. brightness coin; if 1: beta = uniform(-32, 32)
//   b. mode = randint(2)
//   c. if mode == 1: contrast coin; if 1: alpha = uniform(0.5, 1.5)
//   d. saturation coin; if 1: alpha = uniform(0.5, 1.5)
//   e. hue coin; if 1: delta = randint(-18, 18)          (-18...17)
//   f. if mode == 0: contrast coin; if 1: alpha = uniform(0.5, 1.5)
// Arithmetic (mmseg `convert`): float32(x) * float32(alpha) + float32(beta),
// clipped to [0, 255], truncated to uint8. Saturation scales S of an
// OpenCV HSV round trip; hue sets H = (H + delta) mod 180 (non-negative);
// each of the two does its own lossy round trip (see OpenCVHSV).
// mmseg runs on BGR; our images are RGB, and every step here is either
// channel-independent or uses the channel-aware HSV conversion, so the
// result equals mmseg's with the channels swapped.

import ImageIO

/// Random brightness, contrast, saturation and hue changes.
public struct PhotoMetricDistortion: Sendable, Hashable {
    public var brightnessDelta: Double
    public var contrastRange: ClosedRange<Double>
    public var saturationRange: ClosedRange<Double>
    public var hueDelta: Int

    public init(brightnessDelta: Double = 32, contrastRange: ClosedRange<Double> = 0.5 ... 1.5,
                saturationRange: ClosedRange<Double> = 0.5 ... 1.5, hueDelta: Int = 18) {
        self.brightnessDelta = brightnessDelta
        self.contrastRange = contrastRange
        self.saturationRange = saturationRange
        self.hueDelta = hueDelta
    }

    /// The outcome of the draws: nil for a step that is skipped.
    public struct Draws: Sendable, Hashable, Codable {
        public var brightness: Double?
        /// mode == 1: contrast before saturation; otherwise after hue.
        public var contrastFirst: Bool
        public var contrast: Double?
        public var saturation: Double?
        public var hue: Int?

        public init(brightness: Double? = nil, contrastFirst: Bool = false, contrast: Double? = nil,
                    saturation: Double? = nil, hue: Int? = nil) {
            self.brightness = brightness
            self.contrastFirst = contrastFirst
            self.contrast = contrast
            self.saturation = saturation
            self.hue = hue
        }
    }

    /// Makes every draw in mmseg's order.
    public func draw<R: RandomSource>(_ random: inout R) -> Draws {
        var d = Draws()
        if random.integer(0, 2) == 1 { d.brightness = random.uniform(-brightnessDelta, brightnessDelta) }
        d.contrastFirst = random.integer(0, 2) == 1
        func contrastDraw() -> Double? {
            random.integer(0, 2) == 1 ? random.uniform(contrastRange.lowerBound, contrastRange.upperBound) : nil
        }
        if d.contrastFirst { d.contrast = contrastDraw() }
        if random.integer(0, 2) == 1 {
            d.saturation = random.uniform(saturationRange.lowerBound, saturationRange.upperBound)
        }
        if random.integer(0, 2) == 1 { d.hue = random.integer(-hueDelta, hueDelta) }
        if !d.contrastFirst { d.contrast = contrastDraw() }
        return d
    }

    /// Draws and applies to an RGB image.
    public func apply<R: RandomSource>(image: Image8, random: inout R) throws(AugmentError) -> (Image8, Draws) {
        let d = draw(&random)
        return (try Self.apply(image: image, draws: d), d)
    }

    /// Applies fixed draws to an RGB image.
    public static func apply(image: Image8, draws d: Draws) throws(AugmentError) -> Image8 {
        guard image.channels == 3 else {
            throw AugmentError(stage: "PhotoMetricDistortion", reason: "image has \(image.channels) channels, expected 3 (RGB)")
        }
        var img = image
        if let beta = d.brightness { img = brightness(img, beta: beta) }
        if d.contrastFirst, let alpha = d.contrast { img = contrast(img, alpha: alpha) }
        if let alpha = d.saturation { img = saturation(img, alpha: alpha) }
        if let delta = d.hue { img = hue(img, delta: delta) }
        if !d.contrastFirst, let alpha = d.contrast { img = contrast(img, alpha: alpha) }
        return img
    }

    /// mmseg `convert(x, alpha, beta)` as a 256-entry table:
    /// uint8(clip(float32(x) * float32(alpha) + float32(beta), 0, 255)).
    static func convertTable(alpha: Float, beta: Float) -> [UInt8] {
        (0 ..< 256).map { x in
            let y = Float(x) * alpha + beta
            return UInt8(max(0, min(255, y)).rounded(.towardZero))
        }
    }

    static func mapSamples(_ image: Image8, channel: Int?, table: [UInt8]) -> Image8 {
        var out = image
        let c = image.channels
        table.withUnsafeBufferPointer { t in
            out.pixels.withUnsafeMutableBufferPointer { p in
                if let channel {
                    var i = channel
                    while i < p.count { p[i] = t[Int(p[i])]; i += c }
                } else {
                    for i in 0 ..< p.count { p[i] = t[Int(p[i])] }
                }
            }
        }
        return out
    }

    /// Step a: add `beta` to every sample.
    public static func brightness(_ image: Image8, beta: Double) -> Image8 {
        mapSamples(image, channel: nil, table: convertTable(alpha: 1, beta: Float(beta)))
    }

    /// Steps c/f: multiply every sample by `alpha`.
    public static func contrast(_ image: Image8, alpha: Double) -> Image8 {
        mapSamples(image, channel: nil, table: convertTable(alpha: Float(alpha), beta: 0))
    }

    /// Step d: RGB -> HSV, S *= alpha (convert), HSV -> RGB.
    public static func saturation(_ image: Image8, alpha: Double) -> Image8 {
        var hsv = image
        OpenCVHSV.rgbToHSV(&hsv)
        hsv = mapSamples(hsv, channel: 1, table: convertTable(alpha: Float(alpha), beta: 0))
        OpenCVHSV.hsvToRGB(&hsv)
        return hsv
    }

    /// Step e: RGB -> HSV, H = (H + delta) mod 180, HSV -> RGB.
    public static func hue(_ image: Image8, delta: Int) -> Image8 {
        var hsv = image
        OpenCVHSV.rgbToHSV(&hsv)
        let table = (0 ..< 256).map { h in
            let shifted = (h + delta) % 180
            return UInt8(truncatingIfNeeded: shifted < 0 ? shifted + 180 : shifted)
        }
        hsv = mapSamples(hsv, channel: 0, table: table)
        OpenCVHSV.hsvToRGB(&hsv)
        return hsv
    }
}
