/* ct_sgemm.c — ctpipe's single-precision GEMM for x86-64 CPUs with AVX-512.
 *
 * Row-major C (m x n) = alpha * op(A) (m x k) * op(B) (k x n) + beta * C, blocked as in BLIS
 * (Goto's algorithm). Loops, outermost first:
 *   jc: NC = 512 columns of C and B;
 *   pc: KC = 384 steps of k; B[pc.., jc..] is packed into NR-column panels (kc x NR, row by row);
 *   ic: MC = 168 rows of C and A; A[ic.., pc..] is packed into MR-row panels (kc x MR, column by column);
 *   ir, jr: one MR x NR = 14 x 32 tile of C per micro-kernel call.
 * The micro-kernel keeps the tile in 28 zmm registers (14 rows x 2 vectors of 16) and, for each of the
 * kc steps, loads two vectors of the B panel and broadcasts the 14 values of the A panel into 28 FMAs.
 * The packing reads op(A) and op(B) in any layout (transposes, leading dimensions larger than the row,
 * column offsets into wider matrices such as attention's q/k/v) and zero-pads the panels at the edges;
 * edge tiles store with masks, so nothing outside C is read or written. The packed A panel of a tile
 * row (21 KB) stays in L1 while the B panels of the block (768 KB) stream from L2. The packing buffers
 * (1 MB) are per thread, allocated on a thread's first call and reused until the thread exits.
 *
 * Summation order: every element of C is computed the same way, whatever its position in C, the
 * transposes, or how a caller splits the rows or columns over calls: for each k block b of KC products
 * (the last one shorter), the products a[i][p] * b[p][j] for p in the block are accumulated in
 * increasing p by FMA from 0 into s_b; then C = alpha * s_0 (beta == 0; C is not read) or
 * C = fma(alpha, s_0, beta * C), and for each later block C = fma(alpha, s_b, C). The result depends
 * only on k, alpha, beta and the inputs — so a product split into row blocks over any number of threads
 * is bit-identical to the whole product on one thread.
 *
 * The AVX-512 code is compiled with a per-function target attribute, so this file builds for any
 * x86-64 (and for other architectures, where ct_sgemm_available says 0) and the rest of the binary needs
 * no AVX-512; GEMM.swift calls ct_sgemm only when ct_sgemm_available says the CPU has it. */
#include "ct_sgemm.h"

#define CT_KC 384
#define CT_MR 14
#define CT_NV 2
#define CT_NR (16 * CT_NV)
#define CT_MC (CT_MR * 12)
#define CT_NC (CT_NR * 16)

long ct_sgemm_kc(void) { return CT_KC; }

long ct_sgemm_mr(void) { return CT_MR; }

#if defined(__x86_64__)

#include "ct_avx512.h"
#include <pthread.h>
#include <stdlib.h>

int ct_sgemm_available(void) {
    static int available = -1;
    int known = __atomic_load_n(&available, __ATOMIC_RELAXED);
    if (known >= 0) return known;
    __builtin_cpu_init();
    /* compiler-rt and libgcc report AVX-512 only when the OS saves the zmm state (XCR0). */
    int has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
              __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
              __builtin_cpu_supports("fma");
    __atomic_store_n(&available, has, __ATOMIC_RELAXED);
    return has;
}

/* ---- Packing buffers: one block per thread, freed when the thread exits. ---- */

static pthread_key_t workspace_key;
static pthread_once_t workspace_once = PTHREAD_ONCE_INIT;
static int workspace_key_ok;
static _Thread_local float *workspace;

static void make_workspace_key(void) { workspace_key_ok = pthread_key_create(&workspace_key, free) == 0; }

/* MC x KC floats for A, then KC x NC for B; NULL when it cannot be allocated. */
static float *thread_workspace(void) {
    if (workspace) return workspace;
    pthread_once(&workspace_once, make_workspace_key);
    if (!workspace_key_ok) return NULL;
    float *block = aligned_alloc(64, sizeof(float) * (CT_MC * CT_KC + CT_KC * CT_NC));
    if (!block) return NULL;
    if (pthread_setspecific(workspace_key, block) != 0) {
        free(block);
        return NULL;
    }
    workspace = block;
    return block;
}

