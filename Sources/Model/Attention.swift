// Attention.swift — multi-head self-attention of a DINOv2 block.
//
// qkv = x W_qkv^T + b (B·T x 3C, columns [q | k | v], each head-major; one
// GEMM pass over the rows of all B images), then for each image, each head h and each
// block of `queryBlock` query rows, on strided views of qkv (no copies):
//   S = (q_h k_h^T) · log2(e) / sqrt(d)   one sgemm, rows x T (logits in base 2)
//   P = 2^(S - rowmax)                    softmax numerator; 1/rowsum kept aside
//   o_h = (P v_h) * (1/rowsum)            one sgemm into columns h·d..h·d+d of out
// Deferring the division to o_h touches rows·d values instead of rows·T. Where
// ctpipe's AVX-512 GEMM runs, inference uses FusedAttention instead (the same
// three steps in one kernel per panel of 48 queries; `attend`). The
// (head, query block) items are spread over `threads` workers, each with its
// own rows x T scores slot (small enough for L2) and single-threaded sgemm
// (see Threading). Each item writes its own rows and
// columns of `out`, so the result does not depend on the thread count.
// The output projection is left to the block, which fuses its bias with
// LayerScale and the residual add.
//
// A forward that keeps what the backward needs (training) runs the natural-exp
// softmax instead, normalised in place, writing each row's log-sum-exp; the
// backward (below the forward) rebuilds P from q, k and the log-sum-exp.

import Tensor

public struct Attention: Sendable, ParameterWalkable {
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

    /// A layer whose parameters a walk binds later.
    public init(embedDim c: Int, heads: Int) {
        self.init(heads: heads, qkv: Linear(inFeatures: c, outFeatures: 3 * c), proj: Linear(inFeatures: c, outFeatures: c))
    }

    public mutating func walkParameters<V: ParameterVisitor>(_ v: inout V, _ scope: ParameterScope) throws(WeightError) {
        try qkv.walkParameters(&v, scope.child("qkv"))
        try proj.walkParameters(&v, scope.child("proj"))
    }

    public var embedDim: Int { qkv.inFeatures }

    /// Floats of scores scratch per worker slot for `tokens` tokens of `headDim` dimensions per head:
    /// enough for the two-GEMM forward (a query block's scores) and for the fused inference kernel.
    public static func scoresPerSlot(tokens: Int, headDim: Int) -> Int {
        let blocked = scoresPerBlock(tokens: tokens)
        return FusedAttention.enabled ? max(blocked, FusedAttention.scratchFloats(tokens: tokens, headDim: headDim)) : blocked
    }

    /// The inference kernels: the fused one (FusedAttention) where ctpipe's AVX-512 GEMM runs,
    /// otherwise two GEMMs per query block.
    public enum InferenceKernel: Sendable, CaseIterable {
        case fused, twoGEMMs

        /// This process's choice.
        public static var automatic: InferenceKernel { FusedAttention.enabled ? .fused : .twoGEMMs }
    }

    /// x (B·T x C, already normalised; `images` = B images of T tokens, one after
    /// the other) -> out (B·T x C): the concatenated head outputs, before the
    /// output projection. Scratch: `qkvBuffer` (B·T x 3C), `scores`
    /// (slots x scoresPerSlot), `rowScale` (slots x queryBlock).
    ///
    /// Without `keep` the inference kernels run (`attend`). With `keep` (for a
    /// backward pass) the softmax is the natural-exp one, normalised in place,
    /// and every row's log-sum-exp is written to `keep` ((B, heads, T)); qkv and
    /// out are the caller's kept buffers.
    public func forward(_ x: UnsafePointer<Float>, tokens t: Int, images: Int = 1, qkvBuffer: UnsafeMutablePointer<Float>,
                        scores: UnsafeMutablePointer<Float>, rowScale: UnsafeMutablePointer<Float>, slots: Int,
                        into out: UnsafeMutablePointer<Float>, threads: Int, keep logSumExp: UnsafeMutablePointer<Float>? = nil) {
        let c = embedDim, d = c / heads
        qkv.forward(x, rows: images * t, groups: images, into: qkvBuffer, threads: threads)
        guard let logSumExp else {
            attend(tokens: t, images: images, qkvBuffer: qkvBuffer, scores: scores, rowScale: rowScale, slots: slots,
                   into: out, threads: threads, kernel: .automatic)
            return
        }
        let scale = 1 / Float(d).squareRoot()
        forEachQueryBlock(tokens: t, images: images, qkvBuffer: qkvBuffer, slots: slots, threads: threads) { worker, block in
            let s = scores + worker * Self.scoresPerBlock(tokens: t)
            let lse = logSumExp + (block.image * heads + block.head) * t + block.row0
            GEMM.sgemm(transB: true, m: block.rows, n: t, k: d, alpha: scale, a: block.q, lda: 3 * c, b: block.k, ldb: 3 * c,
                       c: s, ldc: t)
            for r in 0 ..< block.rows { lse[r] = SoftmaxTrainingKernel.softmaxRow(s + r * t, cols: t) }
            GEMM.sgemm(m: block.rows, n: d, k: t, a: s, lda: t, b: block.v, ldb: 3 * c,
                       c: out + (block.image * t + block.row0) * c + block.head * d, ldc: c)
        }
    }

