// BilinearBackward.swift — the adjoint of `Bilinear.resize` (PyTorch's
// upsample_bilinear2d backward, align_corners=False): every output gradient is
// spread back onto the four source taps with the forward's weights. Planes are
// split over `threads` chunks, so no two threads touch the same value, and each
// plane is summed in one fixed order whatever the thread count.

extension Bilinear {
    /// dx (P, inH, inW) = resizeᵀ(dy (P, outH, outW)) of `resize(_:planes:height:width:toHeight:width:into:threads:)`.
    /// Overwrites dx.
    public static func resizeBackward(_ dy: UnsafePointer<Float>, planes: Int, height inH: Int, width inW: Int,
                                      fromHeight outH: Int, width outW: Int, into dx: UnsafeMutablePointer<Float>, threads: Int) {
        resizeBackward(dy, planes: planes, rows: BilinearAxis(input: inH, output: outH), columns: BilinearAxis(input: inW, output: outW),
                       into: dx, threads: threads)
    }

    /// dx (P, ys.input, xs.input) = resizeᵀ(dy (P, ys.output, xs.output)) with the given taps per axis.
    /// Overwrites dx.
    public static func resizeBackward(_ dy: UnsafePointer<Float>, planes: Int, rows ys: BilinearAxis, columns xs: BilinearAxis,
                                      into dx: UnsafeMutablePointer<Float>, threads: Int) {
        let inH = ys.input, inW = xs.input, outH = ys.output, outW = xs.output
        Threading.parallelFor(planes, threads: threads) { range in
            for p in range {
                let g = dy + p * outH * outW, d = dx + p * inH * inW
                d.update(repeating: 0, count: inH * inW)
                for r in 0 ..< outH {
                    let a = d + ys.index0[r] * inW, b = d + ys.index1[r] * inW, h0 = ys.lambda0[r], h1 = ys.lambda1[r]
                    let row = g + r * outW
                    for c in 0 ..< outW {
                        let i = xs.index0[c], j = xs.index1[c], w0 = xs.lambda0[c], w1 = xs.lambda1[c]
                        let v = row[c]
                        a[i] += h0 * w0 * v
                        a[j] += h0 * w1 * v
                        b[i] += h1 * w0 * v
                        b[j] += h1 * w1 * v
                    }
                }
            }
        }
    }
}
