// Direct 3x3 convolutions with AVX-512 (see include/PFSKernelsC.h).
//
// Pixels are addressed flat. A "tap table" gives, for each kernel tap, the flat offset of the
// input element it reads relative to the output pixel, and for every 16-pixel vector of the
// output plane the lanes where that element exists (elsewhere it is zero padding). For a
// stride-1 pad-1 convolution of an h x w plane, tap (ki, kj) of pixel p reads p + (ki - 1) * w +
// (kj - 1); a stride-2 convolution reads its input split into four phase planes and every tap
// becomes one of those at offset 0 or -1 row/column. Masked-off lanes read nothing (AVX-512
// suppresses their faults), so no padded or column copy of the input is made, and 8x8 planes fill
// whole vectors like 32x32 ones do. The tables are built by the caller (portable code).
#include "PFSKernelsC.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <cpuid.h>
#include <immintrin.h>
#include "lanes.h"

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

int pfs_cpu_isa(void) {
    if (pfs_cpu_has_avx512()) return 2;
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!(c & (1u << 27)) || !(c & (1u << 12))) return 0;  // OSXSAVE, FMA
    if ((pfs_xgetbv0() & 0x6) != 0x6) return 0;            // XMM, YMM state
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b & (1u << 5)) ? 1 : 0;                        // AVX2
}

// MARK: forward (and input gradient)

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

