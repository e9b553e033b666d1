/* ct_small_left.c — C = alpha * diag(row_scale) * op(A) * diag(a_scale) * B + beta * C for a small A
 * (m, k <= 64) and a wide B read in place, rows ldb apart: the two axis passes of the adapters' matrix
 * DCT (MatrixDCT2), where A is a 32 x 32 DCT matrix and B the residual stream (k rows of w * C floats, or
 * of C floats). A general GEMM packs B for these shapes and spends as long packing as multiplying.
 *
 * op(A) (scaled by a_scale) is packed once per call on the stack into panels of 8 rows
 * (ap[i0 * k + p * 8 + i]); then per block of 48 columns of B, every row panel runs one 8 x 48 tile — 24
 * accumulators, 8 broadcast values of A and 3 vectors of B per step, the tile's k x 48 floats of B staying
 * in L1 across the row panels. The last block runs only the vectors it needs, masked. */
#include "ct_small_left.h"
#include "ct_sgemm.h"

#define SL_MAX 64
#define SL_MR 8
#define SL_NV 3

long ct_small_left_max(void) { return SL_MAX; }

#if defined(__x86_64__)

#include "ct_avx512.h"

#define SL_TILE(nv)                                                                                       \
    do {                                                                                                  \
        __m512 acc[SL_MR][SL_NV];                                                                         \
        _Pragma("clang loop unroll(full)") for (int i = 0; i < SL_MR; i++)                                 \
            _Pragma("clang loop unroll(full)") for (int v = 0; v < (nv); v++) acc[i][v] = _mm512_setzero_ps(); \
        const float *panel = ap + i0 * k;                                                                 \
        for (long p = 0; p < k; p++) {                                                                    \
            __m512 bv[SL_NV];                                                                             \
            _Pragma("clang loop unroll(full)") for (int v = 0; v < (nv); v++)                              \
                bv[v] = _mm512_load_ps(bp + p * 16 * SL_NV + 16 * v);                                     \
            _Pragma("clang loop unroll(full)") for (int i = 0; i < SL_MR; i++) {                           \
                __m512 av = _mm512_set1_ps(panel[p * SL_MR + i]);                                         \
                _Pragma("clang loop unroll(full)") for (int v = 0; v < (nv); v++)                          \
                    acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);                                    \
            }                                                                                             \
        }                                                                                                 \
        int rows = (int)(m - i0 < SL_MR ? m - i0 : SL_MR);                                                \
        _Pragma("clang loop unroll(full)") for (int i = 0; i < SL_MR; i++) { /* constant indices: acc stays in registers */ \
            if (i < rows) {                                                                               \
                __m512 f = _mm512_set1_ps(alpha * (row_scale ? row_scale[i0 + i] : 1.0f));                \
                float *ci = c + (i0 + i) * ldc + j0;                                                      \
                _Pragma("clang loop unroll(full)") for (int v = 0; v < (nv); v++) {                        \
                    __m512 r = _mm512_mul_ps(acc[i][v], f);                                               \
                    if (beta != 0.0f) r = _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_maskz_loadu_ps(mask[v], ci + 16 * v), r); \
                    _mm512_mask_storeu_ps(ci + 16 * v, mask[v], r);                                       \
                }                                                                                         \
            }                                                                                             \
        }                                                                                                 \
    } while (0)

CT_TARGET static void run(int trans_a, long m, long n, long k, const float *a, long lda, const float *a_scale,
                          const float *b, long ldb, float alpha, const float *row_scale, float beta, float *c, long ldc) {
    float ap[SL_MAX * SL_MAX] __attribute__((aligned(64), uninitialized));
    float bp[SL_MAX * 16 * SL_NV] __attribute__((aligned(64), uninitialized));
    for (long i0 = 0; i0 < m; i0 += SL_MR)
        for (long p = 0; p < k; p++)
            for (long i = 0; i < SL_MR; i++) {
                float x = 0.0f;
                if (i0 + i < m) x = (trans_a ? a[p * lda + i0 + i] : a[(i0 + i) * lda + p]) * (a_scale ? a_scale[p] : 1.0f);
                ap[i0 * k + p * SL_MR + i] = x;
            }
    for (long j0 = 0; j0 < n; j0 += 16 * SL_NV) {
        long cols = n - j0 < 16 * SL_NV ? n - j0 : 16 * SL_NV;
        __mmask16 mask[SL_NV];
        for (int v = 0; v < SL_NV; v++) mask[v] = first_lanes(cols - 16 * v);
        /* B's k x 48 block, contiguous (rows of B ldb apart often map to one L1 set) */
        for (long p = 0; p < k; p++)
            for (int v = 0; v < SL_NV; v++)
                _mm512_store_ps(bp + p * 16 * SL_NV + 16 * v, _mm512_maskz_loadu_ps(mask[v], b + p * ldb + j0 + 16 * v));
        if (cols > 32) {
            for (long i0 = 0; i0 < m; i0 += SL_MR) SL_TILE(3);
        } else if (cols > 16) {
            for (long i0 = 0; i0 < m; i0 += SL_MR) SL_TILE(2);
        } else {
            for (long i0 = 0; i0 < m; i0 += SL_MR) SL_TILE(1);
        }
    }
}

int ct_small_left(int trans_a, long m, long n, long k, const float *a, long lda, const float *a_scale, const float *b,
                  long ldb, float alpha, const float *row_scale, float beta, float *c, long ldc) {
    if (!ct_sgemm_available() || m < 1 || k < 1 || m > SL_MAX || k > SL_MAX || n < 0) return 1;
    run(trans_a, m, n, k, a, lda, a_scale, b, ldb, alpha, row_scale, beta, c, ldc);
    return 0;
}

#else /* not x86-64 */

int ct_small_left(int trans_a, long m, long n, long k, const float *a, long lda, const float *a_scale, const float *b,
                  long ldb, float alpha, const float *row_scale, float beta, float *c, long ldc) {
    (void)trans_a, (void)m, (void)n, (void)k, (void)a, (void)lda, (void)a_scale, (void)b, (void)ldb, (void)alpha,
        (void)row_scale, (void)beta, (void)c, (void)ldc;
    return 1;
}

#endif
