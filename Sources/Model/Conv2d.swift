// Conv2d.swift — nn.Conv2d with stride 1 and "same" padding (k / 2 zeros on
// every side, odd k), over channel-major planes (C, H, W).
//
// 1x1: Y (out, H·W) = W (out, in) · X (in, H·W), one row-split GEMM.
// k x k: no im2col. The input is copied once into zero-padded planes of width
// Wp = W + k - 1; the output is computed on the same row pitch ("wide" rows of
// Wp columns, the last k - 1 of each row discarded), where the input of tap
// (dy, dx) is the padded planes shifted by dy·Wp + dx — a plain matrix with
// leading dimension (H + k - 1)·Wp. So the convolution is k² accumulating GEMMs
// Y_wide += W_tap (out, in) · X_pad[shift], the taps' weights repacked from
// (out, in, k, k) to (k², out, in) first; then the valid columns are copied out
// with the bias.
// Backward (same layout): the output gradient is spread onto the wide rows (zero
// in the discarded columns); tap t's weight gradient is dY_wide · X_pad[shift]ᵀ,
// and the padded input gradient gathers W_tapᵀ · dY_wide at each tap's shift, k²
// accumulating GEMMs in a fixed order; its interior is the input gradient.

import Tensor

public struct Conv2d: Sendable, ParameterWalkable {
    public let inChannels: Int
    public let outChannels: Int
    public let kernelSize: Int
    /// (out, in, k, k), as nn.Conv2d stores it.
    public var weight: Parameter
    /// (out); nil for a convolution without bias (one followed by a norm).
    public var bias: Parameter?

    /// A layer whose parameters a walk binds later.
    public init(inChannels: Int, outChannels: Int, kernelSize: Int, bias: Bool) {
        precondition(inChannels > 0 && outChannels > 0 && kernelSize > 0 && kernelSize % 2 == 1,
                     "Conv2d: \(inChannels) -> \(outChannels), kernel \(kernelSize) (odd kernels only)")
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelSize = kernelSize
        weight = Parameter(unbound: [outChannels, inChannels, kernelSize, kernelSize])
        self.bias = bias ? Parameter(unbound: [outChannels]) : nil
    }

    public mutating func walkParameters<V: ParameterVisitor>(_ v: inout V, _ scope: ParameterScope) throws(WeightError) {
        try v.visit(&weight, "weight", in: scope, decay: true)
        if var b = bias {
            try v.visit(&b, "bias", in: scope, decay: true)
            bias = b
        }
    }

    /// Floats of scratch `forward` needs for an H x W input (0 for 1x1).
    public func scratchCount(height h: Int, width w: Int) -> Int {
        let k = kernelSize
        guard k > 1 else { return 0 }
        let wp = w + k - 1
        return inChannels * (h + k - 1) * wp + outChannels * h * wp + k * k * outChannels * inChannels
    }

    /// x (in, H, W) -> y (out, H, W), channel-major; must not overlap. `scratch`: scratchCount(height:width:)
    /// floats (unused, and may be nil, for 1x1).
    public func forward(_ x: UnsafePointer<Float>, height h: Int, width w: Int, scratch: UnsafeMutablePointer<Float>?,
                        into y: UnsafeMutablePointer<Float>, threads: Int) {
        let cin = inChannels, cout = outChannels, k = kernelSize, n = h * w
        guard n > 0 else { return }
        if k == 1 {
            weight.withUnsafeBufferPointer { wt in
                GEMM.rows(m: cout, n: n, k: cin, a: wt.baseAddress!, lda: cin, b: x, ldb: n, c: y, ldc: n, threads: threads)
            }
            if let bias {
                bias.withUnsafeBufferPointer { b in
                    let b = b.baseAddress!
                    Threading.parallelFor(cout, threads: threads, grain: max(1, 16384 / n)) { range in
                        for o in range {
                            let p = y + o * n, v = b[o]
                            for i in 0 ..< n { p[i] += v }
                        }
                    }
                }
            }
            return
        }
        guard let scratch else { preconditionFailure("Conv2d.forward: a \(k)x\(k) convolution needs scratch") }
        let wp = w + k - 1, hp = h + k - 1, plane = hp * wp, wideN = h * wp
        let padded = scratch, wide = padded + cin * plane, taps = wide + cout * wideN
        padPlanes(x, height: h, width: w, into: padded, threads: threads)
        repackTaps(into: taps, threads: threads)
        // Columns up to the last valid output (row h-1, column w-1): the reads of every tap stay inside the planes.
        let columns = wideN - (k - 1)
        for t in 0 ..< k * k {
            let dy = t / k, dx = t % k
            GEMM.rows(m: cout, n: columns, k: cin, a: taps + t * cout * cin, lda: cin, b: padded + dy * wp + dx, ldb: plane,
                      beta: t == 0 ? 0 : 1, c: wide, ldc: wideN, threads: threads)
        }
        let biasValues = bias.map { Array($0.values) }
        Threading.parallelFor(cout, threads: threads, grain: max(1, 16384 / n)) { range in
            for o in range {
                let v = biasValues?[o] ?? 0
                for r in 0 ..< h {
                    let src = wide + o * wideN + r * wp, dst = y + o * n + r * w
                    for i in 0 ..< w { dst[i] = src[i] + v }
                }
            }
        }
    }

