// OpenCVHSV.swift — bit-exact emulation of OpenCV's 8-bit RGB <-> HSV
// conversions (`cv2.cvtColor` COLOR_BGR2HSV / COLOR_HSV2BGR on uint8, H in
// 0..179), as used twice by PhotoMetricDistortion.
//
// To HSV (modules/imgproc color_hsv, RGB2HSV_b): integer arithmetic with
// 12-bit fixed-point reciprocal tables,
//   v = max, diff = max - min,
//   s = (diff * sdiv[v] + 2048) >> 12,          sdiv[i] = round((255 << 12) / i)
//   h = (r==v ? g-b : g==v ? b-r+2*diff : r-g+4*diff),
//   h = (h * hdiv[diff] + 2048) >> 12 (+180 if negative), hdiv[i] = round((180 << 12) / (6 i)).
// The vector and scalar paths agree.
//
// To RGB (HSV2RGB_b): float arithmetic, s and v scaled by 1/255, hue sectors
// of 30 (6/180 per unit), tab = {v, v(1-s), v(1-s*f), v(1-s(1-f))}. The
// opencv-python x86-64 wheels run the AVX2 kernel, where the compiler fuses
// `1 - s*f` into one FMA. The kernel converts each row in blocks of 32 pixels
// (4 x 8 float lanes): pixels in whole blocks are scaled by 255 and
// TRUNCATED; the row's remaining `width % 32` pixels take the scalar path,
// which ROUNDS to nearest (cvRound) and treats s == 0 as grey. So the result
// depends on a pixel's column — reproduced here, verified against cv2 4.10
// and 5.0 on all 2^24 inputs of each path. (Builds without AVX2, e.g. ARM
// NEON with 16-pixel blocks, would split rows differently.)

import ImageIO

/// OpenCV-compatible 8-bit HSV conversions of interleaved RGB images.
public enum OpenCVHSV {
    /// Pixels per vector block of the AVX2 HSV -> RGB kernel.
    public static let vectorBlock = 32

    static let sdiv: [Int32] = (0 ..< 256).map { i in
        i == 0 ? 0 : Int32((Double(255 << 12) / Double(i)).rounded(.toNearestOrEven))
    }
    static let hdiv: [Int32] = (0 ..< 256).map { i in
        i == 0 ? 0 : Int32((Double(180 << 12) / (6.0 * Double(i))).rounded(.toNearestOrEven))
    }

    /// One pixel to (H, S, V), H in 0..179.

    public static func hsv(r: UInt8, g: UInt8, b: UInt8) -> (h: UInt8, s: UInt8, v: UInt8) {
        sdiv.withUnsafeBufferPointer { sdiv in
            hdiv.withUnsafeBufferPointer { hdiv in
                hsv(r: r, g: g, b: b, sdiv: sdiv, hdiv: hdiv)
            }
        }
    }

    @inline(__always)
    static func hsv(r: UInt8, g: UInt8, b: UInt8, sdiv: UnsafeBufferPointer<Int32>,
                    hdiv: UnsafeBufferPointer<Int32>) -> (h: UInt8, s: UInt8, v: UInt8) {
        let ri = Int32(r), gi = Int32(g), bi = Int32(b)
        let v = max(bi, gi, ri), vmin = min(bi, gi, ri)
        let diff = v - vmin
        let s = (diff * sdiv[Int(v)] + 2048) >> 12
        var h: Int32
        if v == ri { h = gi - bi } else if v == gi { h = bi - ri + 2 * diff } else { h = ri - gi + 4 * diff }
        h = (h * hdiv[Int(diff)] + 2048) >> 12
        if h < 0 { h += 180 }
        return (UInt8(clamping: h), UInt8(truncatingIfNeeded: s), UInt8(truncatingIfNeeded: v))
    }

    /// One pixel back to (R, G, B). `vectorPath` selects the AVX2 block
    /// arithmetic (truncation) or the scalar tail (rounding).

    public static func rgb(h: UInt8, s: UInt8, v: UInt8, vectorPath: Bool) -> (r: UInt8, g: UInt8, b: UInt8) {
        let sf = Float(s) * (1 / 255 as Float)
        let vf = Float(v) * (1 / 255 as Float)
        let hscale: Float = 6 / 180
        var hf = Float(h) * hscale
        var sector: Int
        if vectorPath {
            let pre = hf.rounded(.towardZero)
            hf -= pre
            let sixths = (pre * (1 / 6 as Float)).rounded(.towardZero)
            sector = Int(pre - sixths * 6)
        } else {
            if s == 0 { return (v, v, v) }
            hf = hf.truncatingRemainder(dividingBy: 6)
            let floorH = hf.rounded(.down)
            sector = Int(floorH)
            hf -= floorH
            if sector < 0 || sector >= 6 { sector = 0; hf = 0 }
        }
        let tab0 = vf
        let tab1 = vf * (1 - sf)
        let tab2 = vf * (1 as Float).addingProduct(-sf, hf)        // FMA, as compiled
        let tab3 = vf * (1 as Float).addingProduct(-sf, 1 - hf)
        let b, g, r: Float
        switch sector {
        case 0: (b, g, r) = (tab1, tab3, tab0)
        case 1: (b, g, r) = (tab1, tab0, tab2)
        case 2: (b, g, r) = (tab3, tab0, tab1)
        case 3: (b, g, r) = (tab0, tab2, tab1)
        case 4: (b, g, r) = (tab0, tab1, tab3)
        default: (b, g, r) = (tab2, tab1, tab0)
        }
        @inline(__always) func store(_ x: Float) -> UInt8 {
            let scaled = x * 255
            let q = vectorPath ? scaled.rounded(.towardZero) : scaled.rounded(.toNearestOrEven)
            return UInt8(max(0, min(255, q)))
        }
        return (store(r), store(g), store(b))
    }

    /// RGB image -> HSV image (channel 0 = H in 0..179, 1 = S, 2 = V), in place.
    public static func rgbToHSV(_ image: inout Image8) {
        precondition(image.channels == 3, "OpenCVHSV.rgbToHSV: \(image.channels) channels, expected 3")
        let n = image.width * image.height
        sdiv.withUnsafeBufferPointer { sdiv in
            hdiv.withUnsafeBufferPointer { hdiv in
                image.pixels.withUnsafeMutableBufferPointer { p in
                    for i in 0 ..< n {
                        let o = 3 * i
                        let (h, s, v) = hsv(r: p[o], g: p[o + 1], b: p[o + 2], sdiv: sdiv, hdiv: hdiv)
                        p[o] = h; p[o + 1] = s; p[o + 2] = v
                    }
                }
            }
        }
    }

    /// HSV image -> RGB image, in place, with OpenCV's per-row block split.
    public static func hsvToRGB(_ image: inout Image8) {
        precondition(image.channels == 3, "OpenCVHSV.hsvToRGB: \(image.channels) channels, expected 3")
        let w = image.width
        let vectorColumns = (w / vectorBlock) * vectorBlock
        image.pixels.withUnsafeMutableBufferPointer { p in
            for y in 0 ..< image.height {
                for x in 0 ..< w {
                    let o = 3 * (y * w + x)
                    let (r, g, b) = rgb(h: p[o], s: p[o + 1], v: p[o + 2], vectorPath: x < vectorColumns)
                    p[o] = r; p[o + 1] = g; p[o + 2] = b
                }
            }
        }
    }
}
