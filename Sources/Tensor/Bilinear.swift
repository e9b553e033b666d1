// Bilinear.swift — PyTorch `F.interpolate(mode="bilinear", align_corners=False)`
// for planes of logits (the head's upsampling and the final resize to label size).
//
// Per axis (ATen `compute_source_index_and_lambda`, index math in float):
// scale = in/out (`size=`) or 1/s (`scale_factor=s`, output floor(s·in)),
// src = max(scale·(dst + 0.5) - 0.5, 0), i0 = floor(src),
// i1 = i0 + 1 unless i0 is the last index, λ1 = min(src - i0, 1), λ0 = 1 - λ1.
// Output = λ0h (λ0w x00 + λ1w x01) + λ1h (λ0w x10 + λ1w x11), as ATen's loop.

/// Source taps of one axis of a bilinear resize.
public struct BilinearAxis: Sendable, Equatable {
    public let input: Int
    public let output: Int
    /// First and second source index per output index.
    public let index0: [Int], index1: [Int]
    /// Weights of index0 and index1.
    public let lambda0: [Float], lambda1: [Float]

    /// The taps of `F.interpolate(size=output, mode="bilinear", align_corners=False)`.
    public init(input: Int, output: Int) {
        self.init(input: input, output: output, sourceScale: Float(input) / Float(output))
    }

    /// The taps of `F.interpolate(scale_factor=factor, mode="bilinear", align_corners=False)`
    /// (recompute_scale_factor unset): output floor(factor·input), source step 1/factor, which
    /// differs from `size=` when factor·input is not whole (×0.5 of an odd size).
    public init(input: Int, scaleFactor factor: Double) {
        precondition(factor > 0, "BilinearAxis: scale factor \(factor)")
        self.init(input: input, output: Int(Double(input) * factor), sourceScale: Float(1 / factor))
    }

    /// Output index d reads source position max(sourceScale·(d + 0.5) - 0.5, 0).
    init(input: Int, output: Int, sourceScale scale: Float) {
        precondition(input > 0 && output > 0, "BilinearAxis: \(input) -> \(output)")
        self.input = input
        self.output = output
        var i0 = [Int](repeating: 0, count: output), i1 = i0
        var l0 = [Float](repeating: 0, count: output), l1 = l0
        for d in 0 ..< output {
            let src = max(scale * (Float(d) + 0.5) - 0.5, 0)
            let base = min(Int(src), input - 1)
            i0[d] = base
            i1[d] = base < input - 1 ? base + 1 : base
            l1[d] = min(max(src - Float(base), 0), 1)
            l0[d] = 1 - l1[d]
        }
        index0 = i0; index1 = i1; lambda0 = l0; lambda1 = l1
    }
}

public enum Bilinear {
    /// planes (P, inH, inW) -> (P, outH, outW), align_corners=False. Planes split over `threads` chunks.
    public static func resize(_ x: UnsafePointer<Float>, planes: Int, height inH: Int, width inW: Int,
                              toHeight outH: Int, width outW: Int, into y: UnsafeMutablePointer<Float>, threads: Int) {
        resize(x, planes: planes, rows: BilinearAxis(input: inH, output: outH), columns: BilinearAxis(input: inW, output: outW),
               into: y, threads: threads)
    }

    /// planes (P, ys.input, xs.input) -> (P, ys.output, xs.output) with the given taps per axis.
    /// Separable, in ATen's order: each input row a plane reads is interpolated horizontally
    /// once (w0·a[i] + w1·a[j], kept in one of two row slots while output rows still read it),
    /// then every output row is h0·A + h1·B of its two slots — the same operations as the
    /// four-tap formula above, so the same bits, with the vertical step over contiguous rows.
    public static func resize(_ x: UnsafePointer<Float>, planes: Int, rows ys: BilinearAxis, columns xs: BilinearAxis,
                              into y: UnsafeMutablePointer<Float>, threads: Int) {
        let inH = ys.input, inW = xs.input, outH = ys.output, outW = xs.output
        Threading.parallelFor(planes, threads: threads) { range in
            ys.index0.withUnsafeBufferPointer { y0 in ys.index1.withUnsafeBufferPointer { y1 in
            ys.lambda0.withUnsafeBufferPointer { ly0 in ys.lambda1.withUnsafeBufferPointer { ly1 in
            xs.withTaps { taps in
                let slots = UnsafeMutablePointer<Float>.allocate(capacity: 2 * outW)
                defer { slots.deallocate() }
                for p in range {
                    let src = x + p * inH * inW, dst = y + p * outH * outW
                    var cache = RowSlots(slots, stride: outW)
                    for r in 0 ..< outH {
                        let (a, b) = cache.rows(y0[r], y1[r]) { row, into in taps.interpolate(src + row * inW, into: into) }
                        let h0 = ly0[r], h1 = ly1[r], out = dst + r * outW
                        for c in 0 ..< outW { out[c] = h0 * a[c] + h1 * b[c] }
                    }
                }
            } } } } }
        }
    }

