// AdapterTransform.swift — the Causal-Tune adapter's frequency transform over
// one arena's patch grid, behind one interface so the adapter has one path for
// all of them (docs/causal-tune.md, "Transforms"):
//
//   dct   DCT2: orthonormal DCT-II, N frequencies per channel;
//   fft   DFT2: orthonormal DFT, its real and imaginary planes one after the
//         other, 2N frequency rows per channel (the token path treats the two
//         parts as separate rows with the same weights); the inverse keeps the
//         real part;
//   haar  Haar2: orthonormal full-depth Haar wavelet, N coefficients per channel.
//
// Every transform works on channel-major planes and takes per-frequency
// weights (N values on the h x w index grid; DFT2 applies them to both planes):
// `forwardScale()` / `inverseScale()` make it orthonormal, the adapter fuses its
// mask M into them. Each inverse is the adjoint of its forward, so the backward
// pass uses the same two calls.

import Tensor

/// One of the adapter's transforms, made for an arena's grid, channels and threads.
public enum AdapterTransform {
    case dct(DCT2)
    /// The DFT with its half-spectrum scratch (`DFT2.scratchCount` floats, owned by the arena).
    case fft(DFT2, scratch: UnsafeMutablePointer<Float>)
    case haar(Haar2)

    /// Floats of scratch `kind` needs on an h x w grid of `channels` planes.
    static func scratchCount(_ kind: FrequencyTransform, height h: Int, width w: Int, channels c: Int) -> Int {
        kind == .fft ? c * h * (w / 2 + 1) * 2 : 0
    }

    /// Frequency rows per channel for `kind` on N grid cells: N, or 2N for the DFT's real and imaginary planes.
    public static func rows(_ kind: FrequencyTransform, patches n: Int) -> Int { kind == .fft ? 2 * n : n }

    /// The transform `kind` of an h x w grid (Haar: sides powers of two); `scratch` holds `scratchCount` floats.
    init(_ kind: FrequencyTransform, height h: Int, width w: Int, channels c: Int, threads: Int, scratch: UnsafeMutablePointer<Float>?) {
        switch kind {
        case .dct: self = .dct(DCT2(height: h, width: w, channels: c, threads: threads))
        case .fft: self = .fft(DFT2(height: h, width: w, channels: c, threads: threads), scratch: scratch!)
        case .haar: self = .haar(Haar2(height: h, width: w, channels: c, threads: threads))
        }
    }

    /// Frequency rows per channel plane.
    public var rows: Int {
        switch self {
        case .dct(let t): t.count
        case .fft(let t, _): 2 * t.count
        case .haar(let t): t.count
        }
    }

    /// Per-frequency weights (N) that make `forward` orthonormal.
    public func forwardScale() -> [Float] {
        switch self {
        case .dct(let t): t.forwardScale()
        case .fft(let t, _): t.forwardScale()
        case .haar(let t): [Float](repeating: 1, count: t.count)
        }
    }

    /// Per-frequency weights (N) that make `inverse` the orthonormal inverse.
    public func inverseScale() -> [Float] {
        switch self {
        case .dct(let t): t.inverseScale()
        case .fft(let t, _): t.inverseScale()
        case .haar(let t): [Float](repeating: 1, count: t.count)
        }
    }

    /// y (C x rows) = weights ⊙ Tr(x) for x (C x N), channel-major; x is not modified.
    public func forward(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, weights: UnsafePointer<Float>) {
        switch self {
        case .dct(let t): t.forward(x, into: y, weights: weights)
        case .fft(let t, let scratch): t.forward(x, into: y, weights: weights, scratch: scratch)
        case .haar(let t): t.forward(x, into: y, weights: weights)
        }
    }

    /// x (C x N) = Tr⁻¹(weights ⊙ y) for y (C x rows); y's values may be lost (the DCT scales it in place).
    public func inverse(destroying y: UnsafeMutablePointer<Float>, into x: UnsafeMutablePointer<Float>, weights: UnsafePointer<Float>) {
        switch self {
        case .dct(let t): t.inverse(destroying: y, into: x, scale: weights)
        case .fft(let t, let scratch): t.inverse(y, into: x, weights: weights, scratch: scratch)
        case .haar(let t): t.inverse(y, into: x, weights: weights)
        }
    }
}