/* ---- Packing ---- */

/* op(A)[i0 ..< i0 + mc, p0 ..< p0 + kc] into MR-row panels: panel[p * MR + i], rows past mc zero. */
CT_TARGET static void pack_a(int trans, const float *a, long lda, long i0, long mc, long p0, long kc,
                             float *restrict out) {
    const __mmask16 tile_rows = first_lanes(CT_MR);
    for (long ir = 0; ir < mc; ir += CT_MR) {
        float *panel = out + ir * kc;
        int rows = (int)(mc - ir < CT_MR ? mc - ir : CT_MR);
        if (!trans) { /* element (i, p) at a[i * lda + p]: rows of A become columns of the panel */
            const float *src = a + (i0 + ir) * lda + p0;
            for (long p = 0; p < kc; p += 16) {
                int cols = (int)(kc - p < 16 ? kc - p : 16);
                __m512 t[16];
                transpose16(src + p, lda, rows, cols, t);
                for (int q = 0; q < cols; q++) _mm512_mask_storeu_ps(panel + (p + q) * CT_MR, tile_rows, t[q]);
            }
        } else { /* element (i, p) at a[p * lda + i] */
            __mmask16 m = first_lanes(rows);
            const float *src = a + p0 * lda + i0 + ir;
            for (long p = 0; p < kc; p++)
                _mm512_mask_storeu_ps(panel + p * CT_MR, tile_rows, _mm512_maskz_loadu_ps(m, src + p * lda));
        }
    }
}

/* op(B)[p0 ..< p0 + kc, j0 ..< j0 + nc] into NR-column panels: panel[p * NR + j], columns past nc zero. */
CT_TARGET static void pack_b(int trans, const float *b, long ldb, long p0, long kc, long j0, long nc,
                             float *restrict out) {
    for (long jr = 0; jr < nc; jr += CT_NR) {
        float *panel = out + jr * kc;
        for (int h = 0; h < CT_NV; h++) {
            long jh = jr + 16 * h, cols = nc - jh < 0 ? 0 : nc - jh < 16 ? nc - jh : 16;
            if (cols == 0) {
                for (long p = 0; p < kc; p++) _mm512_store_ps(panel + p * CT_NR + 16 * h, _mm512_setzero_ps());
            } else if (!trans) { /* element (p, j) at b[p * ldb + j] */
                __mmask16 m = first_lanes(cols);
                const float *src = b + p0 * ldb + j0 + jh;
                for (long p = 0; p < kc; p++)
                    _mm512_store_ps(panel + p * CT_NR + 16 * h, _mm512_maskz_loadu_ps(m, src + p * ldb));
            } else { /* element (p, j) at b[j * ldb + p]: rows of B become columns of the panel */
                const float *src = b + (j0 + jh) * ldb + p0;
                for (long p = 0; p < kc; p += 16) {
                    int steps = (int)(kc - p < 16 ? kc - p : 16);
                    __m512 t[16];
                    transpose16(src + p, ldb, (int)cols, steps, t);
                    for (int q = 0; q < steps; q++) _mm512_store_ps(panel + (p + q) * CT_NR + 16 * h, t[q]);
                }
            }
        }
    }
}

/* ---- Micro-kernel ---- */

/* The MR x NR tile at c (rows < mr and columns < nr of it) from kc steps of the packed panels:
 * s = sum over p of ap[p][i] * bp[p][j] by FMA from 0, then c = alpha * s (beta == 0, c not read)
 * or c = fma(alpha, s, beta * c). */
CT_TARGET static void micro_kernel(long kc, const float *restrict ap, const float *restrict bp, float *c, long ldc,
                                   float alpha, float beta, int mr, int nr) {
    __m512 acc[CT_MR][CT_NV];
#pragma clang loop unroll(full)
    for (int i = 0; i < CT_MR; i++) {
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + CT_NR - 1), _MM_HINT_T0);
    }
