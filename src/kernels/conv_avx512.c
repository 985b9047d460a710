/* conv_avx512.c: the AVX-512 versions of the fast layers' inner loops (see conv_internal.h).
 * A convolution tile keeps 14 pixels x 32 output channels in 28 zmm accumulators and, per
 * (ky, c, kx) tap, loads two weight vectors and broadcasts 14 input values; a weight-gradient
 * tile keeps up to 6 taps x 64 channels and, per pixel, broadcasts the taps' inputs and loads
 * the pixel's output gradients. Tile sizes are constants in each instance so the accumulators
 * stay in registers. Compiled with target attributes; called only when the CPU has AVX-512. */
#include "kernels/conv_internal.h"

#if defined(__x86_64__)

#include <immintrin.h>

#define T512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma")))
#define INL static inline __attribute__((always_inline))

INL T512 void tile_body(const int NP, const int NV, int K, int C, const float *in, long rs,
                        long cs, const float *w, long ws, float *t)
{
    __m512 acc[MN_TILE_PX][2];
#pragma GCC unroll 14
    for (int i = 0; i < NP; i++) {
        acc[i][0] = _mm512_setzero_ps();
        acc[i][1] = _mm512_setzero_ps();
    }
    for (int ky = 0; ky < K; ky++)
        for (int c = 0; c < C; c++) {
            const float *p = in + ky * rs + c * cs;
            for (int kx = 0; kx < K; kx++, w += ws) {
                /* Opaque to the compiler: otherwise it carries the overlapping inputs of
                 * neighbouring taps from one kx to the next and runs out of registers. */
                const float *q = p + kx;
                __asm__("" : "+r"(q));
                __m512 w0 = _mm512_load_ps(w);
                __m512 w1 = NV > 1 ? _mm512_load_ps(w + 16) : w0;
#pragma GCC unroll 14
                for (int i = 0; i < NP; i++) {
                    __m512 b = _mm512_set1_ps(q[i]);
                    acc[i][0] = _mm512_fmadd_ps(b, w0, acc[i][0]);
                    if (NV > 1)
                        acc[i][1] = _mm512_fmadd_ps(b, w1, acc[i][1]);
                }
            }
        }
#pragma GCC unroll 14
    for (int i = 0; i < NP; i++) {
        _mm512_store_ps(t + i * MN_TILE_OC, acc[i][0]);
        if (NV > 1)
            _mm512_store_ps(t + i * MN_TILE_OC + 16, acc[i][1]);
    }
}

typedef void (*tile_fn)(int K, int C, const float *in, long rs, long cs, const float *w, long ws,
                        float *t);
#define TILE(P, V)                                                                              \
    static T512 void tile_##P##_##V(int K, int C, const float *in, long rs, long cs,            \
                                    const float *w, long ws, float *t)                          \
    {                                                                                           \
        tile_body(P, V, K, C, in, rs, cs, w, ws, t);                                            \
    }
#define TILES(P) TILE(P, 1) TILE(P, 2)
TILES(1) TILES(2) TILES(3) TILES(4) TILES(5) TILES(6) TILES(7)
TILES(8) TILES(9) TILES(10) TILES(11) TILES(12) TILES(13) TILES(14)
#undef TILES
#undef TILE
#define ROW(P) {tile_##P##_1, tile_##P##_2}
static const tile_fn tiles[MN_TILE_PX + 1][2] = {
    {0, 0},  ROW(1),  ROW(2),  ROW(3),  ROW(4),  ROW(5),  ROW(6), ROW(7),
    ROW(8),  ROW(9),  ROW(10), ROW(11), ROW(12), ROW(13), ROW(14),
};
#undef ROW

static void tile(int np, int nv, int K, int C, const float *in, long rs, long cs, const float *w,
                 long ws, float *t)
{
    tiles[np][nv - 1](K, C, in, rs, cs, w, ws, t);
}

