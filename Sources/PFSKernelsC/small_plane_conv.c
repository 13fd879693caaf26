// 3x3 stride-1 pad-1 convolutions of small planes (under 64 pixels) as an implicit GEMM that skips
// the taps reading zero padding (see include/PFSKernelsC.h).
//
// On a 4x4 plane 31 % of the multiply-adds of im2col + SGEMM hit the zero border, on 2x2 56 %, on
// 1x1 89 %: a corner pixel reads 4 of the 9 taps. The output pixels fall into at most 3 x 3
// classes, by which kernel rows (ki) and columns (kj) read inside the plane: the first row reads
// ki = 1...2, the last 0...1, the others 0...2 (one row alone reads ki = 1 only), and the same
// for columns. For one class the product is a GEMM
//
//     Y[o, (n, y, x)] = sum over (ki, kj, c) of the class's taps of  A[o, (ki, kj, c)] . X[n, c, y + ki - 1, x + kj - 1]
//
// with A the weights in (ki, kj, c) order, so the class's taps are one to three contiguous
// segments of A's columns (one per kernel row; one in all when every kernel column is valid).
// Columns (image, pixel) are taken NR at a time: their inputs are gathered into a packed panel
// (K_class x NR, the class's taps only), then every MR-row panel of A runs the register-blocked
// micro-kernel over the segments and the MR x NR result is scattered into the NCHW output.
// K is not blocked: a B panel (up to 9 cin NR floats) stays in L2 and the A panels stream through
// it. A plain GEMM test of the same micro-kernel (512 x 448 x 4608, one thread, Zen 4) ran about
// 5-10 % slower unblocked than with K blocks of 256 (86 vs 91-94 GFLOPS): room left for later.
//
// One source serves both vector widths: the kernel is written with clang vector extensions and
// instantiated for AVX-512 (16 lanes, MR 12, NR 32: 24 accumulators) and AVX2 + FMA (8 lanes,
// MR 6, NR 16: 12 accumulators) by per-function target attributes.
#include "PFSKernelsC.h"

#if defined(__x86_64__) && defined(__clang__)

typedef float pfs_f16 __attribute__((ext_vector_type(16)));
typedef float pfs_f16u __attribute__((ext_vector_type(16), aligned(4)));
typedef float pfs_f8 __attribute__((ext_vector_type(8)));
typedef float pfs_f8u __attribute__((ext_vector_type(8), aligned(4)));

#define PFS_SP_MR512 12
#define PFS_SP_NR512 32
#define PFS_SP_MR256 6
#define PFS_SP_NR256 16

static int sp_mr(int isa) { return isa >= 2 ? PFS_SP_MR512 : PFS_SP_MR256; }
static int sp_nr(int isa) { return isa >= 2 ? PFS_SP_NR512 : PFS_SP_NR256; }

void pfs_small_conv_panel_shape(int isa, int *rows, int *columns) {
    *rows = sp_mr(isa);
    *columns = sp_nr(isa);
}

long pfs_small_conv_packed_count(int rows, int inputs, int isa) {
    const long mr = sp_mr(isa);
    return (rows + mr - 1) / mr * mr * 9L * inputs;
}

// Floats of packed B panels a forward call keeps at once: one A panel then runs over all of them
// while it is in L2, so that it streams from memory once per group instead of once per panel
// (AVX2's panels of 16 columns otherwise read all of A twice as often as AVX-512's 32).
#define PFS_SP_B_FLOATS (160L * 1024)
#define PFS_SP_MAX_GROUP 4

// Panels of `kc` rows a forward call groups, with room for `limit`.
static long sp_group(long kc, int nr, long limit) {
    const long g = PFS_SP_B_FLOATS / (kc * nr);
    return g < 1 ? 1 : g > limit ? limit : g;
}

long pfs_small_conv_scratch_count(int inputs, int isa) {
    const int nr = sp_nr(isa);
    const long group = sp_group(9L * inputs, nr, PFS_SP_MAX_GROUP);
    return group * 9L * inputs * nr + group * 4L * nr + (long)sp_mr(isa) * nr;
}

