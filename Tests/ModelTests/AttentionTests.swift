// AttentionTests.swift — blocked, multi-worker attention against the textbook
// definition (double precision), across query blocks and thread counts; both
// inference kernels (fused and two GEMMs) on the shapes their tiles and panels
// cut unevenly, and the fused kernel's independence from the thread count.

import CTCore
import Foundation
import Model
import Tensor
import TestSupport
import Testing

@Suite(.serialized) struct AttentionTests {
    /// x W^T + b in double precision, then the definition below.
    static func naive(_ x: [Float], tokens t: Int, c: Int, heads: Int, w: [Float], b: [Float]) -> [Float] {
        var qkv = [Double](repeating: 0, count: t * 3 * c)
        for r in 0 ..< t {
            for o in 0 ..< 3 * c {
                var s = Double(b[o])
                for i in 0 ..< c { s += Double(x[r * c + i]) * Double(w[o * c + i]) }
                qkv[r * 3 * c + o] = s
            }
        }
        return definition(qkv: qkv.map { Float($0) }, tokens: t, images: 1, c: c, heads: heads)
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
            var scores = [Float](repeating: 0, count: slots * Attention.scoresPerSlot(tokens: t, headDim: c / heads))
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

    /// softmax(q k^T / sqrt(d)) v per head, in double precision, from a (B·T x 3C) qkv.
    static func definition(qkv: [Float], tokens t: Int, images: Int, c: Int, heads: Int) -> [Float] {
        let d = c / heads
        var out = [Float](repeating: 0, count: images * t * c)
        for image in 0 ..< images {
            let base = image * t * 3 * c
            for h in 0 ..< heads {
                for i in 0 ..< t {
                    var logits = [Double](repeating: 0, count: t)
                    for j in 0 ..< t {
                        var s = 0.0
                        for k in 0 ..< d {
                            s += Double(qkv[base + i * 3 * c + h * d + k]) * Double(qkv[base + j * 3 * c + c + h * d + k])
                        }
                        logits[j] = s / Double(d).squareRoot()
                    }
                    let m = logits.max()!
                    let e = logits.map { Foundation.exp($0 - m) }
                    let z = e.reduce(0, +)
                    for k in 0 ..< d {
                        var s = 0.0
                        for j in 0 ..< t { s += e[j] / z * Double(qkv[base + j * 3 * c + 2 * c + h * d + k]) }
                        out[(image * t + i) * c + h * d + k] = Float(s)
                    }
                }
            }
        }
        return out
    }

    static func attend(_ attention: Attention, qkv: [Float], tokens t: Int, images: Int, threads: Int,
                       kernel: Attention.InferenceKernel) -> [Float] {
        let c = attention.embedDim, slots = threads
        var qkv = qkv
        var scores = [Float](repeating: .nan, count: slots * Attention.scoresPerSlot(tokens: t, headDim: c / attention.heads))
        var rowScale = [Float](repeating: .nan, count: slots * Attention.queryBlock)
        var out = [Float](repeating: .nan, count: images * t * c)
        qkv.withUnsafeMutableBufferPointer { q in scores.withUnsafeMutableBufferPointer { s in
            rowScale.withUnsafeMutableBufferPointer { r in out.withUnsafeMutableBufferPointer { o in
                attention.attend(tokens: t, images: images, qkvBuffer: q.baseAddress!, scores: s.baseAddress!,
                                 rowScale: r.baseAddress!, slots: slots, into: o.baseAddress!, threads: threads, kernel: kernel)
            } }
        } }
        return out
    }

    /// Token counts around the fused kernel's 8-key tiles and 16/48-query panels and the 128-row query
    /// blocks; head widths below, at and above 16 and not multiples of 8; two images.
    @Test(arguments: [(1, 5, 1), (7, 10, 2), (8, 48, 3), (9, 36, 3), (17, 144, 2), (33, 8, 1), (48, 48, 3),
                      (49, 130, 2), (97, 48, 1), (129, 64, 1)])
    func inferenceKernelsMatchDefinition(tokens t: Int, c: Int, heads: Int) {
        var rng = SplitMix64(seed: UInt64(t * 1000 + c))
        let images = 2
        let qkv = rng.floats(images * t * 3 * c).map { $0 * 2 }
        let attention = Attention(embedDim: c, heads: heads)
        let expected = Self.definition(qkv: qkv, tokens: t, images: images, c: c, heads: heads)
        for kernel in Attention.InferenceKernel.allCases where kernel != .fused || FusedAttention.enabled {
            let out = Self.attend(attention, qkv: qkv, tokens: t, images: images, threads: 2, kernel: kernel)
            expectClose(out, expected, tolerance: 1e-4, "\(kernel) T=\(t) C=\(c) heads=\(heads)")
        }
    }

    @Test func fusedKernelIgnoresTheThreadCount() throws {
        try #require(FusedAttention.enabled || GEMM.kernel == .openBLAS)
        guard FusedAttention.enabled else { return }
        var rng = SplitMix64(seed: 77)
        let t = 1025, c = 96, heads = 3, images = 2
        let qkv = rng.floats(images * t * 3 * c).map { $0 * 1.5 }
        let attention = Attention(embedDim: c, heads: heads)
        let one = Self.attend(attention, qkv: qkv, tokens: t, images: images, threads: 1, kernel: .fused)
        for threads in [2, 3, 5] {
            let many = Self.attend(attention, qkv: qkv, tokens: t, images: images, threads: threads, kernel: .fused)
            #expect(many.map(\.bitPattern) == one.map(\.bitPattern), "fused attention with \(threads) threads")
        }
        let expected = Self.definition(qkv: qkv, tokens: t, images: images, c: c, heads: heads)
        expectClose(one, expected, tolerance: 1e-4, "fused, T=\(t)")
        let blocked = Self.attend(attention, qkv: qkv, tokens: t, images: images, threads: 2, kernel: .twoGEMMs)
        expectClose(blocked, expected, tolerance: 1e-4, "two GEMMs, T=\(t)")
    }
}
