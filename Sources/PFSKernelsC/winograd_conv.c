// Winograd F(4×4, 3×3) for 3×3 stride-1 pad-1 convolutions on planes whose sides are multiples of
// 4 (see include/PFSKernelsC.h). Each 4×4 output tile reads a 6×6 input patch d and is
//
//     Y = Aᵀ [ U ⊙ (Bᵀ d B) ] A,   U = G g Gᵀ per (output, input) channel pair,
//
// so a tile costs 36 multiply-adds per channel pair instead of 144. The element-wise products over
// all channel pairs are 36 small matrix products M[ξ] (outputs × tiles) = U[ξ] (outputs × inputs) ·
// V[ξ] (inputs × tiles), one per ξ of the 6×6 transform. Vectors run across tiles: 16 (AVX-512) or
// 8 (AVX2) tiles per vector, so the transforms are plain vector arithmetic. A call handles a chunk
// of tiles: patches gathered and transformed into V, the 36 products into M, then M transformed
// back and stored as 4-pixel rows.
//
// The matrices are those of Lavin & Gray (2016) with interpolation points 0, ±1, ±2, ∞:
//   Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1]
//   G  = [1/4 0 0; −1/6 −1/6 −1/6; −1/6 1/6 −1/6; 1/24 1/12 1/6; 1/24 −1/12 1/6; 0 0 1]
//   Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1]
#include "PFSKernelsC.h"

// Bᵀ applied to six values (a column or a row of a patch), any vector type with + − and scalar ×.
#define WINO_BT(d0, d1, d2, d3, d4, d5, o)                  \
    do {                                                    \
        (o)[0] = 4.0f * (d0) - 5.0f * (d2) + (d4);          \
        (o)[1] = (d3) + (d4) - 4.0f * ((d1) + (d2));        \
        (o)[2] = (d4) - (d3) + 4.0f * ((d1) - (d2));        \
        (o)[3] = (d4) - (d2) + 2.0f * ((d3) - (d1));        \
        (o)[4] = (d4) - (d2) + 2.0f * ((d1) - (d3));        \
        (o)[5] = 4.0f * (d1) - 5.0f * (d3) + (d5);          \
    } while (0)

// Aᵀ applied to six values, four results.
#define WINO_AT(m0, m1, m2, m3, m4, m5, o)                  \
    do {                                                    \
        (o)[0] = (m0) + ((m1) + (m2)) + ((m3) + (m4));      \
        (o)[1] = ((m1) - (m2)) + 2.0f * ((m3) - (m4));      \
        (o)[2] = ((m1) + (m2)) + 4.0f * ((m3) + (m4));      \
        (o)[3] = ((m1) - (m2)) + 8.0f * ((m3) - (m4)) + (m5); \
    } while (0)

// G applied to three values, six results (constants as products: no divisions).
#define WINO_G(g0, g1, g2, o)                                                                  \
    do {                                                                                       \
        const float q0_ = (g0) * (1.0f / 24), q1_ = (g1) * (1.0f / 12), q2_ = (g2) * (1.0f / 6); \
        (o)[0] = (g0) * 0.25f;                                                                 \
        (o)[1] = -((g0) + (g1) + (g2)) * (1.0f / 6);                                           \
        (o)[2] = -((g0) - (g1) + (g2)) * (1.0f / 6);                                           \
        (o)[3] = q0_ + q1_ + q2_;                                                              \
        (o)[4] = q0_ - q1_ + q2_;                                                              \
        (o)[5] = (g2);                                                                         \
    } while (0)

