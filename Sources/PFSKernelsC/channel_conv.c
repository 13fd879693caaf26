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
#include "lanes.h"

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

__attribute__((target("avx512f")))
int pfs_conv3x3_pad(const float *in, long channelStride, int cin, int height, int width, float *padded) {
    // Masked vector copies: rows are 8 to 32 floats, too short for memcpy to pay for its call.
    const long pw = width + 2, pp = (long)(height + 2) * pw;
    const __m512 zero = _mm512_setzero_ps();
    for (int c = 0; c < cin; ++c) {
        float *d = padded + c * pp, *last = d + (height + 1) * pw;
        for (long x0 = 0; x0 < pw; x0 += 16) {
            const __mmask16 m = pfs_lanes(pw - x0);
            _mm512_mask_storeu_ps(d + x0, m, zero);
            _mm512_mask_storeu_ps(last + x0, m, zero);
        }
        for (int y = 0; y < height; ++y) {
            float *row = d + (y + 1) * pw;
            const float *src = in + c * channelStride + (long)y * width;
            row[0] = 0;
            for (long x0 = 0; x0 < width; x0 += 16) {
                const __mmask16 m = pfs_lanes(width - x0);
                _mm512_mask_storeu_ps(row + 1 + x0, m, _mm512_maskz_loadu_ps(m, src + x0));
            }
            row[width + 1] = 0;
        }
    }
    return 1;
}

__attribute__((target("avx512f,fma")))
int pfs_conv3x3_forward_channels(const float *in, long inImage, int images, int cin, int height, int width,
                                 const float *weights, int cout, float *padded, float *out, long outImage) {
    const int wide = width % 16 == 0;
    if (!wide && !(width == 8 && height % 2 == 0)) return 0;
    const long pw = width + 2, pp = (long)(height + 2) * pw, plane = (long)height * width, paddedImage = cin * pp;
    for (int n = 0; n < images; ++n) pfs_conv3x3_pad(in + n * inImage, plane, cin, height, width, padded + n * paddedImage);
    // Images inside the block of 16 output channels, so that its weights (cin·9·16 floats) are read
    // from L2 once per image rather than from memory.
    for (int o0 = 0; o0 < cout; o0 += 16) {
        const int nstore = cout - o0 < 16 ? cout - o0 : 16;
        const float *w = weights + (long)(o0 / 16) * cin * 144;
        for (int n = 0; n < images; ++n) {
            const float *image = padded + n * paddedImage;
            float *o = out + n * outImage + (long)o0 * plane;
            if (wide) {
                for (int y = 0; y < height; ++y) {
                    for (int x0 = 0; x0 < width; x0 += 16) {
                        channel_block(image + y * pw + x0, pw, pp, cin, w, 16, o, plane, (long)y * width + x0, nstore);
                    }
                }
            } else {
                for (int y = 0; y < height; y += 2) channel_block(image + y * pw, pw, pp, cin, w, 8, o, plane, (long)y * width, nstore);
            }
        }
    }
    return 1;
}

// MARK: weight gradient

__attribute__((target("avx512f")))
int pfs_transpose_channels(const float *in, int channels, long plane, float *out) {
    for (int o0 = 0; o0 < channels; o0 += 16) {
        const int rows = channels - o0 < 16 ? channels - o0 : 16;
        float *dst = out + (long)(o0 / 16) * plane * 16;
        for (long p0 = 0; p0 < plane; p0 += 16) {
            const long n = plane - p0 < 16 ? plane - p0 : 16;
            const __mmask16 m = pfs_lanes(n);
            __m512 r[16];
            for (int k = 0; k < 16; ++k) {
                r[k] = k < rows ? _mm512_maskz_loadu_ps(m, in + (long)(o0 + k) * plane + p0) : _mm512_setzero_ps();
            }
            transpose16(r);
            // r[j] is pixel p0 + j's 16 channels; only the plane's n pixels are stored.
            for (long j = 0; j < n; ++j) _mm512_storeu_ps(dst + (p0 + j) * 16, r[j]);
        }
    }
    return 1;
}

