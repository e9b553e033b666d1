// FrequencyMask.swift — the Causal-Tune mask M(u, v) over the DCT frequencies of
// an h x w grid (method.md §2.1 step 2 and §2.2).
//
// Gaussian filters use the normalised radius D = sqrt((u/h)² + (v/w)²),
// u in 0..<h, v in 0..<w. `released` is the authors' piecewise mask on
// k = max(u, v) with n = min(h, w), v1 = floor(0.1 n), v2 = floor(0.7 n):
// non-causal weight 1 - 0.95 k/v1 (k <= v1), 0.01 (v1 < k <= v2),
// 0.3 (k - v2)/(n - v2) (k > v2); M = 1 - that. Two edge cases the formula
// leaves open are settled here: with v1 = 0 (n < 10) the first piece is only
// k = 0 and weighs 1 (its limit), and on non-square grids, where k can exceed
// n, the last ramp continues linearly.

import Foundation

public enum FrequencyMask {
    /// M as h·w values, row-major over (u, v).
    public static func values(_ filter: FrequencyFilter, dl: Double, dh: Double, height h: Int, width w: Int) -> [Float] {
        var out = [Float](repeating: 1, count: h * w)
        for u in 0 ..< h {
            for v in 0 ..< w {
                let du = Double(u) / Double(h), dv = Double(v) / Double(w)
                let d2 = du * du + dv * dv
                let low = 1 - exp(-d2 / (2 * dl * dl)), high = exp(-d2 / (2 * dh * dh))
                let m: Double = switch filter {
                case .bandpass: low * high
                case .lowcut: low
                case .highcut: high
                case .none: 1
                case .released: 1 - releasedNonCausal(k: max(u, v), n: min(h, w))
                }
                out[u * w + v] = Float(m)
            }
        }
        return out
    }

    /// The kept part 1 - w(max(u, v)) of the released code's `MAD_decompose` mask, exactly as
    /// it computes it (double precision): n = min(h, w), v1 = ⌊0.1n⌋, v2 = ⌊0.7n⌋, ε = 1e-10,
    /// w = 1 - 0.95 k/(v1 + ε) (k <= v1), 0.01 (v1 < k <= v2), 0.3 (k - v2)/(n - v2) (v2 < k <= n),
    /// 0.5 (k > n, only on non-square grids). h·w values, row-major over (u, v).
    public static func releasedCausalTuneKept(height h: Int, width w: Int) -> [Float] {
        let n = min(h, w)
        let v1 = Int((0.1 * Double(n)).rounded(.down)), v2 = Int((0.7 * Double(n)).rounded(.down))
        var out = [Float](repeating: 0, count: h * w)
        for u in 0 ..< h {
            for v in 0 ..< w {
                let k = max(u, v)
                let weight: Double = if k <= v1 { 1 - Double(k) / (Double(v1) + 1e-10) * 0.95 }
                    else if k <= v2 { 0.01 }
                    else if k <= n { Double(k - v2) / Double(n - v2) * 0.3 }
                    else { 0.5 }
                out[u * w + v] = Float(1 - weight)
            }
        }
        return out
    }

    /// The non-causal weight of the released piecewise mask.
    static func releasedNonCausal(k: Int, n: Int) -> Double {
        let v1 = Int((0.1 * Double(n)).rounded(.down)), v2 = Int((0.7 * Double(n)).rounded(.down))
        if k <= v1 { return v1 == 0 ? 1 : 1 - 0.95 * Double(k) / Double(v1) }
        if k <= v2 { return 0.01 }
        return 0.3 * Double(k - v2) / Double(n - v2)
    }
}
