// Direct 3x3 convolutions with AVX2 + FMA (see include/PFSKernelsC.h): the pixel-vector kernels of
// direct_conv.c for CPUs without AVX-512 (AMD Zen 2-4, Intel client chips).
//
// Stride 1 works on a zero-padded copy of each image: every tap is a plain load at a fixed offset,
// 8 pixels per vector, lanes past a row's end computed and not stored (no masks: AVX2's masked
// loads cost an extra micro-op each). Stride 2 keeps the tap tables of direct_conv.c on phase
// planes; AVX2 has no mask registers, so a tap's lanes come as 8 int32 (all ones where the tap
// reads the image), prepared once per table by the caller (`laneMasks`: 8 ints for every 8-pixel
// vector of the plane rounded up to 32 pixels and every tap, vector-major), and `vmaskmovps`
// reads nothing in the other lanes. With 16 vector registers a forward block is 4 output
// channels x 16 pixels (8 accumulators, two inputs and a broadcast weight live at once), and a
// weight-gradient block 4 output channels x 3 taps (12 accumulators).
#include "PFSKernelsC.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#include "lanes.h"
#include <string.h>

__attribute__((target("avx2"), always_inline))
static inline __m256i tap_mask(const int *laneMasks, long vector8, int ntaps, int t) {
    return _mm256_loadu_si256((const __m256i *)(laneMasks + (vector8 * ntaps + t) * 8));
}

// MARK: forward (and input gradient)

// Output channels o0 .. o0 + nstore - 1 (nstore <= 4, o0 a multiple of 4) over the whole plane,
// 16 pixels per pass. The weights of o0 sit at lane o0 % 8 of its packed block of 8.
__attribute__((target("avx2,fma")))
static void forward_block4(const float *in, long channelStride, int cin, long plane, int ntaps, const long *offsets,
                           const int *laneMasks, const float *weights, int o0, int nstore, float *out) {
    const float *block = weights + (long)(o0 / 8) * cin * ntaps * 8 + o0 % 8;
    for (long p0 = 0; p0 < plane; p0 += 16) {
        const long v0 = p0 / 8;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps(), b2 = _mm256_setzero_ps(), b3 = _mm256_setzero_ps();
        for (int c = 0; c < cin; ++c) {
            const float *src = in + c * channelStride + p0, *wc = block + (long)c * ntaps * 8;
            for (int t = 0; t < ntaps; ++t) {
                const float *s = src + offsets[t], *k = wc + t * 8;
                const __m256 v = _mm256_maskload_ps(s, tap_mask(laneMasks, v0, ntaps, t));
                const __m256 u = _mm256_maskload_ps(s + 8, tap_mask(laneMasks, v0 + 1, ntaps, t));
                __m256 w = _mm256_broadcast_ss(k);
                a0 = _mm256_fmadd_ps(w, v, a0); b0 = _mm256_fmadd_ps(w, u, b0);
                w = _mm256_broadcast_ss(k + 1);
                a1 = _mm256_fmadd_ps(w, v, a1); b1 = _mm256_fmadd_ps(w, u, b1);
                w = _mm256_broadcast_ss(k + 2);
                a2 = _mm256_fmadd_ps(w, v, a2); b2 = _mm256_fmadd_ps(w, u, b2);
                w = _mm256_broadcast_ss(k + 3);
                a3 = _mm256_fmadd_ps(w, v, a3); b3 = _mm256_fmadd_ps(w, u, b3);
            }
        }
        float *o = out + (long)o0 * plane + p0;
        const __m256i m = pfs_lanes8(plane - p0), m2 = pfs_lanes8(plane - p0 - 8);
        const __m256 a[4] = {a0, a1, a2, a3}, b[4] = {b0, b1, b2, b3};
        for (int j = 0; j < nstore; ++j) {
            _mm256_maskstore_ps(o + (long)j * plane, m, a[j]);
            _mm256_maskstore_ps(o + (long)j * plane + 8, m2, b[j]);
        }
    }
}

