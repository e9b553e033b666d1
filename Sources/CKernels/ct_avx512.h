/* ct_avx512.h — what ctpipe's AVX-512 kernels (ct_sgemm.c, ct_attention.c) share: the target attribute
 * their functions are compiled with, lane masks and a 16 x 16 transpose. Included only on x86-64. */
#ifndef CT_AVX512_H
#define CT_AVX512_H

#include <immintrin.h>

#define CT_TARGET __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma")))

static inline __mmask16 first_lanes(long count) {
    return (__mmask16)(count <= 0 ? 0u : count >= 16 ? 0xFFFFu : (1u << count) - 1u);
}

/* out[q], lane r = src[r * ld + q] for r < rows and q < cols; other lanes and vectors are zero.
 * Reads only those rows and columns. */
CT_TARGET static inline void transpose16(const float *src, long ld, int rows, int cols, __m512 out[16]) {
    __mmask16 cm = first_lanes(cols);
    __m512 r[16], t[16];
    for (int i = 0; i < 16; i++) r[i] = i < rows ? _mm512_maskz_loadu_ps(cm, src + i * ld) : _mm512_setzero_ps();
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 8] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xDD);
        t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xDD);
    }
    for (int i = 0; i < 4; i++) {
        out[i] = _mm512_shuffle_f32x4(t[i], t[i + 4], 0x88);
        out[i + 4] = _mm512_shuffle_f32x4(t[i + 8], t[i + 12], 0x88);
        out[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 4], 0xDD);
        out[i + 12] = _mm512_shuffle_f32x4(t[i + 8], t[i + 12], 0xDD);
    }
}

#endif
