/* ct_attention.h — one attention head's softmax(Q K^T * scale) V for inference, fused, on CPUs with
 * AVX-512 (ct_attention.c). */
#ifndef CT_ATTENTION_H
#define CT_ATTENTION_H

/* Queries per panel: the rows of Q one pass handles (scores of 48 queries against every key). */
long ct_attention_panel(void);

/* Floats of scratch one worker needs for a head of t tokens and d dimensions (64-byte alignment included);
 * 0 when the sizes overflow. */
long ct_attention_scratch_floats(long t, long d);

/* Packs one head's keys (t rows of d floats, ldk apart) and values into scratch: the values of the first
 * zero_rows keys are zero, key p >= zero_rows has the row v + (p - zero_rows) * ldv.
 * Returns 0, or nonzero when the CPU cannot run the kernel (ct_sgemm_available() == 0). */
int ct_attention_pack(long t, long d, const float *k, long ldk, const float *v, long ldv, long zero_rows, float *scratch);

/* For queries q0 ..< q1 of the head packed last into scratch (q: row 0 of its Q, rows ld floats apart):
 * out[i * ldo + j] = sum over keys p of softmax_p(scale2 * q_i . k_p) v_p[j] (+ addend[i * ldo + j] when
 * addend is not NULL), j < d, where the softmax is in base 2 (scale2 = log2(e) / sqrt(d) gives the usual
 * one). Every query's result depends only on q_i, K, V and scale2, not on q0, q1 or the thread that
 * computes it. Returns 0, or nonzero when the CPU cannot run the kernel. */
int ct_attention_rows(long t, long d, float scale2, const float *q, long ld, long q0, long q1, const float *addend,
                      float *out, long ldo, float *scratch);

#endif
