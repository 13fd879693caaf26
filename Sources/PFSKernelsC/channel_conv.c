// Direct 3x3 stride-1 pad-1 convolution with output channels in the vector lanes (see
// include/PFSKernelsC.h).
//
// direct_conv.c puts 16 output pixels in a vector and broadcasts weights; this kernel does the
// transpose of that: a vector holds 16 output channels of one pixel, each FMA broadcasts one
// input value straight from memory (an embedded-broadcast operand, no separate load), and one
// weight vector serves 16 pixels. The zero padding comes from a padded copy of the image, so no
// tap needs a mask; at the end of a block the 16 x 16 accumulators are transposed in registers
// and stored as 16 contiguous pixels of each output plane (NCHW).
#include "PFSKernelsC.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#include <string.h>

// r[i] (row i) becomes column i of the 16 x 16 matrix held in r.
__attribute__((target("avx512f"), always_inline))
static inline void transpose16(__m512 r[16]) {
    __m512 t[16], u[16];
    for (int i = 0; i < 8; ++i) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; ++i) {
        const __m512d t0 = _mm512_castps_pd(t[4 * i]), t1 = _mm512_castps_pd(t[4 * i + 1]);
        const __m512d t2 = _mm512_castps_pd(t[4 * i + 2]), t3 = _mm512_castps_pd(t[4 * i + 3]);
        u[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
        u[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
        u[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
        u[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
    }
    // u[4i + k] holds, in 128-bit quarter q, rows 4i..4i+3 of column 4q + k.
    for (int i = 0; i < 2; ++i) {
        for (int k = 0; k < 4; ++k) {
            t[8 * i + k] = _mm512_shuffle_f32x4(u[8 * i + k], u[8 * i + 4 + k], 0x88);
            t[8 * i + 4 + k] = _mm512_shuffle_f32x4(u[8 * i + k], u[8 * i + 4 + k], 0xDD);
        }
    }
    for (int k = 0; k < 8; ++k) {
        r[k] = _mm512_shuffle_f32x4(t[k], t[8 + k], 0x88);
        r[8 + k] = _mm512_shuffle_f32x4(t[k], t[8 + k], 0xDD);
    }
}

#define PFS_R16(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)

// 16 output channels x 16 output pixels. The pixels are `rows` = 16 / `run` rows of `run`
// pixels, whose top-left neighbour (the tap (0, 0) of the first pixel) is at `base` in the
// padded image; they are 16 consecutive pixels of the output plane starting at p0.
__attribute__((target("avx512f,fma"), always_inline))
static inline void channel_block(const float *base, long paddedWidth, long paddedPlane, int cin,
                                 const float *weights, int run, float *out, long plane, long p0, int nstore) {
#define PFS_ZERO(j) __m512 a##j = _mm512_setzero_ps();
    PFS_R16(PFS_ZERO)
#undef PFS_ZERO
    for (int c = 0; c < cin; ++c) {
        const float *image = base + c * paddedPlane, *wc = weights + (long)c * 144;
        for (int ki = 0; ki < 3; ++ki) {
            for (int kj = 0; kj < 3; ++kj) {
                const __m512 w = _mm512_loadu_ps(wc + (ki * 3 + kj) * 16);
                const float *s = image + ki * paddedWidth + kj;
#define PFS_FMA(j) a##j = _mm512_fmadd_ps(w, _mm512_set1_ps(s[((j) / run) * paddedWidth + (j) % run]), a##j);
                PFS_R16(PFS_FMA)
#undef PFS_FMA
            }
        }
    }
    __m512 r[16] = {a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15};
    transpose16(r);
    for (int k = 0; k < nstore; ++k) _mm512_storeu_ps(out + k * plane + p0, r[k]);
}

// (cin, h, w) planes `channelStride` apart → (cin, h + 2, w + 2) with a zero border.
static void pad_image(const float *in, long channelStride, int cin, int h, int w, float *padded) {
    const long pw = w + 2, pp = (long)(h + 2) * pw;
    for (int c = 0; c < cin; ++c) {
        float *d = padded + c * pp;
        memset(d, 0, sizeof(float) * pw);
        memset(d + (h + 1) * pw, 0, sizeof(float) * pw);
        for (int y = 0; y < h; ++y) {
            float *row = d + (y + 1) * pw;
            row[0] = 0;
            memcpy(row + 1, in + c * channelStride + (long)y * w, sizeof(float) * w);
            row[w + 1] = 0;
        }
    }
}

__attribute__((target("avx512f,fma")))
int pfs_conv3x3_forward_channels(const float *in, long channelStride, int cin, int height, int width,
                                 const float *weights, int cout, float *padded, float *out) {
    const int wide = width % 16 == 0, pairs = width == 8 && height % 2 == 0;
    if (!wide && !pairs) return 0;
    pad_image(in, channelStride, cin, height, width, padded);
    const long pw = width + 2, pp = (long)(height + 2) * pw, plane = (long)height * width;
    for (int o0 = 0; o0 < cout; o0 += 16) {
        const int nstore = cout - o0 < 16 ? cout - o0 : 16;
        const float *w = weights + (long)(o0 / 16) * cin * 144;
        float *o = out + (long)o0 * plane;
        if (wide) {
            for (int y = 0; y < height; ++y) {
                for (int x0 = 0; x0 < width; x0 += 16) {
                    channel_block(padded + y * pw + x0, pw, pp, cin, w, 16, o, plane, (long)y * width + x0, nstore);
                }
            }
        } else {
            for (int y = 0; y < height; y += 2) {
                channel_block(padded + y * pw, pw, pp, cin, w, 8, o, plane, (long)y * width, nstore);
            }
        }
    }
    return 1;
}

#else

int pfs_conv3x3_forward_channels(const float *in, long channelStride, int cin, int height, int width,
                                 const float *weights, int cout, float *padded, float *out) {
    (void)in; (void)channelStride; (void)cin; (void)height; (void)width; (void)weights; (void)cout; (void)padded;
    (void)out;
    return 0;
}

#endif
