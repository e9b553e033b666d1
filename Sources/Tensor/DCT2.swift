// DCT2.swift — orthonormal 2-D DCT-II and its inverse over a patch grid, per
// channel, through FFTW (the Causal-Tune frequency transform, method.md §2.1).
//
// Data is channel-major: C planes of h x w (row-major), channel c of grid cell
// (x, y) at c·N + x·w + y, N = h·w. One `fftwf_plan_many_r2r` transforms
// `howmany` contiguous planes (stride 1, distance N). This is FFTW's fast case:
// on the token-major residual stream (stride C between grid cells) the same
// transform measured 2.3x slower with FFTW_ESTIMATE (32 x 32 x 384), more than
// the two blocked transposes the adapter does instead (see Transpose).
//
// FFTW's REDFT10 is Y_k = 2 Σ_j x_j cos(π(2j+1)k / 2n); the orthonormal DCT-II
// is a(k)/2 · Y_k with a(0) = √(1/n), a(k>0) = √(2/n). REDFT01 is
// x_j = X_0 + 2 Σ_{k≥1} X_k cos(πk(2j+1)/2n), so the orthonormal inverse feeds
// it X_k = a(k)/2 · F_k for k > 0 and a(0) · F_0. Both scalings are separable
// per frequency (u, v); they are applied in one elementwise pass, fused with the
// Causal-Tune mask on the forward side (`forward(..., weights:)`).
//
// Plans: the FFTW planner is not thread-safe, so plans are made under one lock,
// once per (h, w, howmany), with FFTW_ESTIMATE (deterministic: no timing
// runs pick different algorithms on different runs) and FFTW_UNALIGNED (callers
// pass arbitrary offsets into their buffers), and cached for the life of the
// process. Execution with new arrays (`fftwf_execute_r2r`) is thread-safe; the
// planes are split into one contiguous group per thread of the workspace
// that made the transform.

import CFFTW
import Synchronization

/// An orthonormal 2-D DCT-II / inverse over C channel planes of h x w (channel-major).
public struct DCT2: Sendable {
    public let height: Int
    public let width: Int
    public let channels: Int
    /// Threads the transform and its scaling split over (the workspace's count).
    public let threads: Int
    /// Channel groups [c0, c1) and the plan pair for each (one per thread).
    private let groups: [Group]

    struct Group: @unchecked Sendable {
        let firstChannel: Int
        let forward: OpaquePointer
        let inverse: OpaquePointer
    }

    /// The transform of an h x w grid with `channels` channels, split over `threads`
    /// channel groups; plans come from the shared cache.
    public init(height: Int, width: Int, channels: Int, threads: Int) {
        precondition(height > 0 && width > 0 && channels > 0, "DCT2: grid \(height)x\(width), \(channels) channels")
        self.height = height
        self.width = width
        self.channels = channels
        self.threads = max(1, threads)
        groups = Threading.chunkRanges(channels, threads: threads).map { range in
            let plans = DCTPlanCache.plans(height: height, width: width, howmany: range.count)
            return Group(firstChannel: range.lowerBound, forward: plans.forward, inverse: plans.inverse)
        }
    }

    /// Frequencies (grid cells) N = h·w.
    public var count: Int { height * width }

    /// Per-frequency factor a(u)a(v)/4 that turns FFTW's REDFT10 output into the orthonormal DCT-II.
    public func forwardScale() -> [Float] {
        Self.separable(height, width) { k, n in k == 0 ? (1 / Double(n)).squareRoot() / 2 : (2 / Double(n)).squareRoot() / 2 }
    }

    /// Per-frequency factor applied before FFTW's REDFT01 so that it is the orthonormal inverse.
    public func inverseScale() -> [Float] {
        Self.separable(height, width) { k, n in k == 0 ? (1 / Double(n)).squareRoot() : (2 / Double(n)).squareRoot() / 2 }
    }

    static func separable(_ h: Int, _ w: Int, _ f: (Int, Int) -> Double) -> [Float] {
        var out = [Float](repeating: 0, count: h * w)
        for u in 0 ..< h {
            for v in 0 ..< w { out[u * w + v] = Float(f(u, h) * f(v, w)) }
        }
        return out
    }

