#ifndef PFS_KERNELS_C_H
#define PFS_KERNELS_C_H

/// Vector kernels that need instructions the Swift compiler will not emit without a target-CPU
/// flag (which a package manifest may only pass through `unsafeFlags`). Each function carries a
/// `target` attribute and is called only after `pfs_cpu_has_avx512()` said yes; on other CPUs and
/// architectures the Swift engine keeps its portable path.

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when the CPU and the OS support AVX-512 F (ZMM state enabled in XCR0), else 0.
int pfs_cpu_has_avx512(void);

/// The widest vector instruction set the CPU and the OS support for these kernels: 2 = AVX-512 F,
/// 1 = AVX2 + FMA (YMM state enabled), 0 = neither (or not x86-64).
int pfs_cpu_isa(void);

/// Direct 3×3 convolution of one image, AVX-512, described by a tap table.
///
/// Output pixel p (of `plane` pixels) of output channel o is Σ_c Σ_t w[o, c, t] · in[c][p + offsets[t]]
/// over the `ntaps` taps, where input channel c starts at `in + c·channelStride` and the term is
/// taken only where bit (p mod 16) of masks[(p / 16)·ntaps + t] is set (elsewhere it is zero
/// padding). `masks` holds ntaps masks for each 16-pixel vector of the plane rounded up to a
/// multiple of 32 pixels, with no bits set past the plane. `weights` is
/// (cout_padded / 8, cin, ntaps, 8) with cout_padded = cout rounded up to a multiple of 8: each
/// block of 8 output channels has its weights in one contiguous run (the extra output channels have
/// zero weights and are not stored). `out` is (cout, plane) and is overwritten.
///
/// Stride 1, pad 1 on an h × w plane: 9 taps, offsets (ki − 1)·w + (kj − 1). Its input gradient is
/// the same with the flipped, transposed weights. There the last cout mod 8 channels are computed
/// alone (no multiply-adds for the zero-weight ones); with other tables the last block is whole.
int pfs_conv3x3_forward(const float *in, long channelStride, int cin, long plane, int ntaps,
                        const long *offsets, const unsigned short *masks, const float *weights,
                        int cout, float *out);

/// Direct 3×3 stride-1 pad-1 convolution of `images` images with output channels in the vector
/// lanes, AVX-512 (channel_conv.c): out[o][y][x] = Σ_c Σ_{ki,kj} w[o, c, ki, kj] · in[c][y + ki − 1][x + kj − 1],
/// zero outside the plane.
///
/// Image n is (cin, height·width) at `in + n·inImage`, its output (cout, height·width) at
/// `out + n·outImage` (overwritten). `weights` is (cout_padded / 16, cin, 9, 16), cout_padded =
/// cout rounded up to a multiple of 16 (zero weights beyond cout), taps in (ki, kj) order.
/// `padded` is scratch for images·cin·(height + 2)·(width + 2) floats. Returns 0 without doing
/// anything unless width is a multiple of 16, or 8 with an even height.
int pfs_conv3x3_forward_channels(const float *in, long inImage, int images, int cin, int height, int width,
                                 const float *weights, int cout, float *padded, float *out, long outImage);

/// The padded copy `pfs_conv3x3_forward_channels` makes: (cin, height, width) planes
/// `channelStride` apart → (cin, height + 2, width + 2) with a zero border.
int pfs_conv3x3_pad(const float *in, long channelStride, int cin, int height, int width, float *padded);

/// (channels, plane) → (channels_padded / 16, plane, 16), zero beyond `channels`
/// (channels_padded = channels rounded up to a multiple of 16): 16 channels of a pixel per vector.
int pfs_transpose_channels(const float *in, int channels, long plane, float *out);

/// Weight gradient of a 3×3 stride-1 pad-1 convolution with output channels in the vector lanes:
/// dw[c, t, o] += Σ_images Σ_p dY[o][p] · in[c][p + tap t] (zero outside the plane).
///
/// `padded` holds `images` consecutive `pfs_conv3x3_pad` copies of the input (cin channels each),
/// `gradT` as many `pfs_transpose_channels` copies of dY (cout channels each). `dw` is
/// (cin, 9, cout), output channels contiguous, and is accumulated into. No horizontal sums: each
/// accumulator holds 16 output channels of one (input channel, tap) over all pixels.
int pfs_conv3x3_weight_gradient_channels(const float *padded, const float *gradT, int images, int cin,
                                         int height, int width, int cout, float *dw);

