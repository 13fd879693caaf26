// AVX-512 versions of the BatchNorm (+ gate) + clamp loops of the Swift `VectorKernels` (see
// include/PFSKernelsC.h). Same arithmetic per element, NaN passes through the clamp as in Swift
// (compare-and-blend, not max/min); reductions use two 16-lane accumulators added in a fixed order.
#include "PFSKernelsC.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#include "lanes.h"

// min(max(v, 0), top), NaN unchanged.
__attribute__((target("avx512f")))
static inline __m512 vk_clamp(__m512 v, __m512 top) {
    const __m512 zero = _mm512_setzero_ps();
    v = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, zero, _CMP_LT_OQ), v, zero);
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, top, _CMP_GT_OQ), v, top);
}

// dy where 0 < y < top, else 0.
__attribute__((target("avx512f")))
static inline __m512 vk_masked(__m512 dy, __m512 y, __m512 top, __mmask16 m) {
    const __mmask16 pass = _mm512_mask_cmp_ps_mask(m, y, _mm512_setzero_ps(), _CMP_GT_OQ)
                         & _mm512_mask_cmp_ps_mask(m, y, top, _CMP_LT_OQ);
    return _mm512_maskz_mov_ps(pass, dy);
}

__attribute__((target("avx512f")))
int pfs_vk_affine(const float *x, const float *a, float *y, long n, float scale, float shift, int clamp,
                  float ceiling) {
    const __m512 s = _mm512_set1_ps(scale), t = _mm512_set1_ps(shift), top = _mm512_set1_ps(ceiling);
    for (long i = 0; i < n; i += 16) {
        const __mmask16 m = pfs_lanes(n - i);
        __m512 v = _mm512_add_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), s), t);
        if (a) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, a + i));
        if (clamp) v = vk_clamp(v, top);
        _mm512_mask_storeu_ps(y + i, m, v);
    }
    return 1;
}

__attribute__((target("avx512f,fma")))
int pfs_vk_sum_deviations(const float *x, long n, float *sum, float *ssd) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    long i = 0;
    for (; i + 64 <= n; i += 64) {
        s0 = _mm512_add_ps(s0, _mm512_loadu_ps(x + i));
        s1 = _mm512_add_ps(s1, _mm512_loadu_ps(x + i + 16));
        s2 = _mm512_add_ps(s2, _mm512_loadu_ps(x + i + 32));
        s3 = _mm512_add_ps(s3, _mm512_loadu_ps(x + i + 48));
    }
    for (; i < n; i += 16) s0 = _mm512_add_ps(s0, _mm512_maskz_loadu_ps(pfs_lanes(n - i), x + i));
    const float total = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
    // The second loop reads what the first left in L1; masked-off lanes contribute 0, not mean².
    const __m512 mu = _mm512_set1_ps(n > 0 ? total / (float)n : 0.0f);
    __m512 d0 = _mm512_setzero_ps(), d1 = _mm512_setzero_ps();
    for (i = 0; i + 32 <= n; i += 32) {
        const __m512 v0 = _mm512_sub_ps(_mm512_loadu_ps(x + i), mu), v1 = _mm512_sub_ps(_mm512_loadu_ps(x + i + 16), mu);
        d0 = _mm512_fmadd_ps(v0, v0, d0);
        d1 = _mm512_fmadd_ps(v1, v1, d1);
    }
    for (; i < n; i += 16) {
        const __mmask16 m = pfs_lanes(n - i);
        const __m512 v = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, x + i), mu);
        d0 = _mm512_fmadd_ps(v, v, d0);
    }
    *sum = total;
    *ssd = _mm512_reduce_add_ps(_mm512_add_ps(d0, d1));
    return 1;
}

__attribute__((target("avx512f")))
int pfs_vk_sum_centered_dot(const float *dy, const float *y, float ceiling, const float *x, long n, float mean,
                            float *sum, float *dot) {
    const __m512 mu = _mm512_set1_ps(mean), top = _mm512_set1_ps(ceiling);
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), d0 = _mm512_setzero_ps(), d1 = _mm512_setzero_ps();
    long i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 g0 = _mm512_loadu_ps(dy + i), g1 = _mm512_loadu_ps(dy + i + 16);
        if (y) {
            g0 = vk_masked(g0, _mm512_loadu_ps(y + i), top, 0xFFFF);
            g1 = vk_masked(g1, _mm512_loadu_ps(y + i + 16), top, 0xFFFF);
        }
        s0 = _mm512_add_ps(s0, g0);
        s1 = _mm512_add_ps(s1, g1);
        d0 = _mm512_add_ps(d0, _mm512_mul_ps(g0, _mm512_sub_ps(_mm512_loadu_ps(x + i), mu)));
        d1 = _mm512_add_ps(d1, _mm512_mul_ps(g1, _mm512_sub_ps(_mm512_loadu_ps(x + i + 16), mu)));
    }
    for (; i < n; i += 16) {
        const __mmask16 m = pfs_lanes(n - i);
        __m512 g = _mm512_maskz_loadu_ps(m, dy + i);
        if (y) g = vk_masked(g, _mm512_maskz_loadu_ps(m, y + i), top, m);
        s0 = _mm512_add_ps(s0, g);
        d0 = _mm512_add_ps(d0, _mm512_mul_ps(g, _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, x + i), mu)));
    }
    *sum = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
    *dot = _mm512_reduce_add_ps(_mm512_add_ps(d0, d1));
    return 1;
}

__attribute__((target("avx512f")))
int pfs_vk_combine(const float *dy, const float *y, float ceiling, const float *x, float *out, long n, float a,
                   float b, float c) {
    const __m512 va = _mm512_set1_ps(a), vb = _mm512_set1_ps(b), vc = _mm512_set1_ps(c), top = _mm512_set1_ps(ceiling);
    for (long i = 0; i < n; i += 16) {
        const __mmask16 m = pfs_lanes(n - i);
        __m512 g = _mm512_maskz_loadu_ps(m, dy + i);
        if (y) g = vk_masked(g, _mm512_maskz_loadu_ps(m, y + i), top, m);
        const __m512 v = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(g, va), _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), vb)), vc);
        _mm512_mask_storeu_ps(out + i, m, v);
    }
    return 1;
}

#else

int pfs_vk_affine(const float *x, const float *a, float *y, long n, float scale, float shift, int clamp,
                  float ceiling) {
    (void)x; (void)a; (void)y; (void)n; (void)scale; (void)shift; (void)clamp; (void)ceiling;
    return 0;
}

int pfs_vk_sum_deviations(const float *x, long n, float *sum, float *ssd) {
    (void)x; (void)n; (void)sum; (void)ssd;
    return 0;
}

int pfs_vk_sum_centered_dot(const float *dy, const float *y, float ceiling, const float *x, long n, float mean,
                            float *sum, float *dot) {
    (void)dy; (void)y; (void)ceiling; (void)x; (void)n; (void)mean; (void)sum; (void)dot;
    return 0;
}

int pfs_vk_combine(const float *dy, const float *y, float ceiling, const float *x, float *out, long n, float a,
                   float b, float c) {
    (void)dy; (void)y; (void)ceiling; (void)x; (void)out; (void)n; (void)a; (void)b; (void)c;
    return 0;
}

#endif