    /// The input (in, H, W) copied into zero-padded planes (in, H + k - 1, W + k - 1).
    func padPlanes(_ x: UnsafePointer<Float>, height h: Int, width w: Int, into padded: UnsafeMutablePointer<Float>, threads: Int) {
        let k = kernelSize, pad = k / 2, wp = w + k - 1, plane = (h + k - 1) * wp, n = h * w
        Threading.parallelFor(inChannels, threads: threads, grain: max(1, 16384 / plane)) { range in
            for c in range {
                let dst = padded + c * plane, src = x + c * n
                dst.update(repeating: 0, count: plane)
                for r in 0 ..< h { (dst + (r + pad) * wp + pad).update(from: src + r * w, count: w) }
            }
        }
    }

    /// The weight (out, in, k, k) repacked as k² matrices (out, in), one per tap.
    func repackTaps(into taps: UnsafeMutablePointer<Float>, threads: Int) {
        let cin = inChannels, cout = outChannels, kk = kernelSize * kernelSize
        weight.withUnsafeBufferPointer { wt in
            let wt = wt.baseAddress!
            Threading.parallelFor(cout, threads: threads, grain: max(1, 16384 / (cin * kk))) { range in
                for o in range {
                    for c in 0 ..< cin {
                        let src = wt + (o * cin + c) * kk
                        for t in 0 ..< kk { taps[(t * cout + o) * cin + c] = src[t] }
                    }
                }
            }
        }
    }

    /// Floats of scratch `backward` needs for an H x W input (0 for 1x1).
    public func backwardScratchCount(height h: Int, width w: Int) -> Int {
        let k = kernelSize
        guard k > 1 else { return 0 }
        let wp = w + k - 1, plane = (h + k - 1) * wp
        return 2 * inChannels * plane + outChannels * h * wp + (k * k + 1) * outChannels * inChannels
    }

    /// Backward of y = conv(x) from dy (out, H, W), x the forward's input: with `gradients`,
    /// dW += and db += (a frozen parameter is skipped); dx (in, H, W) overwritten when given.
    /// `scratch`: backwardScratchCount(height:width:) floats (unused, and may be nil, for 1x1).
    /// Output rows of each product split over `threads` chunks, one writer each.
    public func backward(_ dy: UnsafePointer<Float>, input x: UnsafePointer<Float>, height h: Int, width w: Int,
                         scratch: UnsafeMutablePointer<Float>?, into dx: UnsafeMutablePointer<Float>?,
                         gradients: ParameterGradients?, threads: Int) {
        let cin = inChannels, cout = outChannels, k = kernelSize, n = h * w
        guard n > 0 else { return }
        if let bias, let dBias = gradients?[bias] {
            Threading.parallelFor(cout, threads: threads, grain: max(1, 16384 / n)) { range in
                for o in range {
                    let row = dy + o * n
                    var sum: Float = 0
                    for i in 0 ..< n { sum += row[i] }
                    dBias[o] += sum
                }
            }
        }
        let dWeight = gradients?[weight]
        if k == 1 {
            if let dWeight {
                GEMM.rows(m: cout, n: cin, k: n, a: dy, lda: n, b: x, ldb: n, transB: true, beta: 1, c: dWeight, ldc: cin,
                          threads: threads)
            }
            if let dx {
                weight.withUnsafeBufferPointer { wt in
                    GEMM.rows(m: cin, n: n, k: cout, a: wt.baseAddress!, lda: cin, transA: true, b: dy, ldb: n, c: dx, ldc: n,
                              threads: threads)
                }
            }
            return
        }
        guard dWeight != nil || dx != nil else { return }
        guard let scratch else { preconditionFailure("Conv2d.backward: a \(k)x\(k) convolution needs scratch") }
        let pad = k / 2, wp = w + k - 1, plane = (h + k - 1) * wp, wideN = h * wp, kk = k * k
        let padded = scratch, dWide = padded + cin * plane, taps = dWide + cout * wideN, dTap = taps + kk * cout * cin
        let dPadded = dTap + cout * cin
        Threading.parallelFor(cout, threads: threads, grain: max(1, 16384 / wideN)) { range in
            for o in range {
                let dst = dWide + o * wideN
                dst.update(repeating: 0, count: wideN)
                for r in 0 ..< h { (dst + r * wp).update(from: dy + o * n + r * w, count: w) }
            }
        }
        let columns = wideN - (k - 1)
        if let dWeight {
            padPlanes(x, height: h, width: w, into: padded, threads: threads)
            for t in 0 ..< kk {
                let shift = (t / k) * wp + t % k
                GEMM.rows(m: cout, n: cin, k: columns, a: dWide, lda: wideN, b: padded + shift, ldb: plane, transB: true,
                          c: dTap, ldc: cin, threads: threads)
                Threading.parallelFor(cout, threads: threads, grain: max(1, 16384 / cin)) { range in
                    for o in range {
                        for c in 0 ..< cin { dWeight[(o * cin + c) * kk + t] += dTap[o * cin + c] }
                    }
                }
            }
        }
        if let dx {
            repackTaps(into: taps, threads: threads)
            dPadded.update(repeating: 0, count: cin * plane)
            for t in 0 ..< kk {
                let shift = (t / k) * wp + t % k
                GradientGEMM.transposedA(m: cin, n: columns, k: cout, a: taps + t * cout * cin, lda: cin, b: dWide, ldb: wideN,
                                         beta: 1, c: dPadded + shift, ldc: plane, threads: threads)
            }
            Threading.parallelFor(cin, threads: threads, grain: max(1, 16384 / n)) { range in
                for c in range {
                    for r in 0 ..< h { (dx + c * n + r * w).update(from: dPadded + c * plane + (r + pad) * wp + pad, count: w) }
                }
            }
        }
    }
}
