/* ct_sgemm.h — ctpipe's own single-precision GEMM for CPUs with AVX-512 (ct_sgemm.c). */
#ifndef CT_SGEMM_H
#define CT_SGEMM_H

/* 1 when this CPU (and the OS) can run ct_sgemm: x86-64 with AVX-512 F/DQ/BW/VL and FMA; else 0. */
int ct_sgemm_available(void);

/* C (m x n) = alpha * op(A) * op(B) + beta * C, row-major, on the calling thread, as cblas_sgemm with
 * CblasRowMajor: op(A) is m x k (A is k x m, read as A^T, when trans_a), op(B) is k x n (B is n x k when
 * trans_b). beta == 0 never reads C. The caller checks the sizes and leading dimensions. Returns 0 when
 * done, nonzero without touching C when it cannot run (no AVX-512, or its packing buffers could not be
 * allocated): the caller then uses another GEMM. */
int ct_sgemm(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
             const float *b, long ldb, float beta, float *c, long ldc);

/* The blocking of the k dimension: every element of C is summed in blocks of this many products. */
long ct_sgemm_kc(void);

/* Rows of C per micro-kernel tile (MR): callers that split rows over threads cut at multiples of it. */
long ct_sgemm_mr(void);

#endif
