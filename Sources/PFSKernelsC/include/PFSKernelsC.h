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

/// Number of 16-bit masks `pfs_conv3x3_tap_masks` writes for an h × w plane: 9 per 16-pixel
/// vector, for the plane rounded up to a multiple of 32 pixels.
static inline long pfs_conv3x3_tap_mask_count(int h, int w) { return ((long)h * w + 31) / 32 * 2 * 9; }

/// The tap masks of an h × w plane for the direct kernels below: masks[v·9 + ki·3 + kj] has bit
/// `lane` set where pixel p = 16·v + lane is in the plane and its tap (ki, kj) — input row
/// y + ki − 1, column x + kj − 1 — is in the image (not in the zero padding). Portable C.
int pfs_conv3x3_tap_masks(int h, int w, unsigned short *masks);

/// Direct 3×3, stride-1, pad-1 convolution of one image, AVX-512.
///
/// `in` is (cin, h, w), unpadded; `masks` comes from `pfs_conv3x3_tap_masks(h, w)`. `weights` is
/// (cout_padded / 8, cin, 3, 3, 8) with cout_padded = cout rounded up to a multiple of 8: each
/// block of 8 output channels has its weights in one contiguous run (the extra output channels
/// have zero weights and are not stored). `out` is (cout, h, w) and is overwritten. The input
/// gradient of such a convolution is this same operation on dY with the flipped, transposed
/// weights.
int pfs_conv3x3_forward(const float *in, const unsigned short *masks, int cin, int h, int w,
                        const float *weights, int cout, float *out);

/// Weight gradient of a direct 3×3, stride-1, pad-1 convolution over `images` images, AVX-512:
/// dw[o, c, ki, kj] += Σ_images Σ_p dY[o][p] · x_padded[c][y + ki][x + kj].
///
/// Image n's input, (cin, h, w), starts at `in + n·inStride` and its dY, (cout, h, w), at
/// `gradOut + n·gradStride`; `masks` comes from `pfs_conv3x3_tap_masks(h, w)`. `dw` is
/// (cout, cin, 3, 3) and is accumulated into.
int pfs_conv3x3_weight_gradient(const float *in, long inStride, const unsigned short *masks,
                                const float *gradOut, long gradStride, int images, int cin, int h,
                                int w, int cout, float *dw);

/// Each function above returns 1 on x86-64, and 0 without doing anything elsewhere. Call them only
/// after `pfs_cpu_has_avx512()` returned 1: they do not check (CPUID traps to the hypervisor on
/// virtual machines, and they run once per image and layer).

#ifdef __cplusplus
}
#endif

#endif
