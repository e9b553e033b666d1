// DFT2.swift — the 2-D discrete Fourier transform of real channel planes,
// with the complex values split into a real and an imaginary plane, and the
// real part of the inverse of such split planes, through FFTW (the `fft`
// transform of the Causal-Tune adapter, docs/causal-tune.md).
//
// Layout: the input is channel-major, C planes of h x w (row-major), as DCT2's;
// the spectrum is C x 2N: channel c's real plane at c·2N, its imaginary plane
// at c·2N + N, each h x w over the frequencies (u, v), u in 0..<h, v in 0..<w,
// NumPy's `fft2` order (no shift).
//
//   forward:  Y[u, v] = wt[u, v] · Σ_{x,y} f[x, y] e^{-2πi(ux/h + vy/w)}
//   inverse:  f[x, y] = Re Σ_{u,v} wt[u, v] · Y[u, v] e^{+2πi(ux/h + vy/w)}
//
// With wt = 1/√(hw) (`forwardScale`, `inverseScale`) these are
// fft2(f, norm="ortho") and real(ifft2(Y, norm="ortho")). The weights are a
// per-frequency factor applied to both planes, fused like the DCT's (the
// Causal-Tune mask times the scale). The two are adjoint to each other: for
// real g, the gradient of ⟨g, inverse(Y)⟩ with respect to (Re Y, Im Y) is
// forward(g) with the same weights, and the gradient of ⟨(A, B), forward(f)⟩
// with respect to f is inverse(A + iB).
//
// FFTW: the forward is one r2c plan (`fftwf_plan_many_dft_r2c`) per channel
// group, the half spectrum h x (w/2 + 1) of each plane, expanded to the full
// grid by Hermitian symmetry (Y[u, v] = conj Y[-u, -v]). The inverse reads an
// arbitrary (not Hermitian) spectrum, so it first forms the half spectrum of its
// Hermitian part H[u, v] = (Y[u, v] + conj Y[-u, -v]) / 2, whose inverse is
// exactly the real part of Y's, and runs one c2r plan. Both need `scratchCount`
// floats for the half spectra. Plans are made once per (h, w, planes) under the
// process's FFTW planner lock (DCT2's), FFTW_ESTIMATE | FFTW_UNALIGNED, and
// executed on new arrays from one worker per channel group.

import CFFTW

/// The 2-D DFT of C real h x w planes (channel-major) into split real / imaginary planes, and back.
public struct DFT2: Sendable {
    public let height: Int
    public let width: Int
    public let channels: Int
    /// Threads the transform splits over (one channel group each).
    public let threads: Int
    private let groups: [Group]

    struct Group: @unchecked Sendable {
        let firstChannel: Int, lastChannel: Int
        let forward: OpaquePointer
        let inverse: OpaquePointer
    }

    /// The transform of an h x w grid with `channels` channels, split over `threads` channel groups.
    public init(height: Int, width: Int, channels: Int, threads: Int) {
        precondition(height > 0 && width > 0 && channels > 0, "DFT2: grid \(height)x\(width), \(channels) channels")
        self.height = height
        self.width = width
        self.channels = channels
        self.threads = max(1, threads)
        groups = Threading.chunkRanges(channels, threads: threads).map { range in
            Group(firstChannel: range.lowerBound, lastChannel: range.upperBound,
                  forward: RealDFTPlanCache.plan(height: height, width: width, howmany: range.count),
                  inverse: RealDFTPlanCache.plan(height: height, width: width, howmany: range.count, inverse: true))
        }
    }

    /// Grid cells N = h·w (each channel's spectrum holds 2N floats).
    public var count: Int { height * width }

    /// Complex values of one plane's half spectrum.
    var halfSpectrum: Int { height * (width / 2 + 1) }

    /// Floats of the scratch `forward` and `inverse` need.
    public var scratchCount: Int { channels * halfSpectrum * 2 }

    /// 1/√(hw) at every frequency: the weights of the orthonormal forward transform.
    public func forwardScale() -> [Float] { [Float](repeating: Float(1 / Double(count).squareRoot()), count: count) }

