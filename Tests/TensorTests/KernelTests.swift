// KernelTests.swift — LayerNorm, softmax, fused activations and the residual
// update against their naive twins, at widths with and without vector tails.

import CTCore
import Foundation
import Tensor
import TestSupport
import Testing

@Suite struct KernelTests {
    static let widths = [1, 5, 16, 24, 37, 64, 385]

    @Test(arguments: widths)
    func layerNorm(cols: Int) {
        var rng = SplitMix64(seed: UInt64(cols))
        let rows = 9
        // A large common offset: the two-pass variance must not lose it.
        let x = rng.floats(rows * cols).map { $0 * 3 + 50 }
        let w = rng.floats(cols), b = rng.floats(cols)
        var y = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in b.withUnsafeBufferPointer { bp in
            y.withUnsafeMutableBufferPointer { yp in
                LayerNormKernel.forward(xp.baseAddress!, rows: rows, cols: cols, weight: wp.baseAddress!,
                                        bias: bp.baseAddress!, eps: 1e-6, into: yp.baseAddress!, threads: 2)
            }
        } } }
        expectClose(y, Naive.layerNorm(x, rows: rows, cols: cols, weight: w, bias: b, eps: 1e-6), tolerance: 1e-4,
                    "LayerNorm cols \(cols)")
    }

    @Test(arguments: widths)
    func softmax(cols: Int) {
        var rng = SplitMix64(seed: 100 + UInt64(cols))
        let rows = 7, ld = cols + 3
        let dense = rng.floats(rows * cols, in: -20 ... 20)
        var strided = [Float](repeating: .nan, count: rows * ld)
        for r in 0 ..< rows { for c in 0 ..< cols { strided[r * ld + c] = dense[r * cols + c] } }
        var unnormalised = strided
        var inverse = [Float](repeating: 0, count: rows)
        strided.withUnsafeMutableBufferPointer { SoftmaxKernel.forward($0.baseAddress!, rows: rows, cols: cols, ld: ld, threads: 2) }
        unnormalised.withUnsafeMutableBufferPointer { p in
            inverse.withUnsafeMutableBufferPointer { s in
                SoftmaxKernel.unnormalised(p.baseAddress!, rows: rows, cols: cols, ld: ld, inverseSums: s.baseAddress!, threads: 2)
            }
        }
        var base2 = [Float](repeating: .nan, count: rows * ld)
        for r in 0 ..< rows { for c in 0 ..< cols { base2[r * ld + c] = dense[r * cols + c] * 1.442_695_04 } }
        var inverse2 = [Float](repeating: 0, count: rows)
        base2.withUnsafeMutableBufferPointer { p in
            inverse2.withUnsafeMutableBufferPointer { s in
                SoftmaxKernel.unnormalisedBase2Serial(p.baseAddress!, rows: rows, cols: cols, ld: ld, inverseSums: s.baseAddress!)
            }
        }
        var actual = [Float](), deferred = [Float](), deferred2 = [Float]()
        for r in 0 ..< rows {
            for c in 0 ..< cols {
                actual.append(strided[r * ld + c])
                deferred.append(unnormalised[r * ld + c] * inverse[r])
                deferred2.append(base2[r * ld + c] * inverse2[r])
            }
            let untouched = strided[r * ld + cols ..< r * ld + ld].allSatisfy { $0.isNaN }
            #expect(untouched, "softmax wrote past its row")
        }
        let expected = Naive.softmax(dense, rows: rows, cols: cols)
        expectClose(actual, expected, tolerance: 1e-5, "softmax cols \(cols)")
        expectClose(deferred, expected, tolerance: 1e-5, "unnormalised softmax cols \(cols)")
        expectClose(deferred2, expected, tolerance: 2e-5, "base-2 softmax cols \(cols)")
    }

    @Test(arguments: widths)
    func biasGELU(cols: Int) {
        var rng = SplitMix64(seed: 200 + UInt64(cols))
        let rows = 6
        var h = rng.floats(rows * cols, in: -6 ... 6)
        let bias = rng.floats(cols)
        let expected = (0 ..< h.count).map { Float(Naive.gelu(Double(h[$0] + bias[$0 % cols]))) }
        h.withUnsafeMutableBufferPointer { hp in bias.withUnsafeBufferPointer { bp in
            ActivationKernels.biasGELU(hp.baseAddress!, rows: rows, cols: cols, bias: bp.baseAddress!, threads: 2)
        } }
        expectClose(h, expected, tolerance: 3e-5, "bias+GELU cols \(cols)")
    }

    @Test(arguments: [1, 8, 21, 48])
    func biasSwiGLU(hidden: Int) {
        var rng = SplitMix64(seed: 300 + UInt64(hidden))
        let rows = 5
        let u = rng.floats(rows * 2 * hidden, in: -5 ... 5), bias = rng.floats(2 * hidden)
        var out = [Float](repeating: 0, count: rows * hidden)
        var expected = out
        for r in 0 ..< rows {
            for j in 0 ..< hidden {
                let a = Double(u[r * 2 * hidden + j] + bias[j]), b = Double(u[r * 2 * hidden + hidden + j] + bias[hidden + j])
                expected[r * hidden + j] = Float(Naive.silu(a) * b)
            }
        }
        u.withUnsafeBufferPointer { up in bias.withUnsafeBufferPointer { bp in out.withUnsafeMutableBufferPointer { op in
            ActivationKernels.biasSwiGLU(up.baseAddress!, rows: rows, hidden: hidden, bias: bp.baseAddress!, into: op.baseAddress!, threads: 2)
        } } }
        expectClose(out, expected, tolerance: 1e-5, "SwiGLU hidden \(hidden)")
    }

    @Test(arguments: widths)
    func residualLayerScale(cols: Int) {
        var rng = SplitMix64(seed: 400 + UInt64(cols))
        let rows = 4
        var x = rng.floats(rows * cols)
        let y = rng.floats(rows * cols), bias = rng.floats(cols), gamma = rng.floats(cols)
        let expected = (0 ..< x.count).map { x[$0] + gamma[$0 % cols] * (y[$0] + bias[$0 % cols]) }
        x.withUnsafeMutableBufferPointer { xp in y.withUnsafeBufferPointer { yp in bias.withUnsafeBufferPointer { bp in
            gamma.withUnsafeBufferPointer { gp in
                ResidualKernel.addScaled(xp.baseAddress!, yp.baseAddress!, rows: rows, cols: cols, bias: bp.baseAddress!,
                                         gamma: gp.baseAddress!, threads: 2)
            }
        } } }
        expectClose(x, expected, tolerance: 1e-6, "residual cols \(cols)")
    }
}
