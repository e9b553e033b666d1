/* ct_small_left.h — products with a small left matrix and a wide, strided right one on CPUs with AVX-512
 * (ct_small_left.c): the axis transforms of the adapters' matrix DCT. */
#ifndef CT_SMALL_LEFT_H
#define CT_SMALL_LEFT_H

/* The largest m and k ct_small_left takes. */
long ct_small_left_max(void);

/* C (m x n) = alpha * diag(row_scale) * op(A) * diag(a_scale) * B + beta * C, row-major: op(A) is m x k
 * (A is k x m, read as A^T, when trans_a), B is k rows of n floats ldb apart, C m rows ldc apart. row_scale
 * (m) and a_scale (k) may be NULL (ones); beta == 0 never reads C. Every element of C sums its k products
 * by FMA from 0 in increasing order of k, so it does not depend on how the caller splits n.
 * m, k in 1 ... ct_small_left_max(). Returns 0, or nonzero without touching C when it cannot run (no
 * AVX-512, or m or k out of range). */
int ct_small_left(int trans_a, long m, long n, long k, const float *a, long lda, const float *a_scale, const float *b,
                  long ldb, float alpha, const float *row_scale, float beta, float *c, long ldc);

#endif