#define PFS_STORE8(o, stride, m, n, a)                                               \
    {                                                                                \
        const __m512 acc_[8] = {a##0, a##1, a##2, a##3, a##4, a##5, a##6, a##7};    \
        for (int j_ = 0; j_ < (n); ++j_) _mm512_mask_storeu_ps((o) + (long)j_ * (stride), m, acc_[j_]); \
    }

// 8 output channels x 32 pixels (two vectors) per pass: 16 accumulators, and each broadcast
// weight feeds two FMAs. Lanes beyond the plane have empty tap masks and are not stored.
__attribute__((target("avx512f,fma")))
static void forward_block8(const float *in, long channelStride, int cin, long plane, int ntaps,
                           const long *offsets, const unsigned short *masks, const float *weights, int o0,
                           int nstore, float *out) {
    for (long p0 = 0; p0 < plane; p0 += 32) {
        const unsigned short *mv = masks + (p0 / 16) * ntaps, *mu = mv + ntaps;
        PFS_ZERO8(a) PFS_ZERO8(b)
        for (int c = 0; c < cin; ++c) {
            const float *src = in + c * channelStride + p0;
            const float *wc = weights + ((long)(o0 / 8) * cin + c) * ntaps * 8;
            for (int t = 0; t < ntaps; ++t) {
                const __m512 v = _mm512_maskz_loadu_ps(mv[t], src + offsets[t]);
                const __m512 u = _mm512_maskz_loadu_ps(mu[t], src + offsets[t] + 16);
                const float *k = wc + t * 8;
                PFS_FMA8(v, k, a)
                PFS_FMA8(u, k, b)
            }
        }
        float *o = out + (long)o0 * plane + p0;
        const __mmask16 m = pfs_lanes(plane - p0), m2 = pfs_lanes(plane - p0 - 16);
        PFS_STORE8(o, plane, m, nstore, a)
        PFS_STORE8(o + 16, plane, m2, nstore, b)
    }
}

// forward_block8 for the 9 taps of a stride-1 pad-1 convolution of a plane `width` pixels wide:
// the taps read three row pointers at fixed column offsets instead of an offset table, and the
// centre tap, which reads every pixel of the plane, needs no mask on a full 32-pixel block.
// Measured alone (one thread, 64 channels at 32×32): 145 vs 138 GFLOPS.
__attribute__((target("avx512f,fma"), always_inline))
static inline void forward_block8_s1(const float *in, long channelStride, int cin, long plane, long width,
                                     const unsigned short *masks, const float *weights, int o0, int nstore,
                                     float *out, long p0, int full) {
    const unsigned short *mv = masks + (p0 / 16) * 9, *mu = mv + 9;
    PFS_ZERO8(a) PFS_ZERO8(b)
    const float *wc = weights + (long)(o0 / 8) * cin * 72;
    for (int c = 0; c < cin; ++c, wc += 72) {
        const float *mid = in + c * channelStride + p0, *up = mid - width, *down = mid + width;
#define PFS_TAP(t, row, dj, maskV, maskU)                                        \
        {                                                                        \
            const __m512 v = _mm512_maskz_loadu_ps(maskV, row + (dj));           \
            const __m512 u = _mm512_maskz_loadu_ps(maskU, row + (dj) + 16);      \
            const float *k = wc + (t) * 8;                                       \
            PFS_FMA8(v, k, a)                                                    \
            PFS_FMA8(u, k, b)                                                    \
        }
        PFS_TAP(0, up, -1, mv[0], mu[0]) PFS_TAP(1, up, 0, mv[1], mu[1]) PFS_TAP(2, up, 1, mv[2], mu[2])
        PFS_TAP(3, mid, -1, mv[3], mu[3])
        if (full) {
            PFS_TAP(4, mid, 0, (__mmask16)0xFFFF, (__mmask16)0xFFFF)
        } else {
            PFS_TAP(4, mid, 0, mv[4], mu[4])
        }
        PFS_TAP(5, mid, 1, mv[5], mu[5])
        PFS_TAP(6, down, -1, mv[6], mu[6]) PFS_TAP(7, down, 0, mv[7], mu[7]) PFS_TAP(8, down, 1, mv[8], mu[8])
#undef PFS_TAP
    }
    float *o = out + (long)o0 * plane + p0;
    const __mmask16 m = pfs_lanes(plane - p0), m2 = pfs_lanes(plane - p0 - 16);
    PFS_STORE8(o, plane, m, nstore, a)
    PFS_STORE8(o + 16, plane, m2, nstore, b)
}

// The last R = cout mod 8 output channels of a stride-1 layer (the odd widths of pruned layers):
// R channels x V vectors of 16 pixels, so that no FMA works for a channel beyond cout, which
// forward_block8_s1 would compute with zero weights (16 of 13 channels, say). V = 4 for R <= 4 keeps
// 8 to 16 accumulators in flight; the weights are the zero-padded block of 8 all the same.
// R and V are constants at every call, so the loops over them unroll into registers.
__attribute__((target("avx512f,fma"), always_inline))
static inline void forward_tail_s1(const float *in, long channelStride, int cin, long plane, long width,
                                   const unsigned short *masks, const float *weights, int o0, float *out, long p0,
                                   int full, const int R, const int V) {
    __m512 acc[7][4];
    for (int r = 0; r < R; ++r) {
        for (int v = 0; v < V; ++v) acc[r][v] = _mm512_setzero_ps();
    }
    const float *wc = weights + (long)(o0 / 8) * cin * 72;
    const unsigned short *mk = masks + (p0 / 16) * 9;
    for (int c = 0; c < cin; ++c, wc += 72) {
        const float *mid = in + c * channelStride + p0;
        for (int t = 0; t < 9; ++t) {
            const float *src = mid + (t / 3 - 1) * width + (t % 3 - 1);
            __m512 x[4];
            for (int v = 0; v < V; ++v) {
                const __mmask16 m = t == 4 && full ? (__mmask16)0xFFFF : mk[v * 9 + t];
                x[v] = _mm512_maskz_loadu_ps(m, src + 16 * v);
            }
            for (int r = 0; r < R; ++r) {
                const __m512 k = _mm512_set1_ps(wc[t * 8 + r]);
                for (int v = 0; v < V; ++v) acc[r][v] = _mm512_fmadd_ps(k, x[v], acc[r][v]);
            }
        }
    }
    for (int r = 0; r < R; ++r) {
        for (int v = 0; v < V; ++v) {
            _mm512_mask_storeu_ps(out + (long)(o0 + r) * plane + p0 + 16 * v, pfs_lanes(plane - p0 - 16 * v), acc[r][v]);
        }
    }
}

// Every pixel of the tail's R channels: blocks of 16·V pixels, then what is left in blocks of 32.
#define PFS_TAIL(R, V)                                                                                        \
    {                                                                                                         \
        long p0 = 0;                                                                                          \
        for (; p0 + 16 * (V) <= plane; p0 += 16 * (V)) {                                                     \
            forward_tail_s1(in, channelStride, cin, plane, width, masks, weights, o0, out, p0, 1, R, V);      \
        }                                                                                                     \
        for (; p0 < plane; p0 += 32) {                                                                        \
            forward_tail_s1(in, channelStride, cin, plane, width, masks, weights, o0, out, p0, p0 + 32 <= plane, \
                            R, 2);                                                                            \
        }                                                                                                     \
    }

__attribute__((target("avx512f,fma")))
static void forward_tail(const float *in, long channelStride, int cin, long plane, long width,
                         const unsigned short *masks, const float *weights, int o0, int rows, float *out) {
    switch (rows) {
    case 1: PFS_TAIL(1, 4) break;
    case 2: PFS_TAIL(2, 4) break;
    case 3: PFS_TAIL(3, 4) break;
    case 4: PFS_TAIL(4, 4) break;
    case 5: PFS_TAIL(5, 2) break;
    case 6: PFS_TAIL(6, 2) break;
    default: PFS_TAIL(7, 2) break;
    }
}
#undef PFS_TAIL

// The row width when `offsets` are those of a stride-1 pad-1 3×3 table ((ki − 1)·w + kj − 1),
// else 0.
static long stride_one_width(int ntaps, const long *offsets) {
    if (ntaps != 9) return 0;
    const long w = offsets[4] - offsets[1];
    for (int t = 0; t < 9; ++t) {
        if (offsets[t] != (t / 3 - 1) * w + (t % 3 - 1)) return 0;
    }
    return w;
}

__attribute__((target("avx512f,fma")))
int pfs_conv3x3_forward(const float *in, long channelStride, int cin, long plane, int ntaps, const long *offsets,
                        const unsigned short *masks, const float *weights, int cout, float *out) {
    const long width = stride_one_width(ntaps, offsets);
    for (int o0 = 0; o0 < cout; o0 += 8) {
        const int nstore = cout - o0 < 8 ? cout - o0 : 8;
        if (width == 0) {
            forward_block8(in, channelStride, cin, plane, ntaps, offsets, masks, weights, o0, nstore, out);
            continue;
        }
        if (nstore < 8) {
            forward_tail(in, channelStride, cin, plane, width, masks, weights, o0, nstore, out);
            continue;
        }
        long p0 = 0;
        for (; p0 + 32 <= plane; p0 += 32) {
            forward_block8_s1(in, channelStride, cin, plane, width, masks, weights, o0, nstore, out, p0, 1);
        }
        if (p0 < plane) {
            forward_block8_s1(in, channelStride, cin, plane, width, masks, weights, o0, nstore, out, p0, 0);
        }
    }
    return 1;
}

// MARK: weight gradient

#define PFS_WG_ZERO(j) __m512 g##j##0 = _mm512_setzero_ps(), g##j##1 = _mm512_setzero_ps(), \
                              g##j##2 = _mm512_setzero_ps();
#define PFS_WG_FMA(j, load)                                                        \
    {                                                                              \
        const __m512 d = load(d##j + p0);                                          \
        g##j##0 = _mm512_fmadd_ps(d, x0, g##j##0);                                 \
        g##j##1 = _mm512_fmadd_ps(d, x1, g##j##1);                                 \
        g##j##2 = _mm512_fmadd_ps(d, x2, g##j##2);                                 \
    }
#define PFS_WG_STEP(load)                                                          \
    {                                                                              \
        const unsigned short *mk = masks + (p0 / 16) * 9 + t0;                     \
        const __m512 x0 = _mm512_maskz_loadu_ps(mk[0], s + p0 + off0);             \
        const __m512 x1 = _mm512_maskz_loadu_ps(mk[1], s + p0 + off1);             \
        const __m512 x2 = _mm512_maskz_loadu_ps(mk[2], s + p0 + off2);             \
        PFS_WG_FMA(0, load) PFS_WG_FMA(1, load) PFS_WG_FMA(2, load) PFS_WG_FMA(3, load) \
        PFS_WG_FMA(4, load) PFS_WG_FMA(5, load) PFS_WG_FMA(6, load) PFS_WG_FMA(7, load) \
    }
#define PFS_LOAD(p) _mm512_loadu_ps(p)
#define PFS_LOAD_TAIL(p) _mm512_maskz_loadu_ps(tail, p)

// dst[j] += Σ lanes of a_j for j < nout: eight horizontal sums at once by a transposing tree
// (23 shuffles and adds where eight separate reductions take 64), then one masked vector add.
__attribute__((target("avx512f")))
static inline void reduce8_add(__m512 a0, __m512 a1, __m512 a2, __m512 a3, __m512 a4, __m512 a5, __m512 a6,
                               __m512 a7, __mmask16 nout, float *dst) {
    // Pairs: 128-bit quarters q of (a, b) → [a.q0 + a.q2, a.q1 + a.q3, b.q0 + b.q2, b.q1 + b.q3].
#define PFS_PAIR(a, b) _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xEE))
    const __m512 s01 = PFS_PAIR(a0, a1), s23 = PFS_PAIR(a2, a3), s45 = PFS_PAIR(a4, a5), s67 = PFS_PAIR(a6, a7);
#undef PFS_PAIR
    // Quarter q of v holds four partial sums of channel q, of w those of channel 4 + q.
    const __m512 v = _mm512_add_ps(_mm512_shuffle_f32x4(s01, s23, 0x88), _mm512_shuffle_f32x4(s01, s23, 0xDD));
    const __m512 w = _mm512_add_ps(_mm512_shuffle_f32x4(s45, s67, 0x88), _mm512_shuffle_f32x4(s45, s67, 0xDD));
    // Within each quarter: element 0 = Σ v's four, element 1 = Σ w's four.
    const __m512 y = _mm512_add_ps(_mm512_unpacklo_ps(v, w), _mm512_unpackhi_ps(v, w));
    const __m512 z = _mm512_add_ps(y, _mm512_permute_ps(y, 0x4E));
    const __m512i order = _mm512_set_epi32(15, 14, 11, 10, 7, 6, 3, 2, 13, 9, 5, 1, 12, 8, 4, 0);
    const __m512 sums = _mm512_permutexvar_ps(order, z);
    _mm512_mask_storeu_ps(dst, nout, _mm512_add_ps(_mm512_maskz_loadu_ps(nout, dst), sums));
}

// dW[c, t, o] for taps t0..t0+2, 8 output channels o and one input channel c: 24 accumulators
// over every pixel of every image, reduced once at the end. With fewer than 8 output channels
// left, the missing ones re-read the last real channel and are not stored.
__attribute__((target("avx512f,fma")))
static void weight_block(const float *in, long inStride, long channelStride, const long *offsets,
                         const unsigned short *masks, const float *gradOut, long gradStride, int images, long plane,
                         int c, int t0, int o0, int nout, int cout, float *dw) {
    const long full = plane / 16 * 16, off0 = offsets[t0], off1 = offsets[t0 + 1], off2 = offsets[t0 + 2];
    const __mmask16 tail = pfs_lanes(plane - full);
    PFS_WG_ZERO(0) PFS_WG_ZERO(1) PFS_WG_ZERO(2) PFS_WG_ZERO(3)
    PFS_WG_ZERO(4) PFS_WG_ZERO(5) PFS_WG_ZERO(6) PFS_WG_ZERO(7)
    for (int n = 0; n < images; ++n) {
        const float *s = in + n * inStride + c * channelStride;
        const float *d0 = gradOut + n * gradStride + (long)o0 * plane;
#define PFS_ROW(j) const float *d##j = d0 + (long)((j) < nout ? (j) : nout - 1) * plane;
        PFS_ROW(1) PFS_ROW(2) PFS_ROW(3) PFS_ROW(4) PFS_ROW(5) PFS_ROW(6) PFS_ROW(7)
#undef PFS_ROW
        long p0 = 0;
        for (; p0 < full; p0 += 16) PFS_WG_STEP(PFS_LOAD)
        if (tail) PFS_WG_STEP(PFS_LOAD_TAIL)
    }
    const __mmask16 stored = pfs_lanes(nout);
    float *t = dw + ((long)c * 9 + t0) * cout + o0;
    reduce8_add(g00, g10, g20, g30, g40, g50, g60, g70, stored, t);
    reduce8_add(g01, g11, g21, g31, g41, g51, g61, g71, stored, t + cout);
    reduce8_add(g02, g12, g22, g32, g42, g52, g62, g72, stored, t + 2 * cout);
}

int pfs_conv3x3_weight_gradient(const float *in, long inStride, long channelStride, const long *offsets,
                                const unsigned short *masks, const float *gradOut, long gradStride, int images,
                                int cin, long plane, int cout, float *dw) {
    // Input channel outermost: one channel's planes (all images) stay in L1 while every block of
    // output channels passes over them; dY of all channels stays in L2.
    for (int c = 0; c < cin; ++c) {
        for (int o0 = 0; o0 < cout; o0 += 8) {
            const int nout = cout - o0 < 8 ? cout - o0 : 8;
            for (int t0 = 0; t0 < 9; t0 += 3) {
                weight_block(in, inStride, channelStride, offsets, masks, gradOut, gradStride, images, plane, c, t0,
                             o0, nout, cout, dw);
            }
        }
    }
    return 1;
}

// MARK: column matrices

__attribute__((target("avx512f")))
int pfs_conv3x3_im2col(const float *in, long channelStride, int cin, long plane, int ntaps, const long *offsets,
                       const unsigned short *masks, float *col, long ld) {
    for (int c = 0; c < cin; ++c) {
        for (int t = 0; t < ntaps; ++t) {
            const float *src = in + c * channelStride + offsets[t];
            float *dst = col + ((long)c * ntaps + t) * ld;
            for (long p0 = 0; p0 < plane; p0 += 16) {
                const __m512 v = _mm512_maskz_loadu_ps(masks[(p0 / 16) * ntaps + t], src + p0);
                _mm512_mask_storeu_ps(dst + p0, pfs_lanes(plane - p0), v);
            }
        }
    }
    return 1;
}

__attribute__((target("avx512f")))
int pfs_conv3x3_col2im(const float *col, long ld, int cin, long plane, int ntaps, const long *offsets,
                       const unsigned short *masks, float *out, long channelStride) {
    for (int c = 0; c < cin; ++c) {
        for (int t = 0; t < ntaps; ++t) {
            float *dst = out + c * channelStride + offsets[t];
            const float *src = col + ((long)c * ntaps + t) * ld;
            for (long p0 = 0; p0 < plane; p0 += 16) {
                const __mmask16 m = masks[(p0 / 16) * ntaps + t];
                const __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, dst + p0), _mm512_maskz_loadu_ps(m, src + p0));
                _mm512_mask_storeu_ps(dst + p0, m, v);
            }
        }
    }
    return 1;
}

