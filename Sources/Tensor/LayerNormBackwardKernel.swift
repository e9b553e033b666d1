// LayerNormBackwardKernel.swift — LayerNorm for training: a forward that keeps
// the per-row statistics, and the backward pass.
//
// Forward: the same corrected two-pass statistics as LayerNormKernel, with the
// mean and 1/sqrt(var + eps) of every row written out. Backward, per row, with
// x̂ = (x - mean)·rstd and g = dy ⊙ weight:
//   dx = rstd · (g - mean(g) - x̂ · mean(g ⊙ x̂))
//   dweight += Σ_rows dy ⊙ x̂,  dbias += Σ_rows dy
// Rows are split over `threads` chunks; the parameter gradients are summed
// per chunk and the chunks added in chunk order (fixed for a thread count).

public enum LayerNormBackwardKernel {
    /// y = LayerNorm(x) as `LayerNormKernel.forward`, also writing mean[r] and rstd[r]. `y` may alias `x`.
    public static func forward(_ x: UnsafePointer<Float>, rows: Int, cols: Int, weight: UnsafePointer<Float>,
                               bias: UnsafePointer<Float>, eps: Float, into y: UnsafeMutablePointer<Float>,
                               mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>, threads: Int) {
        precondition(cols > 0, "LayerNormBackwardKernel.forward: empty rows")
        Threading.parallelFor(rows, threads: threads, grain: max(1, 4096 / cols)) { range in
            for r in range {
                let (m, inv) = statistics(x + r * cols, cols: cols, eps: eps)
                mean[r] = m
                rstd[r] = inv
                let xp = x + r * cols, yp = y + r * cols
                let vectorEnd = cols & ~(Vec.scalarCount - 1)
                let meanV = Vec(repeating: m), invV = Vec(repeating: inv)
                var i = 0
                while i < vectorEnd {
                    let v = (loadVec(xp + i) - meanV) * invV
                    storeVec(v * loadVec(weight + i) + loadVec(bias + i), yp + i)
                    i += Vec.scalarCount
                }
                while i < cols { yp[i] = (xp[i] - m) * inv * weight[i] + bias[i]; i += 1 }
            }
        }
    }

    /// Mean and 1/sqrt(var + eps) of one row (corrected two-pass, as LayerNormKernel).
    @inline(__always)
    static func statistics(_ x: UnsafePointer<Float>, cols: Int, eps: Float) -> (Float, Float) {
        let vectorEnd = cols & ~(Vec.scalarCount - 1)
        var acc = Vec()
        var i = 0
        while i < vectorEnd { acc += loadVec(x + i); i += Vec.scalarCount }
        var sum = acc.sum()
        while i < cols { sum += x[i]; i += 1 }
        let roughMean = sum / Float(cols)
        let roughV = Vec(repeating: roughMean)
        var accD = Vec(), accSq = Vec()
        i = 0
        while i < vectorEnd {
            let d = loadVec(x + i) - roughV
            accD += d
            accSq += d * d
            i += Vec.scalarCount
        }
        var sumD = accD.sum(), sumSq = accSq.sum()
        while i < cols { let d = x[i] - roughMean; sumD += d; sumSq += d * d; i += 1 }
        let correction = sumD / Float(cols)
        let variance = max(sumSq / Float(cols) - correction * correction, 0)
        return (roughMean + correction, 1 / (variance + eps).squareRoot())
    }

    /// Backward of y = LayerNorm(x): dx (rows x cols) from dy, x and the saved statistics.
    /// `accumulate`: dx += ... instead of dx = .... `dweight`/`dbias` (cols), when given, are added to.
    /// dx may alias dy only when not accumulating.
    public static func backward(_ dy: UnsafePointer<Float>, x: UnsafePointer<Float>, mean: UnsafePointer<Float>,
                                rstd: UnsafePointer<Float>, rows: Int, cols: Int, weight: UnsafePointer<Float>,
                                into dx: UnsafeMutablePointer<Float>, accumulate: Bool,
                                dweight: UnsafeMutablePointer<Float>?, dbias: UnsafeMutablePointer<Float>?, threads: Int) {
        precondition(cols > 0, "LayerNormBackwardKernel.backward: empty rows")
        let wantParameters = dweight != nil || dbias != nil
        let chunks = max(1, min(threads, rows / max(1, 4096 / cols)))
        let partial = UnsafeMutableBufferPointer<Float>.allocate(capacity: wantParameters ? 2 * chunks * cols : 0)
        defer { partial.deallocate() }
        if wantParameters { partial.initialize(repeating: 0) }
        let partialBase = wantParameters ? partial.baseAddress : nil
        let vectorEnd = cols & ~(Vec.scalarCount - 1)
        Threading.forEachWorker(chunks) { chunk in
            let lower = rows * chunk / chunks, upper = rows * (chunk + 1) / chunks
            let pw = partialBase.map { $0 + 2 * chunk * cols }, pb = pw.map { $0 + cols }
            for r in lower ..< upper {
                let xp = x + r * cols, gp = dy + r * cols, out = dx + r * cols
                let m = Vec(repeating: mean[r]), s = Vec(repeating: rstd[r])
                var sumG = Vec(), sumGX = Vec()
                var i = 0
                while i < vectorEnd {
                    let xhat = (loadVec(xp + i) - m) * s
                    let d = loadVec(gp + i)
                    let g = d * loadVec(weight + i)
                    sumG += g
                    sumGX += g * xhat
                    if let pw, let pb {
                        storeVec(loadVec(pw + i) + d * xhat, pw + i)
                        storeVec(loadVec(pb + i) + d, pb + i)
                    }
                    i += Vec.scalarCount
                }
                var a = sumG.sum(), b = sumGX.sum()
                while i < cols {
                    let xhat = (xp[i] - mean[r]) * rstd[r]
                    let g = gp[i] * weight[i]
                    a += g
                    b += g * xhat
                    if let pw, let pb { pw[i] += gp[i] * xhat; pb[i] += gp[i] }
                    i += 1
                }
                a /= Float(cols)
                b /= Float(cols)
                let aV = Vec(repeating: a), bV = Vec(repeating: b)
                i = 0
                while i < vectorEnd {
                    let xhat = (loadVec(xp + i) - m) * s
                    let g = loadVec(gp + i) * loadVec(weight + i)
                    let v = s * (g - aV - xhat * bV)
                    storeVec(accumulate ? loadVec(out + i) + v : v, out + i)
                    i += Vec.scalarCount
                }
                while i < cols {
                    let xhat = (xp[i] - mean[r]) * rstd[r]
                    let v = rstd[r] * (gp[i] * weight[i] - a - xhat * b)
                    out[i] = accumulate ? out[i] + v : v
                    i += 1
                }
            }
        }
        guard let partialBase else { return }
        for chunk in 0 ..< chunks {
            let pw = partialBase + 2 * chunk * cols, pb = pw + cols
            if let dweight { for i in 0 ..< cols { dweight[i] += pw[i] } }
            if let dbias { for i in 0 ..< cols { dbias[i] += pb[i] } }
        }
    }
}