    /// The inference attention from qkv (already computed, B·T x 3C) into out (B·T x C), logits in base 2.
    /// `.fused`: FusedAttention per (image, head, panel of queries) — only where FusedAttention.enabled.
    /// `.twoGEMMs`: per (image, head, query block) one GEMM for the scores, the softmax left
    /// unnormalised, one GEMM for P·V and 1/rowsum applied to its rows.
    public func attend(tokens t: Int, images: Int = 1, qkvBuffer: UnsafeMutablePointer<Float>,
                       scores: UnsafeMutablePointer<Float>, rowScale: UnsafeMutablePointer<Float>, slots: Int,
                       into out: UnsafeMutablePointer<Float>, threads: Int, kernel: InferenceKernel) {
        let c = embedDim, d = c / heads
        let scale = FusedAttention.log2e / Float(d).squareRoot()
        if kernel == .fused {
            precondition(FusedAttention.enabled, "Attention: the fused kernel needs GEMM.kernel ctpipe-avx512")
            attendFused(tokens: t, images: images, qkvBuffer: qkvBuffer, scratch: scores, slots: slots, scale2: scale,
                        into: out, threads: threads)
            return
        }
        forEachQueryBlock(tokens: t, images: images, qkvBuffer: qkvBuffer, slots: slots, threads: threads) { worker, block in
            let s = scores + worker * Self.scoresPerBlock(tokens: t), inverse = rowScale + worker * Self.queryBlock
            let o = out + (block.image * t + block.row0) * c + block.head * d
            GEMM.sgemm(transB: true, m: block.rows, n: t, k: d, alpha: scale, a: block.q, lda: 3 * c, b: block.k, ldb: 3 * c,
                       c: s, ldc: t)
            SoftmaxKernel.unnormalisedBase2Serial(s, rows: block.rows, cols: t, ld: t, inverseSums: inverse)
            GEMM.sgemm(m: block.rows, n: d, k: t, a: s, lda: t, b: block.v, ldb: 3 * c, c: o, ldc: c)
            for r in 0 ..< block.rows {
                let p = o + r * c, f = inverse[r]
                for i in 0 ..< d { p[i] *= f }
            }
        }
    }

    /// One query block of one head of one image: its rows of q and the head's k and v in qkv.
    struct QueryBlock {
        let image: Int, head: Int, row0: Int, rows: Int
        let q: UnsafeMutablePointer<Float>, k: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>
    }

    /// Floats of one query block's scores (queryBlock rows of `tokens`).
    static func scoresPerBlock(tokens: Int) -> Int { min(queryBlock, tokens) * tokens }

    /// The (image, head, query block) items of the two-GEMM paths dealt round-robin to the workers
    /// (one scores slot each): `body(worker, block)`.
    private func forEachQueryBlock(tokens t: Int, images: Int, qkvBuffer: UnsafeMutablePointer<Float>, slots: Int, threads: Int,
                                   _ body: (_ worker: Int, QueryBlock) -> Void) {
        let c = embedDim, d = c / heads
        let block = min(Self.queryBlock, t)
        let blocks = (t + block - 1) / block
        let items = images * heads * blocks
        let workers = max(1, min(slots, threads, items))
        Threading.forEachWorker(workers) { worker in
            var item = worker
            while item < items {
                let h = item % heads, row0 = (item / heads) % blocks * block
                let image = item / (heads * blocks)
                let base = qkvBuffer + image * t * 3 * c
                body(worker, QueryBlock(image: image, head: h, row0: row0, rows: min(block, t - row0),
                                        q: base + row0 * 3 * c + h * d, k: base + c + h * d, v: base + 2 * c + h * d))
                item += workers
            }
        }
    }