#else

int pfs_cpu_has_avx512(void) { return 0; }

int pfs_cpu_isa(void) { return 0; }

int pfs_conv3x3_forward(const float *in, long channelStride, int cin, long plane, int ntaps, const long *offsets,
                        const unsigned short *masks, const float *weights, int cout, float *out) {
    (void)in; (void)channelStride; (void)cin; (void)plane; (void)ntaps; (void)offsets; (void)masks; (void)weights;
    (void)cout; (void)out;
    return 0;
}

int pfs_conv3x3_weight_gradient(const float *in, long inStride, long channelStride, const long *offsets,
                                const unsigned short *masks, const float *gradOut, long gradStride, int images,
                                int cin, long plane, int cout, float *dw) {
    (void)in; (void)inStride; (void)channelStride; (void)offsets; (void)masks; (void)gradOut; (void)gradStride;
    (void)images; (void)cin; (void)plane; (void)cout; (void)dw;
    return 0;
}

int pfs_conv3x3_im2col(const float *in, long channelStride, int cin, long plane, int ntaps, const long *offsets,
                       const unsigned short *masks, float *col, long ld) {
    (void)in; (void)channelStride; (void)cin; (void)plane; (void)ntaps; (void)offsets; (void)masks; (void)col; (void)ld;
    return 0;
}

int pfs_conv3x3_col2im(const float *col, long ld, int cin, long plane, int ntaps, const long *offsets,
                       const unsigned short *masks, float *out, long channelStride) {
    (void)col; (void)ld; (void)cin; (void)plane; (void)ntaps; (void)offsets; (void)masks; (void)out;
    (void)channelStride;
    return 0;
}

#endif