    /// 1/√(hw) at every frequency: the weights of the orthonormal inverse.
    public func inverseScale() -> [Float] { forwardScale() }

    /// y = fft2(x, norm="ortho") as (C, 2, h, w) split planes. x (C, h, w) is not modified.
    public func forward(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        forwardScale().withUnsafeBufferPointer { forward(x, into: y, weights: $0.baseAddress!, scratch: scratch) }
    }

    /// x = real(ifft2(y, norm="ortho")) for (C, 2, h, w) split planes y. y is not modified.
    public func inverse(_ y: UnsafePointer<Float>, into x: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        inverseScale().withUnsafeBufferPointer { inverse(y, into: x, weights: $0.baseAddress!, scratch: scratch) }
    }

    /// y[c, 0/1, u, v] = weights[u·w + v] · Re / Im of the unnormalised DFT of plane c of x.
    /// x (C, h, w) and y (C, 2, h, w) must not overlap; `scratch`: `scratchCount` floats, overlapping neither.
    public func forward(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, weights: UnsafePointer<Float>,
                        scratch: UnsafeMutablePointer<Float>) {
        let h = height, w = width, n = h * w, half = w / 2 + 1, spectrum = halfSpectrum
        let groups = self.groups
        Threading.forEachWorker(groups.count) { g in
            let group = groups[g]
            let input = UnsafeMutablePointer(mutating: x) + group.firstChannel * n
            let output = scratch + group.firstChannel * spectrum * 2
            output.withMemoryRebound(to: fftwf_complex.self, capacity: (group.lastChannel - group.firstChannel) * spectrum) {
                fftwf_execute_dft_r2c(group.forward, input, $0)
            }
            for c in group.firstChannel ..< group.lastChannel {
                let s = scratch + c * spectrum * 2, re = y + c * 2 * n, im = re + n
                for u in 0 ..< h {
                    let mirror = (h - u) % h
                    for v in 0 ..< w {
                        let i = u * w + v, wt = weights[i]
                        if v < half {
                            re[i] = wt * s[2 * (u * half + v)]
                            im[i] = wt * s[2 * (u * half + v) + 1]
                        } else {
                            re[i] = wt * s[2 * (mirror * half + w - v)]
                            im[i] = -wt * s[2 * (mirror * half + w - v) + 1]
                        }
                    }
                }
            }
        }
    }

    /// x[c] = Re of the unnormalised inverse DFT of weights ⊙ (y[c, 0] + i y[c, 1]).
    /// y (C, 2, h, w) and x (C, h, w) must not overlap; `scratch`: `scratchCount` floats, overlapping neither.
    public func inverse(_ y: UnsafePointer<Float>, into x: UnsafeMutablePointer<Float>, weights: UnsafePointer<Float>,
                        scratch: UnsafeMutablePointer<Float>) {
        let h = height, w = width, n = h * w, half = w / 2 + 1, spectrum = halfSpectrum
        let groups = self.groups
        Threading.forEachWorker(groups.count) { g in
            let group = groups[g]
            // The half spectrum of the weighted spectrum's Hermitian part.
            for c in group.firstChannel ..< group.lastChannel {
                let s = scratch + c * spectrum * 2, re = y + c * 2 * n, im = re + n
                for u in 0 ..< h {
                    let mu = (h - u) % h
                    for v in 0 ..< half {
                        let i = u * w + v, j = mu * w + (w - v) % w
                        let a = weights[i], b = weights[j]
                        s[2 * (u * half + v)] = 0.5 * (a * re[i] + b * re[j])
                        s[2 * (u * half + v) + 1] = 0.5 * (a * im[i] - b * im[j])
                    }
                }
            }
            let input = scratch + group.firstChannel * spectrum * 2
            input.withMemoryRebound(to: fftwf_complex.self, capacity: (group.lastChannel - group.firstChannel) * spectrum) {
                fftwf_execute_dft_c2r(group.inverse, $0, x + group.firstChannel * n)
            }
        }
    }
}
