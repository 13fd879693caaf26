// AVX2 + FMA versions of the BatchNorm (+ gate) + clamp loops (see include/PFSKernelsC.h and the
// AVX-512 ones in vector_kernels.c): the same arithmetic per element and NaN passed through the
// clamp (compare-and-blend); reductions use 8-lane accumulators added in a fixed order.
#include "PFSKernelsC.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#include "lanes.h"

// min(max(v, 0), top), NaN unchanged.
__attribute__((target("avx2"), always_inline))
static inline __m256 vk8_clamp(__m256 v, __m256 top) {
    const __m256 zero = _mm256_setzero_ps();
    v = _mm256_blendv_ps(v, zero, _mm256_cmp_ps(v, zero, _CMP_LT_OQ));
    return _mm256_blendv_ps(v, top, _mm256_cmp_ps(v, top, _CMP_GT_OQ));
}

// dy where 0 < y < top, else 0.
__attribute__((target("avx2"), always_inline))
static inline __m256 vk8_masked(__m256 dy, __m256 y, __m256 top) {
    const __m256 pass = _mm256_and_ps(_mm256_cmp_ps(y, _mm256_setzero_ps(), _CMP_GT_OQ), _mm256_cmp_ps(y, top, _CMP_LT_OQ));
    return _mm256_and_ps(pass, dy);
}

__attribute__((target("avx2")))
int pfs_vk_affine_avx2(const float *x, const float *a, float *y, long n, float scale, float shift, int clamp,
                       float ceiling) {
    const __m256 s = _mm256_set1_ps(scale), t = _mm256_set1_ps(shift), top = _mm256_set1_ps(ceiling);
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), s), t);
        if (a) v = _mm256_add_ps(v, _mm256_loadu_ps(a + i));
        if (clamp) v = vk8_clamp(v, top);
        _mm256_storeu_ps(y + i, v);
    }
    if (i < n) {
        const __m256i m = pfs_lanes8(n - i);
        __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_maskload_ps(x + i, m), s), t);
        if (a) v = _mm256_add_ps(v, _mm256_maskload_ps(a + i, m));
        if (clamp) v = vk8_clamp(v, top);
        _mm256_maskstore_ps(y + i, m, v);
    }
    return 1;
}

__attribute__((target("avx2,fma")))
int pfs_vk_sum_deviations_avx2(const float *x, long n, float *sum, float *ssd) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    long i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_add_ps(s0, _mm256_loadu_ps(x + i));
        s1 = _mm256_add_ps(s1, _mm256_loadu_ps(x + i + 8));
        s2 = _mm256_add_ps(s2, _mm256_loadu_ps(x + i + 16));
        s3 = _mm256_add_ps(s3, _mm256_loadu_ps(x + i + 24));
    }
    for (; i < n; i += 8) s0 = _mm256_add_ps(s0, _mm256_maskload_ps(x + i, pfs_lanes8(n - i)));
    const float total = pfs_sum8(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    // Masked-off lanes of the tail must contribute 0, not mean².
    const __m256 mu = _mm256_set1_ps(n > 0 ? total / (float)n : 0.0f);
    __m256 d0 = _mm256_setzero_ps(), d1 = _mm256_setzero_ps();
    for (i = 0; i + 16 <= n; i += 16) {
        const __m256 v0 = _mm256_sub_ps(_mm256_loadu_ps(x + i), mu), v1 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8), mu);
        d0 = _mm256_fmadd_ps(v0, v0, d0);
        d1 = _mm256_fmadd_ps(v1, v1, d1);
    }
    for (; i < n; i += 8) {
        const __m256i m = pfs_lanes8(n - i);
        const __m256 v = _mm256_and_ps(_mm256_castsi256_ps(m), _mm256_sub_ps(_mm256_maskload_ps(x + i, m), mu));
        d0 = _mm256_fmadd_ps(v, v, d0);
    }
    *sum = total;
    *ssd = pfs_sum8(_mm256_add_ps(d0, d1));
    return 1;
}