// Panels of MR rows: packed[((r / MR) * 9 * inputs + k) * MR + r % MR] = A[r, k], k = (ki * 3 + kj) * inputs + c,
// zero for rows past `rows`. Forward: rows = cout, inputs = cin, A[o, k] = w[o, c, ki, kj]. Transposed (the
// input gradient, a convolution of dY with the flipped weights): rows = cin, inputs = cout,
// A[c, k(ki, kj, o)] = w[o, c, 2 - ki, 2 - kj].
int pfs_small_conv_pack(const float *weight, int cout, int cin, int transposed, int isa, int firstPanel,
                        int endPanel, float *packed) {
    const int mr = sp_mr(isa);
    const int rows = transposed ? cin : cout, inputs = transposed ? cout : cin;
    const int end = endPanel * mr < rows ? endPanel * mr : rows;
    // Each panel reads the 9 taps of MR rows (forward) or MR input channels (transposed) of w
    // input by input, and writes 9 sequential streams, one per tap.
    for (int r0 = firstPanel * mr; r0 < end; r0 += mr) {
        const int n = rows - r0 < mr ? rows - r0 : mr;
        float *panel = packed + (long)r0 * 9 * inputs;
        for (int i = 0; i < inputs; i++) {
            for (int u = 0; u < 9; u++) {
                float *dst = panel + ((long)u * inputs + i) * mr;
                int r = 0;
                if (transposed) {
                    const float *src = weight + ((long)i * cin + r0) * 9 + (8 - u);
                    for (; r < n; r++) dst[r] = src[r * 9];
                } else {
                    const float *src = weight + ((long)r0 * cin + i) * 9 + u;
                    for (; r < n; r++) dst[r] = src[(long)r * cin * 9];
                }
                for (; r < mr; r++) dst[r] = 0;
            }
        }
    }
    return 1;
}

// The kernel rows (or columns) a line reads inside the plane: [lo, hi] of 0...2.
static void sp_range(int line, int size, int *lo, int *hi) {
    *lo = line == 0 ? 1 : 0;
    *hi = line == size - 1 ? 1 : 2;
}

// A class of output pixels: rows [y0, y1) x columns [x0, x1), all reading kernel rows [rlo, rhi]
// and kernel columns [clo, chi] inside the plane.
typedef struct { int y0, y1, x0, x1, rlo, rhi, clo, chi; } sp_class;

// Lines [first, end) with the same range as `first`.
static int sp_class_end(int first, int size) {
    int lo, hi, l2, h2, end = first + 1;
    sp_range(first, size, &lo, &hi);
    while (end < size) {
        sp_range(end, size, &l2, &h2);
        if (l2 != lo || h2 != hi) break;
        end++;
    }
    return end;
}

// The (at most 3 x 3) classes of a height x width plane, row-major; returns how many.
static int sp_classes(int height, int width, sp_class *classes) {
    int count = 0;
    for (int y0 = 0; y0 < height;) {
        const int y1 = sp_class_end(y0, height);
        for (int x0 = 0; x0 < width;) {
            const int x1 = sp_class_end(x0, width);
            sp_class k = {y0, y1, x0, x1, 0, 0, 0, 0};
            sp_range(y0, height, &k.rlo, &k.rhi);
            sp_range(x0, width, &k.clo, &k.chi);
            classes[count++] = k;
            x0 = x1;
        }
        y0 = y1;
    }
    return count;
}

// Columns [j0, j0 + n) of a class (image-major, then the class's pixels row by row): the offset of
// each one's pixel in two NCHW tensors with `strideA` and `strideB` floats per image.
static void sp_offsets(const sp_class *k, int width, long j0, long n, long strideA, long *a, long strideB, long *b) {
    const int cw = k->x1 - k->x0;
    const long pixels = (long)(k->y1 - k->y0) * cw;
    for (long j = 0; j < n; j++) {
        const long column = j0 + j, image = column / pixels, q = column % pixels;
        const long pixel = (k->y0 + q / cw) * (long)width + k->x0 + q % cw;
        a[j] = image * strideA + pixel;
        b[j] = image * strideB + pixel;
    }
}

