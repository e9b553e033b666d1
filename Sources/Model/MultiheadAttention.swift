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

import Tensor

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
    /// `scratch`: scratchCount(queries:keys:) floats.
    public func forward(query: UnsafePointer<Float>, key: UnsafePointer<Float>, value: UnsafePointer<Float>,
                        queries q: Int, keys n: Int, mask: UnsafePointer<Bool>?, scratch: UnsafeMutablePointer<Float>,
                        into out: UnsafeMutablePointer<Float>, accumulate: Bool = false, threads: Int) {
        let c = embedDim, heads = self.heads, d = c / heads
        let qp = scratch, kp = qp + q * c, vp = kp + n * c, attended = vp + n * c
        let scores = attended + q * c, inverse = scores + heads * q * n
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
}
