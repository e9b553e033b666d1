// MultiheadAttention.swift — PyTorch's nn.MultiheadAttention (as mmcv's
// MultiheadAttention wraps it in Mask2Former's decoder) for one image: Q query
// rows attend N key rows, with an optional boolean attention mask.
//
//   q = query W_q^T + b_q, k = key W_k^T + b_k, v = value W_v^T + b_v
//       (W_q, W_k, W_v: rows 0..<D, D..<2D, 2D..<3D of in_proj_weight)
//   per head h (d = D / heads columns):
//       S = q_h k_h^T / sqrt(d)                 one sgemm, Q x N
//       S[i, j] = -inf where mask[i, j]         (true = not attended, as PyTorch)
//       P = exp(S - rowmax)                     1/rowsum kept aside
//       o_h = (P v_h) * (1/rowsum)              one sgemm into columns h·d..<(h+1)·d
//   out = o W_o^T + b_o                         (optionally added onto out)
//
// Positional encodings are the caller's: it adds them to query and key before
// the call (mmcv adds query_pos / key_pos the same way; values go without).
// Heads are spread over workers, each with its own scores block, so the result
// does not depend on the thread count beyond the GEMM rounding of the
// projections. A masked key weighs exp(-87.3) ≈ 1e-38 of the row maximum
// (FastMath clamps its argument), nothing a float32 sum can see. A row with
// every key masked has no softmax (PyTorch gives NaN); Mask2Former unmasks such
// rows before the call, and so must any caller.
//
// A forward that keeps what the backward needs (training) writes the
// projections q, k, v, the concatenated head outputs o and each row's softmax
// log-sum-exp (the natural-exp softmax, normalised in place); the backward
// (below the forward) rebuilds P = exp(S - lse) with the same mask — a constant,
// no gradient flows through it — and from dOut gives every parameter's gradient
// and the gradients of query, key and value (added into the caller's buffers,
// so one buffer may take two of them: self-attention's query and key).

import Tensor

/// What a multi-head attention forward keeps for its backward pass (pointers into a training arena).
public struct MultiheadAttentionSaved {
    /// (Q, D) q, (N, D) k and v: the projections, biases included.
    public let query: UnsafeMutablePointer<Float>, key: UnsafeMutablePointer<Float>, value: UnsafeMutablePointer<Float>
    /// (Q, D) the concatenated head outputs before the output projection.
    public let attended: UnsafeMutablePointer<Float>
    /// (heads, Q) each softmax row's log-sum-exp.
    public let logSumExp: UnsafeMutablePointer<Float>

    public init(query: UnsafeMutablePointer<Float>, key: UnsafeMutablePointer<Float>, value: UnsafeMutablePointer<Float>,
                attended: UnsafeMutablePointer<Float>, logSumExp: UnsafeMutablePointer<Float>) {
        self.query = query
        self.key = key
        self.value = value
        self.attended = attended
        self.logSumExp = logSumExp
    }

    /// Floats a saved forward over Q query rows and N key rows of width D with `heads` heads takes.
    public static func count(queries q: Int, keys n: Int, embedDim d: Int, heads: Int) -> Int {
        2 * q * d + 2 * n * d + heads * q
    }

    /// Carves the buffers from `base` (count(...) floats).
    public init(carving base: UnsafeMutablePointer<Float>, queries q: Int, keys n: Int, embedDim d: Int, heads: Int) {
        self.init(query: base, key: base + q * d, value: base + q * d + n * d, attended: base + q * d + 2 * n * d,
                  logSumExp: base + 2 * q * d + 2 * n * d)
    }
}

public struct MultiheadAttention: Sendable, ParameterWalkable {
    public let embedDim: Int
    public let heads: Int
    /// (3D, D): the query, key and value projections stacked, nn.MultiheadAttention's layout.
    public var inProjWeight: Parameter
    /// (3D)
    public var inProjBias: Parameter
    /// D -> D.
    public var outProj: Linear

    /// A layer whose parameters a walk binds later.
    public init(embedDim d: Int, heads: Int) throws(ModelInputError) {
        guard d > 0, heads > 0, d % heads == 0 else {
            throw ModelInputError("multi-head attention needs a width divisible by the head count, got \(d) and \(heads) heads")
        }
        embedDim = d
        self.heads = heads
        inProjWeight = Parameter(unbound: [3 * d, d])
        inProjBias = Parameter(unbound: [3 * d])
        outProj = Linear(inFeatures: d, outFeatures: d)
    }

