// Shared by the kernel files of PFSKernelsC (not part of the module's public header).
#ifndef PFS_KERNELS_C_LANES_H
#define PFS_KERNELS_C_LANES_H

#include <immintrin.h>

// The first n lanes of a 16-lane vector (none for n <= 0, all from n = 16 on).
static inline __mmask16 pfs_lanes(long n) {
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1u);
}

// The first n lanes of an 8-lane AVX2 vector (none for n <= 0, all from n = 8 on), as the int32
// mask vmaskmovps takes.
__attribute__((target("avx2"), always_inline))
static inline __m256i pfs_lanes8(long n) {
    const int k = n <= 0 ? 0 : n >= 8 ? 8 : (int)n;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Σ of the 8 lanes of an AVX2 vector, in a fixed order.
__attribute__((target("avx2"), always_inline))
static inline float pfs_sum8(__m256 v) {
    const __m128 q = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 d = _mm_add_ps(q, _mm_movehl_ps(q, q));
    return _mm_cvtss_f32(_mm_add_ss(d, _mm_shuffle_ps(d, d, 0x55)));
}

#endif