INL T512 void dw_body(const int R, const int V, int rows, int OW, const float *in, long rs,
                      const float *g, long gs, long gx, float *d, long ds, int acc_in)
{
    __m512 acc[6][4];
#pragma GCC unroll 6
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int v = 0; v < V; v++)
            acc[r][v] = acc_in ? _mm512_loadu_ps(d + r * ds + 16 * v) : _mm512_setzero_ps();
    for (int y = 0; y < rows; y++) {
        const float *ip = in + y * rs, *gp = g + y * gs;
        for (int x = 0; x < OW; x++, ip++, gp += gx) {
            const float *q = ip;
            __asm__("" : "+r"(q)); /* as in tile_body */
            __m512 gv[4];
#pragma GCC unroll 4
            for (int v = 0; v < V; v++)
                gv[v] = _mm512_load_ps(gp + 16 * v);
#pragma GCC unroll 6
            for (int r = 0; r < R; r++) {
                __m512 b = _mm512_set1_ps(q[r]);
#pragma GCC unroll 4
                for (int v = 0; v < V; v++)
                    acc[r][v] = _mm512_fmadd_ps(b, gv[v], acc[r][v]);
            }
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int v = 0; v < V; v++)
            _mm512_storeu_ps(d + r * ds + 16 * v, acc[r][v]);
}

typedef void (*dw_fn)(int rows, int OW, const float *in, long rs, const float *g, long gs,
                      long gx, float *d, long ds, int acc);
#define DW(R, V)                                                                                \
    static T512 void dw_##R##_##V(int rows, int OW, const float *in, long rs, const float *g,   \
                                  long gs, long gx, float *d, long ds, int acc)                 \
    {                                                                                           \
        dw_body(R, V, rows, OW, in, rs, g, gs, gx, d, ds, acc);                                 \
    }
#define DWS(R) DW(R, 1) DW(R, 2) DW(R, 3) DW(R, 4)
DWS(1) DWS(2) DWS(3) DWS(4) DWS(5) DWS(6)
#undef DWS
#undef DW
#define DROW(R) {dw_##R##_1, dw_##R##_2, dw_##R##_3, dw_##R##_4}
static const dw_fn dws[7][4] = {{0}, DROW(1), DROW(2), DROW(3), DROW(4), DROW(5), DROW(6)};
#undef DROW

static void dw(int R, int V, int rows, int OW, const float *in, long rs, const float *g, long gs,
               long gx, float *d, long ds, int acc)
{
    dws[R][V - 1](rows, OW, in, rs, g, gs, gx, d, ds, acc);
}

/* ---- Epilogues and gradient expansion ----------------------------------------------------- */

/* Transposes the 16x16 block r[0..15] (row i in r[i]) in place. */
INL T512 void transpose16(__m512 r[16])
{
    __m512 t[16];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
        __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
        r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    /* r[4i + j] holds rows 4i..4i+3 of columns j, j+4, j+8, j+12 (one per 128-bit lane) */
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        t[j] = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x88);
        t[4 + j] = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xdd);
        t[8 + j] = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x88);
        t[12 + j] = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xdd);
    }
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
        r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xdd);
        r[4 + j] = _mm512_shuffle_f32x4(t[4 + j], t[12 + j], 0x88);
        r[12 + j] = _mm512_shuffle_f32x4(t[4 + j], t[12 + j], 0xdd);
    }
}

INL __mmask16 lanes(int n) { return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1u); }

static T512 void store(const float *t, const float *bias, int np, int no, int relu, float *dst,
                       long cs)
{
    const __m512 zero = _mm512_setzero_ps();
    for (int v = 0; v * 16 < no; v++) {
        const int nc = no - 16 * v < 16 ? no - 16 * v : 16;
        __m512 b = bias ? _mm512_maskz_loadu_ps(lanes(nc), bias + 16 * v) : zero;
        __m512 r[16];
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++) {
            r[i] = i < np ? _mm512_add_ps(_mm512_load_ps(t + i * MN_TILE_OC + 16 * v), b) : zero;
            if (relu)
                r[i] = _mm512_max_ps(r[i], zero);
        }
        transpose16(r);
        const __mmask16 m = lanes(np);
#pragma GCC unroll 16
        for (int o = 0; o < 16; o++)
            if (o < nc)
                _mm512_mask_storeu_ps(dst + (16 * v + o) * cs, m, r[o]);
    }
}

