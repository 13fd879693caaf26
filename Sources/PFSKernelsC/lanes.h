// Shared by the kernel files of PFSKernelsC (not part of the module's public header).
#ifndef PFS_KERNELS_C_LANES_H
#define PFS_KERNELS_C_LANES_H

#include <immintrin.h>

// The first n lanes of a 16-lane vector (none for n <= 0, all from n = 16 on).
static inline __mmask16 pfs_lanes(long n) {
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1u);
}

#endif
