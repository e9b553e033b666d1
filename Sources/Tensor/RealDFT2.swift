// RealDFT2.swift — the real part of the orthonormal 2-D DFT of real planes,
// through FFTW: y[j, k] = (1/√(hw)) Σ_{u,v} x[u, v] cos(2π(uj/h + vk/w)).
//
// For real x this is real(ifft2(x, norm="ortho")) (and real(fft2(x, norm="ortho")):
// the cosine is even), the inverse transform of the released Causal-Tune code.
// One `fftwf_plan_many_dft_r2c` per channel group computes the half spectrum
// (h, w/2 + 1) of each contiguous h x w plane; column k > w/2 is the conjugate
// of column w - k at row (h - j) mod h, whose real part is the same. Plans are
// made once per (h, w, howmany) under the process's FFTW planner lock (the
// DCT's), with FFTW_ESTIMATE | FFTW_UNALIGNED, and executed on new arrays.

import CFFTW
import Synchronization

/// Re(DFT2) / √(hw) of C real planes of h x w (channel-major, contiguous).
public struct RealDFT2: Sendable {
    public let height: Int
    public let width: Int
    public let channels: Int
    public let threads: Int
    private let groups: [Group]

    struct Group: @unchecked Sendable {
        let firstChannel: Int, lastChannel: Int
        let plan: OpaquePointer
    }

    public init(height: Int, width: Int, channels: Int, threads: Int) {
        precondition(height > 0 && width > 0 && channels > 0, "RealDFT2: grid \(height)x\(width), \(channels) channels")
        self.height = height
        self.width = width
        self.channels = channels
        self.threads = max(1, threads)
        groups = Threading.chunkRanges(channels, threads: threads).map { range in
            Group(firstChannel: range.lowerBound, lastChannel: range.upperBound,
                  plan: RealDFTPlanCache.plan(height: height, width: width, howmany: range.count))
        }
    }

    /// Complex values of one plane's half spectrum.
    var halfSpectrum: Int { height * (width / 2 + 1) }

    /// Floats of the spectrum scratch `realPart` needs.
    public var scratchCount: Int { channels * halfSpectrum * 2 }

    /// y = Re(DFT2(x)) / √(hw) per plane. x and y are (C, h, w) and may be the same buffer;
    /// `scratch` holds `scratchCount` floats and overlaps neither.
    public func realPart(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        let h = height, w = width, n = h * w, half = w / 2 + 1, spectrum = halfSpectrum
        let norm = Float(1 / Double(n).squareRoot())
        let groups = self.groups
        Threading.forEachWorker(groups.count) { g in
            let group = groups[g]
            let input = UnsafeMutablePointer(mutating: x) + group.firstChannel * n
            let output = scratch + group.firstChannel * spectrum * 2
            output.withMemoryRebound(to: fftwf_complex.self, capacity: (group.lastChannel - group.firstChannel) * spectrum) {
                fftwf_execute_dft_r2c(group.plan, input, $0)
            }
            for c in group.firstChannel ..< group.lastChannel {
                let s = scratch + c * spectrum * 2, plane = y + c * n
                for j in 0 ..< h {
                    let mirror = (h - j) % h
                    for k in 0 ..< w {
                        let re = k < half ? s[2 * (j * half + k)] : s[2 * (mirror * half + w - k)]
                        plane[j * w + k] = re * norm
                    }
                }
            }
        }
    }
}

/// Real-to-complex (and, for DFT2's inverse, complex-to-real) plans of `howmany` contiguous
/// h x w planes and their half spectra, made under the process's FFTW planner lock.
enum RealDFTPlanCache {
    struct Key: Hashable { let height: Int, width: Int, howmany: Int, inverse: Bool }
    struct Plan: @unchecked Sendable { let pointer: OpaquePointer }

    private static let cache = Mutex<[Key: Plan]>([:])

    /// r2c (real planes, distance h·w -> half spectra, distance h·(w/2 + 1)), or with `inverse`
    /// c2r (half spectra -> real planes; FFTW may overwrite its input).
    static func plan(height: Int, width: Int, howmany: Int, inverse: Bool = false) -> OpaquePointer {
        let key = Key(height: height, width: width, howmany: howmany, inverse: inverse)
        return DCTPlanCache.cache.withLock { _ in
            cache.withLock { table -> Plan in
                if let plan = table[key] { return plan }
                // FFTW_ESTIMATE never touches the arrays.
                let n = height * width, half = height * (width / 2 + 1)
                let a = fftwf_alloc_real(n * howmany)!, b = fftwf_alloc_complex(half * howmany)!
                defer { fftwf_free(a); fftwf_free(b) }
                var dims: [Int32] = [Int32(height), Int32(width)]
                let flags = UInt32(FFTW_ESTIMATE) | UInt32(FFTW_UNALIGNED)
                let p = inverse
                    ? fftwf_plan_many_dft_c2r(2, &dims, Int32(howmany), b, nil, 1, Int32(half), a, nil, 1, Int32(n), flags)
                    : fftwf_plan_many_dft_r2c(2, &dims, Int32(howmany), a, nil, 1, Int32(n), b, nil, 1, Int32(half), flags)
                precondition(p != nil, "FFTW could not plan a \(height)x\(width) \(inverse ? "complex-to-real" : "real-to-complex") DFT of \(howmany) planes")
                let plan = Plan(pointer: p!)
                table[key] = plan
                return plan
            }
        }.pointer
    }
}