/// Weight gradient of a direct 3×3 convolution described by a 9-tap table (as above) over `images`
/// images, AVX-512: dw[c, t, o] += Σ_images Σ_p dY[o][p] · in[c][p + offsets[t]] (masked).
///
/// Image n's input channel c starts at `in + n·inStride + c·channelStride` and its dY,
/// (cout, plane), at `gradOut + n·gradStride`. `dw` is (cin, 9, cout), output channels
/// contiguous (the kernel adds 8 of them with one vector), and is accumulated into.
int pfs_conv3x3_weight_gradient(const float *in, long inStride, long channelStride,
                                const long *offsets, const unsigned short *masks,
                                const float *gradOut, long gradStride, int images, int cin,
                                long plane, int cout, float *dw);

/// The column matrix of a convolution described by a tap table (as above), AVX-512: row
/// (c·ntaps + t) of `col` (row stride `ld`) receives in[c][p + offsets[t]] (masked, else 0) for the
/// `plane` output pixels p. The im2col of im2col + SGEMM without a padded copy.
int pfs_conv3x3_im2col(const float *in, long channelStride, int cin, long plane, int ntaps,
                       const long *offsets, const unsigned short *masks, float *col, long ld);

/// The adjoint of `pfs_conv3x3_im2col`: out[c][p + offsets[t]] += col[c·ntaps + t][p] where the
/// tap's mask is set (accumulates into `out`).
int pfs_conv3x3_col2im(const float *col, long ld, int cin, long plane, int ntaps,
                       const long *offsets, const unsigned short *masks, float *out, long channelStride);

/// Elementwise loops of BatchNorm (+ gate) + clamp, AVX-512 (the Swift `VectorKernels` call them
/// when the CPU has it). `clamp` is min(max(·, 0), ceiling) with NaN passed through; a "masked"
/// dy is dy where 0 < y < ceiling and 0 elsewhere, with y the clamp's output (no mask when y is
/// NULL).
///
/// y = scale·x + shift (+ a when `a` is not NULL), clamped when `clamp` is non-zero.
int pfs_vk_affine(const float *x, const float *a, float *y, long n, float scale, float shift,
                  int clamp, float ceiling);
/// *sum = Σ x, *ssd = Σ (x − m)² with m = Σ x / n: one plane's BatchNorm statistics (the second
/// loop reads what the first left in L1).
int pfs_vk_sum_deviations(const float *x, long n, float *sum, float *ssd);
/// *sum = Σ g, *dot = Σ g·(x − mean), g the (masked) dy.
int pfs_vk_sum_centered_dot(const float *dy, const float *y, float ceiling, const float *x, long n,
                            float mean, float *sum, float *dot);
/// out = a·g + b·x + c, g the (masked) dy.
int pfs_vk_combine(const float *dy, const float *y, float ceiling, const float *x, float *out, long n,
                   float a, float b, float c);

/// AVX2 + FMA versions (direct_conv_avx2.c, vector_kernels_avx2.c), for CPUs without AVX-512.
/// The convolution kernels take the tap table's lanes as `laneMasks` instead of 16-bit masks:
/// 8 int32 (−1 where the tap reads the image, else 0) for every 8-pixel vector of the plane
/// rounded up to 32 pixels and every tap, at ((p / 8)·ntaps + t)·8. Same results as above up to
/// the order of the additions. Call them only after `pfs_cpu_isa()` returned 1 or more.
int pfs_conv3x3_forward_avx2(const float *in, long channelStride, int cin, long plane, int ntaps,
                             const long *offsets, const int *laneMasks, const float *weights, int cout, float *out);