    /// y = DCT2(x), orthonormal: x and y are (C, h, w) planes, must not overlap. x is not modified.
    public func forward(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>) {
        let scale = forwardScale()
        scale.withUnsafeBufferPointer { forward(x, into: y, weights: $0.baseAddress!) }
    }

    /// y[:, u, v] = weights[u·w + v] · REDFT10(x)[:, u, v]. With `forwardScale()` as weights this is
    /// the orthonormal DCT; multiplying the scale by a mask fuses the Causal-Tune filter.
    public func forward(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, weights: UnsafePointer<Float>) {
        execute(forward: true, UnsafeMutablePointer(mutating: x), y)
        scalePlanes(y, by: weights)
    }

    /// x = iDCT2(y), orthonormal. `y` is used as scratch: it is scaled in place
    /// (by `inverseScale()`) before the transform, so its values are lost.
    public func inverse(destroying y: UnsafeMutablePointer<Float>, into x: UnsafeMutablePointer<Float>) {
        let scale = inverseScale()
        scale.withUnsafeBufferPointer { inverse(destroying: y, into: x, scale: $0.baseAddress!) }
    }

    /// As `inverse(destroying:into:)` with the precomputed `inverseScale()`.
    public func inverse(destroying y: UnsafeMutablePointer<Float>, into x: UnsafeMutablePointer<Float>,
                        scale: UnsafePointer<Float>) {
        scalePlanes(y, by: scale)
        execute(forward: false, y, x)
    }

    private func execute(forward: Bool, _ input: UnsafeMutablePointer<Float>, _ output: UnsafeMutablePointer<Float>) {
        let groups = self.groups
        Threading.forEachWorker(groups.count) { k in
            let g = groups[k]
            let offset = g.firstChannel * count
            fftwf_execute_r2r(forward ? g.forward : g.inverse, input + offset, output + offset)
        }
    }

    /// Every plane (N values) of `data` times weights elementwise.
    private func scalePlanes(_ data: UnsafeMutablePointer<Float>, by weights: UnsafePointer<Float>) {
        let n = count
        Threading.parallelFor(channels, threads: threads, grain: max(1, 8192 / n)) { range in
            for c in range {
                let plane = data + c * n
                for i in 0 ..< n { plane[i] *= weights[i] }
            }
        }
    }
}

/// The process-wide FFTW plan cache (the planner is not thread-safe). Its lock is
/// the one every FFTW plan of the process is made under (RealDFT2 takes it too).
enum DCTPlanCache {
    struct Key: Hashable { let height: Int, width: Int, howmany: Int }
    struct Plans: @unchecked Sendable { let forward: OpaquePointer; let inverse: OpaquePointer }

    static let cache = Mutex<[Key: Plans]>([:])

    static func plans(height: Int, width: Int, howmany: Int) -> Plans {
        let key = Key(height: height, width: width, howmany: howmany)
        return cache.withLock { table in
            if let plans = table[key] { return plans }
            // FFTW_ESTIMATE never touches the arrays; they only fix the in/out distinction.
            let n = height * width, span = n * howmany
            let a = fftwf_alloc_real(span)!, b = fftwf_alloc_real(span)!
            defer { fftwf_free(a); fftwf_free(b) }
            var dims: [Int32] = [Int32(height), Int32(width)]
            let flags = UInt32(FFTW_ESTIMATE) | UInt32(FFTW_UNALIGNED)
            func plan(_ kind: fftw_r2r_kind) -> OpaquePointer {
                var kinds = [kind, kind]
                let p = fftwf_plan_many_r2r(2, &dims, Int32(howmany), a, nil, 1, Int32(n),
                                            b, nil, 1, Int32(n), &kinds, flags)
                precondition(p != nil, "FFTW could not plan a \(height)x\(width) DCT of \(howmany) channels")
                return p!
            }
            let plans = Plans(forward: plan(FFTW_REDFT10), inverse: plan(FFTW_REDFT01))
            table[key] = plans
            return plans
        }
    }
}