    /// The class index of the largest bilinearly resized score at each output pixel:
    /// argmax over planes of `resize(x)` without the resized planes (the first maximum wins,
    /// as `torch.argmax`; a NaN beats every number). Output (outH, outW) row-major.
    /// Each chunk of output rows keeps the horizontal interpolation w0·a[i] + w1·a[j] of the two
    /// input rows it is reading, for every plane (an input row serves several output rows when
    /// upsampling), and combines them with h0, h1 one plane at a time over the whole row, keeping
    /// the running maximum per pixel: the same operations as `resize`, in the same order, so the
    /// scores compared are bit for bit `resize`'s.
    public static func resizedArgmax(_ x: UnsafePointer<Float>, planes: Int, height inH: Int, width inW: Int,
                                     toHeight outH: Int, width outW: Int, into labels: UnsafeMutablePointer<UInt8>, threads: Int) {
        precondition(planes >= 1 && planes <= 256, "Bilinear.resizedArgmax: \(planes) classes do not fit in 8 bits")
        let ys = BilinearAxis(input: inH, output: outH), xs = BilinearAxis(input: inW, output: outW)
        let plane = inH * inW
        Threading.parallelFor(outH, threads: threads, grain: max(1, 4096 / max(outW * planes, 1))) { range in
            xs.withTaps { taps in
                // Two slots of `planes` horizontally interpolated rows each.
                let slots = UnsafeMutablePointer<Float>.allocate(capacity: 2 * planes * outW)
                let best = UnsafeMutablePointer<Float>.allocate(capacity: outW)
                let bestClass = UnsafeMutablePointer<Float>.allocate(capacity: outW)
                defer { slots.deallocate(); best.deallocate(); bestClass.deallocate() }
                var cache = RowSlots(slots, stride: planes * outW)
                for r in range {
                    let h0 = ys.lambda0[r], h1 = ys.lambda1[r], row = labels + r * outW
                    let (ha, hb) = cache.rows(ys.index0[r], ys.index1[r]) { row, out in
                        for k in 0 ..< planes { taps.interpolate(x + k * plane + row * inW, into: out + k * outW) }
                    }
                    best.update(repeating: -.infinity, count: outW)
                    bestClass.update(repeating: 0, count: outW)
                    for k in 0 ..< planes {
                        let a = ha + k * outW, b = hb + k * outW, label = Float(k)
                        // Compare and select over 16 lanes (a branch mispredicts wherever classes compete).
                        let v0 = Vec(repeating: h0), v1 = Vec(repeating: h1), labels = Vec(repeating: label)
                        var c = 0
                        while c + Vec.scalarCount <= outW {
                            let v = v0 * loadVec(a + c) + v1 * loadVec(b + c), m = loadVec(best + c)
                            let take = v .> m .| (v .!= v .& m .== m)
                            storeVec(m.replacing(with: v, where: take), best + c)
                            storeVec(loadVec(bestClass + c).replacing(with: labels, where: take), bestClass + c)
                            c += Vec.scalarCount
                        }
                        while c < outW {
                            let v = h0 * a[c] + h1 * b[c], m = best[c]
                            if v > m || (v.isNaN && !m.isNaN) { best[c] = v; bestClass[c] = label }
                            c += 1
                        }
                    }
                    for c in 0 ..< outW { row[c] = UInt8(bestClass[c]) }
                }
            }
        }
    }
}

extension BilinearAxis {
    /// Calls `body` with the axis's taps as pointers (valid inside `body` only).
    func withTaps<R>(_ body: (BilinearTaps) -> R) -> R {
        index0.withUnsafeBufferPointer { i0 in index1.withUnsafeBufferPointer { i1 in
        lambda0.withUnsafeBufferPointer { l0 in lambda1.withUnsafeBufferPointer { l1 in
            body(BilinearTaps(index0: i0.baseAddress!, index1: i1.baseAddress!, lambda0: l0.baseAddress!,
                              lambda1: l1.baseAddress!, count: output))
        } } } }
    }
}

/// One axis's taps as pointers: interpolates a row of input along the axis.
struct BilinearTaps {
    let index0: UnsafePointer<Int>, index1: UnsafePointer<Int>
    let lambda0: UnsafePointer<Float>, lambda1: UnsafePointer<Float>
    let count: Int

    /// o[c] = λ0[c]·a[i0[c]] + λ1[c]·a[i1[c]] for the axis's `count` outputs.
    func interpolate(_ a: UnsafePointer<Float>, into o: UnsafeMutablePointer<Float>) {
        for c in 0 ..< count { o[c] = lambda0[c] * a[index0[c]] + lambda1[c] * a[index1[c]] }
    }
}

/// Two slots of scratch (`stride` floats each), each holding what one input row gives after
/// horizontal interpolation; as output rows move down, a row still needed stays and the other
/// slot is refilled, so each input row is interpolated once per pass when upsampling.
struct RowSlots {
    let base: UnsafeMutablePointer<Float>, stride: Int
    /// The input row each slot holds (-1: none).
    var held = (-1, -1)

    init(_ base: UnsafeMutablePointer<Float>, stride: Int) {
        self.base = base
        self.stride = stride
    }

    /// The slots holding input rows `a` and `b` (the same one when a == b), filling through `fill(row, slot)`
    /// whichever is not held yet.
    mutating func rows(_ a: Int, _ b: Int, fill: (Int, UnsafeMutablePointer<Float>) -> Void)
        -> (UnsafePointer<Float>, UnsafePointer<Float>) {
        let sa = slot(a, keeping: b, fill), sb = slot(b, keeping: a, fill)
        return (UnsafePointer(base + sa * stride), UnsafePointer(base + sb * stride))
    }

    private mutating func slot(_ row: Int, keeping keep: Int, _ fill: (Int, UnsafeMutablePointer<Float>) -> Void) -> Int {
        if held.0 == row { return 0 }
        if held.1 == row { return 1 }
        let free = held.0 == keep ? 1 : 0
        fill(row, base + free * stride)
        if free == 0 { held.0 = row } else { held.1 = row }
        return free
    }
}
