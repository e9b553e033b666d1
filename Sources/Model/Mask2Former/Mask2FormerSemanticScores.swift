// Mask2FormerSemanticScores.swift — semantic segmentation scores from one
// Mask2Former prediction (MMSegmentation's Mask2FormerHead.predict):
//
//   p (Q x K)       = softmax(class logits)[:, :K]        (the no-object column dropped)
//   m_q (H x W)     = sigmoid(bilinear(mask logits_q -> H x W)), align_corners=False
//   scores (K, H, W) = Σ_q p[q, k] · m_q
//
// The resized masks are never held whole: output rows go in bands of
// `bandRows`, each worker resizing one band of every query's mask (the taps of
// Bilinear.resize, same arithmetic) into its own slot, then one sgemm
// pᵀ (K x Q) · band (Q x bandRows·W) into the band's rows of every class plane.

import Tensor

public enum Mask2FormerSemanticScores {
    /// Output rows per band.
    public static let bandRows = 8

    /// Floats of scratch for `queries` queries, `classes` classes, output width `width` and `threads` threads.
    public static func scratchCount(queries q: Int, classes k: Int, width: Int, threads: Int) -> Int {
        q * k + max(threads, 1) * q * bandRows * width
    }

    /// scores (K, H, W) from classLogits (Q x K+1) and maskLogits (Q, h, w) for an
    /// H x W window. `scratch`: scratchCount(queries:classes:width:threads:) floats.
    public static func compute(classLogits: UnsafePointer<Float>, maskLogits: UnsafePointer<Float>, queries q: Int,
                               classes k: Int, maskHeight h: Int, maskWidth w: Int, height: Int, width: Int,
                               scratch: UnsafeMutablePointer<Float>, into scores: UnsafeMutablePointer<Float>, threads: Int) {
        let probabilities = scratch, slots = scratch + q * k
        for r in 0 ..< q {
            let logits = classLogits + r * (k + 1)
            var top = logits[0]
            for c in 1 ... k { top = max(top, logits[c]) }
            var sum: Float = 0
            for c in 0 ... k { sum += FastMath.exp(logits[c] - top) }
            for c in 0 ..< k { probabilities[r * k + c] = FastMath.exp(logits[c] - top) / sum }
        }
        let ys = BilinearAxis(input: h, output: height), xs = BilinearAxis(input: w, output: width)
        let bands = (height + bandRows - 1) / bandRows, workers = max(1, min(threads, bands))
        let plane = height * width
        Threading.forEachWorker(workers) { worker in
            let band = slots + worker * q * bandRows * width
            var b = worker
            while b < bands {
                let r0 = b * bandRows, rows = min(bandRows, height - r0), n = rows * width
                for query in 0 ..< q {
                    let source = maskLogits + query * h * w, out = band + query * n
                    for r in 0 ..< rows {
                        let y = r0 + r
                        let a = source + ys.index0[y] * w, c = source + ys.index1[y] * w, h0 = ys.lambda0[y], h1 = ys.lambda1[y]
                        let row = out + r * width
                        for x in 0 ..< width {
                            let i = xs.index0[x], j = xs.index1[x], w0 = xs.lambda0[x], w1 = xs.lambda1[x]
                            row[x] = h0 * (w0 * a[i] + w1 * a[j]) + h1 * (w0 * c[i] + w1 * c[j])
                        }
                    }
                    sigmoid(out, count: n)
                }
                GEMM.sgemm(transA: true, m: k, n: n, k: q, a: probabilities, lda: k, b: band, ldb: n,
                           c: scores + r0 * width, ldc: plane)
                b += workers
            }
        }
    }

    /// x = 1 / (1 + e^-x) in place.
    static func sigmoid(_ x: UnsafeMutablePointer<Float>, count: Int) {
        let vectorEnd = count & ~(Vec.scalarCount - 1)
        let one = Vec(repeating: 1)
        var i = 0
        while i < vectorEnd {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: Vec.self)
            UnsafeMutableRawPointer(x + i).storeBytes(of: one / (one + FastMath.exp(-v)), as: Vec.self)
            i += Vec.scalarCount
        }
        while i < count { x[i] = 1 / (1 + FastMath.exp(-x[i])); i += 1 }
    }
}