    /// nn.MultiheadAttention's names: in_proj_weight, in_proj_bias, out_proj.{weight,bias}.
    public mutating func walkParameters<V: ParameterVisitor>(_ v: inout V, _ scope: ParameterScope) throws(WeightError) {
        try v.visit(&inProjWeight, "in_proj_weight", in: scope, decay: true)
        try v.visit(&inProjBias, "in_proj_bias", in: scope, decay: true)
        try outProj.walkParameters(&v, scope.child("out_proj"))
    }

    /// Floats of scratch a forward over `queries` query rows and `keys` key rows needs.
    public func scratchCount(queries q: Int, keys n: Int) -> Int {
        2 * q * embedDim + 2 * n * embedDim + heads * q * (n + 1)
    }

    /// out (Q x D) = attention of query (Q x D) over key and value (N x D each),
    /// all row-major token rows; `mask` (Q x N, true = masked) or nil. With
    /// `accumulate` the result is added onto `out` (a residual connection; out
    /// may then hold the residual that query was made from, but must not alias
    /// query, key or value); otherwise out is overwritten.
    /// `scratch`: scratchCount(queries:keys:) floats. With `keep` (training) the
    /// projections, head outputs and log-sum-exps go there and the softmax is the
    /// normalised natural-exp one; without it the inference kernels run.
    public func forward(query: UnsafePointer<Float>, key: UnsafePointer<Float>, value: UnsafePointer<Float>,
                        queries q: Int, keys n: Int, mask: UnsafePointer<Bool>?, scratch: UnsafeMutablePointer<Float>,
                        into out: UnsafeMutablePointer<Float>, accumulate: Bool = false, threads: Int,
                        keep: MultiheadAttentionSaved? = nil) {
        let c = embedDim, heads = self.heads, d = c / heads
        let qp = keep?.query ?? scratch, kp = keep?.key ?? scratch + q * c, vp = keep?.value ?? scratch + q * c + n * c
        let attended = keep?.attended ?? scratch + q * c + 2 * n * c
        let scores = scratch + 2 * q * c + 2 * n * c, inverse = scores + heads * q * n
        inProjWeight.withUnsafeBufferPointer { w in
            inProjBias.withUnsafeBufferPointer { b in
                let w = w.baseAddress!, b = b.baseAddress!
                for (x, rows, y, part) in [(query, q, qp, 0), (key, n, kp, 1), (value, n, vp, 2)] {
                    GEMM.linear(x, rows: rows, inFeatures: c, weight: w + part * c * c, outFeatures: c, into: y, threads: threads)
                    ActivationKernels.addBias(y, rows: rows, cols: c, bias: b + part * c, threads: threads)
                }
            }
        }
        let scale = 1 / Float(d).squareRoot()
        Threading.forEachWorker(max(1, min(threads, heads))) { worker in
            var h = worker
            while h < heads {
                let s = scores + h * q * n, inv = inverse + h * q
                GEMM.sgemm(transB: true, m: q, n: n, k: d, alpha: scale, a: qp + h * d, lda: c, b: kp + h * d, ldb: c, c: s, ldc: n)
                if let mask {
                    for i in 0 ..< q * n where mask[i] { s[i] = -.infinity }
                }
                if let keep {
                    let lse = keep.logSumExp + h * q
                    for r in 0 ..< q { lse[r] = SoftmaxTrainingKernel.softmaxRow(s + r * n, cols: n) }
                    GEMM.sgemm(m: q, n: d, k: n, a: s, lda: n, b: vp + h * d, ldb: c, c: attended + h * d, ldc: c)
                    h += max(1, min(threads, heads))
                    continue
                }
                SoftmaxKernel.unnormalisedSerial(s, rows: q, cols: n, ld: n, inverseSums: inv)
                let o = attended + h * d
                GEMM.sgemm(m: q, n: d, k: n, a: s, lda: n, b: vp + h * d, ldb: c, c: o, ldc: c)
                for r in 0 ..< q {
                    let p = o + r * c, f = inv[r]
                    for i in 0 ..< d { p[i] *= f }
                }
                h += max(1, min(threads, heads))
            }
        }
        outProj.weight.withUnsafeBufferPointer { w in
            GEMM.linear(attended, rows: q, inFeatures: c, weight: w.baseAddress!, outFeatures: c, into: out,
                        beta: accumulate ? 1 : 0, threads: threads)
        }
        outProj.bias.withUnsafeBufferPointer { ActivationKernels.addBias(out, rows: q, cols: c, bias: $0.baseAddress!, threads: threads) }
    }

    /// Floats of scratch `backward` needs for Q query rows, N key rows and `threads` threads.
    public func backwardScratchCount(queries q: Int, keys n: Int, threads: Int) -> Int {
        2 * q * embedDim + 2 * n * embedDim + max(1, min(threads, heads)) * 2 * q * n
    }