__attribute__((target("avx2")))
int pfs_vk_sum_centered_dot_avx2(const float *dy, const float *y, float ceiling, const float *x, long n, float mean,
                                 float *sum, float *dot) {
    const __m256 mu = _mm256_set1_ps(mean), top = _mm256_set1_ps(ceiling);
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), d0 = _mm256_setzero_ps(), d1 = _mm256_setzero_ps();
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 g0 = _mm256_loadu_ps(dy + i), g1 = _mm256_loadu_ps(dy + i + 8);
        if (y) {
            g0 = vk8_masked(g0, _mm256_loadu_ps(y + i), top);
            g1 = vk8_masked(g1, _mm256_loadu_ps(y + i + 8), top);
        }
        s0 = _mm256_add_ps(s0, g0);
        s1 = _mm256_add_ps(s1, g1);
        d0 = _mm256_add_ps(d0, _mm256_mul_ps(g0, _mm256_sub_ps(_mm256_loadu_ps(x + i), mu)));
        d1 = _mm256_add_ps(d1, _mm256_mul_ps(g1, _mm256_sub_ps(_mm256_loadu_ps(x + i + 8), mu)));
    }
    for (; i < n; i += 8) {
        const __m256i m = pfs_lanes8(n - i);
        __m256 g = _mm256_maskload_ps(dy + i, m);
        if (y) g = vk8_masked(g, _mm256_maskload_ps(y + i, m), top);
        s0 = _mm256_add_ps(s0, g);
        const __m256 centered = _mm256_and_ps(_mm256_castsi256_ps(m), _mm256_sub_ps(_mm256_maskload_ps(x + i, m), mu));
        d0 = _mm256_add_ps(d0, _mm256_mul_ps(g, centered));
    }
    *sum = pfs_sum8(_mm256_add_ps(s0, s1));
    *dot = pfs_sum8(_mm256_add_ps(d0, d1));
    return 1;
}

__attribute__((target("avx2")))
int pfs_vk_combine_avx2(const float *dy, const float *y, float ceiling, const float *x, float *out, long n, float a,
                        float b, float c) {
    const __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b), vc = _mm256_set1_ps(c), top = _mm256_set1_ps(ceiling);
    for (long i = 0; i < n; i += 8) {
        const __m256i m = pfs_lanes8(n - i);
        __m256 g = _mm256_maskload_ps(dy + i, m);
        if (y) g = vk8_masked(g, _mm256_maskload_ps(y + i, m), top);
        const __m256 v = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(g, va), _mm256_mul_ps(_mm256_maskload_ps(x + i, m), vb)), vc);
        _mm256_maskstore_ps(out + i, m, v);
    }
    return 1;
}

#else

int pfs_vk_affine_avx2(const float *x, const float *a, float *y, long n, float scale, float shift, int clamp,
                       float ceiling) {
    (void)x; (void)a; (void)y; (void)n; (void)scale; (void)shift; (void)clamp; (void)ceiling;
    return 0;
}

int pfs_vk_sum_deviations_avx2(const float *x, long n, float *sum, float *ssd) {
    (void)x; (void)n; (void)sum; (void)ssd;
    return 0;
}

int pfs_vk_sum_centered_dot_avx2(const float *dy, const float *y, float ceiling, const float *x, long n, float mean,
                                 float *sum, float *dot) {
    (void)dy; (void)y; (void)ceiling; (void)x; (void)n; (void)mean; (void)sum; (void)dot;
    return 0;
}

int pfs_vk_combine_avx2(const float *dy, const float *y, float ceiling, const float *x, float *out, long n, float a,
                        float b, float c) {
    (void)dy; (void)y; (void)ceiling; (void)x; (void)out; (void)n; (void)a; (void)b; (void)c;
    return 0;
}

#endif
