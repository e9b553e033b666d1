// Resize.swift — the resamplers the reference pipelines use, reproduced bit for bit.
//
// Images: `bilinear` is OpenCV's cv2.resize(..., INTER_LINEAR) on uint8 (what
// MMSegmentation's Resize calls): half-pixel centres, 11-bit fixed-point
// weights, a horizontal pass into 32-bit rows and a vertical pass with
// OpenCV's exact shifts and rounding, border replication, and OpenCV's switch
// to INTER_AREA for exact 2x downscales. Label maps: `nearest`, in the two
// conventions that occur (OpenCV INTER_NEAREST, Pillow NEAREST); labels are
// never interpolated.

/// Nearest-neighbour conventions for label maps.
public enum NearestRule: Sendable {
    /// OpenCV INTER_NEAREST: src = min(floor(dst * (1 / (dstSize / srcSize))), srcSize - 1), in doubles.
    case opencv
    /// Pillow NEAREST: src = floor(s/2 + dst * s) with s = srcSize / dstSize accumulated in doubles.
    case pillow
}

public enum Resize {
    /// Bits of OpenCV's fixed-point interpolation weights (INTER_RESIZE_COEF_BITS).
    static let coefBits = 11
    static let coefScale = 1 << coefBits

    // MARK: nearest

