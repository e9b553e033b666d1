// StandInBilinear.swift — TEMPORARY image resampler for the resize transforms.
//
// Plain float bilinear with half-pixel centres and edge clamping, rounded to
// nearest. It is close to OpenCV INTER_LINEAR on uint8 but NOT bit-exact
// (OpenCV uses 11-bit fixed-point weights). The exact OpenCV emulation belongs
// in ImageIO (`Resize.bilinear`); when it lands, `ImageResampler.bilinear`
// below forwards to it and this file is deleted.

import ImageIO

/// The one place the Augment transforms resize images.
enum ImageResampler {
    /// Bilinear resize of an interleaved 8-bit image (OpenCV INTER_LINEAR semantics).
    static func bilinear(_ image: Image8, width: Int, height: Int) -> Image8 {
        StandInBilinear.resize(image, width: width, height: height)
    }
}

/// Stand-in: half-pixel float bilinear. Replace with `ImageIO.Resize.bilinear`.
enum StandInBilinear {
    static func resize(_ image: Image8, width: Int, height: Int) -> Image8 {
        precondition(width > 0 && height > 0, "StandInBilinear: target \(width)x\(height) is empty")
        let c = image.channels, sw = image.width, sh = image.height
        if sw == width && sh == height { return image }
        func taps(_ src: Int, _ dst: Int) -> [(Int, Int, Float)] {
            let scale = Double(src) / Double(dst)
            return (0 ..< dst).map { d in
                var s = (Double(d) + 0.5) * scale - 0.5
                if s < 0 { s = 0 }
                var i0 = Int(s.rounded(.down))
                var f = Float(s - Double(i0))
                if i0 >= src - 1 { i0 = src - 1; f = 0 }
                return (i0, min(i0 + 1, src - 1), f)
            }
        }
        let xs = taps(sw, width), ys = taps(sh, height)
        var out = [UInt8](repeating: 0, count: width * height * c)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0 ..< height {
                    let (y0, y1, fy) = ys[y]
                    for x in 0 ..< width {
                        let (x0, x1, fx) = xs[x]
                        for k in 0 ..< c {
                            let a = Float(src[(y0 * sw + x0) * c + k]), b = Float(src[(y0 * sw + x1) * c + k])
                            let p = Float(src[(y1 * sw + x0) * c + k]), q = Float(src[(y1 * sw + x1) * c + k])
                            let top = a + (b - a) * fx, bottom = p + (q - p) * fx
                            let v = (top + (bottom - top) * fy).rounded()
                            dst[(y * width + x) * c + k] = UInt8(max(0, min(255, v)))
                        }
                    }
                }
            }
        }
        return Raster(width: width, height: height, channels: c, pixels: out)
    }
}