static T512 void pool_store(const float *t0, const float *t1, const float *bias, int np, int no,
                            int relu, float *dst, long cs, uint8_t *arg, long acs)
{
    const __m512 zero = _mm512_setzero_ps();
    const __m512i one = _mm512_set1_epi32(1), two = _mm512_set1_epi32(2);
    const __m512i three = _mm512_set1_epi32(3);
    const int pw = np / 2;
    for (int v = 0; v * 16 < no; v++) {
        const int nc = no - 16 * v < 16 ? no - 16 * v : 16;
        __m512 b = bias ? _mm512_maskz_loadu_ps(lanes(nc), bias + 16 * v) : zero;
        __m512 r[16], k[16];
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++) {
            if (j >= pw) {
                r[j] = k[j] = zero;
                continue;
            }
            const float *a0 = t0 + 2 * j * MN_TILE_OC + 16 * v, *a1 = t1 + 2 * j * MN_TILE_OC + 16 * v;
            __m512 m = _mm512_add_ps(_mm512_load_ps(a0), b);
            __m512i idx = _mm512_setzero_si512();
            __m512 x = _mm512_add_ps(_mm512_load_ps(a0 + MN_TILE_OC), b);
            __mmask16 gt = _mm512_cmp_ps_mask(x, m, _CMP_GT_OQ);
            m = _mm512_mask_mov_ps(m, gt, x), idx = _mm512_mask_mov_epi32(idx, gt, one);
            x = _mm512_add_ps(_mm512_load_ps(a1), b);
            gt = _mm512_cmp_ps_mask(x, m, _CMP_GT_OQ);
            m = _mm512_mask_mov_ps(m, gt, x), idx = _mm512_mask_mov_epi32(idx, gt, two);
            x = _mm512_add_ps(_mm512_load_ps(a1 + MN_TILE_OC), b);
            gt = _mm512_cmp_ps_mask(x, m, _CMP_GT_OQ);
            m = _mm512_mask_mov_ps(m, gt, x), idx = _mm512_mask_mov_epi32(idx, gt, three);
            r[j] = relu ? _mm512_max_ps(m, zero) : m;
            k[j] = _mm512_castsi512_ps(idx);
        }
        transpose16(r);
        transpose16(k);
        const __mmask16 m = lanes(pw);
#pragma GCC unroll 16
        for (int o = 0; o < 16; o++)
            if (o < nc) {
                _mm512_mask_storeu_ps(dst + (16 * v + o) * cs, m, r[o]);
                _mm_mask_storeu_epi8(arg + (16 * v + o) * acs, m,
                                     _mm512_cvtepi32_epi8(_mm512_castps_si512(k[o])));
            }
    }
}

static T512 void expand(float *dst, const float *g, const float *o, int W, int relu)
{
    for (int x = 0; x < W; x += 16) {
        const __mmask16 m = lanes(W - x);
        __m512 gv = _mm512_maskz_loadu_ps(m, g + x);
        __mmask16 live = m;
        if (relu)
            live &= _mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(m, o + x), _mm512_setzero_ps(),
                                       _CMP_GT_OQ);
        _mm512_mask_storeu_ps(dst + x, m, _mm512_maskz_mov_ps(live, gv));
    }
}

