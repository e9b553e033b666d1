// Attention.swift — multi-head self-attention of a DINOv2 block.
//
// qkv = x W_qkv^T + b (T x 3C, columns [q | k | v], each head-major), then per
// head h, on strided views of qkv (no copies):
//   S = (q_h k_h^T) / sqrt(d)            one sgemm, T x T
//   P = exp(S - rowmax)                   softmax numerator; 1/rowsum kept aside
//   o_h = (P v_h) * (1/rowsum)            one sgemm into columns h·d..h·d+d of out
// Deferring the division to o_h touches T·d values instead of T·T.
// The output projection is left to the block, which fuses its bias with
// LayerScale and the residual add.

import Tensor

public struct Attention: Sendable {
    public let heads: Int
    /// C -> 3C, weight (3C, C).
    public var qkv: Linear
    /// C -> C.
    public var proj: Linear

    public init(heads: Int, qkv: Linear, proj: Linear) {
        precondition(qkv.outFeatures == 3 * qkv.inFeatures && proj.inFeatures == qkv.inFeatures
                     && proj.outFeatures == qkv.inFeatures && qkv.inFeatures % heads == 0,
                     "Attention: qkv \(qkv.weight.shapeDescription), proj \(proj.weight.shapeDescription), heads \(heads)")
        self.heads = heads
        self.qkv = qkv
        self.proj = proj
    }

    public var embedDim: Int { qkv.inFeatures }

    /// x (T x C, already normalised) -> out (T x C): the concatenated head outputs,
    /// before the output projection. Scratch: `qkvBuffer` (T x 3C), `scores` (T x T), `rowScale` (T).
    public func forward(_ x: UnsafePointer<Float>, tokens t: Int, qkvBuffer: UnsafeMutablePointer<Float>,
                        scores: UnsafeMutablePointer<Float>, rowScale: UnsafeMutablePointer<Float>,
                        into out: UnsafeMutablePointer<Float>) {
        let c = embedDim, d = c / heads
        qkv.forward(x, rows: t, into: qkvBuffer)
        let scale = 1 / Float(d).squareRoot()
        for h in 0 ..< heads {
            let q = qkvBuffer + h * d, k = qkvBuffer + c + h * d, v = qkvBuffer + 2 * c + h * d
            GEMM.sgemm(transB: true, m: t, n: t, k: d, alpha: scale, a: q, lda: 3 * c, b: k, ldb: 3 * c,
                       c: scores, ldc: t)
            SoftmaxKernel.unnormalised(scores, rows: t, cols: t, ld: t, inverseSums: rowScale)
            GEMM.sgemm(m: t, n: d, k: t, a: scores, lda: t, b: v, ldb: 3 * c, c: out + h * d, ldc: c)
            ScaleRows.apply(out + h * d, rows: t, cols: d, ld: c, scales: rowScale)
        }
    }
}

/// Row scaling of a strided block: y[r, :] *= s[r].
enum ScaleRows {
    static func apply(_ y: UnsafeMutablePointer<Float>, rows: Int, cols: Int, ld: Int, scales: UnsafePointer<Float>) {
        Threading.parallelFor(rows, grain: max(1, 8192 / cols)) { range in
            for r in range {
                let p = y + r * ld, s = scales[r]
                for i in 0 ..< cols { p[i] *= s }
            }
        }
    }
}