int pfs_wino_weights(const float *w, int cout, int cin, int transposed, float *u) {
    enum { B = 16 };   // kernel inputs per block: the arithmetic runs across them, the stores are contiguous
    const int outs = transposed ? cin : cout, ins = transposed ? cout : cin;
    const long pairs = (long)outs * ins;
    for (int o = 0; o < outs; o++) {
        for (int i0 = 0; i0 < ins; i0 += B) {
            const int n = ins - i0 < B ? ins - i0 : B;
            // The kernel's filters g (3×3) for inputs i0…: w[o][i], or for the input gradient w[i][o]
            // rotated by 180°.
            float g[9][B] = {{0}}, t[6][3][B], v[6][B];
            for (int l = 0; l < n; l++) {
                const int i = i0 + l;
                const float *src = transposed ? w + ((long)i * cin + o) * 9 : w + ((long)o * cin + i) * 9;
                for (int k = 0; k < 9; k++) g[k][l] = transposed ? src[8 - k] : src[k];
            }
            for (int c = 0; c < 3; c++) {   // t = G g, column by column
                float col[6][B];
                for (int l = 0; l < B; l++) {
                    float r6[6];
                    WINO_G(g[c][l], g[3 + c][l], g[6 + c][l], r6);
                    for (int a = 0; a < 6; a++) col[a][l] = r6[a];
                }
                for (int a = 0; a < 6; a++)
                    for (int l = 0; l < B; l++) t[a][c][l] = col[a][l];
            }
            for (int a = 0; a < 6; a++) {   // U = t Gᵀ, stored U[ξ = 6a + b][o][i]
                for (int l = 0; l < B; l++) {
                    float r6[6];
                    WINO_G(t[a][0][l], t[a][1][l], t[a][2][l], r6);
                    for (int b = 0; b < 6; b++) v[b][l] = r6[b];
                }
                for (int b = 0; b < 6; b++) {
                    float *dst = u + (a * 6 + b) * pairs + (long)o * ins + i0;
                    for (int l = 0; l < n; l++) dst[l] = v[b][l];
                }
            }
        }
    }
    return 1;
}

long pfs_wino_scratch_floats(int cin, int cout, long tiles) {
    const long padded = (tiles + 31) / 32 * 32;
    return 36 * (long)(cin + cout) * padded;
}

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

// Where tile t (of the chunk) sits: its image relative to the chunk's first, and its tile row and
// column. Tiles run image by image, row by row.
typedef struct {
    int image, row, col;
} wino_tile;

static inline wino_tile wino_locate(long t, int th, int tw) {
    const long perImage = (long)th * tw;
    wino_tile r;
    r.image = (int)(t / perImage);
    r.row = (int)(t % perImage / tw);
    r.col = (int)(t % tw);
    return r;
}

