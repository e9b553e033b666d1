/* ct_attention.c — one attention head's softmax(Q K^T * scale) V for inference on CPUs with AVX-512,
 * without materialising a row-major score matrix or packing it for a second GEMM.
 *
 * Per head, once: K into key panels (8 keys each, kp[p * 8 + i] = K[key0 + i][p], p < d) and V into
 * dimension panels (8 dimensions each, vp[p * 8 + i] = V[p][dim0 + i], p < t). Per panel of 48 queries:
 *   Q^T panel      qp[p * 48 + j] = scale2 * Q[q0 + j][p]
 *   S^T = K Q^T    one 8 x 48 tile per key panel (k = d), stored key by key into pp[key * 48 + j] while
 *                  the column (query) maxima are kept in three vectors;
 *   P = 2^(S - m)  in place over pp, key by key, the column sums accumulated per lane;
 *   O^T = V^T P^T  one 8 x 48 tile per dimension panel (k = t, summed over keys in order), scaled by
 *                  1 / sum per query, then transposed 16 x 16 into the caller's rows.
 * Both products run the same micro-kernel — an 8 x 48 tile, 24 accumulators, the 8 A values broadcast and
 * 3 vectors of B loaded per step — and the scores come out of the first already in the layout the second
 * reads as its B panel. Queries past the end of Q are zero columns, computed and never stored; keys past
 * the end of K are zero rows, computed and never stored; the last panel of queries runs only the vectors
 * it needs (1 to 3). The adapters' token attention uses the same kernel with its own options: value rows
 * that are zero for the first keys (the sink token) and an addend added to the output (Z = S V + F).
 *
 * exp2 as FastMath.exp2 in Swift: the argument clamped at -126, rounded to an integer n, 2^r for
 * r = x - n in [-1/2, 1/2] by the degree-6 Taylor polynomial of e^(r ln 2) (Horner, FMA), times 2^n. */
#include "ct_attention.h"

#include <stddef.h>

#define AT_MR 8
#define AT_NV 3
#define AT_NR (16 * AT_NV)

long ct_attention_panel(void) { return AT_NR; }

/* Floats of each scratch part, rounded up to whole 64-byte lines. */
static long lines(long floats) { return (floats + 15) / 16 * 16; }

static long round_up(long x, long m) { return (x + m - 1) / m * m; }

static int scratch_parts(long t, long d, long part[5]) {
    if (t <= 0 || d <= 0 || t > (1L << 28) || d > (1L << 20)) return 0;
    part[0] = lines(round_up(t, AT_MR) * d);   /* key panels */
    part[1] = lines(round_up(d, AT_MR) * t);   /* dimension panels of V */
    part[2] = lines(d * AT_NR);                /* Q^T panel */
    part[3] = lines(t * AT_NR);                /* scores / probabilities, key-major */
    part[4] = lines(round_up(d, AT_MR) * AT_NR); /* O^T */
    return 1;
}

long ct_attention_scratch_floats(long t, long d) {
    long part[5];
    if (!scratch_parts(t, d, part)) return 0;
    return part[0] + part[1] + part[2] + part[3] + part[4] + 16;
}

#if defined(__x86_64__)

#include "ct_avx512.h"
#include "ct_sgemm.h"
#include <stdint.h>

struct at_scratch {
    float *kp, *vp, *qp, *pp, *op;
};

static struct at_scratch carve(long t, long d, float *scratch) {
    long part[5];
    scratch_parts(t, d, part);
    float *base = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    struct at_scratch s;
    s.kp = base;
    s.vp = s.kp + part[0];
    s.qp = s.vp + part[1];
    s.pp = s.qp + part[2];
    s.op = s.pp + part[3];
    return s;
}

/* acc[i][v] = sum over p < kc of ap[p * 8 + i] * bp[p * 48 + 16 v ..], by FMA from 0 in increasing p, for the
 * first nv vectors (nv a constant after inlining). */
#define AT_TILE(nv, kc, ap, bp, acc)                                                                      \
    do {                                                                                                  \
        _Pragma("clang loop unroll(full)") for (int i_ = 0; i_ < AT_MR; i_++)                              \
            _Pragma("clang loop unroll(full)") for (int v_ = 0; v_ < (nv); v_++) acc[i_][v_] = _mm512_setzero_ps(); \
        for (long p_ = 0; p_ < (kc); p_++) {                                                              \
            __m512 b_[AT_NV];                                                                             \
            _Pragma("clang loop unroll(full)") for (int v_ = 0; v_ < (nv); v_++)                           \
                b_[v_] = _mm512_load_ps((bp) + p_ * AT_NR + 16 * v_);                                     \
            _Pragma("clang loop unroll(full)") for (int i_ = 0; i_ < AT_MR; i_++) {                        \
                __m512 a_ = _mm512_set1_ps((ap)[p_ * AT_MR + i_]);                                        \
                _Pragma("clang loop unroll(full)") for (int v_ = 0; v_ < (nv); v_++)                       \
                    acc[i_][v_] = _mm512_fmadd_ps(a_, b_[v_], acc[i_][v_]);                               \
            }                                                                                             \
        }                                                                                                 \
    } while (0)

