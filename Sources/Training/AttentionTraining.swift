// AttentionTraining.swift — multi-head self-attention forward (keeping the
// softmax log-sum-exp) and backward, over the packed qkv (T, 3C) layout of
// DINOv2 blocks (columns [q | k | v], each head-major).
//
// Forward, per (head h, block of query rows):
//   S = q_h k_hᵀ / √d,  P = softmax(S) (lse kept),  O_h = P v_h
// Backward, per head (one worker owns a head, so its dk/dv columns have one writer):
//   per query block: P = exp(S - lse) (rebuilt from q, k — no T x T storage)
//     dv_h += Pᵀ dO_h
//     dP = dO_h v_hᵀ,  dS = P ⊙ (dP - rowsum(dO_h ⊙ O_h))
//     dq_h = dS k_h / √d,  dk_h += dSᵀ q_h / √d
// All products are single-threaded sgemm calls on strided views.

import Tensor

enum AttentionTraining {
    /// O (T, C) and lse (heads, T) from qkv (T, 3C). `scratch`: slots x 2 x min(128, T) x T.
    static func forward(qkv: UnsafePointer<Float>, tokens t: Int, embedDim c: Int, heads: Int,
                        into out: UnsafeMutablePointer<Float>, logSumExp: UnsafeMutablePointer<Float>,
                        scratch: UnsafeMutablePointer<Float>, slots: Int, threads: Int) {
        let d = c / heads
        let scale = 1 / Float(d).squareRoot()
        let block = min(TrainingActivations.queryBlock, t)
        let blocks = (t + block - 1) / block
        let items = heads * blocks
        let workers = max(1, min(slots, threads, items))
        Threading.forEachWorker(workers) { worker in
            let s = scratch + worker * 2 * block * t
            var item = worker
            while item < items {
                let h = item % heads, row0 = (item / heads) * block, rows = min(block, t - row0)
                let q = qkv + row0 * 3 * c + h * d, k = qkv + c + h * d, v = qkv + 2 * c + h * d
                GEMM.sgemm(transB: true, m: rows, n: t, k: d, alpha: scale, a: q, lda: 3 * c, b: k, ldb: 3 * c, c: s, ldc: t)
                for r in 0 ..< rows { logSumExp[h * t + row0 + r] = SoftmaxTrainingKernel.softmaxRow(s + r * t, cols: t) }
                GEMM.sgemm(m: rows, n: d, k: t, a: s, lda: t, b: v, ldb: 3 * c, c: out + row0 * c + h * d, ldc: c)
                item += workers
            }
        }
    }

    /// dqkv (T, 3C), overwritten, from dO (T, C) and the forward's qkv, O and lse.
    static func backward(dOut: UnsafePointer<Float>, qkv: UnsafePointer<Float>, out: UnsafePointer<Float>,
                         logSumExp: UnsafePointer<Float>, tokens t: Int, embedDim c: Int, heads: Int,
                         into dqkv: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>, slots: Int, threads: Int) {
        let d = c / heads
        let scale = 1 / Float(d).squareRoot()
        let block = min(TrainingActivations.queryBlock, t)
        dqkv.update(repeating: 0, count: 3 * t * c)
        let workers = max(1, min(slots, threads, heads))
        Threading.forEachWorker(workers) { worker in
            let s = scratch + worker * 2 * block * t, dp = s + block * t
            var h = worker
            while h < heads {
                let k = qkv + c + h * d, v = qkv + 2 * c + h * d
                let dk = dqkv + c + h * d, dv = dqkv + 2 * c + h * d
                var row0 = 0
                while row0 < t {
                    let rows = min(block, t - row0)
                    let q = qkv + row0 * 3 * c + h * d
                    let dO = dOut + row0 * c + h * d, o = out + row0 * c + h * d
                    GEMM.sgemm(transB: true, m: rows, n: t, k: d, alpha: scale, a: q, lda: 3 * c, b: k, ldb: 3 * c, c: s, ldc: t)
                    for r in 0 ..< rows {
                        SoftmaxTrainingKernel.exponentiate(s + r * t, cols: t, minus: logSumExp[h * t + row0 + r])
                    }
                    GEMM.sgemm(transA: true, m: t, n: d, k: rows, a: s, lda: t, b: dO, ldb: c, beta: 1, c: dv, ldc: 3 * c)
                    GEMM.sgemm(transB: true, m: rows, n: t, k: d, a: dO, lda: c, b: v, ldb: 3 * c, c: dp, ldc: t)
                    for r in 0 ..< rows {
                        var dot: Float = 0
                        let dOr = dO + r * c, or = o + r * c
                        for i in 0 ..< d { dot += dOr[i] * or[i] }
                        let p = s + r * t, g = dp + r * t
                        for i in 0 ..< t { g[i] = p[i] * (g[i] - dot) }
                    }
                    GEMM.sgemm(m: rows, n: d, k: t, alpha: scale, a: dp, lda: t, b: k, ldb: 3 * c,
                               c: dqkv + row0 * 3 * c + h * d, ldc: 3 * c)
                    GEMM.sgemm(transA: true, m: t, n: d, k: rows, alpha: scale, a: dp, lda: t, b: q, ldb: 3 * c,
                               beta: 1, c: dk, ldc: 3 * c)
                    row0 += block
                }
                h += workers
            }
        }
    }
}
