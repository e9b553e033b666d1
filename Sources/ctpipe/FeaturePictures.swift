// FeaturePictures.swift — pictures of patch features for `ctpipe features`:
// PCA components as RGB, feature norms as a heat map.

import ImageIO

/// Pictures of patch features, one pixel per patch.
enum FeaturePictures {
    /// k = 3 projections per patch -> RGB, each channel stretched min..max to 0...255.
    static func pca(_ projections: [Float], rows: Int, cols: Int) -> Image8 {
        var pixels = [UInt8](repeating: 0, count: rows * cols * 3)
        for channel in 0 ..< 3 {
            let values = stride(from: channel, to: projections.count, by: 3).map { projections[$0] }
            let lo = values.min() ?? 0, hi = values.max() ?? 0
            for (i, v) in values.enumerated() {
                pixels[i * 3 + channel] = hi > lo ? UInt8(((v - lo) / (hi - lo) * 255).rounded()) : 128
            }
        }
        return Image8(width: cols, height: rows, channels: 3, pixels: pixels)
    }

    /// Values -> a viridis-like colour ramp, stretched min..max.
    static func heatmap(_ values: [Float], rows: Int, cols: Int) -> Image8 {
        let ramp: [(Float, Float, Float)] = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]
        let lo = values.min() ?? 0, hi = values.max() ?? 0
        var pixels = [UInt8](repeating: 0, count: rows * cols * 3)
        for (i, v) in values.enumerated() {
            let t = hi > lo ? (v - lo) / (hi - lo) * Float(ramp.count - 1) : 0
            let k = min(Int(t), ramp.count - 2), f = t - Float(k)
            let a = ramp[k], b = ramp[k + 1]
            pixels[i * 3] = UInt8((a.0 + (b.0 - a.0) * f).rounded())
            pixels[i * 3 + 1] = UInt8((a.1 + (b.1 - a.1) * f).rounded())
            pixels[i * 3 + 2] = UInt8((a.2 + (b.2 - a.2) * f).rounded())
        }
        return Image8(width: cols, height: rows, channels: 3, pixels: pixels)
    }
}
