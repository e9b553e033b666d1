// BilinearTests.swift — Bilinear.resize against torch.nn.functional.interpolate(mode="bilinear",
// align_corners=False) (fixtures from scripts/make_bilinear_fixtures.py), bit for bit against
// ATen's four-tap formula written out here, and resizedArgmax against the argmax of resize.

import CTCore
import Foundation
import Tensor
import TestSupport
import Testing

@Suite struct BilinearTests {
    struct Case: CustomStringConvertible, Sendable {
        let name: String, planes: Int, inH: Int, inW: Int, outH: Int, outW: Int, scaleFactor: Double?
        var description: String { name }
        var rows: BilinearAxis { scaleFactor.map { BilinearAxis(input: inH, scaleFactor: $0) } ?? BilinearAxis(input: inH, output: outH) }
        var columns: BilinearAxis { scaleFactor.map { BilinearAxis(input: inW, scaleFactor: $0) } ?? BilinearAxis(input: inW, output: outW) }
    }

    static let cases = [
        Case(name: "up16", planes: 3, inH: 4, inW: 3, outH: 64, outW: 48, scaleFactor: nil),
        Case(name: "uneven", planes: 2, inH: 5, inW: 7, outH: 13, outW: 9, scaleFactor: nil),
        Case(name: "down", planes: 2, inH: 11, inW: 17, outH: 4, outW: 6, scaleFactor: nil),
        Case(name: "line", planes: 2, inH: 1, inW: 1, outH: 3, outW: 5, scaleFactor: nil),
        Case(name: "half_odd", planes: 2, inH: 7, inW: 9, outH: 3, outW: 4, scaleFactor: 0.5),
    ]

    func resized(_ k: Case, _ x: [Float], threads: Int) -> [Float] {
        var y = [Float](repeating: .nan, count: k.planes * k.outH * k.outW)
        x.withUnsafeBufferPointer { x in
            y.withUnsafeMutableBufferPointer {
                Bilinear.resize(x.baseAddress!, planes: k.planes, rows: k.rows, columns: k.columns, into: $0.baseAddress!, threads: threads)
            }
        }
        return y
    }

    /// ATen's loop: λ0h (λ0w x00 + λ1w x01) + λ1h (λ0w x10 + λ1w x11) per output pixel.
    func fourTaps(_ k: Case, _ x: [Float]) -> [Float] {
        let ys = k.rows, xs = k.columns
        var y = [Float](repeating: 0, count: k.planes * k.outH * k.outW)
        for p in 0 ..< k.planes {
            for r in 0 ..< k.outH {
                let a = p * k.inH * k.inW + ys.index0[r] * k.inW, b = p * k.inH * k.inW + ys.index1[r] * k.inW
                for c in 0 ..< k.outW {
                    let i = xs.index0[c], j = xs.index1[c], w0 = xs.lambda0[c], w1 = xs.lambda1[c]
                    y[(p * k.outH + r) * k.outW + c] = ys.lambda0[r] * (w0 * x[a + i] + w1 * x[a + j])
                        + ys.lambda1[r] * (w0 * x[b + i] + w1 * x[b + j])
                }
            }
        }
        return y
    }

    @Test func fixturesPresent() throws {
        let data = try Data(contentsOf: fixtures.url("bilinear/cases.json"))
        let index = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        #expect(Set(index.keys) == Set(Self.cases.map(\.name)))
    }

    @Test(arguments: cases)
    func matchesTorch(_ k: Case) throws {
        let (shape, x) = try fixtures.floatArray("bilinear/\(k.name)_in.npy")
        #expect(shape == [k.planes, k.inH, k.inW])
        let (outShape, expected) = try fixtures.floatArray("bilinear/\(k.name)_out.npy")
        #expect(outShape == [k.planes, k.outH, k.outW])
        #expect(k.rows.output == k.outH && k.columns.output == k.outW)
        for threads in [1, 2, 3] {
            expectClose(resized(k, x, threads: threads), expected, tolerance: 1e-4, "\(k) at \(threads) thread(s)")
        }
    }

    @Test(arguments: cases)
    func sameBitsAsTheFourTapFormula(_ k: Case) throws {
        let (_, x) = try fixtures.floatArray("bilinear/\(k.name)_in.npy")
        let reference = fourTaps(k, x)
        for threads in [1, 2] {
            let y = resized(k, x, threads: threads)
            #expect(y.map(\.bitPattern) == reference.map(\.bitPattern), "\(k) at \(threads) thread(s)")
        }
    }

    @Test func resizedArgmaxIsTheArgmaxOfResize() {
        // 19 planes 6 x 5 -> 96 x 85 (16-lane vectors and a scalar tail), with ties and a NaN.
        var rng = SplitMix64(seed: 11)
        let planes = 19, h = 6, w = 5, outH = 96, outW = 85
        var x = (0 ..< planes * h * w).map { _ in Float.random(in: -2 ..< 2, using: &rng) }
        for i in 0 ..< h * w where i % 7 == 0 { x[3 * h * w + i] = x[1 * h * w + i] }   // ties between planes 1 and 3
        x[5 * h * w + 2] = .nan
        let k = Case(name: "argmax", planes: planes, inH: h, inW: w, outH: outH, outW: outW, scaleFactor: nil)
        let y = resized(k, x, threads: 2)
        var expected = [UInt8](repeating: 0, count: outH * outW)
        for i in 0 ..< outH * outW {
            var best = -Float.infinity, label = 0
            for p in 0 ..< planes {
                let v = y[p * outH * outW + i]
                if v > best || (v.isNaN && !best.isNaN) { best = v; label = p }
            }
            expected[i] = UInt8(label)
        }
        for threads in [1, 2, 3] {
            var labels = [UInt8](repeating: 255, count: outH * outW)
            x.withUnsafeBufferPointer { x in
                labels.withUnsafeMutableBufferPointer {
                    Bilinear.resizedArgmax(x.baseAddress!, planes: planes, height: h, width: w, toHeight: outH, width: outW,
                                           into: $0.baseAddress!, threads: threads)
                }
            }
            #expect(labels == expected, "\(threads) thread(s)")
        }
    }
}