// The 36 products M[ξ] = U[ξ] · V[ξ] over the ld tiles of a chunk (a multiple of two vectors of
// LANES tiles), `rc` output channels at a time with two vectors each. Written once for both ISAs
// with GCC vector types; `VEC` is the ISA's vector, `RC` its register block.
#define WINO_GEMM(NAME, TARGET, VEC, LANES, RC)                                                             \
    typedef float NAME##_vu __attribute__((vector_size(LANES * 4), aligned(4)));                            \
    __attribute__((target(TARGET), always_inline)) static inline void NAME##_block(                         \
        const int rc, const float *u, int cin, const float *v, long ld, float *m) {                         \
        VEC acc[RC][2];                                                                                     \
        for (int r = 0; r < RC; r++) acc[r][0] = acc[r][1] = (VEC){0};                                      \
        for (int c = 0; c < cin; c++) {                                                                     \
            const VEC a = *(const NAME##_vu *)(v + c * ld), b = *(const NAME##_vu *)(v + c * ld + LANES);   \
            for (int r = 0; r < RC; r++) {                                                                  \
                if (r < rc) {                                                                               \
                    const float s = u[(long)r * cin + c];                                                   \
                    acc[r][0] += s * a;                                                                     \
                    acc[r][1] += s * b;                                                                     \
                }                                                                                           \
            }                                                                                               \
        }                                                                                                   \
        for (int r = 0; r < RC; r++) {                                                                      \
            if (r < rc) {                                                                                   \
                *(NAME##_vu *)(m + r * ld) = acc[r][0];                                                     \
                *(NAME##_vu *)(m + r * ld + LANES) = acc[r][1];                                             \
            }                                                                                               \
        }                                                                                                   \
    }                                                                                                       \
    __attribute__((target(TARGET))) static void NAME(const float *u, const float *v, float *m, int cout,    \
                                                      int cin, long ld) {                                   \
        for (int xi = 0; xi < 36; xi++) {                                                                   \
            const float *ux = u + (long)xi * cout * cin, *vx = v + (long)xi * cin * ld;                     \
            float *mx = m + (long)xi * cout * ld;                                                           \
            /* blocks of equal size (16 = 8 + 8, not 12 + 4) */                                            \
            const int size = RC;                    \
            for (int o = 0; o < cout; o += size) {                                                          \
                const int rc = cout - o < size ? cout - o : size;                                           \
                for (long t = 0; t < ld; t += 2 * LANES) {                                                  \
                    const float *uo = ux + (long)o * cin;                                                   \
                    float *mo = mx + (long)o * ld + t;                                                      \
                    if (rc == RC) NAME##_block(RC, uo, cin, vx + t, ld, mo);                                \
                    else NAME##_tail(rc, uo, cin, vx + t, ld, mo);                                          \
                }                                                                                           \
            }                                                                                               \
        }                                                                                                   \
    }

// The leftover output channels (fewer than RC) with a compile-time count each.
#define WINO_TAIL_CASE(NAME, N) case N: NAME##_block(N, u, cin, v, ld, m); break;

// ---------------------------------------------------------------------------------------------
// AVX-512: 16 tiles per vector, 12 output channels × 2 vectors per block.

__attribute__((target("avx512f,fma"))) static void wino_gemm512_tail(int rc, const float *u, int cin,
                                                                    const float *v, long ld, float *m);
WINO_GEMM(wino_gemm512, "avx512f,fma", __m512, 16, 12)

__attribute__((target("avx512f,fma"))) static void wino_gemm512_tail(int rc, const float *u, int cin,
                                                                    const float *v, long ld, float *m) {
    switch (rc) {
        WINO_TAIL_CASE(wino_gemm512, 1) WINO_TAIL_CASE(wino_gemm512, 2) WINO_TAIL_CASE(wino_gemm512, 3)
        WINO_TAIL_CASE(wino_gemm512, 4) WINO_TAIL_CASE(wino_gemm512, 5) WINO_TAIL_CASE(wino_gemm512, 6)
        WINO_TAIL_CASE(wino_gemm512, 7) WINO_TAIL_CASE(wino_gemm512, 8) WINO_TAIL_CASE(wino_gemm512, 9)
        WINO_TAIL_CASE(wino_gemm512, 10) WINO_TAIL_CASE(wino_gemm512, 11)
        default: break;
    }
}

// Lanes and tiles. A vector of L = 4·P tiles (P = 4 on AVX-512, 2 on AVX2) is four groups of P
// consecutive tiles; lane 4g + m holds tile m·P + g. Group m is read into one vector whose 128-bit
// part g holds tile m·P + g, so that the 4 × 4 transposes of the 128-bit parts give one lane per
// tile, and consecutive tiles of one tile row are one contiguous run of memory: a single (masked)
// load per patch row, and a single store per output row, when a tile row has a multiple of P tiles.
//
// A run: consecutive tiles of one tile row within a group.
typedef struct {
    long src;      // its first patch, row 4·ty − 1 and column 4·tx − 1, from the chunk's first image
    long dst;      // its first output pixel, row 4·ty and column 4·tx
    int part;      // the 128-bit part its first tile takes
    int count;     // its tiles
    int leftEdge;  // whether its first tile is in column 0 (its patch column −1 is padding)
    int rightEdge; // whether its last tile is in the last column (its patch column 4·tw is padding)
    int rows;      // bit r: patch row r lies inside the image
} wino_run;

// The runs of the group of `parts` tiles starting at chunk tile t (tiles from `tiles` on are not
// there); returns how many.
static int wino_runs(long t, int parts, long tiles, long first, int h, int w, long imageStride,
                     long outImageStride, wino_run *runs) {
    const int th = h / 4, tw = w / 4;
    int n = 0;
    wino_tile previous = {0, 0, 0};
    for (int g = 0; g < parts && t + g < tiles; g++) {
        const wino_tile p = wino_locate(first + t + g, th, tw);
        if (n > 0 && p.image == previous.image && p.row == previous.row && p.col == previous.col + 1) {
            runs[n - 1].count++;
            runs[n - 1].rightEdge = p.col == tw - 1;
        } else {
            wino_run *r = &runs[n++];
            r->src = p.image * imageStride + (4L * p.row - 1) * w + 4L * p.col - 1;
            r->dst = p.image * outImageStride + 4L * p.row * w + 4L * p.col;
            r->part = g;
            r->count = 1;
            r->leftEdge = p.col == 0;
            r->rightEdge = p.col == tw - 1;
            r->rows = 0;
            for (int k = 0; k < 6; k++) {
                const int y = 4 * p.row - 1 + k;
                if (y >= 0 && y < h) r->rows |= 1 << k;
            }
        }
        previous = p;
    }
    return n;
}

// The lanes (bit 4·part + i for the run's tiles) of one of a run's two loads of patch row k:
// columns −1…2 (`left`) or 1…4 of every tile's patch, less the lane that would read the padding
// column at the image's left or right edge; none for a row outside the image.
static unsigned wino_load_lanes(const wino_run *r, int k, int left) {
    if (!(r->rows >> k & 1)) return 0;
    const unsigned lanes = ((1u << (4 * r->count)) - 1) << (4 * r->part);
    if (left) return lanes & ~(r->leftEdge ? 1u << (4 * r->part) : 0u);
    return lanes & ~(r->rightEdge ? 1u << (4 * (r->part + r->count) - 1) : 0u);
}

// The second half of the input transform: Bᵀ along the patch rows s[k][l] (each already
// transformed along its columns), stored as V[6k + l][c][t0…].
#define WINO_ROWS_STORE(VEC, STORE, s, v, cin, c, ld, t0)                                      \
    do {                                                                                       \
        for (int l = 0; l < 6; l++) {                                                          \
            VEC o_[6];                                                                         \
            WINO_BT(s[0][l], s[1][l], s[2][l], s[3][l], s[4][l], s[5][l], o_);                 \
            for (int k = 0; k < 6; k++) STORE(v + ((long)(6 * k + l) * (cin) + (c)) * (ld) + (t0), o_[k]); \
        }                                                                                      \
    } while (0)

// The 4 × 4 transpose of each 128-bit part of r[0…3]: part g of t[k] is (r[0], r[1], r[2], r[3])
// at lane 4g + k.
#define WINO_TRANSPOSE4(UNPACKLO, UNPACKHI, SHUFFLE, r, t)                          \
    do {                                                                            \
        const VEC a_ = UNPACKLO(r[0], r[1]), b_ = UNPACKHI(r[0], r[1]);             \
        const VEC c_ = UNPACKLO(r[2], r[3]), e_ = UNPACKHI(r[2], r[3]);             \
        t[0] = SHUFFLE(a_, c_, 0x44);                                               \
        t[1] = SHUFFLE(a_, c_, 0xEE);                                               \
        t[2] = SHUFFLE(b_, e_, 0x44);                                               \
        t[3] = SHUFFLE(b_, e_, 0xEE);                                               \
    } while (0)

// Columns 0…3 (from `left`) and 4, 5 (lanes 2, 3 of `right`) of one patch row of a vector's
// tiles, part g of za[m] / zb[m] holding tile m·P + g, turned into vectors with one lane per tile
// (lane 4g + m).
#define WINO_COLUMNS(UNPACKLO, UNPACKHI, SHUFFLE, za, zb, d)                        \
    do {                                                                            \
        WINO_TRANSPOSE4(UNPACKLO, UNPACKHI, SHUFFLE, za, d);                        \
        const VEC f_ = UNPACKHI(zb[0], zb[1]), g_ = UNPACKHI(zb[2], zb[3]);         \
        d[4] = SHUFFLE(f_, g_, 0x44);                                               \
        d[5] = SHUFFLE(f_, g_, 0xEE);                                               \
    } while (0)

// Y = Aᵀ M A for output channel o of the vector of tiles at t0, row by row: for each output row i
// of the tiles, t[m] holds it for the tiles of group m (part g: tile m·P + g, columns 0…3), and
// STORE runs (one row at a time, so the rows need not all be held in registers).
#define WINO_OUTPUT_ROWS(LOAD, UNPACKLO, UNPACKHI, SHUFFLE, m, ld, cout, o, t0, i, t, STORE)            \
    do {                                                                                                \
        VEC q_[4][6];                                                                                   \
        for (int l = 0; l < 6; l++) {   /* Aᵀ along the rows of M, for each column l */                 \
            VEC mk_[6], r4_[4];                                                                         \
            for (int k = 0; k < 6; k++) mk_[k] = LOAD((m) + ((long)(6 * k + l) * (cout) + (o)) * (ld) + (t0)); \
            WINO_AT(mk_[0], mk_[1], mk_[2], mk_[3], mk_[4], mk_[5], r4_);                               \
            for (int i = 0; i < 4; i++) q_[i][l] = r4_[i];                                              \
        }                                                                                               \
        for (int i = 0; i < 4; i++) {   /* then along the columns, and back to rows of pixels */        \
            VEC r_[4], t[4];                                                                            \
            WINO_AT(q_[i][0], q_[i][1], q_[i][2], q_[i][3], q_[i][4], q_[i][5], r_);                    \
            WINO_TRANSPOSE4(UNPACKLO, UNPACKHI, SHUFFLE, r_, t);                                        \
            STORE;                                                                                      \
        }                                                                                               \
    } while (0)

// The runs of the four groups of P tiles from chunk tile t0, and for each run and patch row k the
// lanes of its two loads (`wino_load_lanes`) as the instruction set's masks (MASK of the bits).
#define WINO_INPUT_RUNS(P, MASK, runs, count, left, right)                                         \
    do {                                                                                           \
        for (int m = 0; m < 4; m++) {                                                              \
            count[m] = wino_runs(t0 + (P) * m, (P), tiles, first, h, w, imageStride, 0, runs[m]);  \
            for (int q = 0; q < count[m]; q++) {                                                   \
                for (int k = 0; k < 6; k++) {                                                      \
                    left[m][q][k] = MASK(wino_load_lanes(&runs[m][q], k, 1));                      \
                    right[m][q][k] = MASK(wino_load_lanes(&runs[m][q], k, 0));                     \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    } while (0)

// Patch row k of every run of the four groups into za[m] (columns −1…2) and zb[m] (1…4), part g of
// a group's vector reading the run's tile g − part (so the load starts 4·part early). LOAD(acc,
// mask, p) adds the masked lanes at p to acc, whose other lanes stay zero. ONE (a constant): every
// group is one run, so the loops unroll into straight loads.
#define WINO_LOAD_ROW(ZERO, LOAD, src, k, runs, ONE, count, left, right, za, zb)                   \
    do {                                                                                           \
        for (int m = 0; m < 4; m++) {                                                              \
            za[m] = zb[m] = ZERO();                                                                \
            const int n_ = (ONE) ? 1 : count[m];                                                   \
            for (int q = 0; q < n_; q++) {                                                         \
                const float *p_ = (src) + (long)(k) * w + runs[m][q].src - 4 * runs[m][q].part;    \
                za[m] = LOAD(za[m], left[m][q][k], p_);                                            \
                zb[m] = LOAD(zb[m], right[m][q][k], p_ + 2);                                       \
            }                                                                                      \
        }                                                                                          \
    } while (0)

// The input transform of every channel for the vector of tiles at t0 (runs, count, left, right as
// WINO_INPUT_RUNS made them), with the ISA's vector, loads and shuffles; ONE as in WINO_LOAD_ROW.
#define WINO_INPUT_CHANNELS(VEC, ZERO, LOAD, STORE, UNPACKLO, UNPACKHI, SHUFFLE, ONE)                    \
    for (int c = 0; c < cin; c++) {                                                                     \
        const float *src = x + c * plane;                                                               \
        VEC s[6][6];                                                                                    \
        for (int k = 0; k < 6; k++) {   /* each patch row, transformed along its columns */             \
            VEC za[4], zb[4], d[6];                                                                     \
            WINO_LOAD_ROW(ZERO, LOAD, src, k, runs, ONE, count, left, right, za, zb);                   \
            WINO_COLUMNS(UNPACKLO, UNPACKHI, SHUFFLE, za, zb, d);                                       \
            WINO_BT(d[0], d[1], d[2], d[3], d[4], d[5], s[k]);                                          \
        }                                                                                               \
        WINO_ROWS_STORE(VEC, STORE, s, v, cin, c, ld, t0);   /* then along the rows */                  \
    }

// Whether each of the four groups of a vector of tiles is one run (every group on 32- and 16-wide
// planes, and on AVX2's 8-wide ones): the transforms then take their unrolled loads and stores.
#define WINO_SINGLE_RUNS(count) ((count)[0] == 1 && (count)[1] == 1 && (count)[2] == 1 && (count)[3] == 1)

// WINO_INPUT_CHANNELS with the unrolled loads where WINO_SINGLE_RUNS holds, else the general ones.
#define WINO_INPUT_TILES(VEC, ZERO, LOAD, STORE, UNPACKLO, UNPACKHI, SHUFFLE)                        \
    do {                                                                                            \
        if (WINO_SINGLE_RUNS(count)) {                                                              \
            WINO_INPUT_CHANNELS(VEC, ZERO, LOAD, STORE, UNPACKLO, UNPACKHI, SHUFFLE, 1)             \
        } else {                                                                                    \
            WINO_INPUT_CHANNELS(VEC, ZERO, LOAD, STORE, UNPACKLO, UNPACKHI, SHUFFLE, 0)             \
        }                                                                                           \
    } while (0)

// Y = Aᵀ M A of every output channel for the vector of tiles at t0 (runs and count as wino_runs made
// them), row by row through STORE_RUN(g, q), which stores row i of group g's run q (t[g]; `yo`, `ao`,
// `scale`, `shift` and `top` in scope), through the epilogue `e` where there is one (NULL: none).
// `one` (a constant where the caller's function is inlined): every group is one run, so the stores
// unroll. Shared by both instruction sets.
#define WINO_OUTPUT_CHANNELS(VEC, SET1, LOAD, UNPACKLO, UNPACKHI, SHUFFLE, STORE_RUN)                         \
    do {                                                                                                    \
        const VEC top = SET1(e ? e->ceiling : 0);                                                           \
        for (int o = 0; o < cout; o++) {                                                                    \
            float *yo = y + o * plane;                                                                      \
            const float *ao = e && e->addend ? e->addend + o * plane : 0;                                   \
            const VEC scale = SET1(e ? e->scale[o] : 1), shift = SET1(e ? e->shift[o] : 0);                 \
            WINO_OUTPUT_ROWS(LOAD, UNPACKLO, UNPACKHI, SHUFFLE, m, ld, cout, o, t0, i, t, {                 \
                for (int g = 0; g < 4; g++) {                                                               \
                    const int n_ = one ? 1 : count[g];                                                      \
                    for (int q = 0; q < n_; q++) STORE_RUN(g, q);                                           \
                }                                                                                           \
            });                                                                                             \
        }                                                                                                   \
    } while (0)

// V[ξ][c][t] = (Bᵀ d B)[ξ] for the patch d of tile t (chunk tiles first..first + tiles − 1 of the
// image at x, counted on), c < cin; tiles from `tiles` up to ld are zero. Each patch row of a run
// is two masked loads, columns −1…2 and 1…4 of every tile's patch, (the lanes reading padding
// masked off), and the four groups' loads are transposed into one vector per patch column.
#define VEC __m512
__attribute__((target("avx512f,fma"))) static void wino_input512(const float *x, long imageStride, int cin, int h,
                                                                int w, long first, long tiles, float *v, long ld) {
    const long plane = (long)h * w;
    for (long t0 = 0; t0 < ld; t0 += 16) {
        wino_run runs[4][4];
        int count[4];
        __mmask16 left[4][4][6], right[4][4][6];
        WINO_INPUT_RUNS(4, (__mmask16), runs, count, left, right);
        WINO_INPUT_TILES(__m512, _mm512_setzero_ps, _mm512_mask_loadu_ps, _mm512_storeu_ps, _mm512_unpacklo_ps,
                         _mm512_unpackhi_ps, _mm512_shuffle_ps);
    }
}

// The epilogue of one output row (`pfs_epilogue`), with the blend clamp of vector_kernels.c.
__attribute__((target("avx512f"), always_inline)) static inline __m512 wino_epilogue512(
    const pfs_epilogue *e, __m512 v, __m512 scale, __m512 shift, __m512 top, const float *addend, __mmask16 lanes) {
    v = _mm512_add_ps(_mm512_mul_ps(v, scale), shift);
    if (e->addend) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(lanes, addend));
    if (e->clamp) {
        v = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ), v, _mm512_setzero_ps());
        v = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, top, _CMP_GT_OQ), v, top);
    }
    return v;
}

// Row i of the four tiles of group g comes out of the 4 × 4 transposes as one vector (128-bit part
// p: tile 4g + p), stored with one masked store per run.
#define WINO_STORE_RUN512(g, q)                                                                             \
    do {                                                                                                    \
        const long at = (long)i * w + runs[g][q].dst - 4 * runs[g][q].part;                                 \
        const __m512 v = e ? wino_epilogue512(e, t[g], scale, shift, top, ao + at, lanes[g][q]) : t[g];     \
        _mm512_mask_storeu_ps(yo + at, lanes[g][q], v);                                                     \
    } while (0)

__attribute__((target("avx512f,fma"), always_inline)) static inline void wino_output512_channels(
    const float *m, long ld, int cout, int w, long plane, long t0, float *y, const pfs_epilogue *e,
    const wino_run runs[4][4], const int count[4], const __mmask16 lanes[4][4], const int one) {
    WINO_OUTPUT_CHANNELS(__m512, _mm512_set1_ps, _mm512_loadu_ps, _mm512_unpacklo_ps, _mm512_unpackhi_ps,
                         _mm512_shuffle_ps, WINO_STORE_RUN512);
}

// Y = Aᵀ M A for every tile of the chunk and output channel.
__attribute__((target("avx512f,fma"))) static void wino_output512(const float *m, long ld, int cout, int h, int w,
                                                                 long first, long tiles, float *y,
                                                                 long outImageStride, const pfs_epilogue *e) {
    const long plane = (long)h * w;
    for (long t0 = 0; t0 < tiles; t0 += 16) {
        wino_run runs[4][4];
        int count[4];
        __mmask16 lanes[4][4];
        for (int g = 0; g < 4; g++) {
            count[g] = wino_runs(t0 + 4 * g, 4, tiles, first, h, w, 0, outImageStride, runs[g]);
            for (int q = 0; q < count[g]; q++)
                lanes[g][q] = (__mmask16)(((1u << (4 * runs[g][q].count)) - 1) << (4 * runs[g][q].part));
        }
        if (WINO_SINGLE_RUNS(count)) wino_output512_channels(m, ld, cout, w, plane, t0, y, e, runs, count, lanes, 1);
        else wino_output512_channels(m, ld, cout, w, plane, t0, y, e, runs, count, lanes, 0);
    }
}
#undef VEC

// ---------------------------------------------------------------------------------------------
// AVX2: 8 tiles per vector, 6 output channels × 2 vectors per block.

__attribute__((target("avx2,fma"))) static void wino_gemm256_tail(int rc, const float *u, int cin, const float *v,
                                                                 long ld, float *m);
WINO_GEMM(wino_gemm256, "avx2,fma", __m256, 8, 6)

__attribute__((target("avx2,fma"))) static void wino_gemm256_tail(int rc, const float *u, int cin, const float *v,
                                                                 long ld, float *m) {
    switch (rc) {
        WINO_TAIL_CASE(wino_gemm256, 1) WINO_TAIL_CASE(wino_gemm256, 2) WINO_TAIL_CASE(wino_gemm256, 3)
        WINO_TAIL_CASE(wino_gemm256, 4) WINO_TAIL_CASE(wino_gemm256, 5)
        default: break;
    }
}

#define VEC __m256
// 8 lanes as int32 masks for vmaskmovps: bit i of `bits` → lane i.
__attribute__((target("avx2"), always_inline)) static inline __m256i wino_mask8(unsigned bits) {
    const __m256i lane = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)bits), lane), lane);
}

