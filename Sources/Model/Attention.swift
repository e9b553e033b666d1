// Attention.swift — multi-head self-attention of a DINOv2 block.
//
// qkv = x W_qkv^T + b (B·T x 3C, columns [q | k | v], each head-major; one
// GEMM pass over the rows of all B images), then for each image, each head h and each
// block of `queryBlock` query rows, on strided views of qkv (no copies):
//   S = (q_h k_h^T) · log2(e) / sqrt(d)   one sgemm, rows x T (logits in base 2)
//   P = 2^(S - rowmax)                    softmax numerator; 1/rowsum kept aside
//   o_h = (P v_h) * (1/rowsum)            one sgemm into columns h·d..h·d+d of out
// Deferring the division to o_h touches rows·d values instead of rows·T. The
// (head, query block) items are spread over `threads` workers, each with its
// own rows x T scores slot (small enough for L2) and single-threaded sgemm
// (see Threading). Each item writes its own rows and
// columns of `out`, so the result does not depend on the thread count.
// The output projection is left to the block, which fuses its bias with
// LayerScale and the residual add.

import Tensor

public struct Attention: Sendable {
    /// Query rows per work item (a 128 x T scores block stays in L2 for T ~ 1400).
    public static let queryBlock = 128

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

    /// Floats of scores scratch per worker slot for `tokens` tokens.
    public static func scoresPerSlot(tokens: Int) -> Int { min(queryBlock, tokens) * tokens }

    /// x (B·T x C, already normalised; `images` = B images of T tokens, one after
    /// the other) -> out (B·T x C): the concatenated head outputs, before the
    /// output projection. Scratch: `qkvBuffer` (B·T x 3C), `scores`
    /// (slots x scoresPerSlot), `rowScale` (slots x queryBlock).
    public func forward(_ x: UnsafePointer<Float>, tokens t: Int, images: Int = 1, qkvBuffer: UnsafeMutablePointer<Float>,
                        scores: UnsafeMutablePointer<Float>, rowScale: UnsafeMutablePointer<Float>, slots: Int,
                        into out: UnsafeMutablePointer<Float>, threads: Int) {
        let c = embedDim, d = c / heads
        qkv.forward(x, rows: images * t, groups: images, into: qkvBuffer, threads: threads)
        let scale = Float(1.442_695_040_888_963_4) / Float(d).squareRoot()     // log2(e) / sqrt(d)
        let block = min(Self.queryBlock, t)
        let blocks = (t + block - 1) / block
        let items = images * heads * blocks
        let workers = max(1, min(slots, threads, items))
        Threading.forEachWorker(workers) { worker in
                let s = scores + worker * block * t, inverse = rowScale + worker * block
                var item = worker
                while item < items {
                    let h = item % heads, row0 = (item / heads) % blocks * block, rows = min(block, t - row0)
                    let image = item / (heads * blocks)
                    let base = qkvBuffer + image * t * 3 * c
                    let q = base + row0 * 3 * c + h * d, k = base + c + h * d, v = base + 2 * c + h * d
                    let o = out + (image * t + row0) * c + h * d
                    GEMM.sgemm(transB: true, m: rows, n: t, k: d, alpha: scale, a: q, lda: 3 * c, b: k, ldb: 3 * c,
                               c: s, ldc: t)
                    SoftmaxKernel.unnormalisedBase2Serial(s, rows: rows, cols: t, ld: t, inverseSums: inverse)
                    GEMM.sgemm(m: rows, n: d, k: t, a: s, lda: t, b: v, ldb: 3 * c, c: o, ldc: c)
                    for r in 0 ..< rows {
                        let p = o + r * c, f = inverse[r]
                        for i in 0 ..< d { p[i] *= f }
                    }
                    item += workers
                }
        }
    }
}