#pragma clang loop unroll(full)
    for (int i = 0; i < CT_MR; i++)
#pragma clang loop unroll(full)
        for (int v = 0; v < CT_NV; v++) acc[i][v] = _mm512_setzero_ps();
    for (long p = 0; p < kc; p++) {
        __m512 bv[CT_NV];
#pragma clang loop unroll(full)
        for (int v = 0; v < CT_NV; v++) bv[v] = _mm512_load_ps(bp + p * CT_NR + 16 * v);
#pragma clang loop unroll(full)
        for (int i = 0; i < CT_MR; i++) {
            __m512 av = _mm512_set1_ps(ap[p * CT_MR + i]);
#pragma clang loop unroll(full)
            for (int v = 0; v < CT_NV; v++) acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);
        }
    }
    __mmask16 mask[CT_NV];
#pragma clang loop unroll(full)
    for (int v = 0; v < CT_NV; v++) mask[v] = first_lanes(nr - 16 * v);
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma clang loop unroll(full)
    for (int i = 0; i < CT_MR; i++) {
        if (i < mr) {
            float *row = c + i * ldc;
#pragma clang loop unroll(full)
            for (int v = 0; v < CT_NV; v++) {
                __m512 r = beta == 0.0f
                    ? _mm512_mul_ps(va, acc[i][v])
                    : _mm512_fmadd_ps(va, acc[i][v], _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(mask[v], row + 16 * v)));
                _mm512_mask_storeu_ps(row + 16 * v, mask[v], r);
            }
        }
    }
}

/* ---- Driver ---- */

CT_TARGET static void blocked(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
                              const float *b, long ldb, float beta, float *c, long ldc, float *ws) {
    float *pa = ws, *pb = ws + CT_MC * CT_KC;
    for (long jc = 0; jc < n; jc += CT_NC) {
        long nc = n - jc < CT_NC ? n - jc : CT_NC;
        for (long pc = 0; pc < k; pc += CT_KC) {
            long kc = k - pc < CT_KC ? k - pc : CT_KC;
            float block_beta = pc == 0 ? beta : 1.0f;
            pack_b(trans_b, b, ldb, pc, kc, jc, nc, pb);
            for (long ic = 0; ic < m; ic += CT_MC) {
                long mc = m - ic < CT_MC ? m - ic : CT_MC;
                pack_a(trans_a, a, lda, ic, mc, pc, kc, pa);
                for (long ir = 0; ir < mc; ir += CT_MR) {
                    int mr = (int)(mc - ir < CT_MR ? mc - ir : CT_MR);
                    for (long jr = 0; jr < nc; jr += CT_NR) {
                        int nr = (int)(nc - jr < CT_NR ? nc - jr : CT_NR);
                        micro_kernel(kc, pa + ir * kc, pb + jr * kc, c + (ic + ir) * ldc + jc + jr, ldc, alpha,
                                     block_beta, mr, nr);
                    }
                }
            }
        }
    }
}

int ct_sgemm(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
             const float *b, long ldb, float beta, float *c, long ldc) {
    if (!ct_sgemm_available()) return 1;
    if (m <= 0 || n <= 0) return 0;
    if (k == 0 || alpha == 0.0f) { /* C = beta * C; beta == 0 sets it without reading it */
        for (long i = 0; i < m; i++)
            for (long j = 0; j < n; j++) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
        return 0;
    }
    float *ws = thread_workspace();
    if (!ws) return 2;
    blocked(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, ws);
    return 0;
}

#else /* not x86-64 */

int ct_sgemm_available(void) { return 0; }

int ct_sgemm(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
             const float *b, long ldb, float beta, float *c, long ldc) {
    (void)trans_a, (void)trans_b, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda, (void)b, (void)ldb,
        (void)beta, (void)c, (void)ldc;
    return 1;
}

#endif