// acc | the lanes of p under `mask` (vmaskmovps zeroes, and never touches, the lanes it does not load).
__attribute__((target("avx2"), always_inline)) static inline __m256 wino_or_maskload(__m256 acc, __m256i mask,
                                                                                   const float *p) {
    return _mm256_or_ps(acc, _mm256_maskload_ps(p, mask));
}

__attribute__((target("avx2,fma"))) static void wino_input256(const float *x, long imageStride, int cin, int h,
                                                             int w, long first, long tiles, float *v, long ld) {
    const long plane = (long)h * w;
    for (long t0 = 0; t0 < ld; t0 += 8) {
        wino_run runs[4][2];
        int count[4];
        __m256i left[4][2][6], right[4][2][6];
        WINO_INPUT_RUNS(2, wino_mask8, runs, count, left, right);
        WINO_INPUT_TILES(__m256, _mm256_setzero_ps, wino_or_maskload, _mm256_storeu_ps, _mm256_unpacklo_ps,
                         _mm256_unpackhi_ps, _mm256_shuffle_ps);
    }
}

// The epilogue of one output row (`pfs_epilogue`) on two tiles (`wide`) or one (the low half).
__attribute__((target("avx2"), always_inline)) static inline __m256 wino_epilogue256(
    const pfs_epilogue *e, __m256 v, __m256 scale, __m256 shift, __m256 top, const float *addend, int wide) {
    v = _mm256_add_ps(_mm256_mul_ps(v, scale), shift);
    if (e->addend) v = _mm256_add_ps(v, wide ? _mm256_loadu_ps(addend) : _mm256_castps128_ps256(_mm_loadu_ps(addend)));
    if (e->clamp) {
        v = _mm256_blendv_ps(v, _mm256_setzero_ps(), _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ));
        v = _mm256_blendv_ps(v, top, _mm256_cmp_ps(v, top, _CMP_GT_OQ));
    }
    return v;
}

