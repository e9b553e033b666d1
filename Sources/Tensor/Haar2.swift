// Haar2.swift — the orthonormal 2-D Haar wavelet transform to full depth and
// its inverse, per channel over h x w planes (the `haar` transform of the
// Causal-Tune adapter, docs/causal-tune.md).
//
// Both sides must be powers of two; the depth is J = log2(min(h, w)), what
// `pywt.wavedec2(x, "haar", mode="periodization")` uses by default
// (`pywt.dwtn_max_level`). One level on the current approximation, an ah x aw
// block in the top-left corner, is the 1-D Haar step along each axis,
//   a[k] = (x[2k] + x[2k+1]) / √2,   d[k] = (x[2k] - x[2k+1]) / √2,
// writing the a's to the first half of the axis and the d's to the second;
// the next level works on the (ah/2) x (aw/2) corner. The result is the layout
// of `pywt.coeffs_to_array(pywt.wavedec2(x, "haar", mode="periodization"))`:
// the approximation top-left, then per level (coarsest first) cH ("da") below
// it, cV ("ad") to its right, cD ("dd") diagonally — non-square grids included
// (4 x 8: two levels, approximation 1 x 2). The inverse undoes the levels from
// the coarsest, (a ± d)/√2. The transform is orthonormal, so its adjoint is its
// inverse (the backward of one is the other).
//
// Data is channel-major like DCT2's: C planes of h x w, channel c at c·h·w.
// Channels are split into contiguous ranges over `threads` workers.

/// The orthonormal full-depth 2-D Haar transform of C planes of h x w (powers of two).
public struct Haar2: Sendable {
    public let height: Int
    public let width: Int
    public let channels: Int
    /// Threads the planes are split over.
    public let threads: Int
    /// J = log2(min(h, w)).
    public let levels: Int

    /// Whether an h x w grid can be transformed: both sides positive powers of two.
    public static func supports(height: Int, width: Int) -> Bool {
        height > 0 && width > 0 && height & (height - 1) == 0 && width & (width - 1) == 0
    }

    /// The transform of an h x w grid (both powers of two) with `channels` channels, split over `threads`.
    public init(height: Int, width: Int, channels: Int, threads: Int) {
        precondition(Self.supports(height: height, width: width) && channels > 0,
                     "Haar2: grid \(height)x\(width) (sides must be powers of two), \(channels) channels")
        self.height = height
        self.width = width
        self.channels = channels
        self.threads = max(1, threads)
        levels = min(height, width).trailingZeroBitCount
    }

    /// Grid cells N = h·w.
    public var count: Int { height * width }

    /// y = weights ⊙ Haar(x) per plane (weights nil: 1). x and y (C, h, w) must not overlap; x is not modified.
    public func forward(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, weights: UnsafePointer<Float>? = nil) {
        let n = count
        eachPlane { plane, line in
            let p = y + plane * n
            p.update(from: x + plane * n, count: n)
            for level in 0 ..< levels { step(p, rows: height >> level, cols: width >> level, line, inverse: false) }
            if let weights { for i in 0 ..< n { p[i] *= weights[i] } }
        }
    }

    /// x = Haar⁻¹(weights ⊙ y) per plane (weights nil: 1). y and x (C, h, w) must not overlap; y is not modified.
    public func inverse(_ y: UnsafePointer<Float>, into x: UnsafeMutablePointer<Float>, weights: UnsafePointer<Float>? = nil) {
        let n = count
        eachPlane { plane, line in
            let p = x + plane * n, q = y + plane * n
            if let weights { for i in 0 ..< n { p[i] = weights[i] * q[i] } } else { p.update(from: q, count: n) }
            for level in stride(from: levels - 1, through: 0, by: -1) {
                step(p, rows: height >> level, cols: width >> level, line, inverse: true)
            }
        }
    }

    /// body(plane, scratch of N floats) for every plane, planes split over the threads.
    private func eachPlane(_ body: (Int, UnsafeMutablePointer<Float>) -> Void) {
        let n = count
        Threading.parallelFor(channels, threads: threads, grain: max(1, 4096 / n)) { range in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: n) { scratch in
                for plane in range { body(plane, scratch.baseAddress!) }
            }
        }
    }

    /// One level on the top-left rows x cols block of plane p (row stride `width`): the Haar
    /// step along the rows' axis 1, then along axis 0 (inverse: axis 0, then axis 1).
    private func step(_ p: UnsafeMutablePointer<Float>, rows: Int, cols: Int, _ t: UnsafeMutablePointer<Float>, inverse: Bool) {
        let s = Float(0.5.squareRoot()), w = width, halfRows = rows / 2, halfCols = cols / 2
        func alongRows() {
            for r in 0 ..< rows {
                let row = p + r * w
                if inverse {
                    for k in 0 ..< halfCols {
                        let a = row[k], d = row[halfCols + k]
                        t[2 * k] = (a + d) * s
                        t[2 * k + 1] = (a - d) * s
                    }
                } else {
                    for k in 0 ..< halfCols {
                        let e = row[2 * k], o = row[2 * k + 1]
                        t[k] = (e + o) * s
                        t[halfCols + k] = (e - o) * s
                    }
                }
                row.update(from: t, count: cols)
            }
        }
        func alongColumns() {
            for k in 0 ..< halfRows {
                if inverse {
                    let a = p + k * w, d = p + (halfRows + k) * w, even = t + 2 * k * cols, odd = even + cols
                    for c in 0 ..< cols {
                        even[c] = (a[c] + d[c]) * s
                        odd[c] = (a[c] - d[c]) * s
                    }
                } else {
                    let e = p + 2 * k * w, o = e + w, a = t + k * cols, d = t + (halfRows + k) * cols
                    for c in 0 ..< cols {
                        a[c] = (e[c] + o[c]) * s
                        d[c] = (e[c] - o[c]) * s
                    }
                }
            }
            for r in 0 ..< rows { (p + r * w).update(from: t + r * cols, count: cols) }
        }
        if inverse {
            alongColumns()
            alongRows()
        } else {
            alongRows()
            alongColumns()
        }
    }
}
