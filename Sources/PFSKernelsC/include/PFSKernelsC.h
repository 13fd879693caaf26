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

/// Direct 3×3, stride-1 convolution of one image, AVX-512.
///
/// `padded` is the input with a zero border of one pixel: (cin, h + 2, w + 2). `weights` is
/// (cin, 3, 3, cout_padded) with cout_padded = cout rounded up to a multiple of 8 (the extra
/// output channels have zero weights and are not stored). `out` is (cout, h, w) and is
/// overwritten. Call it only after `pfs_cpu_has_avx512()` returned 1 (it does not check, to stay
/// cheap per image). Returns 1 on x86-64, and 0 without doing anything elsewhere.
int pfs_conv3x3s1_avx512(const float *padded, int cin, int h, int w,
                         const float *weights, int cout, float *out);

#ifdef __cplusplus
}
#endif

#endif