// Two tiles at once, or one 128-bit half (no vmaskmovps stores: slow on AMD).
#define WINO_STORE_RUN256(g, q)                                                                             \
    do {                                                                                                    \
        const wino_run *u = &runs[g][q];                                                                    \
        const long at = (long)i * w + u->dst;                                                               \
        const int wide = u->count == 2;                                                                     \
        __m256 v = wide || !u->part ? t[g] : _mm256_permute2f128_ps(t[g], t[g], 0x01);                      \
        if (e) v = wino_epilogue256(e, v, scale, shift, top, ao + at, wide);                                \
        if (wide) _mm256_storeu_ps(yo + at, v);                                                             \
        else _mm_storeu_ps(yo + at, _mm256_castps256_ps128(v));                                             \
    } while (0)

__attribute__((target("avx2,fma"), always_inline)) static inline void wino_output256_channels(
    const float *m, long ld, int cout, int w, long plane, long t0, float *y, const pfs_epilogue *e,
    const wino_run runs[4][2], const int count[4], const int one) {
    WINO_OUTPUT_CHANNELS(__m256, _mm256_set1_ps, _mm256_loadu_ps, _mm256_unpacklo_ps, _mm256_unpackhi_ps,
                         _mm256_shuffle_ps, WINO_STORE_RUN256);
}