// acc (MR x NR) = sum over segments of A panel columns [start, start + length) times the packed B rows, in order.
#define PFS_SP_KERNEL(NAME, TARGET, VEC, VECU, LANES, MR)                                                    \
    __attribute__((target(TARGET)))                                                                          \
    static void NAME(int nseg, const long *start, const long *length, const float *apanel, const float *b,  \
                     float *tile) {                                                                          \
        VEC acc[MR][2];                                                                                      \
        _Pragma("unroll") for (int i = 0; i < MR; i++) { acc[i][0] = (VEC)0.0f; acc[i][1] = (VEC)0.0f; }     \
        for (int s = 0; s < nseg; s++) {                                                                     \
            const float *a = apanel + start[s] * MR;                                                         \
            for (long p = 0; p < length[s]; p++) {                                                           \
                const VEC b0 = *(const VECU *)b, b1 = *(const VECU *)(b + LANES);                            \
                _Pragma("unroll") for (int i = 0; i < MR; i++) {                                             \
                    const VEC ai = (VEC)a[i];                                                                \
                    acc[i][0] = __builtin_elementwise_fma(ai, b0, acc[i][0]);                                \
                    acc[i][1] = __builtin_elementwise_fma(ai, b1, acc[i][1]);                                \
                }                                                                                            \
                a += MR;                                                                                     \
                b += 2 * LANES;                                                                              \
            }                                                                                                \
        }                                                                                                    \
        _Pragma("unroll") for (int i = 0; i < MR; i++) {                                                     \
            *(VECU *)(tile + i * 2 * LANES) = acc[i][0];                                                     \
            *(VECU *)(tile + i * 2 * LANES + LANES) = acc[i][1];                                             \
        }                                                                                                    \
    }

PFS_SP_KERNEL(sp_kernel512, "avx512f", pfs_f16, pfs_f16u, 16, PFS_SP_MR512)
PFS_SP_KERNEL(sp_kernel256, "avx2,fma", pfs_f8, pfs_f8u, 8, PFS_SP_MR256)

int pfs_small_conv_forward(const float *in, long inImage, int images, int cin, int height, int width,
                           const float *packed, int cout, int firstPanel, int endPanel, float *out, long outImage,
                           float *scratch, int isa) {
    const int mr = sp_mr(isa), nr = sp_nr(isa);
    const long plane = (long)height * width, k9 = 9L * cin, room = sp_group(k9, nr, PFS_SP_MAX_GROUP);
    float *bpanels = scratch;                                             // room panels of k9 x nr
    long *inOffset = (long *)(scratch + room * k9 * nr), *outOffset = inOffset + room * nr;
    float *tile = (float *)(outOffset + room * nr);
    long start[3], length[3];
    sp_class classes[9];
    const int nclasses = sp_classes(height, width, classes);
    for (int ci = 0; ci < nclasses; ci++) {
        const sp_class *k = &classes[ci];
        // The class's taps: one segment per kernel row, merged when contiguous.
        int nseg = 0;
        long kc = 0;
        for (int ki = k->rlo; ki <= k->rhi; ki++) {
            const long s = (ki * 3L + k->clo) * cin, l = (k->chi - k->clo + 1L) * cin;
            if (nseg > 0 && start[nseg - 1] + length[nseg - 1] == s) length[nseg - 1] += l;
            else { start[nseg] = s; length[nseg] = l; nseg++; }
            kc += l;
        }
        const long pixels = (long)(k->y1 - k->y0) * (k->x1 - k->x0), columns = images * pixels;
        const long group = sp_group(kc, nr, room), step = group * nr;
        for (long j0 = 0; j0 < columns; j0 += step) {
            const long n = columns - j0 < step ? columns - j0 : step, npanels = (n + nr - 1) / nr;
            sp_offsets(k, width, j0, n, inImage, inOffset, outImage, outOffset);
            // B panel q (kc x nr): row (ki, kj, c) of its column j = in[c][y + ki - 1][x + kj - 1] of its image.
            for (long q = 0; q < npanels; q++) {
                const long *offsets = inOffset + q * nr;
                const int m = (int)(n - q * nr < nr ? n - q * nr : nr);
                float *b = bpanels + q * kc * nr;
                for (int ki = k->rlo; ki <= k->rhi; ki++) {
                    for (int kj = k->clo; kj <= k->chi; kj++) {
                        const float *base = in + (ki - 1) * (long)width + (kj - 1);
                        for (int c = 0; c < cin; c++, b += nr) {
                            const float *src = base + c * plane;
                            int j = 0;
                            for (; j < m; j++) b[j] = src[offsets[j]];
                            for (; j < nr; j++) b[j] = 0;
                        }
                    }
                }
            }
            for (int panel = firstPanel; panel < endPanel; panel++) {
                const float *apanel = packed + (long)panel * k9 * mr;
                const int rows = cout - panel * mr < mr ? cout - panel * mr : mr;
                for (long q = 0; q < npanels; q++) {
                    if (isa >= 2) sp_kernel512(nseg, start, length, apanel, bpanels + q * kc * nr, tile);
                    else sp_kernel256(nseg, start, length, apanel, bpanels + q * kc * nr, tile);
                    const long *offsets = outOffset + q * nr;
                    const int m = (int)(n - q * nr < nr ? n - q * nr : nr);
                    for (int i = 0; i < rows; i++) {
                        float *o = out + ((long)panel * mr + i) * plane;
                        const float *t = tile + i * nr;
                        for (int j = 0; j < m; j++) o[offsets[j]] = t[j];
                    }
                }
            }
        }
    }
    return 1;
}