    /// Backward of a kept forward from dOut (Q x D), the gradient of its output:
    /// dQuery (Q x D), dKey and dValue (N x D) are added into (one buffer may take
    /// several of them; dValue may also be dOut, which is read before any of them is
    /// written); parameter gradients are added into `gradients` when given.
    /// query, key, value and mask are the forward's; `scratch`: backwardScratchCount floats.
    ///
    /// Per head (one worker owns a head, so its dk / dv columns have one writer):
    /// P = exp(S - lse) rebuilt from q, k and the mask; dv_h = Pᵀ dO_h; dP = dO_h v_hᵀ,
    /// dS = P ⊙ (dP - rowsum(dO_h ⊙ o_h)); dq_h = dS k_h / √d, dk_h = dSᵀ q_h / √d.
    public func backward(_ dOut: UnsafePointer<Float>, query: UnsafePointer<Float>, key: UnsafePointer<Float>,
                         value: UnsafePointer<Float>, queries q: Int, keys n: Int, mask: UnsafePointer<Bool>?,
                         saved s: MultiheadAttentionSaved, scratch: UnsafeMutablePointer<Float>,
                         dQuery: UnsafeMutablePointer<Float>, dKey: UnsafeMutablePointer<Float>, dValue: UnsafeMutablePointer<Float>,
                         gradients: ParameterGradients?, threads: Int) {
        let c = embedDim, heads = self.heads, d = c / heads
        let dO = scratch, dq = dO + q * c, dk = dq + q * c, dv = dk + n * c, slots = dv + n * c
        outProj.backward(dOut, ldy: c, input: s.attended, ldx: c, rows: q, into: dO, gradients: gradients, threads: threads)
        let scale = 1 / Float(d).squareRoot()
        let workers = max(1, min(threads, heads))
        Threading.forEachWorker(workers) { worker in
            let p = slots + worker * 2 * q * n, dp = p + q * n
            var h = worker
            while h < heads {
                let qh = s.query + h * d, kh = s.key + h * d, vh = s.value + h * d, dOh = dO + h * d, oh = s.attended + h * d
                GEMM.sgemm(transB: true, m: q, n: n, k: d, alpha: scale, a: qh, lda: c, b: kh, ldb: c, c: p, ldc: n)
                if let mask {
                    for i in 0 ..< q * n where mask[i] { p[i] = -.infinity }
                }
                for r in 0 ..< q { SoftmaxTrainingKernel.exponentiate(p + r * n, cols: n, minus: s.logSumExp[h * q + r]) }
                GEMM.sgemm(transA: true, m: n, n: d, k: q, a: p, lda: n, b: dOh, ldb: c, c: dv + h * d, ldc: c)
                GEMM.sgemm(transB: true, m: q, n: n, k: d, a: dOh, lda: c, b: vh, ldb: c, c: dp, ldc: n)
                for r in 0 ..< q {
                    var dot: Float = 0
                    for i in 0 ..< d { dot += dOh[r * c + i] * oh[r * c + i] }
                    let pr = p + r * n, g = dp + r * n
                    for i in 0 ..< n { g[i] = pr[i] * (g[i] - dot) }
                }
                GEMM.sgemm(m: q, n: d, k: n, alpha: scale, a: dp, lda: n, b: kh, ldb: c, c: dq + h * d, ldc: c)
                GEMM.sgemm(transA: true, m: n, n: d, k: q, alpha: scale, a: dp, lda: n, b: qh, ldb: c, c: dk + h * d, ldc: c)
                h += workers
            }
        }
        let dWeight = gradients?[inProjWeight], dBias = gradients?[inProjBias]
        inProjWeight.withUnsafeBufferPointer { w in
            let w = w.baseAddress!
            for (x, rows, dy, dx, part) in [(query, q, dq, dQuery, 0), (key, n, dk, dKey, 1), (value, n, dv, dValue, 2)] {
                if let dWeight, let dBias {
                    ActivationBackwardKernels.addColumnSums(dy, rows: rows, cols: c, ld: c, into: dBias + part * c, threads: threads)
                    GradientGEMM.weight(dy, ldy: c, rows: rows, outFeatures: c, x: x, ldx: c, inFeatures: c,
                                        into: dWeight + part * c * c, threads: threads)
                }
                GradientGEMM.input(dy, ldy: c, rows: rows, outFeatures: c, weight: w + part * c * c, inFeatures: c, into: dx,
                                   ldx: c, beta: 1, threads: threads)
            }
        }
    }
}
