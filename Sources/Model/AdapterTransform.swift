// AdapterTransform.swift — the Causal-Tune adapter's frequency transform of the
// residual stream, behind one interface so the adapter has one path for all of
// them (docs/causal-tune.md, "Transforms"). Input and output are token-major,
// the stream's own layout: x is N x C (grid cell (x, y) at row x·w + y), the
// frequencies are R x C, one row per frequency:
//
//   dct   MatrixDCT2: orthonormal DCT-II as two matrix products on the stream
//         itself, R = N;
//   fft   DFT2: orthonormal DFT, the real rows then the imaginary rows,
//         R = 2N (the token path treats the two parts as separate rows with the
//         same weights); the inverse keeps the real part;
//   haar  Haar2: orthonormal full-depth Haar wavelet, R = N.
//
// DFT2 and Haar2 work on channel-major planes: their forward transposes the
// stream into the arena's planes, transforms, and transposes the frequencies
// back (the inverse the other way round).
//
// Every transform takes per-frequency weights (N values on the h x w index
// grid; DFT2 applies them to both parts): `forwardScale()` / `inverseScale()`
// make it orthonormal (ones where the transform is orthonormal by itself), the
// adapter fuses its mask M into them. Each inverse is the adjoint of its
// forward, so the backward pass uses the same two calls.

import Tensor

/// One of the adapter's transforms, made for an arena's grid, channels and threads.
public struct AdapterTransform {
    enum Implementation {
        case dct(MatrixDCT2)
        case fft(DFT2)
        case haar(Haar2)
    }

    let implementation: Implementation
    let patches: Int, channels: Int, threads: Int
    /// The arena's scratch (`scratchCount` floats).
    let scratch: UnsafeMutablePointer<Float>

    /// Floats of scratch `kind` needs on an h x w grid of `channels` channels: the DCT's
    /// intermediate (N·C); the channel-major planes of the stream and of the frequencies
    /// (and the DFT's half spectrum) for the others.
    static func scratchCount(_ kind: FrequencyTransform, height h: Int, width w: Int, channels c: Int) -> Int {
        let n = h * w
        switch kind {
        case .dct: return n * c
        case .fft: return n * c + 2 * n * c + c * h * (w / 2 + 1) * 2
        case .haar: return 2 * n * c
        }
    }

    /// Frequency rows for `kind` on N grid cells: N, or 2N for the DFT's real and imaginary parts.
    public static func rows(_ kind: FrequencyTransform, patches n: Int) -> Int { kind == .fft ? 2 * n : n }

    /// The transform `kind` of an h x w grid (Haar: sides powers of two); `scratch` holds `scratchCount` floats.
    init(_ kind: FrequencyTransform, height h: Int, width w: Int, channels c: Int, threads: Int, scratch: UnsafeMutablePointer<Float>) {
        switch kind {
        case .dct: implementation = .dct(MatrixDCT2(height: h, width: w, channels: c, threads: threads))
        case .fft: implementation = .fft(DFT2(height: h, width: w, channels: c, threads: threads))
        case .haar: implementation = .haar(Haar2(height: h, width: w, channels: c, threads: threads))
        }
        (patches, channels, self.threads, self.scratch) = (h * w, c, max(1, threads), scratch)
    }

    /// Frequency rows R.
    public var rows: Int {
        if case .fft = implementation { return 2 * patches }
        return patches
    }

    /// Per-frequency weights (N) that make `forward` orthonormal.
    public func forwardScale() -> [Float] {
        if case .fft(let t) = implementation { return t.forwardScale() }
        return [Float](repeating: 1, count: patches)
    }

    /// Per-frequency weights (N) that make `inverse` the orthonormal inverse.
    public func inverseScale() -> [Float] {
        if case .fft(let t) = implementation { return t.inverseScale() }
        return [Float](repeating: 1, count: patches)
    }

    /// y (R x C) = weights ⊙ Tr(x) for x (N x C), token-major; x is not modified.
    public func forward(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, weights: UnsafePointer<Float>) {
        let n = patches, c = channels, r = rows
        let planes = scratch, frequencies = scratch + n * c
        switch implementation {
        case .dct(let t):
            t.forward(x, into: y, weights: weights, scratch: scratch)
        case .fft(let t):
            Transpose.apply(x, rows: n, cols: c, into: planes, threads: threads)
            t.forward(planes, into: frequencies, weights: weights, scratch: frequencies + r * c)
            Transpose.apply(frequencies, rows: c, cols: r, into: y, threads: threads)
        case .haar(let t):
            Transpose.apply(x, rows: n, cols: c, into: planes, threads: threads)
            t.forward(planes, into: frequencies, weights: weights)
            Transpose.apply(frequencies, rows: c, cols: r, into: y, threads: threads)
        }
    }

    /// x (N x C) = Tr⁻¹(weights ⊙ y) for y (R x C), token-major, or with `accumulate` = α:
    /// x += α · Tr⁻¹(weights ⊙ y) (the DCT adds in its last pass; the others add their channel-major
    /// result while transposing it back). y's values may be lost.
    public func inverse(destroying y: UnsafeMutablePointer<Float>, into x: UnsafeMutablePointer<Float>, weights: UnsafePointer<Float>,
                        accumulate: Float? = nil) {
        let n = patches, c = channels, r = rows
        let planes = scratch, frequencies = scratch + n * c
        switch implementation {
        case .dct(let t):
            t.inverse(destroying: y, into: x, weights: weights, scratch: scratch, accumulate: accumulate)
            return
        case .fft(let t):
            Transpose.apply(y, rows: r, cols: c, into: frequencies, threads: threads)
            t.inverse(frequencies, into: planes, weights: weights, scratch: frequencies + r * c)
        case .haar(let t):
            Transpose.apply(y, rows: r, cols: c, into: frequencies, threads: threads)
            t.inverse(frequencies, into: planes, weights: weights)
        }
        if let alpha = accumulate {
            Transpose.addScaled(planes, rows: n, cols: c, alpha: alpha, into: x, threads: threads)
        } else {
            Transpose.apply(planes, rows: c, cols: n, into: x, threads: threads)
        }
    }
}
