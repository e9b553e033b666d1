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
    public static func resize(_ x: UnsafePointer<Float>, planes: Int, rows ys: BilinearAxis, columns xs: BilinearAxis,
                              into y: UnsafeMutablePointer<Float>, threads: Int) {
        let inH = ys.input, inW = xs.input, outH = ys.output, outW = xs.output
        Threading.parallelFor(planes, threads: threads) { range in
            ys.index0.withUnsafeBufferPointer { y0 in ys.index1.withUnsafeBufferPointer { y1 in
            ys.lambda0.withUnsafeBufferPointer { ly0 in ys.lambda1.withUnsafeBufferPointer { ly1 in
            xs.index0.withUnsafeBufferPointer { x0 in xs.index1.withUnsafeBufferPointer { x1 in
            xs.lambda0.withUnsafeBufferPointer { lx0 in xs.lambda1.withUnsafeBufferPointer { lx1 in
                for p in range {
                    let src = x + p * inH * inW, dst = y + p * outH * outW
                    for r in 0 ..< outH {
                        let a = src + y0[r] * inW, b = src + y1[r] * inW, h0 = ly0[r], h1 = ly1[r]
                        let out = dst + r * outW
                        for c in 0 ..< outW {
                            let i = x0[c], j = x1[c], w0 = lx0[c], w1 = lx1[c]
                            out[c] = h0 * (w0 * a[i] + w1 * a[j]) + h1 * (w0 * b[i] + w1 * b[j])
                        }
                    }
                }
            } } } } } } } }
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
            xs.index0.withUnsafeBufferPointer { x0 in xs.index1.withUnsafeBufferPointer { x1 in
            xs.lambda0.withUnsafeBufferPointer { lx0 in xs.lambda1.withUnsafeBufferPointer { lx1 in
                // Two slots of `planes` horizontally interpolated rows; slotRow: the input row each holds.
                let slots = UnsafeMutablePointer<Float>.allocate(capacity: 2 * planes * outW)
                let best = UnsafeMutablePointer<Float>.allocate(capacity: outW)
                let bestClass = UnsafeMutablePointer<UInt8>.allocate(capacity: outW)
                defer { slots.deallocate(); best.deallocate(); bestClass.deallocate() }
                var slotRow = (-1, -1)
                func interpolate(_ row: Int, into slot: Int) {
                    let out = slots + slot * planes * outW
                    for k in 0 ..< planes {
                        let a = x + k * plane + row * inW, o = out + k * outW
                        for c in 0 ..< outW { o[c] = lx0[c] * a[x0[c]] + lx1[c] * a[x1[c]] }
                    }
                    if slot == 0 { slotRow.0 = row } else { slotRow.1 = row }
                }
                /// The slot holding input row `row`, filling the one not holding `keep` if neither does.
                func slot(_ row: Int, keeping keep: Int) -> Int {
                    if slotRow.0 == row { return 0 }
                    if slotRow.1 == row { return 1 }
                    let free = slotRow.0 == keep ? 1 : 0
                    interpolate(row, into: free)
                    return free
                }
                for r in range {
                    let rowA = ys.index0[r], rowB = ys.index1[r], h0 = ys.lambda0[r], h1 = ys.lambda1[r]
                    let sa = slot(rowA, keeping: rowB), sb = slot(rowB, keeping: rowA)
                    let ha = slots + sa * planes * outW, hb = slots + sb * planes * outW
                    best.update(repeating: -.infinity, count: outW)
                    bestClass.update(repeating: 0, count: outW)
                    for k in 0 ..< planes {
                        let a = ha + k * outW, b = hb + k * outW, label = UInt8(k)
                        for c in 0 ..< outW {
                            let v = h0 * a[c] + h1 * b[c], m = best[c]
                            if v > m || (v.isNaN && !m.isNaN) { best[c] = v; bestClass[c] = label }
                        }
                    }
                    (labels + r * outW).update(from: bestClass, count: outW)
                }
            } } } }
        }
    }
}
