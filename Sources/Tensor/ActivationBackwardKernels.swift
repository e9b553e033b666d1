// ActivationBackwardKernels.swift — elementwise pieces of backward passes:
// the exact-erf GELU derivative, the softmax backward and column sums (bias
// gradients).
//
//   GELU'(x) = Φ(x) + x φ(x) = ½(1 + erf(x/√2)) + x e^(-x²/2) / √(2π)
//   softmax:  dz = p ⊙ (dp - Σ_j dp_j p_j)   per row
// Rows are split over `threads` chunks; column sums are reduced per chunk
// and the chunks added in chunk order.

public enum ActivationBackwardKernels {
    /// dh = da ⊙ GELU'(h + bias) in place over `da` (rows x cols); `h` is the pre-activation
    /// without its bias (nil bias: h already includes it).
    public static func geluBackward(_ da: UnsafeMutablePointer<Float>, preActivation h: UnsafePointer<Float>,
                                    rows: Int, cols: Int, bias: UnsafePointer<Float>?, threads: Int) {
        Threading.parallelFor(rows, threads: threads, grain: max(1, 4096 / cols)) { range in
            let vectorEnd = cols & ~(Vec.scalarCount - 1)
            let half = Vec(repeating: 0.5), invSqrt2 = Vec(repeating: 0.707_106_781_186_547_5)
            let invSqrt2Pi = Vec(repeating: 0.398_942_280_401_432_7), minusHalf = Vec(repeating: -0.5)
            for r in range {
                let d = da + r * cols, x = h + r * cols
                var i = 0
                while i < vectorEnd {
                    var v = loadVec(x + i)
                    if let bias { v += loadVec(bias + i) }
                    let cdf = half + half * FastMath.erf(v * invSqrt2)
                    let pdf = FastMath.exp(minusHalf * v * v) * invSqrt2Pi
                    storeVec(loadVec(d + i) * (cdf + v * pdf), d + i)
                    i += Vec.scalarCount
                }
                while i < cols {
                    let v = x[i] + (bias?[i] ?? 0)
                    let cdf = 0.5 + 0.5 * FastMath.erf(v * 0.707_106_781_186_547_5)
                    let pdf = FastMath.exp(-0.5 * v * v) * 0.398_942_280_401_432_7
                    d[i] *= cdf + v * pdf
                    i += 1
                }
            }
        }
    }

    /// out = GELU(h + bias) (rows x cols), exact erf form; out may alias h.
    public static func gelu(_ h: UnsafePointer<Float>, rows: Int, cols: Int, bias: UnsafePointer<Float>,
                            into out: UnsafeMutablePointer<Float>, threads: Int) {
        Threading.parallelFor(rows, threads: threads, grain: max(1, 4096 / cols)) { range in
            let vectorEnd = cols & ~(Vec.scalarCount - 1)
            for r in range {
                let x = h + r * cols, o = out + r * cols
                var i = 0
                while i < vectorEnd { storeVec(FastMath.gelu(loadVec(x + i) + loadVec(bias + i)), o + i); i += Vec.scalarCount }
                while i < cols { o[i] = FastMath.gelu(x[i] + bias[i]); i += 1 }
            }
        }
    }

    /// In place over `dp`: each row (cols values at stride ld) becomes p ⊙ (dp - Σ dp ⊙ p).
    public static func softmaxBackward(_ dp: UnsafeMutablePointer<Float>, probabilities p: UnsafePointer<Float>,
                                       rows: Int, cols: Int, ld: Int, threads: Int) {
        Threading.parallelFor(rows, threads: threads, grain: max(1, 8192 / cols)) { range in
            for r in range { softmaxBackwardRow(dp + r * ld, p + r * ld, cols: cols) }
        }
    }

    /// One row of `softmaxBackward` on the calling thread.
    @inline(__always)
    public static func softmaxBackwardRow(_ d: UnsafeMutablePointer<Float>, _ p: UnsafePointer<Float>, cols: Int) {
        let vectorEnd = cols & ~(Vec.scalarCount - 1)
        var acc = Vec()
        var i = 0
        while i < vectorEnd { acc += loadVec(d + i) * loadVec(p + i); i += Vec.scalarCount }
        var dot = acc.sum()
        while i < cols { dot += d[i] * p[i]; i += 1 }
        let dotV = Vec(repeating: dot)
        i = 0
        while i < vectorEnd { storeVec(loadVec(p + i) * (loadVec(d + i) - dotV), d + i); i += Vec.scalarCount }
        while i < cols { d[i] = p[i] * (d[i] - dot); i += 1 }
    }