    /// Inference with the fused kernel: work items are (image, head, panel of FusedAttention.panel
    /// queries), each worker a contiguous run of them, packing a head's keys and values when its run
    /// reaches the head.
    private func attendFused(tokens t: Int, images: Int, qkvBuffer: UnsafeMutablePointer<Float>,
                             scratch: UnsafeMutablePointer<Float>, slots: Int, scale2: Float,
                             into out: UnsafeMutablePointer<Float>, threads: Int) {
        let c = embedDim, d = c / heads, panel = FusedAttention.panel
        let panels = (t + panel - 1) / panel, items = images * heads * panels
        let workers = max(1, min(slots, threads, items))
        let stride = Self.scoresPerSlot(tokens: t, headDim: d)
        Threading.forEachWorker(workers) { worker in
            let slot = scratch + worker * stride
            var packed = -1
            for item in worker * items / workers ..< (worker + 1) * items / workers {
                let head = item / panels, image = head / heads, h = head % heads
                let base = qkvBuffer + image * t * 3 * c
                if head != packed {
                    FusedAttention.pack(tokens: t, headDim: d, keys: base + c + h * d, ldk: 3 * c,
                                        values: base + 2 * c + h * d, ldv: 3 * c, scratch: slot)
                    packed = head
                }
                let q0 = item % panels * panel
                FusedAttention.rows(tokens: t, headDim: d, scale2: scale2, queries: base + h * d, ld: 3 * c,
                                    range: q0 ..< min(q0 + panel, t), into: out + image * t * c + h * d, ldo: c,
                                    scratch: slot)
            }
        }
    }

    /// Floats of backward scratch per worker slot for `tokens` tokens (two query blocks).
    public static func backwardScratchPerSlot(tokens: Int) -> Int { 2 * min(queryBlock, tokens) * tokens }

    /// Backward of one image's attention (T tokens) from dO (T, C), the gradient of
    /// `out`: dqkv (T, 3C, scratch) from the kept qkv, out and log-sum-exp, then the
    /// qkv layer's backward — parameter gradients into `gradients` when given, and
    /// dx (T, C) = dqkv W_qkv, overwritten. `scratch`: slots x backwardScratchPerSlot.
    ///
    /// Per head (one worker owns a head, so its dk/dv columns have one writer),
    /// per query block: P = exp(S - lse) (rebuilt from q, k — no T x T storage);
    /// dv_h += Pᵀ dO_h; dP = dO_h v_hᵀ, dS = P ⊙ (dP - rowsum(dO_h ⊙ O_h));
    /// dq_h = dS k_h / √d, dk_h += dSᵀ q_h / √d. All products are single-threaded
    /// sgemm calls on strided views.
    public func backward(_ dOut: UnsafePointer<Float>, input x: UnsafePointer<Float>, qkv kept: UnsafePointer<Float>,
                         out: UnsafePointer<Float>, logSumExp: UnsafePointer<Float>, tokens t: Int,
                         dqkv: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>, slots: Int,
                         into dx: UnsafeMutablePointer<Float>, gradients: ParameterGradients?, threads: Int) {
        let heads = self.heads, c = embedDim, d = c / heads
        let scale = 1 / Float(d).squareRoot()
        let block = min(Self.queryBlock, t)
        dqkv.update(repeating: 0, count: 3 * t * c)
        let workers = max(1, min(slots, threads, heads))
        Threading.forEachWorker(workers) { worker in
            let s = scratch + worker * 2 * block * t, dp = s + block * t
            var h = worker
            while h < heads {
                let k = kept + c + h * d, v = kept + 2 * c + h * d
                let dk = dqkv + c + h * d, dv = dqkv + 2 * c + h * d
                var row0 = 0
                while row0 < t {
                    let rows = min(block, t - row0)
                    let q = kept + row0 * 3 * c + h * d
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
        qkv.backward(dqkv, ldy: 3 * c, input: x, ldx: c, rows: t, into: dx, gradients: gradients, threads: threads)
    }
}
