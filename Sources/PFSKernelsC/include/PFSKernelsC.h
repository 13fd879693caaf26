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

/// Shifted planes of one image for the direct 3×3 stride-1 pad-1 kernels below.
///
/// `src` is (channels, h, w); `dst` receives (channels, 3, h + 2, w) floats with
/// dst[c][kj][y'][x] = x_padded[c][y'][x + kj], where x_padded has a zero border of one pixel. The
/// tap (ki, kj) of output pixel p = y·w + x is then dst[c][kj][p + ki·w].
int pfs_conv3x3_shift(const float *src, int channels, int h, int w, float *dst);

/// Direct 3×3, stride-1, pad-1 convolution of one image, AVX-512.
///
/// `shifted` is the input as written by `pfs_conv3x3_shift` (cin channels). `weights` is
/// (cout_padded / 8, cin, 3, 3, 8) with cout_padded = cout rounded up to a multiple of 8: each
/// block of 8 output channels has its weights in one contiguous run (the extra output channels
/// have zero weights and are not stored). `out` is (cout, h, w) and is
/// overwritten. The input gradient of such a convolution is this same operation on the shifted
/// planes of dY with the flipped, transposed weights.
int pfs_conv3x3_forward(const float *shifted, int cin, int h, int w, const float *weights, int cout,
                        float *out);

/// Weight gradient of a direct 3×3, stride-1, pad-1 convolution over `images` images, AVX-512:
/// dw[o, c, ki, kj] += Σ_images Σ_p dY[o][p] · x_padded[c][y + ki][x + kj].
///
/// Image n's shifted input planes start at `shifted + n·shiftedStride` (cin channels, as written
/// by `pfs_conv3x3_shift`) and its dY, (cout, h, w), at `gradOut + n·gradStride`. `dw` is
/// (cout, cin, 3, 3) and is accumulated into.
int pfs_conv3x3_weight_gradient(const float *shifted, long shiftedStride, const float *gradOut,
                                long gradStride, int images, int cin, int h, int w, int cout, float *dw);

/// Each function above returns 1 on x86-64, and 0 without doing anything elsewhere. Call them only
/// after `pfs_cpu_has_avx512()` returned 1: they do not check (CPUID traps to the hypervisor on
/// virtual machines, and they run once per image and layer).

#ifdef __cplusplus
}
#endif

#endif