/// Floats a padded copy needs after its last channel: the stride-1 AVX2 kernels read up to 7
/// floats past the last padded row (in lanes they do not store or that meet a zero dY).
#define PFS_PAD_SLACK 16
/// (cin, height, width) planes `channelStride` apart → (cin, height + 2, width + 2) with a zero
/// border, then PFS_PAD_SLACK zeros (plain C).
int pfs_conv3x3_pad_slack(const float *in, long channelStride, int cin, int height, int width, float *padded);
/// Stride-1 pad-1 forward (or input gradient) of one image from its padded copy, no masks: weights
/// as for `pfs_conv3x3_forward` (blocks of 8 output channels, 9 taps), `out` (cout, height·width).
/// Output channels go in blocks of 4; the last cout mod 4 are computed alone.
int pfs_conv3x3_forward_padded_avx2(const float *padded, int cin, int height, int width, const float *weights,
                                    int cout, float *out);
/// Stride-1 pad-1 weight gradient from `images` padded copies `paddedImage` floats apart (the last
/// one followed by PFS_PAD_SLACK zeros) and dY (cout, height·width) per image, `gradStride` apart:
/// dw (cin, 9, cout) is accumulated into.
int pfs_conv3x3_weight_gradient_padded_avx2(const float *padded, long paddedImage, const float *gradOut,
                                            long gradStride, int images, int cin, int height, int width, int cout,
                                            float *dw);
int pfs_conv3x3_weight_gradient_avx2(const float *in, long inStride, long channelStride, const long *offsets,
                                     const int *laneMasks, const float *gradOut, long gradStride, int images,
                                     int cin, long plane, int cout, float *dw);
int pfs_conv3x3_im2col_avx2(const float *in, long channelStride, int cin, long plane, int ntaps,
                            const long *offsets, const int *laneMasks, float *col, long ld);
int pfs_conv3x3_col2im_avx2(const float *col, long ld, int cin, long plane, int ntaps, const long *offsets,
                            const int *laneMasks, float *out, long channelStride);
int pfs_vk_affine_avx2(const float *x, const float *a, float *y, long n, float scale, float shift,
                       int clamp, float ceiling);
int pfs_vk_sum_deviations_avx2(const float *x, long n, float *sum, float *ssd);
int pfs_vk_sum_centered_dot_avx2(const float *dy, const float *y, float ceiling, const float *x, long n,
                                 float mean, float *sum, float *dot);
int pfs_vk_combine_avx2(const float *dy, const float *y, float ceiling, const float *x, float *out, long n,
                        float a, float b, float c);

/// 3×3 stride-1 pad-1 convolution of small planes as an implicit GEMM that skips the taps reading
/// the zero border (small_plane_conv.c): out[o][y][x] = Σ_c Σ_{ki,kj} w[o, c, ki, kj] · in[c][y + ki − 1][x + kj − 1]
/// over the taps inside the plane only. `isa` 2 runs the AVX-512 instance (panels of 12 output
/// rows, 32 columns), 1 the AVX2 + FMA one (6 rows, 16 columns); call each only on a CPU that has it.
///
/// `packed` comes from `pfs_small_conv_pack` (`pfs_small_conv_packed_count(rows, inputs, isa)` floats):
/// the weights in panels of MR output rows, zero beyond the last, taps in (ki, kj, c) order. With
/// `transposed` 0 it packs w (cout, cin, 3, 3) for the forward (rows = cout, inputs = cin); with 1
/// for the input gradient, the convolution of dY with the flipped, transposed weights (rows = cin,
/// inputs = cout). It writes panels [firstPanel, endPanel) only, so that workers can share the packing.
/// `pfs_small_conv_panel_shape` gives the micro-kernel's rows per weight panel (MR) and columns per
/// packed input panel (NR) for `isa` (0 and 0 off x86-64).
void pfs_small_conv_panel_shape(int isa, int *rows, int *columns);
long pfs_small_conv_packed_count(int rows, int inputs, int isa);
int pfs_small_conv_pack(const float *weight, int cout, int cin, int transposed, int isa, int firstPanel,
                        int endPanel, float *packed);
