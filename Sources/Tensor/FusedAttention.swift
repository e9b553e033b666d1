// FusedAttention.swift — inference attention for one head with ctpipe's fused
// AVX-512 kernel (CKernels, ct_attention.c): the scores of a panel of 48
// queries come out of the first product already laid out as the second
// product's operand, so nothing is packed per query block and the softmax runs
// 16 queries per vector. It runs when ctpipe's AVX-512 GEMM is this process's
// kernel (GEMM.kernel; CTPIPE_GEMM=openblas turns both off); otherwise
// Attention runs its two GEMMs per query block.
//
// A query's result depends only on its own row, the head's keys and values and
// the scale: not on which panel or thread computes it. The adapters' token
// attention (Z = S[:, 1:] V + F) runs on it too: a zero value row for the sink
// token and F as the addend.

import CKernels

public enum FusedAttention {
    /// Whether the inference attention runs this kernel in this process.
    public static let enabled: Bool = GEMM.kernel == .ctpipeAVX512

    /// log2(e): the scale2 of a natural-exp softmax whose logits are already scaled.
    public static let log2e = Float(1.442_695_040_888_963_4)

    /// Queries per panel (the unit of work, 48).
    public static let panel: Int = ct_attention_panel()

    /// Floats of scratch one worker needs for a head of `tokens` tokens and `headDim` dimensions.
    public static func scratchFloats(tokens: Int, headDim: Int) -> Int {
        let floats = ct_attention_scratch_floats(tokens, headDim)
        precondition(floats > 0, "FusedAttention: \(tokens) tokens x \(headDim) dimensions is too large")
        return floats
    }

    /// Packs one head's keys (`tokens` rows of `headDim` floats, `ldk` apart) and values into `scratch`:
    /// the first `zeroValueRows` keys have zero values, key p ≥ zeroValueRows the row p − zeroValueRows
    /// of `values` (rows `ldv` apart).
    public static func pack(tokens: Int, headDim: Int, keys: UnsafePointer<Float>, ldk: Int, values: UnsafePointer<Float>,
                            ldv: Int, zeroValueRows: Int = 0, scratch: UnsafeMutablePointer<Float>) {
        precondition(zeroValueRows >= 0 && zeroValueRows <= tokens, "FusedAttention: \(zeroValueRows) zero value rows of \(tokens)")
        let status = ct_attention_pack(tokens, headDim, keys, ldk, values, ldv, zeroValueRows, scratch)
        precondition(status == 0, "FusedAttention runs only where GEMM.kernel is ctpipe-avx512")
    }

    /// out[i] (rows `ldo` apart, `headDim` floats each) = Σ_p softmax₂(scale2 · q_i · k_p) v_p (+ addend[i],
    /// rows `ldo` apart, when given) for queries `range` of the head packed last into `scratch`; the
    /// softmax in base 2, so scale2 = log2(e)/√d gives the usual one.
    public static func rows(tokens: Int, headDim: Int, scale2: Float, queries q: UnsafePointer<Float>, ld: Int,
                            range: Range<Int>, adding addend: UnsafePointer<Float>? = nil,
                            into out: UnsafeMutablePointer<Float>, ldo: Int, scratch: UnsafeMutablePointer<Float>) {
        let status = ct_attention_rows(tokens, headDim, scale2, q, ld, range.lowerBound, range.upperBound, addend, out, ldo,
                                       scratch)
        precondition(status == 0, "FusedAttention runs only where GEMM.kernel is ctpipe-avx512")
    }
}