__attribute__((target("avx2,fma"))) static void wino_output256(const float *m, long ld, int cout, int h, int w,
                                                              long first, long tiles, float *y, long outImageStride,
                                                              const pfs_epilogue *e) {
    const long plane = (long)h * w;
    for (long t0 = 0; t0 < tiles; t0 += 8) {
        wino_run runs[4][2];
        int count[4];
        for (int g = 0; g < 4; g++) count[g] = wino_runs(t0 + 2 * g, 2, tiles, first, h, w, 0, outImageStride, runs[g]);
        if (WINO_SINGLE_RUNS(count)) wino_output256_channels(m, ld, cout, w, plane, t0, y, e, runs, count, 1);
        else wino_output256_channels(m, ld, cout, w, plane, t0, y, e, runs, count, 0);
    }
}
#undef VEC

int pfs_wino_forward(int isa, const float *x, long imageStride, int cin, int h, int w, const float *u, int cout,
                     float *y, long outImageStride, long first, long tiles, float *scratch,
                     const pfs_epilogue *epilogue) {
    if (isa < 1 || h % 4 || w % 4 || h < 4 || w < 4 || tiles < 1 || first < 0) return 0;
    const long ld = (tiles + 31) / 32 * 32;
    float *v = scratch, *m = scratch + 36 * (long)cin * ld;
    if (isa >= 2) {
        wino_input512(x, imageStride, cin, h, w, first, tiles, v, ld);
        wino_gemm512(u, v, m, cout, cin, ld);
        wino_output512(m, ld, cout, h, w, first, tiles, y, outImageStride, epilogue);
    } else {
        wino_input256(x, imageStride, cin, h, w, first, tiles, v, ld);
        wino_gemm256(u, v, m, cout, cin, ld);
        wino_output256(m, ld, cout, h, w, first, tiles, y, outImageStride, epilogue);
    }
    return 1;
}

#else

int pfs_wino_forward(int isa, const float *x, long imageStride, int cin, int h, int w, const float *u, int cout,
                     float *y, long outImageStride, long first, long tiles, float *scratch,
                     const pfs_epilogue *epilogue) {
    (void)epilogue; (void)isa; (void)x; (void)imageStride; (void)cin; (void)h; (void)w; (void)u; (void)cout; (void)y;
    (void)outImageStride; (void)first; (void)tiles; (void)scratch;
    return 0;
}

#endif