    /// Nearest-neighbour resize of any raster (label maps), matching OpenCV or Pillow exactly.
    /// `width` and `height` must be positive.
    public static func nearest<S>(_ image: Raster<S>, width: Int, height: Int, rule: NearestRule = .opencv) -> Raster<S> {
        precondition(width > 0 && height > 0, "Resize.nearest: target \(width)x\(height) is empty")
        precondition(image.width > 0 && image.height > 0, "Resize.nearest: source is empty")
        let xs = nearestIndices(source: image.width, target: width, rule: rule)
        let ys = nearestIndices(source: image.height, target: height, rule: rule)
        let c = image.channels, sw = image.width
        var out = [S](repeating: 0, count: width * height * c)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                xs.withUnsafeBufferPointer { xs in
                    for y in 0 ..< height {
                        let srow = ys[y] * sw * c
                        let drow = y * width * c
                        if c == 1 {
                            for x in 0 ..< width { dst[drow + x] = src[srow + xs[x]] }
                        } else {
                            for x in 0 ..< width {
                                let s = srow + xs[x] * c, d = drow + x * c
                                for k in 0 ..< c { dst[d + k] = src[s + k] }
                            }
                        }
                    }
                }
            }
        }
        return Raster(width: width, height: height, channels: c, pixels: out)
    }

    /// Source index of every target index, computed with each library's own
    /// floating-point expression (the order of operations decides ties).
    static func nearestIndices(source: Int, target: Int, rule: NearestRule) -> [Int] {
        switch rule {
        case .opencv:
            // resizeNN: ifx = 1./fx with fx = (double)dsize/ssize; sx = cvFloor(x*ifx).
            let ifx = 1.0 / (Double(target) / Double(source))
            return (0 ..< target).map { min(Int((Double($0) * ifx).rounded(.down)), source - 1) }
        case .pillow:
            // ImagingScaleAffine: xo = a*0.5, then xo += a per pixel; index = (int)xo.
            let a = Double(source) / Double(target)
            var xo = a * 0.5
            var out = [Int](repeating: 0, count: target)
            for i in 0 ..< target {
                out[i] = min(max(Int(xo), 0), source - 1)
                xo += a
            }
            return out
        }
    }

    // MARK: bilinear (OpenCV INTER_LINEAR)

    /// Bilinear resize of an 8-bit raster, bit-exact to
    /// `cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)`
    /// for any channel count, including OpenCV's INTER_AREA shortcut when both
    /// axes shrink by exactly 2. `width` and `height` must be positive. That shortcut
    /// splits its rows over `threads` (the bytes do not depend on it).
    public static func bilinear(_ image: Image8, width: Int, height: Int, threads: Int = 1) -> Image8 {
        precondition(width > 0 && height > 0, "Resize.bilinear: target \(width)x\(height) is empty")
        precondition(image.width > 0 && image.height > 0, "Resize.bilinear: source is empty")
        if width == image.width && height == image.height { return image }
        if image.width == 2 * width && image.height == 2 * height {
            return halve(image, threads: threads)
        }
        return linear(image, width: width, height: height)
    }

    /// One axis of OpenCV's INTER_LINEAR tables: source offset and the two
    /// 11-bit weights of every target index, computed in OpenCV's float/double mix.
    struct LinearAxis {
        var offsets: [Int]
        var weights: [Int32]    // pairs (w0, w1), w0 + w1 == 2048
        /// First target index whose right neighbour falls off the source (x only).
        var limit: Int

        init(source: Int, target: Int, clampOffsets: Bool) {
            let inverse = Double(target) / Double(source)
            let scale = 1.0 / inverse
            offsets = [Int](repeating: 0, count: target)
            weights = [Int32](repeating: 0, count: 2 * target)
            limit = target
            for d in 0 ..< target {
                var f = Float((Double(d) + 0.5) * scale - 0.5)
                var s = Int(f.rounded(.down))
                f -= Float(s)
                if clampOffsets {
                    if s < 0 { f = 0; s = 0 }
                    if s + 1 >= source {
                        limit = min(limit, d)
                        if s >= source - 1 { f = 0; s = source - 1 }
                    }
                }
                offsets[d] = s
                // saturate_cast<short>(float) rounds half to even.
                weights[2 * d] = Int32(((1 - f) * Float(Resize.coefScale)).rounded(.toNearestOrEven))
                weights[2 * d + 1] = Int32((f * Float(Resize.coefScale)).rounded(.toNearestOrEven))
            }
        }
    }

    /// The general separable path (resizeGeneric_ with HResizeLinear/VResizeLinear).
    static func linear(_ image: Image8, width: Int, height: Int) -> Image8 {
        let cn = image.channels, sw = image.width, sh = image.height
        let xaxis = LinearAxis(source: sw, target: width, clampOffsets: true)
        let yaxis = LinearAxis(source: sh, target: height, clampOffsets: false)
        let rowLength = width * cn
        // Per-sample tables: source sample index and weights (channels share a pixel's weights).
        var xofs = [Int](repeating: 0, count: rowLength)
        var alpha = [Int32](repeating: 0, count: 2 * rowLength)
        for dx in 0 ..< width {
            for k in 0 ..< cn {
                xofs[dx * cn + k] = xaxis.offsets[dx] * cn + k
                alpha[2 * (dx * cn + k)] = xaxis.weights[2 * dx]
                alpha[2 * (dx * cn + k) + 1] = xaxis.weights[2 * dx + 1]
            }
        }
        let xmax = xaxis.limit * cn
        var out = [UInt8](repeating: 0, count: rowLength * height)
        // Two horizontally resampled rows (values scaled by 2048) in two slots,
        // each tagged with the source row it holds.
        var rows = [Int32](repeating: 0, count: 2 * rowLength)
        var tags = (-1, -1)

        image.pixels.withUnsafeBufferPointer { src in
            xofs.withUnsafeBufferPointer { xofs in
                alpha.withUnsafeBufferPointer { alpha in
                    rows.withUnsafeMutableBufferPointer { rows in
                        out.withUnsafeMutableBufferPointer { dst in
                            func horizontal(_ sy: Int, slot: Int) {
                                let base = sy * sw * cn, row = slot * rowLength
                                for dx in 0 ..< xmax {
                                    let sx = base + xofs[dx]
                                    rows[row + dx] = Int32(src[sx]) &* alpha[2 * dx] &+ Int32(src[sx + cn]) &* alpha[2 * dx + 1]
                                }
                                for dx in xmax ..< rowLength {
                                    rows[row + dx] = Int32(src[base + xofs[dx]]) &* Int32(coefScale)
                                }
                            }
                            /// The slot holding source row `sy`, computing it into a slot other than `keep` if needed.
                            func slot(for sy: Int, keep: Int) -> Int {
                                if tags.0 == sy { return 0 }
                                if tags.1 == sy { return 1 }
                                let free = keep == 0 ? 1 : 0
                                horizontal(sy, slot: free)
                                if free == 0 { tags.0 = sy } else { tags.1 = sy }
                                return free
                            }
                            for dy in 0 ..< height {
                                // OpenCV clips the row pair, not the weights, at the top and bottom.
                                let sy0 = min(max(yaxis.offsets[dy], 0), sh - 1)
                                let sy1 = min(max(yaxis.offsets[dy] + 1, 0), sh - 1)
                                let slot0 = slot(for: sy0, keep: -1)
                                let slot1 = sy1 == sy0 ? slot0 : slot(for: sy1, keep: slot0)
                                let r0 = slot0 * rowLength, r1 = slot1 * rowLength
                                let b0 = yaxis.weights[2 * dy], b1 = yaxis.weights[2 * dy + 1]
                                let d = dy * rowLength
                                // VResizeLinearVec_32s8u: ((b0*(S0>>4))>>16 + (b1*(S1>>4))>>16 + 2) >> 2.
                                for x in 0 ..< rowLength {
                                    let v = ((b0 &* (rows[r0 + x] &>> 4)) &>> 16) &+ ((b1 &* (rows[r1 + x] &>> 4)) &>> 16)
                                    dst[d + x] = UInt8(truncatingIfNeeded: min(max((v &+ 2) &>> 2, 0), 255))
                                }
                            }
                        }
                    }
                }
            }
        }
        return Image8(width: width, height: height, channels: cn, pixels: out)
    }

    /// OpenCV's resizeAreaFast for an exact 2x2 reduction: the mean of each
    /// 2x2 block, (sum + 2) >> 2 for 1, 3 and 4 channels (the SIMD kernel), and
    /// round-half-to-even of sum / 4 for other channel counts (the scalar kernel).
    /// Rows split over `threads` (RowChunks).
    static func halve(_ image: Image8, threads: Int = 1) -> Image8 {
        let cn = image.channels, width = image.width / 2, height = image.height / 2
        let halfUp = cn == 1 || cn == 3 || cn == 4
        let srcRow = image.width * cn, rowLength = width * cn
        var out = [UInt8](repeating: 0, count: rowLength * height)
        image.pixels.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { target in
                // Read only / each chunk its own rows, while this call waits for the chunks.
                nonisolated(unsafe) let src = source.baseAddress!, dst = target.baseAddress!
                /// Output rows `rows`: each byte the rounded mean of its 2 x 2 block, one channel at a time.
                @Sendable func rows(_ rows: Range<Int>) {
                    for dy in rows {
                        let s0 = src + 2 * dy * srcRow, s1 = s0 + srcRow, d = dst + dy * rowLength
                        for dx in 0 ..< width {
                            for k in 0 ..< cn {
                                let i = 2 * dx * cn + k
                                let sum = Int(s0[i]) + Int(s0[i + cn]) + Int(s1[i]) + Int(s1[i + cn])
                                var q = sum >> 2
                                if halfUp {
                                    q = (sum + 2) >> 2
                                } else {
                                    let r = sum & 3
                                    if r == 3 || (r == 2 && q & 1 == 1) { q += 1 }
                                }
                                d[dx * cn + k] = UInt8(q)
                            }
                        }
                    }
                }
                RowChunks.forEach(height, threads: threads, rows)
            }
        }
        return Image8(width: width, height: height, channels: cn, pixels: out)
    }
}