static T512 void expand_pool(float *dst0, float *dst1, const float *g, const float *o,
                             const uint8_t *a, int W, int relu)
{
    const int pw = W / 2;
    const __m512i dup = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
    const __m512i p0 = _mm512_set_epi32(1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0);
    const __m512i p1 = _mm512_add_epi32(p0, _mm512_set1_epi32(2));
    for (int x = 0; x < W; x += 16) {
        const int j = x / 2, cnt = pw - j < 0 ? 0 : (pw - j > 8 ? 8 : pw - j);
        const __mmask16 in = lanes(cnt), out = lanes(W - x);
        __m512 gv = _mm512_permutexvar_ps(dup, _mm512_maskz_loadu_ps(in, g + j));
        __m512i av = _mm512_permutexvar_epi32(
            dup, _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(in, a + j)));
        __mmask16 live = lanes(2 * cnt);
        if (relu)
            live &= _mm512_cmp_ps_mask(_mm512_permutexvar_ps(dup, _mm512_maskz_loadu_ps(in, o + j)),
                                       _mm512_setzero_ps(), _CMP_GT_OQ);
        __mmask16 m0 = live & _mm512_cmpeq_epi32_mask(av, p0);
        __mmask16 m1 = live & _mm512_cmpeq_epi32_mask(av, p1);
        _mm512_mask_storeu_ps(dst0 + x, out, _mm512_maskz_mov_ps(m0, gv));
        _mm512_mask_storeu_ps(dst1 + x, out, _mm512_maskz_mov_ps(m1, gv));
    }
}

static T512 void transpose(float *dst, long ld, const float *src, long cs, int C, int Cp, int W)
{
    for (int x0 = 0; x0 < W; x0 += 16) {
        const int nx = W - x0 < 16 ? W - x0 : 16;
        const __mmask16 m = lanes(nx);
        for (int c0 = 0; c0 < Cp; c0 += 16) {
            __m512 r[16];
#pragma GCC unroll 16
            for (int i = 0; i < 16; i++)
                r[i] = c0 + i < C ? _mm512_maskz_loadu_ps(m, src + (c0 + i) * cs + x0)
                                  : _mm512_setzero_ps();
            transpose16(r);
#pragma GCC unroll 16
            for (int x = 0; x < 16; x++)
                if (x < nx)
                    _mm512_storeu_ps(dst + (x0 + x) * ld + c0, r[x]);
        }
    }
}

static T512 void adam(float *p, const float *g, float *m, float *v, size_t n, float b1, float b2,
                      float step, float eps, float wd)
{
    const __m512 vb1 = _mm512_set1_ps(b1), vb2 = _mm512_set1_ps(b2);
    const __m512 vc1 = _mm512_set1_ps(1.0f - b1), vc2 = _mm512_set1_ps(1.0f - b2);
    const __m512 vstep = _mm512_set1_ps(step), veps = _mm512_set1_ps(eps);
    const __m512 vwd = _mm512_set1_ps(wd);
    size_t i = 0;
    for (; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1u);
        __m512 gi = _mm512_maskz_loadu_ps(k, g + i);
        __m512 mi = _mm512_maskz_loadu_ps(k, m + i);
        __m512 vi = _mm512_maskz_loadu_ps(k, v + i);
        __m512 pi = _mm512_maskz_loadu_ps(k, p + i);
        mi = _mm512_fmadd_ps(vb1, mi, _mm512_mul_ps(vc1, gi));
        vi = _mm512_fmadd_ps(vb2, vi, _mm512_mul_ps(_mm512_mul_ps(vc2, gi), gi));
        __m512 den = _mm512_add_ps(_mm512_sqrt_ps(vi), veps);
        __m512 upd = _mm512_fmadd_ps(vwd, pi, _mm512_div_ps(_mm512_mul_ps(vstep, mi), den));
        _mm512_mask_storeu_ps(m + i, k, mi);
        _mm512_mask_storeu_ps(v + i, k, vi);
        _mm512_mask_storeu_ps(p + i, k, _mm512_sub_ps(pi, upd));
    }
}

const mn_conv_impl mn_conv_impl_avx512 = {
    .name = "avx512",
    .tile = tile,
    .dw = dw,
    .store = store,
    .pool_store = pool_store,
    .expand = expand,
    .expand_pool = expand_pool,
    .transpose = transpose,
    .adam = adam,
};

#else
typedef int mn_conv_avx512_unused; /* not an x86-64 target: nothing here */
#endif