__attribute__((target("avx2,fma")))
int pfs_conv3x3_forward_avx2(const float *in, long channelStride, int cin, long plane, int ntaps,
                             const long *offsets, const int *laneMasks, const float *weights, int cout, float *out) {
    for (int o0 = 0; o0 < cout; o0 += 4) {
        const int nstore = cout - o0 < 4 ? cout - o0 : 4;
        forward_block4(in, channelStride, cin, plane, ntaps, offsets, laneMasks, weights, o0, nstore, out);
    }
    return 1;
}

// MARK: stride 1 on a padded copy

int pfs_conv3x3_pad_slack(const float *in, long channelStride, int cin, int height, int width, float *padded) {
    const long pw = width + 2, pp = (long)(height + 2) * pw;
    for (int c = 0; c < cin; ++c) {
        float *d = padded + c * pp;
        memset(d, 0, sizeof(float) * pw);
        memset(d + (height + 1) * pw, 0, sizeof(float) * pw);
        for (int y = 0; y < height; ++y) {
            float *row = d + (y + 1) * pw;
            row[0] = 0;
            memcpy(row + 1, in + c * channelStride + (long)y * width, sizeof(float) * width);
            row[width + 1] = 0;
        }
    }
    memset(padded + cin * pp, 0, sizeof(float) * PFS_PAD_SLACK);
    return 1;
}

// Output vector v of a plane `width` wide: 8 pixels of row v / perRow from column (v % perRow)·8.
typedef struct { long source, target; int count; } pfs_vector8;

static inline pfs_vector8 vector8(long v, long perRow, int width, long pw) {
    const long y = v / perRow, x = (v % perRow) * 8;
    const pfs_vector8 r = {y * pw + x, y * width + x, width - x < 8 ? (int)(width - x) : 8};
    return r;
}

// 4 output channels x two 8-pixel output vectors (any two, e.g. the ends of two rows), no masks:
// the taps of a pixel are fixed offsets in the padded image, and lanes past a row's end compute
// values that are not stored.
__attribute__((target("avx2,fma"), always_inline))
static inline void padded_block4(const float *padded, long pw, long pp, int cin, const float *block, pfs_vector8 p,
                                 pfs_vector8 q, long plane, float *out) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps(), b2 = _mm256_setzero_ps(), b3 = _mm256_setzero_ps();
    const float *sp = padded + p.source, *sq = padded + q.source;
    for (int c = 0; c < cin; ++c, sp += pp, sq += pp) {
        const float *wc = block + (long)c * 72;
#define PFS_PTAP(ki, kj)                                                                         \
        {                                                                                        \
            const __m256 v = _mm256_loadu_ps(sp + (ki) * pw + (kj));                             \
            const __m256 u = _mm256_loadu_ps(sq + (ki) * pw + (kj));                             \
            const float *k = wc + ((ki) * 3 + (kj)) * 8;                                         \
            __m256 w = _mm256_broadcast_ss(k);                                                   \
            a0 = _mm256_fmadd_ps(w, v, a0); b0 = _mm256_fmadd_ps(w, u, b0);                      \
            w = _mm256_broadcast_ss(k + 1);                                                      \
            a1 = _mm256_fmadd_ps(w, v, a1); b1 = _mm256_fmadd_ps(w, u, b1);                      \
            w = _mm256_broadcast_ss(k + 2);                                                      \
            a2 = _mm256_fmadd_ps(w, v, a2); b2 = _mm256_fmadd_ps(w, u, b2);                      \
            w = _mm256_broadcast_ss(k + 3);                                                      \
            a3 = _mm256_fmadd_ps(w, v, a3); b3 = _mm256_fmadd_ps(w, u, b3);                      \
        }
        PFS_PTAP(0, 0) PFS_PTAP(0, 1) PFS_PTAP(0, 2)
        PFS_PTAP(1, 0) PFS_PTAP(1, 1) PFS_PTAP(1, 2)
        PFS_PTAP(2, 0) PFS_PTAP(2, 1) PFS_PTAP(2, 2)
#undef PFS_PTAP
    }
    const __m256 a[4] = {a0, a1, a2, a3}, b[4] = {b0, b1, b2, b3};
    const __m256i mp = pfs_lanes8(p.count), mq = pfs_lanes8(q.count);
    for (int j = 0; j < 4; ++j) {
        float *o = out + (long)j * plane;
        if (p.count == 8) _mm256_storeu_ps(o + p.target, a[j]); else _mm256_maskstore_ps(o + p.target, mp, a[j]);
        if (q.count == 8) _mm256_storeu_ps(o + q.target, b[j]); else _mm256_maskstore_ps(o + q.target, mq, b[j]);
    }
}

