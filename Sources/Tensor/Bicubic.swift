// Bicubic.swift — PyTorch `F.interpolate(mode="bicubic", align_corners=False)`
// for position grids and convolution kernels, in its three call styles.
//
//   * `.size`: `size=(h, w)`, no antialias. Per axis, scale = in/out (float),
//     src = scale (dst + 0.5) - 0.5, taps floor(src)-1 ... floor(src)+2 clamped
//     to the border, Keys cubic with A = -0.75. (HF Dinov2Model's position
//     resize; the 14 -> 16 patch conversion.)
//   * `.scaleFactor(h, w)`: `scale_factor=(sh, sw)`, no antialias: output size
//     trunc(in * s), but sampling uses scale = 1/s, not in/out. (Official
//     DINOv2 without registers: s = (h + 0.1) / G.)
//   * `.antialiased`: `size=(h, w), antialias=True` (the `_reg` models):
//     PIL-style separable filter, cubic a = -0.5, support 2 * max(in/out, 1),
//     window [trunc(c - support + 0.5), trunc(c + support + 0.5)) clipped to
//     the input, weights normalised to sum 1.
// Arithmetic mirrors ATen's CPU kernels (index math in float), so results agree
// to float rounding. Data is channels-last (h, w, C), the layout of a position
// grid; `resizePlanes` handles (P, h, w) kernels by transposing.

/// Which `F.interpolate` call a bicubic resize reproduces.
public enum BicubicMode: Sendable, Equatable {
    /// `size=(h, w)`, no antialias.
    case size
    /// `scale_factor=(sh, sw)`, no antialias; output size trunc(in * s).
    case scaleFactor(height: Double, width: Double)
    /// `size=(h, w), antialias=True`.
    case antialiased
}

/// Source indices and weights of one axis: output i reads `taps` inputs.
public struct BicubicAxis: Sendable, Equatable {
    public let input: Int
    public let output: Int
    public let taps: Int
    /// output x taps source indices (always in 0..<input).
    public let index: [Int]
    /// output x taps weights.
    public let weight: [Float]

    /// The axis weights of `F.interpolate` without antialias. `scaleFactor` is
    /// the user-given scale (nil: `size=` was given, scale = input/output).
    public init(input: Int, output: Int, scaleFactor: Double?) {
        precondition(input > 0 && output > 0, "BicubicAxis: \(input) -> \(output)")
        self.input = input
        self.output = output
        taps = 4
        let scale: Float = if let scaleFactor, scaleFactor > 0 { Float(1.0 / scaleFactor) } else {
            Float(input) / Float(output)
        }
        let a: Float = -0.75
        func near(_ x: Float) -> Float { ((a + 2) * x - (a + 3)) * x * x + 1 }
        func far(_ x: Float) -> Float { ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
        var index = [Int](repeating: 0, count: output * 4)
        var weight = [Float](repeating: 0, count: output * 4)
        for i in 0 ..< output {
            let src = scale * (Float(i) + 0.5) - 0.5
            let base = min(Int(src.rounded(.down)), input - 1)
            let t = min(max(src - Float(base), 0), 1)
            let w = [far(t + 1), near(t), near(1 - t), far(2 - t)]
            for k in 0 ..< 4 {
                index[i * 4 + k] = min(max(base - 1 + k, 0), input - 1)
                weight[i * 4 + k] = w[k]
            }
        }
        self.index = index
        self.weight = weight
    }

    /// The axis weights of `F.interpolate(..., antialias=True)` given `size=`.
    public init(antialiasedInput input: Int, output: Int) {
        precondition(input > 0 && output > 0, "BicubicAxis: \(input) -> \(output)")
        self.input = input
        self.output = output
        let scale = Float(input) / Float(output)
        let support: Float = scale >= 1 ? 2 * scale : 2
        let taps = Int(support.rounded(.up)) * 2 + 1
        self.taps = taps
        let invScale: Float = scale >= 1 ? 1 / scale : 1
        func filter(_ x: Float) -> Float {
            let x = abs(x), a: Float = -0.5
            if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
            if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
            return 0
        }
        var index = [Int](repeating: 0, count: output * taps)
        var weight = [Float](repeating: 0, count: output * taps)
        for i in 0 ..< output {
            let center = Float(Double(scale) * (Double(i) + 0.5))
            let lo = max(Int(Double(center - support) + 0.5), 0)          // trunc toward zero, as ATen
            let hi = min(Int(Double(center + support) + 0.5), input)
            var total: Float = 0
            var w = [Float](repeating: 0, count: taps)
            for j in 0 ..< max(0, min(hi - lo, taps)) {
                w[j] = filter((Float(j + lo) - center + 0.5) * invScale)
                total += w[j]
            }
            for j in 0 ..< taps {
                index[i * taps + j] = min(lo + j, input - 1)
                weight[i * taps + j] = j < hi - lo && total != 0 ? w[j] / total : 0
            }
        }
        self.index = index
        self.weight = weight
    }
}

public enum Bicubic {
    /// The output extent of one axis under `mode` (for `.scaleFactor`, trunc(input * s)).
    public static func outputSize(input: Int, requested: Int, scale: Double?) -> Int {
        if let scale { return Int(Double(input) * scale) }
        return requested
    }