// MARK: weight gradient

// Columns (image, pixel) of a class taken at a time by the weight gradient: the packed dY rows
// (cout x PFS_SP_WG_COLUMNS floats) stay in L2 while every tap and channel block runs over them.
#define PFS_SP_WG_COLUMNS 256

int pfs_small_conv_channel_blocks(int cin, int isa) { return (cin + sp_nr(isa) - 1) / sp_nr(isa); }

long pfs_small_conv_weight_gradient_scratch_count(int cout, int isa) {
    const long mr = sp_mr(isa), nr = sp_nr(isa), rows = (cout + mr - 1) / mr * mr;
    return rows * PFS_SP_WG_COLUMNS + PFS_SP_WG_COLUMNS * nr + 4L * PFS_SP_WG_COLUMNS + mr * nr;
}

// Per class, dW[o, c, ki, kj] += sum over its columns of dY[o, column] . in[c, column + tap]: a GEMM
// (cout x columns) . (columns x NR channels) for each of the class's taps and each channel block,
// with the same micro-kernel (the columns are its reduction), the result added into dW.
int pfs_small_conv_weight_gradient(const float *in, long inImage, const float *gradOut, long gradImage, int images,
                                   int cin, int height, int width, int cout, int firstBlock, int endBlock, float *dw,
                                   float *scratch, int isa) {
    const int mr = sp_mr(isa), nr = sp_nr(isa), panels = (cout + mr - 1) / mr;
    const long plane = (long)height * width;
    float *apack = scratch, *bpack = apack + (long)panels * mr * PFS_SP_WG_COLUMNS;
    long *inOffset = (long *)(bpack + (long)PFS_SP_WG_COLUMNS * nr), *gradOffset = inOffset + PFS_SP_WG_COLUMNS;
    float *tile = (float *)(gradOffset + PFS_SP_WG_COLUMNS);
    sp_class classes[9];
    const int nclasses = sp_classes(height, width, classes);
    for (int ci = 0; ci < nclasses; ci++) {
        const sp_class *k = &classes[ci];
        const long pixels = (long)(k->y1 - k->y0) * (k->x1 - k->x0), columns = images * pixels;
        for (long j0 = 0; j0 < columns; j0 += PFS_SP_WG_COLUMNS) {
            const long n = columns - j0 < PFS_SP_WG_COLUMNS ? columns - j0 : PFS_SP_WG_COLUMNS;
            sp_offsets(k, width, j0, n, inImage, inOffset, gradImage, gradOffset);
            // A: panel-major, apack[(panel * n + j) * MR + i] = dY[panel * MR + i] at column j (0 past cout).
            for (int panel = 0; panel < panels; panel++) {
                float *a = apack + (long)panel * n * mr;
                for (long j = 0; j < n; j++, a += mr) {
                    const float *src = gradOut + gradOffset[j] + (long)panel * mr * plane;
                    for (int i = 0; i < mr; i++) a[i] = panel * mr + i < cout ? src[i * plane] : 0;
                }
            }
            for (int ki = k->rlo; ki <= k->rhi; ki++) {
                for (int kj = k->clo; kj <= k->chi; kj++) {
                    const int t = ki * 3 + kj;
                    for (int block = firstBlock; block < endBlock; block++) {
                        const int c0 = block * nr, nc = cin - c0 < nr ? cin - c0 : nr;
                        // B: bpack[j * NR + u] = in[c0 + u] at column j shifted by the tap (0 past cin).
                        const float *base = in + (long)c0 * plane + (ki - 1) * (long)width + (kj - 1);
                        float *b = bpack;
                        for (long j = 0; j < n; j++, b += nr) {
                            const float *src = base + inOffset[j];
                            int u = 0;
                            for (; u < nc; u++) b[u] = src[u * plane];
                            for (; u < nr; u++) b[u] = 0;
                        }
                        const long start = 0, length = n;
                        for (int panel = 0; panel < panels; panel++) {
                            if (isa >= 2) sp_kernel512(1, &start, &length, apack + (long)panel * n * mr, bpack, tile);
                            else sp_kernel256(1, &start, &length, apack + (long)panel * n * mr, bpack, tile);
                            const int rows = cout - panel * mr < mr ? cout - panel * mr : mr;
                            for (int i = 0; i < rows; i++) {
                                float *d = dw + ((long)(panel * mr + i) * cin + c0) * 9 + t;
                                const float *g = tile + i * nr;
                                for (int u = 0; u < nc; u++) d[u * 9] += g[u];
                            }
                        }
                    }
                }
            }
        }
    }
    return 1;
}