// The last R = cout mod 4 output channels (pruned widths such as 11 or 13): R channels x V 8-pixel
// vectors, so that no FMA works for a channel beyond cout, as padded_block4 would with zero weights.
// (R, V) = (1, 6), (2, 4), (3, 3) keep 6 to 9 accumulators and their V inputs in the 16 registers.
// The last group repeats its final vector with count 0 (computed, not stored).
__attribute__((target("avx2,fma"), always_inline))
static inline void padded_tail(const float *padded, long pw, long pp, int cin, const float *block, long first,
                               long vectors, long perRow, int width, long plane, float *out, const int R,
                               const int V) {
    pfs_vector8 p[6];
    for (int v = 0; v < V; ++v) {
        p[v] = vector8(first + v < vectors ? first + v : vectors - 1, perRow, width, pw);
        if (first + v >= vectors) p[v].count = 0;
    }
    __m256 acc[3][6];
    for (int r = 0; r < R; ++r) {
        for (int v = 0; v < V; ++v) acc[r][v] = _mm256_setzero_ps();
    }
    for (int c = 0; c < cin; ++c) {
        const float *wc = block + (long)c * 72, *image = padded + c * pp;
        for (int t = 0; t < 9; ++t) {
            const long offset = (t / 3) * pw + t % 3;
            __m256 x[6];
            for (int v = 0; v < V; ++v) x[v] = _mm256_loadu_ps(image + p[v].source + offset);
            for (int r = 0; r < R; ++r) {
                const __m256 w = _mm256_broadcast_ss(wc + t * 8 + r);
                for (int v = 0; v < V; ++v) acc[r][v] = _mm256_fmadd_ps(w, x[v], acc[r][v]);
            }
        }
    }
    for (int v = 0; v < V; ++v) {
        const __m256i m = pfs_lanes8(p[v].count);
        for (int r = 0; r < R; ++r) {
            float *o = out + (long)r * plane + p[v].target;
            if (p[v].count == 8) _mm256_storeu_ps(o, acc[r][v]); else if (p[v].count > 0) _mm256_maskstore_ps(o, m, acc[r][v]);
        }
    }
}

#define PFS_PADDED_TAIL(R, V)                                                                                    \
    for (long v = 0; v < vectors; v += (V)) {                                                                   \
        padded_tail(padded, pw, pp, cin, block, v, vectors, perRow, width, plane, out + (long)o0 * plane, R, V); \
    }

__attribute__((target("avx2,fma")))
int pfs_conv3x3_forward_padded_avx2(const float *padded, int cin, int height, int width, const float *weights,
                                    int cout, float *out) {
    const long pw = width + 2, pp = (long)(height + 2) * pw, plane = (long)height * width;
    const long perRow = (width + 7) / 8, vectors = height * perRow;
    int o0 = 0;
    for (; o0 + 4 <= cout; o0 += 4) {
        const float *block = weights + (long)(o0 / 8) * cin * 72 + o0 % 8;
        for (long v = 0; v < vectors; v += 2) {
            const pfs_vector8 p = vector8(v, perRow, width, pw);
            pfs_vector8 q = v + 1 < vectors ? vector8(v + 1, perRow, width, pw) : p;
            if (v + 1 >= vectors) q.count = 0;   // computed twice, stored once
            padded_block4(padded, pw, pp, cin, block, p, q, plane, out + (long)o0 * plane);
        }
    }
    if (o0 < cout) {
        const float *block = weights + (long)(o0 / 8) * cin * 72 + o0 % 8;
        switch (cout - o0) {
        case 1: PFS_PADDED_TAIL(1, 6) break;
        case 2: PFS_PADDED_TAIL(2, 4) break;
        default: PFS_PADDED_TAIL(3, 3) break;
        }
    }
    return 1;
}
#undef PFS_PADDED_TAIL

// MARK: weight gradient