/// Floats of scratch one call of `pfs_small_conv_forward` needs for `inputs` input channels.
long pfs_small_conv_scratch_count(int inputs, int isa);
/// The convolution of `images` images, image n (cin, height·width) at `in + n·inImage`, into output
/// rows (channels) [firstPanel·MR, min(endPanel·MR, cout)) of (cout, height·width) at `out + n·outImage`
/// (overwritten there). `cin` and `cout` are the packed inputs and rows.
int pfs_small_conv_forward(const float *in, long inImage, int images, int cin, int height, int width,
                           const float *packed, int cout, int firstPanel, int endPanel, float *out, long outImage,
                           float *scratch, int isa);
/// The weight gradient of the same convolution, skipping the same taps: dw (cout, cin, 3, 3) +=
/// Σ over the images and the taps inside the plane of dY[n, o, y, x] · in[n, c, y + ki − 1, x + kj − 1],
/// for the input channels of blocks [firstBlock, endBlock) only (`pfs_small_conv_channel_blocks`
/// blocks of 32 channels on AVX-512, 16 on AVX2), so that workers write disjoint parts of dw.
/// Image n's input is at `in + n·inImage`, its dY (cout, height·width) at `gradOut + n·gradImage`;
/// `scratch` holds `pfs_small_conv_weight_gradient_scratch_count(cout, isa)` floats.
int pfs_small_conv_channel_blocks(int cin, int isa);
long pfs_small_conv_weight_gradient_scratch_count(int cout, int isa);
int pfs_small_conv_weight_gradient(const float *in, long inImage, const float *gradOut, long gradImage, int images,
                                   int cin, int height, int width, int cout, int firstBlock, int endBlock, float *dw,
                                   float *scratch, int isa);

/// Each function above returns 1 on x86-64, and 0 without doing anything elsewhere. Call the
/// AVX-512 ones only after `pfs_cpu_has_avx512()` returned 1: they do not check (CPUID traps to the hypervisor on
/// virtual machines, and they run once per image and layer).

/// What a convolution's output pass applies before it stores, per output channel o:
/// y = clamp(scale[o]·v + shift[o] + addend), v the convolution's value — an inference-mode
/// BatchNorm (+ gate), residual add and ReLU fused into the convolution. The same arithmetic as
/// `pfs_vk_affine` (a product, then sums; no fused multiply-add), so fusing changes no bit.
/// `addend` (NULL: none) has the layout of the output and is read at the offsets written.
/// `clamp` 0: none; 1: min(max(·, 0), ceiling), NaN passing through.
typedef struct {
    const float *scale;
    const float *shift;
    const float *addend;
    int clamp;
    float ceiling;
} pfs_epilogue;

/// Winograd F(4×4, 3×3) weights for `pfs_wino_forward` (plain C, float arithmetic): for each
/// kernel output o and input i, U[ξ][o][i] = (G g Gᵀ)[ξ] with g = w[o][i] (C_out, C_in, 3, 3), or
/// with `transposed` (input gradients: outputs C_in, inputs C_out) g = w[i][o] rotated by 180°.
/// `u` holds 36·cout·cin floats.
int pfs_wino_weights(const float *w, int cout, int cin, int transposed, float *u);
/// Scratch floats one `pfs_wino_forward` call on `tiles` tiles needs.
long pfs_wino_scratch_floats(int cin, int cout, long tiles);
/// A 3×3 stride-1 pad-1 convolution by Winograd F(4×4, 3×3) on `tiles` 4×4 output tiles, starting
/// at tile `first` of the image at `x` (tiles run image by image, row by row; height and width are
/// multiples of 4): cin planes of height·width floats per image, `imageStride` apart, in; cout
/// planes per image, `outImageStride` apart, written at `y` (the image of x). `u` from
/// `pfs_wino_weights`. isa: 2 AVX-512, 1 AVX2 + FMA. `epilogue`: see `pfs_epilogue`, or NULL.
/// Returns 0 (and does nothing) for a shape it cannot run or without x86-64.
int pfs_wino_forward(int isa, const float *x, long imageStride, int cin, int h, int w, const float *u, int cout,
                     float *y, long outImageStride, long first, long tiles, float *scratch,
                     const pfs_epilogue *epilogue);

#ifdef __cplusplus
}
#endif

#endif