CT_TARGET static inline __m512 exp2_clamped(__m512 x) {
    __m512 t = _mm512_max_ps(x, _mm512_set1_ps(-126.0f));
    __m512 n = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_sub_ps(t, n);
    __m512 y = _mm512_set1_ps(1.5403530393381606e-4f);
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.3333558146428443e-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(9.618129107628477e-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(5.550410866482158e-2f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(0.2402265069591007f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(0.6931471805599453f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(y, n);
}

CT_TARGET static void pack(long t, long d, const float *k, long ldk, const float *v, long ldv, long zero_rows,
                           struct at_scratch s) {
    const __mmask16 eight = 0xFF;
    for (long key0 = 0; key0 < t; key0 += AT_MR) { /* kp[p * 8 + i] = K[key0 + i][p] */
        int rows = (int)(t - key0 < AT_MR ? t - key0 : AT_MR);
        float *panel = s.kp + key0 * d;
        for (long p0 = 0; p0 < d; p0 += 16) {
            int cols = (int)(d - p0 < 16 ? d - p0 : 16);
            __m512 tr[16];
            transpose16(k + key0 * ldk + p0, ldk, rows, cols, tr);
            for (int x = 0; x < cols; x++) _mm512_mask_storeu_ps(panel + (p0 + x) * AT_MR, eight, tr[x]);
        }
    }
    for (long dim0 = 0; dim0 < d; dim0 += AT_MR) { /* vp[p * 8 + i] = V[p][dim0 + i] */
        __mmask16 m = first_lanes(d - dim0 < AT_MR ? d - dim0 : AT_MR);
        float *panel = s.vp + dim0 * t;
        for (long p = 0; p < t; p++) /* keys before zero_rows have zero values */
            _mm512_mask_storeu_ps(panel + p * AT_MR, eight,
                                  p < zero_rows ? _mm512_setzero_ps()
                                                : _mm512_maskz_loadu_ps(m, v + (p - zero_rows) * ldv + dim0));
    }
}

/* One panel of nq <= 48 queries starting at q (row stride ld) into out (row stride ldo); nv = ceil(nq / 16). */
#define AT_PANEL_BODY(nv)                                                                                 \
    do {                                                                                                  \
        __m512 acc[AT_MR][AT_NV];                                                                         \
        const __m512 scale = _mm512_set1_ps(scale2);                                                      \
        for (int g = 0; g < (nv); g++) { /* Q^T panel, scaled; queries past nq are zero */                \
            int rows = (int)(nq - 16 * g < 16 ? nq - 16 * g : 16);                                        \
            for (long p0 = 0; p0 < d; p0 += 16) {                                                         \
                int cols = (int)(d - p0 < 16 ? d - p0 : 16);                                              \
                __m512 tr[16];                                                                            \
                transpose16(q + 16 * g * ld + p0, ld, rows, cols, tr);                                    \
                for (int x = 0; x < cols; x++)                                                            \
                    _mm512_store_ps(s.qp + (p0 + x) * AT_NR + 16 * g, _mm512_mul_ps(scale, tr[x]));       \
            }                                                                                             \
        }                                                                                                 \
        __m512 mx[AT_NV], sum[AT_NV];                                                                     \
        for (int v = 0; v < AT_NV; v++) mx[v] = _mm512_set1_ps(-__builtin_inff());                        \
        for (long key0 = 0; key0 < t; key0 += AT_MR) { /* S^T = K Q^T, key-major, and the column maxima */ \
            AT_TILE(nv, d, s.kp + key0 * d, s.qp, acc);                                                   \
            int rows = (int)(t - key0 < AT_MR ? t - key0 : AT_MR);                                        \
            _Pragma("clang loop unroll(full)") for (int i = 0; i < AT_MR; i++) {                           \
                if (i < rows) {                                                                           \
                    _Pragma("clang loop unroll(full)") for (int v = 0; v < (nv); v++) {                    \
                        _mm512_store_ps(s.pp + (key0 + i) * AT_NR + 16 * v, acc[i][v]);                   \
                        mx[v] = _mm512_max_ps(mx[v], acc[i][v]);                                          \
                    }                                                                                     \
                }                                                                                         \
            }                                                                                             \
        }                                                                                                 \
        for (int v = 0; v < AT_NV; v++) sum[v] = _mm512_setzero_ps();                                     \
        for (long key = 0; key < t; key++) { /* P = 2^(S - max), column sums */                           \
            _Pragma("clang loop unroll(full)") for (int v = 0; v < (nv); v++) {                            \
                float *row = s.pp + key * AT_NR + 16 * v;                                                 \
                __m512 e = exp2_clamped(_mm512_sub_ps(_mm512_load_ps(row), mx[v]));                       \
                _mm512_store_ps(row, e);                                                                  \
                sum[v] = _mm512_add_ps(sum[v], e);                                                        \
            }                                                                                             \
        }                                                                                                 \
        __m512 inverse[AT_NV];                                                                            \
        for (int v = 0; v < (nv); v++) inverse[v] = _mm512_div_ps(_mm512_set1_ps(1.0f), sum[v]);          \
        for (long dim0 = 0; dim0 < d; dim0 += AT_MR) { /* O^T = V^T P^T, each query scaled by 1 / sum */  \
            AT_TILE(nv, t, s.vp + dim0 * t, s.pp, acc);                                                   \
            _Pragma("clang loop unroll(full)") for (int i = 0; i < AT_MR; i++)                             \
                _Pragma("clang loop unroll(full)") for (int v = 0; v < (nv); v++)                          \
                    _mm512_store_ps(s.op + (dim0 + i) * AT_NR + 16 * v, _mm512_mul_ps(acc[i][v], inverse[v])); \
        }                                                                                                 \
        for (long dim0 = 0; dim0 < d; dim0 += 16) { /* O = (O^T)^T into the caller's rows */              \
            int dims = (int)(d - dim0 < 16 ? d - dim0 : 16);                                              \
            __mmask16 m = first_lanes(dims);                                                              \
            for (int g = 0; g < (nv); g++) {                                                              \
                int rows = (int)(nq - 16 * g < 16 ? nq - 16 * g : 16);                                    \
                __m512 tr[16];                                                                            \
                transpose16(s.op + dim0 * AT_NR + 16 * g, AT_NR, dims, rows, tr);                         \
                for (int x = 0; x < rows; x++) {                                                          \
                    float *o = out + (16 * g + x) * ldo + dim0;                                           \
                    __m512 r = addend ? _mm512_add_ps(tr[x], _mm512_maskz_loadu_ps(m, addend + (16 * g + x) * ldo + dim0)) \
                                      : tr[x];                                                            \
                    _mm512_mask_storeu_ps(o, m, r);                                                       \
                }                                                                                         \
            }                                                                                             \
        }                                                                                                 \
    } while (0)

CT_TARGET static void panel3(long t, long d, float scale2, const float *q, long ld, long nq, const float *addend,
                             float *out, long ldo, struct at_scratch s) {
    AT_PANEL_BODY(3);
}

CT_TARGET static void panel2(long t, long d, float scale2, const float *q, long ld, long nq, const float *addend,
                             float *out, long ldo, struct at_scratch s) {
    AT_PANEL_BODY(2);
}

CT_TARGET static void panel1(long t, long d, float scale2, const float *q, long ld, long nq, const float *addend,
                             float *out, long ldo, struct at_scratch s) {
    AT_PANEL_BODY(1);
}

int ct_attention_pack(long t, long d, const float *k, long ldk, const float *v, long ldv, long zero_rows, float *scratch) {
    if (!ct_sgemm_available()) return 1;
    pack(t, d, k, ldk, v, ldv, zero_rows, carve(t, d, scratch));
    return 0;
}

CT_TARGET static void rows(long t, long d, float scale2, const float *q, long ld, long q0, long q1, const float *addend,
                           float *out, long ldo, struct at_scratch s) {
    for (long i = q0; i < q1; i += AT_NR) {
        long nq = q1 - i < AT_NR ? q1 - i : AT_NR;
        const float *qi = q + i * ld, *ai = addend ? addend + i * ldo : NULL;
        float *oi = out + i * ldo;
        if (nq > 32) panel3(t, d, scale2, qi, ld, nq, ai, oi, ldo, s);
        else if (nq > 16) panel2(t, d, scale2, qi, ld, nq, ai, oi, ldo, s);
        else panel1(t, d, scale2, qi, ld, nq, ai, oi, ldo, s);
    }
}

int ct_attention_rows(long t, long d, float scale2, const float *q, long ld, long q0, long q1, const float *addend,
                      float *out, long ldo, float *scratch) {
    if (!ct_sgemm_available()) return 1;
    rows(t, d, scale2, q, ld, q0, q1, addend, out, ldo, carve(t, d, scratch));
    return 0;
}

#else /* not x86-64 */

int ct_attention_pack(long t, long d, const float *k, long ldk, const float *v, long ldv, long zero_rows, float *scratch) {
    (void)t, (void)d, (void)k, (void)ldk, (void)v, (void)ldv, (void)zero_rows, (void)scratch;
    return 1;
}

int ct_attention_rows(long t, long d, float scale2, const float *q, long ld, long q0, long q1, const float *addend,
                      float *out, long ldo, float *scratch) {
    (void)t, (void)d, (void)scale2, (void)q, (void)ld, (void)q0, (void)q1, (void)addend, (void)out, (void)ldo,
        (void)scratch;
    return 1;
}

#endif