// dW[c, t, o] for taps t0..t0+2, 4 output channels o and one input channel c: 12 accumulators over
// every pixel of every image, summed across lanes once at the end. With fewer than 4 output
// channels left, the missing ones re-read the last real channel and are not stored.
__attribute__((target("avx2,fma")))
static void weight_block4(const float *in, long inStride, long channelStride, const long *offsets,
                          const int *laneMasks, const float *gradOut, long gradStride, int images, long plane, int c,
                          int t0, int o0, int nout, int cout, float *dw) {
    const long full = plane / 8 * 8, off0 = offsets[t0], off1 = offsets[t0 + 1], off2 = offsets[t0 + 2];
    const __m256i tail = pfs_lanes8(plane - full);
    __m256 g00 = _mm256_setzero_ps(), g01 = _mm256_setzero_ps(), g02 = _mm256_setzero_ps();
    __m256 g10 = _mm256_setzero_ps(), g11 = _mm256_setzero_ps(), g12 = _mm256_setzero_ps();
    __m256 g20 = _mm256_setzero_ps(), g21 = _mm256_setzero_ps(), g22 = _mm256_setzero_ps();
    __m256 g30 = _mm256_setzero_ps(), g31 = _mm256_setzero_ps(), g32 = _mm256_setzero_ps();
    for (int n = 0; n < images; ++n) {
        const float *s = in + n * inStride + c * channelStride;
        const float *d0 = gradOut + n * gradStride + (long)o0 * plane;
        const float *d1 = d0 + (long)(1 < nout ? 1 : nout - 1) * plane;
        const float *d2 = d0 + (long)(2 < nout ? 2 : nout - 1) * plane;
        const float *d3 = d0 + (long)(3 < nout ? 3 : nout - 1) * plane;
        for (long p0 = 0; p0 < plane; p0 += 8) {
            const long v = p0 / 8;
            const __m256 x0 = _mm256_maskload_ps(s + p0 + off0, tap_mask(laneMasks, v, 9, t0));
            const __m256 x1 = _mm256_maskload_ps(s + p0 + off1, tap_mask(laneMasks, v, 9, t0 + 1));
            const __m256 x2 = _mm256_maskload_ps(s + p0 + off2, tap_mask(laneMasks, v, 9, t0 + 2));
#define PFS_WG4(j)                                                                                   \
            {                                                                                        \
                const __m256 d = p0 < full ? _mm256_loadu_ps(d##j + p0) : _mm256_maskload_ps(d##j + p0, tail); \
                g##j##0 = _mm256_fmadd_ps(d, x0, g##j##0);                                           \
                g##j##1 = _mm256_fmadd_ps(d, x1, g##j##1);                                           \
                g##j##2 = _mm256_fmadd_ps(d, x2, g##j##2);                                           \
            }
            PFS_WG4(0) PFS_WG4(1) PFS_WG4(2) PFS_WG4(3)
#undef PFS_WG4
        }
    }
    const __m256 g[4][3] = {{g00, g01, g02}, {g10, g11, g12}, {g20, g21, g22}, {g30, g31, g32}};
    for (int k = 0; k < 3; ++k) {
        float *row = dw + ((long)c * 9 + t0 + k) * cout + o0;
        for (int j = 0; j < nout; ++j) row[j] += pfs_sum8(g[j][k]);
    }
}

int pfs_conv3x3_weight_gradient_avx2(const float *in, long inStride, long channelStride, const long *offsets,
                                     const int *laneMasks, const float *gradOut, long gradStride, int images,
                                     int cin, long plane, int cout, float *dw) {
    for (int c = 0; c < cin; ++c) {
        for (int o0 = 0; o0 < cout; o0 += 4) {
            const int nout = cout - o0 < 4 ? cout - o0 : 4;
            for (int t0 = 0; t0 < 9; t0 += 3) {
                weight_block4(in, inStride, channelStride, offsets, laneMasks, gradOut, gradStride, images, plane, c,
                              t0, o0, nout, cout, dw);
            }
        }
    }
    return 1;
}

// Stride-1 weight gradient over padded copies: dW[c, t, o] for the 3 taps of kernel row ki, 4 output
// channels o and one input channel c, 12 accumulators. dY is read under a mask only on vectors that
// end a row early (there the padded input's lanes belong to the next row).
__attribute__((target("avx2,fma")))
static void padded_weight_block4(const float *padded, long paddedImage, const float *gradOut, long gradStride,
                                 int images, int height, int width, int c, int ki, int o0, int nout, int cout,
                                 float *dw) {
    const long pw = width + 2, pp = (long)(height + 2) * pw, plane = (long)height * width;
    __m256 g00 = _mm256_setzero_ps(), g01 = _mm256_setzero_ps(), g02 = _mm256_setzero_ps();
    __m256 g10 = _mm256_setzero_ps(), g11 = _mm256_setzero_ps(), g12 = _mm256_setzero_ps();
    __m256 g20 = _mm256_setzero_ps(), g21 = _mm256_setzero_ps(), g22 = _mm256_setzero_ps();
    __m256 g30 = _mm256_setzero_ps(), g31 = _mm256_setzero_ps(), g32 = _mm256_setzero_ps();
    for (int n = 0; n < images; ++n) {
        const float *s = padded + n * paddedImage + c * pp + ki * pw;
        const float *d0 = gradOut + n * gradStride + (long)o0 * plane;
        const float *d1 = d0 + (long)(1 < nout ? 1 : nout - 1) * plane;
        const float *d2 = d0 + (long)(2 < nout ? 2 : nout - 1) * plane;
        const float *d3 = d0 + (long)(3 < nout ? 3 : nout - 1) * plane;
        // Whole vectors, then the row's tail under a mask (kept out of the main loop: with the
        // mask live, 12 accumulators, 3 inputs and dY would not fit in 16 registers).
#define PFS_PWG4(j, load)                                                                            \
        {                                                                                            \
            const __m256 d = load(d##j + at);                                                        \
            g##j##0 = _mm256_fmadd_ps(d, x0v, g##j##0);                                              \
            g##j##1 = _mm256_fmadd_ps(d, x1v, g##j##1);                                              \
            g##j##2 = _mm256_fmadd_ps(d, x2v, g##j##2);                                              \
        }
#define PFS_PWG_STEP(load)                                                                           \
        {                                                                                            \
            const float *src = s + (long)y * pw + x0;                                                \
            const long at = (long)y * width + x0;                                                    \
            const __m256 x0v = _mm256_loadu_ps(src), x1v = _mm256_loadu_ps(src + 1), x2v = _mm256_loadu_ps(src + 2); \
            PFS_PWG4(0, load) PFS_PWG4(1, load) PFS_PWG4(2, load) PFS_PWG4(3, load)                  \
        }
#define PFS_PLOAD(p) _mm256_loadu_ps(p)
#define PFS_PLOAD_TAIL(p) _mm256_maskload_ps(p, tail)
        const int whole = width / 8 * 8;
        for (int y = 0; y < height; ++y) {
            int x0 = 0;
            for (; x0 < whole; x0 += 8) PFS_PWG_STEP(PFS_PLOAD)
            if (x0 < width) {
                const __m256i tail = pfs_lanes8(width - x0);
                PFS_PWG_STEP(PFS_PLOAD_TAIL)
            }
        }
#undef PFS_PWG_STEP
#undef PFS_PWG4
#undef PFS_PLOAD
#undef PFS_PLOAD_TAIL
    }
    const __m256 g[4][3] = {{g00, g01, g02}, {g10, g11, g12}, {g20, g21, g22}, {g30, g31, g32}};
    for (int k = 0; k < 3; ++k) {
        float *row = dw + ((long)c * 9 + ki * 3 + k) * cout + o0;
        for (int j = 0; j < nout; ++j) row[j] += pfs_sum8(g[j][k]);
    }
}

int pfs_conv3x3_weight_gradient_padded_avx2(const float *padded, long paddedImage, const float *gradOut,
                                            long gradStride, int images, int cin, int height, int width, int cout,
                                            float *dw) {
    for (int c = 0; c < cin; ++c) {
        for (int o0 = 0; o0 < cout; o0 += 4) {
            const int nout = cout - o0 < 4 ? cout - o0 : 4;
            for (int ki = 0; ki < 3; ++ki) {
                padded_weight_block4(padded, paddedImage, gradOut, gradStride, images, height, width, c, ki, o0, nout,
                                     cout, dw);
            }
        }
    }
    return 1;
}

// MARK: column matrices

__attribute__((target("avx2")))
int pfs_conv3x3_im2col_avx2(const float *in, long channelStride, int cin, long plane, int ntaps, const long *offsets,
                            const int *laneMasks, float *col, long ld) {
    for (int c = 0; c < cin; ++c) {
        for (int t = 0; t < ntaps; ++t) {
            const float *src = in + c * channelStride + offsets[t];
            float *dst = col + ((long)c * ntaps + t) * ld;
            for (long p0 = 0; p0 < plane; p0 += 8) {
                const __m256 v = _mm256_maskload_ps(src + p0, tap_mask(laneMasks, p0 / 8, ntaps, t));
                _mm256_maskstore_ps(dst + p0, pfs_lanes8(plane - p0), v);
            }
        }
    }
    return 1;
}

__attribute__((target("avx2")))
int pfs_conv3x3_col2im_avx2(const float *col, long ld, int cin, long plane, int ntaps, const long *offsets,
                            const int *laneMasks, float *out, long channelStride) {
    for (int c = 0; c < cin; ++c) {
        for (int t = 0; t < ntaps; ++t) {
            float *dst = out + c * channelStride + offsets[t];
            const float *src = col + ((long)c * ntaps + t) * ld;
            for (long p0 = 0; p0 < plane; p0 += 8) {
                const __m256i m = tap_mask(laneMasks, p0 / 8, ntaps, t);
                const __m256 v = _mm256_add_ps(_mm256_maskload_ps(dst + p0, m), _mm256_maskload_ps(src + p0, m));
                _mm256_maskstore_ps(dst + p0, m, v);
            }
        }
    }
    return 1;
}

#else

int pfs_conv3x3_pad_slack(const float *in, long channelStride, int cin, int height, int width, float *padded) {
    (void)in; (void)channelStride; (void)cin; (void)height; (void)width; (void)padded;
    return 0;
}

int pfs_conv3x3_forward_padded_avx2(const float *padded, int cin, int height, int width, const float *weights,
                                    int cout, float *out) {
    (void)padded; (void)cin; (void)height; (void)width; (void)weights; (void)cout; (void)out;
    return 0;
}

int pfs_conv3x3_weight_gradient_padded_avx2(const float *padded, long paddedImage, const float *gradOut,
                                            long gradStride, int images, int cin, int height, int width, int cout,
                                            float *dw) {
    (void)padded; (void)paddedImage; (void)gradOut; (void)gradStride; (void)images; (void)cin; (void)height;
    (void)width; (void)cout; (void)dw;
    return 0;
}

int pfs_conv3x3_forward_avx2(const float *in, long channelStride, int cin, long plane, int ntaps,
                             const long *offsets, const int *laneMasks, const float *weights, int cout, float *out) {
    (void)in; (void)channelStride; (void)cin; (void)plane; (void)ntaps; (void)offsets; (void)laneMasks;
    (void)weights; (void)cout; (void)out;
    return 0;
}

int pfs_conv3x3_weight_gradient_avx2(const float *in, long inStride, long channelStride, const long *offsets,
                                     const int *laneMasks, const float *gradOut, long gradStride, int images,
                                     int cin, long plane, int cout, float *dw) {
    (void)in; (void)inStride; (void)channelStride; (void)offsets; (void)laneMasks; (void)gradOut; (void)gradStride;
    (void)images; (void)cin; (void)plane; (void)cout; (void)dw;
    return 0;
}

int pfs_conv3x3_im2col_avx2(const float *in, long channelStride, int cin, long plane, int ntaps, const long *offsets,
                            const int *laneMasks, float *col, long ld) {
    (void)in; (void)channelStride; (void)cin; (void)plane; (void)ntaps; (void)offsets; (void)laneMasks; (void)col;
    (void)ld;
    return 0;
}

int pfs_conv3x3_col2im_avx2(const float *col, long ld, int cin, long plane, int ntaps, const long *offsets,
                            const int *laneMasks, float *out, long channelStride) {
    (void)col; (void)ld; (void)cin; (void)plane; (void)ntaps; (void)offsets; (void)laneMasks; (void)out;
    (void)channelStride;
    return 0;
}

#endif