#define PFS_R9(X, a) X(a, 0) X(a, 1) X(a, 2) X(a, 3) X(a, 4) X(a, 5) X(a, 6) X(a, 7) X(a, 8)
#define PFS_WZ(a, t) __m512 a##t = _mm512_setzero_ps();
#define PFS_WF(a, t) a##t = _mm512_fmadd_ps(g, _mm512_set1_ps(a##row[((t) / 3) * pw + (t) % 3]), a##t);
#define PFS_WS(a, t) _mm512_mask_storeu_ps(a##dw + (t) * cout, stored, _mm512_add_ps(_mm512_maskz_loadu_ps(stored, a##dw + (t) * cout), a##t));

// dw[c..c+k-1][taps][o0..o0+15] for k = 2 (or 1) input channels: 9·k accumulators of 16 output
// channels over every pixel of every image, one dY vector per pixel.
__attribute__((target("avx512f,fma"), always_inline))
static inline void weight_channels(const float *padded, long imageFloats, const float *gradT, long gradFloats,
                                   int images, int height, int width, int c, int two, int o0, int cout, float *dw) {
    const long pw = width + 2, pp = (long)(height + 2) * pw, plane = (long)height * width;
    const __mmask16 stored = pfs_lanes(cout - o0);
    PFS_R9(PFS_WZ, a) PFS_R9(PFS_WZ, b)
    for (int n = 0; n < images; ++n) {
        const float *x0 = padded + n * imageFloats + c * pp, *x1 = x0 + pp;
        const float *d = gradT + n * gradFloats + (long)(o0 / 16) * plane * 16;
        for (int y = 0; y < height; ++y) {
            for (int x = 0; x < width; ++x) {
                const __m512 g = _mm512_loadu_ps(d + ((long)y * width + x) * 16);
                const float *arow = x0 + y * pw + x, *brow = x1 + y * pw + x;
                PFS_R9(PFS_WF, a)
                if (two) { PFS_R9(PFS_WF, b) }
            }
        }
    }
    float *adw = dw + (long)c * 9 * cout + o0, *bdw = adw + 9 * cout;
    PFS_R9(PFS_WS, a)
    if (two) { PFS_R9(PFS_WS, b) }
}

__attribute__((target("avx512f,fma")))
int pfs_conv3x3_weight_gradient_channels(const float *padded, const float *gradT, int images, int cin, int height,
                                         int width, int cout, float *dw) {
    const long imageFloats = (long)cin * (height + 2) * (width + 2);
    const long gradFloats = (long)(cout + 15) / 16 * 16 * height * width;
    for (int o0 = 0; o0 < cout; o0 += 16) {
        int c = 0;
        for (; c + 1 < cin; c += 2) {
            weight_channels(padded, imageFloats, gradT, gradFloats, images, height, width, c, 1, o0, cout, dw);
        }
        if (c < cin) weight_channels(padded, imageFloats, gradT, gradFloats, images, height, width, c, 0, o0, cout, dw);
    }
    return 1;
}

#else

int pfs_conv3x3_forward_channels(const float *in, long inImage, int images, int cin, int height, int width,
                                 const float *weights, int cout, float *padded, float *out, long outImage) {
    (void)in; (void)inImage; (void)images; (void)cin; (void)height; (void)width; (void)weights; (void)cout;
    (void)padded; (void)out; (void)outImage;
    return 0;
}

int pfs_conv3x3_pad(const float *in, long channelStride, int cin, int height, int width, float *padded) {
    (void)in; (void)channelStride; (void)cin; (void)height; (void)width; (void)padded;
    return 0;
}

int pfs_transpose_channels(const float *in, int channels, long plane, float *out) {
    (void)in; (void)channels; (void)plane; (void)out;
    return 0;
}

int pfs_conv3x3_weight_gradient_channels(const float *padded, const float *gradT, int images, int cin, int height,
                                         int width, int cout, float *dw) {
    (void)padded; (void)gradT; (void)images; (void)cin; (void)height; (void)width; (void)cout; (void)dw;
    return 0;
}

#endif
