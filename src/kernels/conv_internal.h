/* conv_internal.h: the inner loops of the fast layers (direct convolution tiles, weight-gradient
 * tiles, the Adam update), one table per instruction set like the GEMM's. The layers in
 * layers.c cut the work into these calls; here are only loops over registers and cache lines.
 *
 * Activation layout "HCW": one image is [rows][channels][columns] (a row of pixels per
 * channel), so the pixels a tile needs for one (ky, c, kx) tap are consecutive floats.
 * Weights are repacked per call by the layers: forward [K][C][K][OCp] (ky, c, kx, oc) with OCp
 * the output channels rounded up to 16 (zero padded). */
#ifndef MN_CONV_INTERNAL_H
#define MN_CONV_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

enum { MN_TILE_PX = 14, MN_TILE_OC = 32 };

typedef struct mn_conv_impl {
    const char *name;
    /* Direct convolution tile, stride 1: for px < np (<= 14) consecutive output pixels of one
     * row and oc < 16 * nv (nv = 1 or 2),
     *   t[px * 32 + oc] = sum over ky < K, c < C, kx < K of
     *                     in[ky * rs + c * cs + kx + px] * w[((ky * C + c) * K + kx) * ws + oc]
     * `in` points at the top-left input of the tile's first pixel, `w` at its first output
     * channel (64-byte aligned, ws a multiple of 16). */
    void (*tile)(int np, int nv, int K, int C, const float *in, long rs, long cs, const float *w,
                 long ws, float *t);
    /* Weight-gradient tile: for r < R (<= 6) taps kx0 + r of one (ky, c) and oc < 16 * V
     * (V <= 4),
     *   d[r * ds + oc] (+)= sum over y < rows, x < OW of in[y * rs + x + r] * g[y * gs + x * gx + oc]
     * accumulating into d when `acc`, else overwriting it. g 64-byte aligned, gx and gs
     * multiples of 16. */
    void (*dw)(int R, int V, int rows, int OW, const float *in, long rs, const float *g, long gs,
               long gx, float *d, long ds, int acc);
    /* Tile epilogues. t holds rows of 32 floats per pixel (as `tile` writes them); bias has
     * no (<= 32) values or is NULL. store: dst[o * cs + px] = f(t[px][o] + bias[o]) for
     * px < np, o < no, f = ReLU if relu else identity. pool_store, for even np and the tiles
     * t0 (row 2y) and t1 (row 2y + 1): the first maximum of each 2x2 window j < np / 2 in
     * window order (t0[2j], t0[2j+1], t1[2j], t1[2j+1]) after the bias, through f, to
     * dst[o * cs + j], and its position 0..3 to arg[o * acs + j]. */
    void (*store)(const float *t, const float *bias, int np, int no, int relu, float *dst,
                  long cs);
    void (*pool_store)(const float *t0, const float *t1, const float *bias, int np, int no,
                       int relu, float *dst, long cs, uint8_t *arg, long acs);
    /* Output gradient of one channel's row(s), routed back through ReLU (o > 0) and pool:
     * expand: dst[x] = relu && !(o[x] > 0) ? 0 : g[x] for x < W.
     * expand_pool: for x < W (conv columns, pooled columns pw = W / 2, window j = x / 2):
     * dst_dy[x] = g[j] where j < pw, a[j] == 2 dy + x % 2 and (!relu || o[j] > 0), else 0. */
    void (*expand)(float *dst, const float *g, const float *o, int W, int relu);
    void (*expand_pool)(float *dst0, float *dst1, const float *g, const float *o,
                        const uint8_t *a, int W, int relu);
    /* dst[x * ld + c] = src[c * cs + x] for c < C, x < W, and 0 for C <= c < Cp. */
    void (*transpose)(float *dst, long ld, const float *src, long cs, int C, int Cp, int W);
    /* Adam with bias corrections folded into `step` and decoupled weight decay `wd` (already
     * multiplied by the learning rate): m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
     * p -= step * m / (sqrt(v) + eps) + wd * p. */
    void (*adam)(float *p, const float *g, float *m, float *v, size_t n, float b1, float b2,
                 float step, float eps, float wd);
} mn_conv_impl;

extern const mn_conv_impl mn_conv_impl_portable;
#if defined(__x86_64__)
extern const mn_conv_impl mn_conv_impl_avx512;
#endif

/* The table for the instruction set mn_kernels_isa() names (AVX2 machines use the portable
 * loops, which the compiler vectorises). */
const mn_conv_impl *mn_conv_impl_get(void);

#endif