#else

void pfs_small_conv_panel_shape(int isa, int *rows, int *columns) {
    (void)isa;
    *rows = 0;
    *columns = 0;
}
long pfs_small_conv_packed_count(int rows, int inputs, int isa) { (void)rows; (void)inputs; (void)isa; return 0; }
long pfs_small_conv_scratch_count(int inputs, int isa) { (void)inputs; (void)isa; return 0; }
int pfs_small_conv_pack(const float *weight, int cout, int cin, int transposed, int isa, int firstPanel,
                        int endPanel, float *packed) {
    (void)weight; (void)cout; (void)cin; (void)transposed; (void)isa; (void)firstPanel; (void)endPanel; (void)packed;
    return 0;
}
int pfs_small_conv_forward(const float *in, long inImage, int images, int cin, int height, int width,
                           const float *packed, int cout, int firstPanel, int endPanel, float *out, long outImage,
                           float *scratch, int isa) {
    (void)in; (void)inImage; (void)images; (void)cin; (void)height; (void)width; (void)packed; (void)cout;
    (void)firstPanel; (void)endPanel; (void)out; (void)outImage; (void)scratch; (void)isa;
    return 0;
}

int pfs_small_conv_channel_blocks(int cin, int isa) { (void)cin; (void)isa; return 0; }
long pfs_small_conv_weight_gradient_scratch_count(int cout, int isa) { (void)cout; (void)isa; return 0; }
int pfs_small_conv_weight_gradient(const float *in, long inImage, const float *gradOut, long gradImage, int images,
                                   int cin, int height, int width, int cout, int firstBlock, int endBlock, float *dw,
                                   float *scratch, int isa) {
    (void)in; (void)inImage; (void)gradOut; (void)gradImage; (void)images; (void)cin; (void)height; (void)width;
    (void)cout; (void)firstBlock; (void)endBlock; (void)dw; (void)scratch; (void)isa;
    return 0;
}

#endif
