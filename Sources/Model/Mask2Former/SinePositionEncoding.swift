// SinePositionEncoding.swift — the normalised sine positional encoding of
// Mask2Former's pixel decoder and transformer decoder (mmdet's
// SinePositionalEncoding with normalize=True, temperature 10000, scale 2π,
// eps 1e-6, offset 0; no padding mask):
//
//   y = (row + 1) / (H + eps) · 2π,  x = (col + 1) / (W + eps) · 2π
//   d_k = 10000^(2·⌊k/2⌋ / F)                         k = 0 ..< F
//   pos_y[k] = sin(y / d_k) for even k, cos(y / d_k) for odd k; pos_x likewise
//   encoding (2F, H, W) = [pos_y; pos_x]              channel-major
// Computed in double precision and rounded once to float32.

import Foundation

public enum SinePositionEncoding {
    /// The encoding of an H x W grid with F features per axis: (2F, H, W), channel-major.
    public static func channelMajor(height h: Int, width w: Int, features f: Int) -> [Float] {
        precondition(h > 0 && w > 0 && f > 0 && f % 2 == 0, "SinePositionEncoding: \(h)x\(w), \(f) features")
        let eps = 1e-6, scale = 2 * Double.pi, temperature = 10_000.0
        let divisors = (0 ..< f).map { pow(temperature, Double(2 * ($0 / 2)) / Double(f)) }
        var out = [Float](repeating: 0, count: 2 * f * h * w)
        for k in 0 ..< f {
            let odd = k % 2 == 1
            for row in 0 ..< h {
                let y = Double(row + 1) / (Double(h) + eps) * scale / divisors[k]
                let vy = Float(odd ? cos(y) : sin(y))
                for col in 0 ..< w {
                    let x = Double(col + 1) / (Double(w) + eps) * scale / divisors[k]
                    out[(k * h + row) * w + col] = vy
                    out[((f + k) * h + row) * w + col] = Float(odd ? cos(x) : sin(x))
                }
            }
        }
        return out
    }

    /// The same encoding token-major: (H·W, 2F), row-major tokens (what attention layers add to their queries).
    public static func tokenMajor(height h: Int, width w: Int, features f: Int) -> [Float] {
        let planes = channelMajor(height: h, width: w, features: f), n = h * w, c = 2 * f
        var out = [Float](repeating: 0, count: n * c)
        for ch in 0 ..< c {
            for i in 0 ..< n { out[i * c + ch] = planes[ch * n + i] }
        }
        return out
    }
}