    /// Resizes a channels-last grid (height, width, channels) to (outHeight, outWidth, channels).
    /// For `.scaleFactor`, (outHeight, outWidth) must equal trunc(in * s) — checked.
    public static func resize(_ source: UnsafeBufferPointer<Float>, height: Int, width: Int, channels: Int,
                              outHeight: Int, outWidth: Int, mode: BicubicMode) -> [Float] {
        precondition(source.count == height * width * channels,
                     "Bicubic.resize: \(source.count) values for \(height)x\(width)x\(channels)")
        let (rows, cols) = axes(height: height, width: width, outHeight: outHeight, outWidth: outWidth, mode: mode)
        // Along the width first (as ATen's separable kernel), then the height.
        var across = [Float](repeating: 0, count: height * outWidth * channels)
        across.withUnsafeMutableBufferPointer { tmp in
            for y in 0 ..< height {
                for x in 0 ..< outWidth {
                    accumulate(into: tmp.baseAddress! + (y * outWidth + x) * channels, channels: channels,
                               taps: cols.taps, indices: cols.index, weights: cols.weight, at: x) { k in
                        source.baseAddress! + (y * width + k) * channels
                    }
                }
            }
        }
        var out = [Float](repeating: 0, count: outHeight * outWidth * channels)
        across.withUnsafeBufferPointer { tmp in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0 ..< outHeight {
                    for x in 0 ..< outWidth {
                        accumulate(into: dst.baseAddress! + (y * outWidth + x) * channels, channels: channels,
                                   taps: rows.taps, indices: rows.index, weights: rows.weight, at: y) { k in
                            tmp.baseAddress! + (k * outWidth + x) * channels
                        }
                    }
                }
            }
        }
        return out
    }

    /// Resizes planes (planes, height, width) — e.g. a (C, 3, p, p) kernel seen as C·3 planes.
    public static func resizePlanes(_ source: UnsafeBufferPointer<Float>, planes: Int, height: Int, width: Int,
                                    outHeight: Int, outWidth: Int, mode: BicubicMode) -> [Float] {
        precondition(source.count == planes * height * width,
                     "Bicubic.resizePlanes: \(source.count) values for \(planes)x\(height)x\(width)")
        var channelsLast = [Float](repeating: 0, count: source.count)
        for p in 0 ..< planes { for i in 0 ..< height * width { channelsLast[i * planes + p] = source[p * height * width + i] } }
        let resized = channelsLast.withUnsafeBufferPointer {
            resize($0, height: height, width: width, channels: planes, outHeight: outHeight, outWidth: outWidth, mode: mode)
        }
        var out = [Float](repeating: 0, count: planes * outHeight * outWidth)
        let n = outHeight * outWidth
        for p in 0 ..< planes { for i in 0 ..< n { out[p * n + i] = resized[i * planes + p] } }
        return out
    }

    static func axes(height: Int, width: Int, outHeight: Int, outWidth: Int,
                     mode: BicubicMode) -> (BicubicAxis, BicubicAxis) {
        switch mode {
        case .size:
            return (BicubicAxis(input: height, output: outHeight, scaleFactor: nil),
                    BicubicAxis(input: width, output: outWidth, scaleFactor: nil))
        case .scaleFactor(let sh, let sw):
            precondition(outHeight == Int(Double(height) * sh) && outWidth == Int(Double(width) * sw),
                         "Bicubic.resize: scale factors (\(sh), \(sw)) on \(height)x\(width) do not give \(outHeight)x\(outWidth)")
            return (BicubicAxis(input: height, output: outHeight, scaleFactor: sh),
                    BicubicAxis(input: width, output: outWidth, scaleFactor: sw))
        case .antialiased:
            return (BicubicAxis(antialiasedInput: height, output: outHeight),
                    BicubicAxis(antialiasedInput: width, output: outWidth))
        }
    }

    @inline(__always)
    static func accumulate(into out: UnsafeMutablePointer<Float>, channels: Int, taps: Int, indices: [Int],
                           weights: [Float], at i: Int, source: (Int) -> UnsafePointer<Float>) {
        for c in 0 ..< channels { out[c] = 0 }
        for k in 0 ..< taps {
            let w = weights[i * taps + k]
            if w == 0 { continue }
            let s = source(indices[i * taps + k])
            for c in 0 ..< channels { out[c] += w * s[c] }
        }
    }
}
