// Direct 3x3 stride-1 convolution with AVX-512 (see include/PFSKernelsC.h).
//
// For a block of 8 output channels and 16 output pixels of one row, 8 accumulators of 16 lanes
// are kept in registers; every (input channel, ki, kj) adds one 16-pixel load of the padded input
// times 8 broadcast weights. Rows shorter than 16 pixels use masked loads and stores.
#include "PFSKernelsC.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <cpuid.h>
#include <immintrin.h>

static unsigned long long pfs_xgetbv0(void) {
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

int pfs_cpu_has_avx512(void) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!(c & (1u << 27))) return 0;                      // OSXSAVE
    if ((pfs_xgetbv0() & 0xE6) != 0xE6) return 0;         // XMM, YMM, opmask, ZMM state
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b & (1u << 16)) ? 1 : 0;                       // AVX512F
}

#define PFS_FMA8(v, k, a)                                          \
    a##0 = _mm512_fmadd_ps(_mm512_set1_ps((k)[0]), v, a##0);       \
    a##1 = _mm512_fmadd_ps(_mm512_set1_ps((k)[1]), v, a##1);       \
    a##2 = _mm512_fmadd_ps(_mm512_set1_ps((k)[2]), v, a##2);       \
    a##3 = _mm512_fmadd_ps(_mm512_set1_ps((k)[3]), v, a##3);       \
    a##4 = _mm512_fmadd_ps(_mm512_set1_ps((k)[4]), v, a##4);       \
    a##5 = _mm512_fmadd_ps(_mm512_set1_ps((k)[5]), v, a##5);       \
    a##6 = _mm512_fmadd_ps(_mm512_set1_ps((k)[6]), v, a##6);       \
    a##7 = _mm512_fmadd_ps(_mm512_set1_ps((k)[7]), v, a##7);

#define PFS_ZERO8(a)                                                \
    __m512 a##0 = _mm512_setzero_ps(), a##1 = _mm512_setzero_ps(), \
           a##2 = _mm512_setzero_ps(), a##3 = _mm512_setzero_ps(), \
           a##4 = _mm512_setzero_ps(), a##5 = _mm512_setzero_ps(), \
           a##6 = _mm512_setzero_ps(), a##7 = _mm512_setzero_ps();

#define PFS_STORE8(o, hw, m, n, a)                                                   \
    {                                                                                \
        const __m512 acc_[8] = {a##0, a##1, a##2, a##3, a##4, a##5, a##6, a##7};    \
        for (int j_ = 0; j_ < (n); ++j_) _mm512_mask_storeu_ps((o) + (size_t)j_ * (hw), m, acc_[j_]); \
    }

// Two output rows (y, y + 1) of 16 pixels for 8 output channels: 16 accumulators, and each
// broadcast weight feeds two FMAs. With an odd row count the last pass has no second row: its
// loads are fully masked (AVX-512 suppresses faults on masked-off lanes) and it is not stored.
__attribute__((target("avx512f,fma")))
static void block8(const float *padded, int cin, int h, int w, const float *weights, int coutp,
                   int o0, int nstore, float *out) {
    const int wp = w + 2, plane = (h + 2) * wp, hw = h * w;
    for (int y = 0; y < h; y += 2) {
        const int second = y + 1 < h;
        for (int x0 = 0; x0 < w; x0 += 16) {
            const int n = w - x0 < 16 ? w - x0 : 16;
            const __mmask16 m = (__mmask16)((1u << n) - 1u);
            const __mmask16 m2 = second ? m : 0;
            PFS_ZERO8(a) PFS_ZERO8(b)
            for (int c = 0; c < cin; ++c) {
                const float *row0 = padded + c * plane + y * wp + x0;
                const float *wc = weights + (size_t)c * 9 * coutp + o0;
                for (int ki = 0; ki < 3; ++ki) {
                    const float *row = row0 + ki * wp;
                    for (int kj = 0; kj < 3; ++kj) {
                        const __m512 v = _mm512_maskz_loadu_ps(m, row + kj);
                        const __m512 u = _mm512_maskz_loadu_ps(m2, row + wp + kj);
                        const float *k = wc + (ki * 3 + kj) * coutp;
                        PFS_FMA8(v, k, a)
                        PFS_FMA8(u, k, b)
                    }
                }
            }
            float *o = out + (size_t)o0 * hw + y * w + x0;
            PFS_STORE8(o, hw, m, nstore, a)
            if (second) PFS_STORE8(o + w, hw, m, nstore, b)
        }
    }
}

int pfs_conv3x3s1_avx512(const float *padded, int cin, int h, int w,
                         const float *weights, int cout, float *out) {
    // No CPU check here: CPUID traps to the hypervisor on virtual machines, and this runs once
    // per image and layer. Callers check pfs_cpu_has_avx512() once.
    const int coutp = (cout + 7) / 8 * 8;
    for (int o0 = 0; o0 < cout; o0 += 8) {
        const int nstore = cout - o0 < 8 ? cout - o0 : 8;
        block8(padded, cin, h, w, weights, coutp, o0, nstore, out);
    }
    return 1;
}

#else

int pfs_cpu_has_avx512(void) { return 0; }

int pfs_conv3x3s1_avx512(const float *padded, int cin, int h, int w,
                         const float *weights, int cout, float *out) {
    (void)padded; (void)cin; (void)h; (void)w; (void)weights; (void)cout; (void)out;
    return 0;
}

#endif
