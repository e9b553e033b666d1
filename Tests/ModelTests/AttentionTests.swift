// AttentionTests.swift — blocked, multi-worker attention against the textbook
// definition (double precision), across query blocks and thread counts.

import CTCore
import Foundation
import Model
import Tensor
import TestSupport
import Testing

@Suite(.serialized) struct AttentionTests {
    static func naive(_ x: [Float], tokens t: Int, c: Int, heads: Int, w: [Float], b: [Float]) -> [Float] {
        let d = c / heads
        var qkv = [Double](repeating: 0, count: t * 3 * c)
        for r in 0 ..< t {
            for o in 0 ..< 3 * c {
                var s = Double(b[o])
                for i in 0 ..< c { s += Double(x[r * c + i]) * Double(w[o * c + i]) }
                qkv[r * 3 * c + o] = s
            }
        }
        var out = [Float](repeating: 0, count: t * c)
        for h in 0 ..< heads {
            for i in 0 ..< t {
                var logits = [Double](repeating: 0, count: t)
                for j in 0 ..< t {
                    var s = 0.0
                    for k in 0 ..< d { s += qkv[i * 3 * c + h * d + k] * qkv[j * 3 * c + c + h * d + k] }
                    logits[j] = s / Double(d).squareRoot()
                }
                let m = logits.max()!
                let e = logits.map { Foundation.exp($0 - m) }
                let z = e.reduce(0, +)
                for k in 0 ..< d {
                    var s = 0.0
                    for j in 0 ..< t { s += e[j] / z * qkv[j * 3 * c + 2 * c + h * d + k] }
                    out[i * c + h * d + k] = Float(s)
                }
            }
        }
        return out
    }

    @Test(arguments: [(1, 300), (3, 300), (2, 129), (2, 5)])
    func blockedAttentionMatchesDefinition(threads: Int, tokens t: Int) {
        do {
            var rng = SplitMix64(seed: UInt64(t * 10 + threads))
            let c = 48, heads = 3
            let x = rng.floats(t * c), w = rng.floats(3 * c * c).map { $0 * 0.4 }, b = rng.floats(3 * c)
            let attention = Attention(heads: heads, qkv: Linear(weight: Tensor(shape: [3 * c, c], storage: w),
                                                                bias: Tensor(shape: [3 * c], storage: b)),
                                      proj: Linear(weight: Tensor(zeros: [c, c]), bias: Tensor(zeros: [c])))
            let slots = threads
            var qkv = [Float](repeating: 0, count: t * 3 * c)
            var scores = [Float](repeating: 0, count: slots * Attention.scoresPerSlot(tokens: t))
            var rowScale = [Float](repeating: 0, count: slots * Attention.queryBlock)
            var out = [Float](repeating: .nan, count: t * c)
            x.withUnsafeBufferPointer { xp in
                qkv.withUnsafeMutableBufferPointer { q in scores.withUnsafeMutableBufferPointer { s in
                    rowScale.withUnsafeMutableBufferPointer { r in out.withUnsafeMutableBufferPointer { o in
                        attention.forward(xp.baseAddress!, tokens: t, qkvBuffer: q.baseAddress!, scores: s.baseAddress!,
                                          rowScale: r.baseAddress!, slots: slots, into: o.baseAddress!, threads: threads)
                    } }
                } }
            }
            expectClose(out, Self.naive(x, tokens: t, c: c, heads: heads, w: w, b: b), tolerance: 1e-4,
                        "attention T=\(t) threads=\(threads)")
        }
    }
}