    /// sums[c] += Σ_r x[r, c] (rows x cols, leading dimension ld): the bias gradient.
    public static func addColumnSums(_ x: UnsafePointer<Float>, rows: Int, cols: Int, ld: Int,
                                     into sums: UnsafeMutablePointer<Float>, threads: Int) {
        guard rows > 0, cols > 0 else { return }
        let chunks = max(1, min(threads, rows / max(1, 8192 / cols)))
        let partial = UnsafeMutableBufferPointer<Float>.allocate(capacity: chunks * cols)
        defer { partial.deallocate() }
        partial.initialize(repeating: 0)
        let base = partial.baseAddress!
        Threading.forEachWorker(chunks) { chunk in
            let lower = rows * chunk / chunks, upper = rows * (chunk + 1) / chunks
            let acc = base + chunk * cols
            let vectorEnd = cols & ~(Vec.scalarCount - 1)
            for r in lower ..< upper {
                let row = x + r * ld
                var i = 0
                while i < vectorEnd { storeVec(loadVec(acc + i) + loadVec(row + i), acc + i); i += Vec.scalarCount }
                while i < cols { acc[i] += row[i]; i += 1 }
            }
        }
        for chunk in 0 ..< chunks {
            let acc = base + chunk * cols
            for i in 0 ..< cols { sums[i] += acc[i] }
        }
    }

    /// sums[c] += Σ_r a[r, c] · b[r, c] (both rows x cols, contiguous): a LayerScale gradient.
    public static func addColumnProducts(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, rows: Int, cols: Int,
                                         into sums: UnsafeMutablePointer<Float>, threads: Int) {
        guard rows > 0, cols > 0 else { return }
        let chunks = max(1, min(threads, rows / max(1, 8192 / cols)))
        let partial = UnsafeMutableBufferPointer<Float>.allocate(capacity: chunks * cols)
        defer { partial.deallocate() }
        partial.initialize(repeating: 0)
        let base = partial.baseAddress!
        Threading.forEachWorker(chunks) { chunk in
            let lower = rows * chunk / chunks, upper = rows * (chunk + 1) / chunks
            let acc = base + chunk * cols
            let vectorEnd = cols & ~(Vec.scalarCount - 1)
            for r in lower ..< upper {
                let pa = a + r * cols, pb = b + r * cols
                var i = 0
                while i < vectorEnd { storeVec(loadVec(acc + i) + loadVec(pa + i) * loadVec(pb + i), acc + i); i += Vec.scalarCount }
                while i < cols { acc[i] += pa[i] * pb[i]; i += 1 }
            }
        }
        for chunk in 0 ..< chunks {
            let acc = base + chunk * cols
            for i in 0 ..< cols { sums[i] += acc[i] }
        }
    }

    /// out[r, c] = base[r, c] + gamma[c] · y[r, c] (rows x cols): a LayerScale residual; out may alias base.
    public static func scaledResidual(_ base: UnsafePointer<Float>, _ y: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                                      rows: Int, cols: Int, into out: UnsafeMutablePointer<Float>, threads: Int) {
        Threading.parallelFor(rows, threads: threads, grain: max(1, 4096 / cols)) { range in
            let vectorEnd = cols & ~(Vec.scalarCount - 1)
            for r in range {
                let pb = base + r * cols, py = y + r * cols, po = out + r * cols
                var i = 0
                while i < vectorEnd { storeVec(loadVec(pb + i) + loadVec(gamma + i) * loadVec(py + i), po + i); i += Vec.scalarCount }
                while i < cols { po[i] = pb[i] + gamma[i] * py[i]; i += 1 }
            }
        }
    }

    /// out[r, c] = gamma[c] · x[r, c] (rows x cols); out may alias x.
    public static func scaleColumns(_ x: UnsafePointer<Float>, gamma: UnsafePointer<Float>, rows: Int, cols: Int,
                                    into out: UnsafeMutablePointer<Float>, threads: Int) {
        Threading.parallelFor(rows, threads: threads, grain: max(1, 4096 / cols)) { range in
            let vectorEnd = cols & ~(Vec.scalarCount - 1)
            for r in range {
                let px = x + r * cols, po = out + r * cols
                var i = 0
                while i < vectorEnd { storeVec(loadVec(gamma + i) * loadVec(px + i), po + i); i += Vec.scalarCount }
                while i < cols { po[i] = gamma[i] * px[i]; i += 1 }
            }
        }
    }
}
