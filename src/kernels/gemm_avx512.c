/* gemm_avx512.c: the AVX-512 micro-kernel (up to 14 rows x 32 columns: 28 zmm accumulators,
 * two B vectors and a broadcast A value per k) and packers that transpose with 16x16 in-register
 * shuffles. Compiled with function target attributes so the library itself stays generic
 * x86-64; gemm.c calls in here only when the CPU has AVX-512F/VL/BW/DQ. */
#include "kernels/gemm_internal.h"

#if defined(__x86_64__)

#include <immintrin.h>
#include <stddef.h>

#define T512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma")))
#define INL static inline __attribute__((always_inline))

enum { MR = 14, NR = 32 };

/* The micro-kernel in assembly, so that the register allocation cannot vary with the tile
 * size: accumulators in zmm0..27 (row r in zmm2r and zmm2r+1 when 32 wide, in zmmr when 16
 * wide), B in zmm28/29, broadcast A values alternating in zmm30/31. The 32-wide loop prefetches
 * the row of B 8 steps ahead: B read in place has a row stride the hardware prefetchers do not
 * follow. Three endings: C = alpha * acc (beta 0), C = alpha * acc + C (beta 1), or the
 * accumulators saved to a tile `c` of rows of 32 floats for the caller to finish (other beta).
 * RL<v>_<n>(X) lists the n rows of a tile v vectors wide as X(row, acc, [acc2,] broadcast reg). */
#define RL2_1(X) X(0, 0, 1, 30)
#define RL2_2(X) RL2_1(X) X(1, 2, 3, 31)
#define RL2_3(X) RL2_2(X) X(2, 4, 5, 30)
#define RL2_4(X) RL2_3(X) X(3, 6, 7, 31)
#define RL2_5(X) RL2_4(X) X(4, 8, 9, 30)
#define RL2_6(X) RL2_5(X) X(5, 10, 11, 31)
#define RL2_7(X) RL2_6(X) X(6, 12, 13, 30)
#define RL2_8(X) RL2_7(X) X(7, 14, 15, 31)
#define RL2_9(X) RL2_8(X) X(8, 16, 17, 30)
#define RL2_10(X) RL2_9(X) X(9, 18, 19, 31)
#define RL2_11(X) RL2_10(X) X(10, 20, 21, 30)
#define RL2_12(X) RL2_11(X) X(11, 22, 23, 31)
#define RL2_13(X) RL2_12(X) X(12, 24, 25, 30)
#define RL2_14(X) RL2_13(X) X(13, 26, 27, 31)
#define RL1_1(X) X(0, 0, 30)
#define RL1_2(X) RL1_1(X) X(1, 1, 31)
#define RL1_3(X) RL1_2(X) X(2, 2, 30)
#define RL1_4(X) RL1_3(X) X(3, 3, 31)
#define RL1_5(X) RL1_4(X) X(4, 4, 30)
#define RL1_6(X) RL1_5(X) X(5, 5, 31)
#define RL1_7(X) RL1_6(X) X(6, 6, 30)
#define RL1_8(X) RL1_7(X) X(7, 7, 31)
#define RL1_9(X) RL1_8(X) X(8, 8, 30)
#define RL1_10(X) RL1_9(X) X(9, 9, 31)
#define RL1_11(X) RL1_10(X) X(10, 10, 30)
#define RL1_12(X) RL1_11(X) X(11, 11, 31)
#define RL1_13(X) RL1_12(X) X(12, 12, 30)
#define RL1_14(X) RL1_13(X) X(13, 13, 31)

#define FMA2(r, c0, c1, t)                                                                      \
    "vbroadcastss " #r "*4(%[a]), %%zmm" #t "\n\t"                                              \
    "vfmadd231ps %%zmm28, %%zmm" #t ", %%zmm" #c0 "\n\t"                                        \
    "vfmadd231ps %%zmm29, %%zmm" #t ", %%zmm" #c1 "\n\t"
#define FMA1(r, c, t)                                                                           \
    "vbroadcastss " #r "*4(%[a]), %%zmm" #t "\n\t"                                              \
    "vfmadd231ps %%zmm28, %%zmm" #t ", %%zmm" #c "\n\t"
#define SAVE2(r, c0, c1, t)                                                                     \
    "vmovaps %%zmm" #c0 ", " #r "*128(%[c])\n\t"                                                \
    "vmovaps %%zmm" #c1 ", " #r "*128+64(%[c])\n\t"
#define SAVE1(r, c, t) "vmovaps %%zmm" #c ", " #r "*128(%[c])\n\t"
#define SET2(r, c0, c1, t)                                                                      \
    "vmulps %%zmm28, %%zmm" #c0 ", %%zmm" #c0 "\n\t"                                            \
    "vmulps %%zmm28, %%zmm" #c1 ", %%zmm" #c1 "\n\t"                                            \
    "vmovups %%zmm" #c0 ", (%[c])\n\t"                                                          \
    "vmovups %%zmm" #c1 ", 64(%[c])%{%[m]%}\n\t"                                                \
    "add %[ldc], %[c]\n\t"
#define SET1(r, c, t)                                                                           \
    "vmulps %%zmm28, %%zmm" #c ", %%zmm" #c "\n\t"                                              \
    "vmovups %%zmm" #c ", (%[c])%{%[m]%}\n\t"                                                   \
    "add %[ldc], %[c]\n\t"
#define ADD2(r, c0, c1, t)                                                                      \
    "vfmadd213ps (%[c]), %%zmm28, %%zmm" #c0 "\n\t"                                             \
    "vmovups 64(%[c]), %%zmm29%{%[m]%}%{z%}\n\t"                                                \
    "vfmadd231ps %%zmm28, %%zmm" #c1 ", %%zmm29\n\t"                                            \
    "vmovups %%zmm" #c0 ", (%[c])\n\t"                                                          \
    "vmovups %%zmm29, 64(%[c])%{%[m]%}\n\t"                                                     \
    "add %[ldc], %[c]\n\t"
#define ADD1(r, c, t)                                                                           \
    "vmovups (%[c]), %%zmm29%{%[m]%}%{z%}\n\t"                                                  \
    "vfmadd231ps %%zmm28, %%zmm" #c ", %%zmm29\n\t"                                             \
    "vmovups %%zmm29, (%[c])%{%[m]%}\n\t"                                                       \
    "add %[ldc], %[c]\n\t"
#define ZERO(c) "vpxord %%zmm" #c ", %%zmm" #c ", %%zmm" #c "\n\t"
#define ZERO2(r, c0, c1, t) ZERO(c0) ZERO(c1)
#define ZERO1(r, c, t) ZERO(c)
#define ZMM_CLOBBERS                                                                            \
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",      \
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19",         \
        "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28",         \
        "xmm29", "xmm30", "xmm31"

/* acc[r][0..31] (or [0..15]) = sum over k < kc of a[k*R + r] * b[k*ldb + 0..31]. */
#define KLOOP2(R)                                                                               \
    RL2_##R(ZERO2) "test %[k], %[k]\n\t"                                                        \
             "jz 2f\n\t"                                                                        \
             ".p2align 5\n"                                                                     \
             "1:\n\t"                                                                           \
             "prefetcht0 (%[b], %[ldb], 8)\n\t"                                                 \
             "prefetcht0 64(%[b], %[ldb], 8)\n\t"                                               \
             "vmovups (%[b]), %%zmm28\n\t"                                                      \
             "vmovups 64(%[b]), %%zmm29%{%[m]%}%{z%}\n\t" RL2_##R(FMA2) "add $" #R "*4, %[a]\n\t" \
             "add %[ldb], %[b]\n\t"                                                             \
             "dec %[k]\n\t"                                                                     \
             "jnz 1b\n"                                                                         \
             "2:\n\t"
#define KLOOP1(R)                                                                               \
    RL1_##R(ZERO1) "test %[k], %[k]\n\t"                                                        \
             "jz 2f\n\t"                                                                        \
             ".p2align 5\n"                                                                     \
             "1:\n\t"                                                                           \
             "vmovups (%[b]), %%zmm28%{%[m]%}%{z%}\n\t" RL1_##R(FMA1) "add $" #R "*4, %[a]\n\t"  \
             "add %[ldb], %[b]\n\t"                                                             \
             "dec %[k]\n\t"                                                                     \
             "jnz 1b\n"                                                                         \
             "2:\n\t"
#define ALPHA "vbroadcastss %[alpha], %%zmm28\n\t"

typedef void (*tile_fn)(long kc, const float *a, const float *b, long ldb, float *c, long ldc,
                        __mmask16 m, const float *alpha);
#define TILE(NAME, BODY)                                                                        \
    static T512 void NAME(long kc, const float *a, const float *b, long ldb, float *c, long ldc, \
                          __mmask16 m, const float *alpha)                                      \
    {                                                                                           \
        __asm__ volatile(BODY                                                                   \
                         : [a] "+r"(a), [b] "+r"(b), [k] "+r"(kc), [c] "+r"(c)                  \
                         : [ldb] "r"(ldb * 4), [ldc] "r"(ldc * 4), [m] "Yk"(m),                 \
                           [alpha] "m"(*alpha)                                                  \
                         : "cc", "memory", ZMM_CLOBBERS);                                       \
    }
#define TILES(R)                                                                                \
    TILE(save_##R##_1, KLOOP1(R) RL1_##R(SAVE1))                                                \
    TILE(save_##R##_2, KLOOP2(R) RL2_##R(SAVE2))                                                \
    TILE(set_##R##_1, KLOOP1(R) ALPHA RL1_##R(SET1))                                            \
    TILE(set_##R##_2, KLOOP2(R) ALPHA RL2_##R(SET2))                                            \
    TILE(add_##R##_1, KLOOP1(R) ALPHA RL1_##R(ADD1))                                            \
    TILE(add_##R##_2, KLOOP2(R) ALPHA RL2_##R(ADD2))
TILES(1) TILES(2) TILES(3) TILES(4) TILES(5) TILES(6) TILES(7)
TILES(8) TILES(9) TILES(10) TILES(11) TILES(12) TILES(13) TILES(14)
#undef TILES
#undef TILE

#define ROW(E, R) {E##_##R##_1, E##_##R##_2}
#define END(E)                                                                                  \
    {{NULL, NULL}, ROW(E, 1),  ROW(E, 2),  ROW(E, 3),  ROW(E, 4),  ROW(E, 5),  ROW(E, 6),         \
     ROW(E, 7),    ROW(E, 8),  ROW(E, 9),  ROW(E, 10), ROW(E, 11), ROW(E, 12), ROW(E, 13),        \
     ROW(E, 14)}
static const tile_fn tiles[3][MR + 1][2] = {END(save), END(set), END(add)};
#undef END
#undef ROW

/* C[mr,nr] = alpha * a[mr,kc] @ b[kc,nr] + beta * C (see gemm_internal.h). */
static T512 void kernel(int mr, int nr, int kc, const float *a, const float *b, long ldb,
                        float *c, long ldc, float alpha, float beta)
{
    int wide = nr > 16;
    int last = wide ? nr - 16 : nr;
    __mmask16 m = (__mmask16)((1u << last) - 1u);
    for (int r = 0; r < mr; r++) {
        _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + r * ldc + nr - 1), _MM_HINT_T0);
    }
    if (beta == 0.0f || beta == 1.0f) {
        tiles[beta == 0.0f ? 1 : 2][mr][wide](kc, a, b, ldb, c, ldc, m, &alpha);
        return;
    }
    _Alignas(64) float t[MR * 32];
    tiles[0][mr][wide](kc, a, b, ldb, t, 0, m, &alpha);
    /* The same operations as the assembly endings: C = alpha * acc + (beta * C). */
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    for (int r = 0; r < mr; r++) {
        float *cr = c + r * ldc;
        const float *tr = t + r * 32;
        if (wide) {
            __m512 v = _mm512_mul_ps(vb, _mm512_loadu_ps(cr));
            _mm512_storeu_ps(cr, _mm512_fmadd_ps(va, _mm512_load_ps(tr), v));
            cr += 16;
            tr += 16;
        }
        __m512 v = _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(m, cr));
        _mm512_mask_storeu_ps(cr, m, _mm512_fmadd_ps(va, _mm512_load_ps(tr), v));
    }
}

/* ---- Packing ----------------------------------------------------------------------------- */

/* Transposes the 16x16 block held in r[0..15] (row i in r[i]) in place. */
INL T512 void transpose16(__m512 r[16])
{
    __m512 t[16];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
#pragma GCC unroll 4
    for (int g = 0; g < 4; g++) {
        __m512d a0 = _mm512_castps_pd(t[4 * g]), a1 = _mm512_castps_pd(t[4 * g + 1]);
        __m512d a2 = _mm512_castps_pd(t[4 * g + 2]), a3 = _mm512_castps_pd(t[4 * g + 3]);
        r[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(a0, a2));
        r[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a0, a2));
        r[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(a1, a3));
        r[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(a1, a3));
    }
    /* r[4g+c] now holds rows 4g..4g+3 of columns c, c+4, c+8, c+12 (one per 128-bit lane). */
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) {
        t[c] = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x88);
        t[4 + c] = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xdd);
        t[8 + c] = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x88);
        t[12 + c] = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xdd);
    }
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) {
        r[c] = _mm512_shuffle_f32x4(t[c], t[8 + c], 0x88);
        r[c + 8] = _mm512_shuffle_f32x4(t[c], t[8 + c], 0xdd);
        r[c + 4] = _mm512_shuffle_f32x4(t[4 + c], t[12 + c], 0x88);
        r[c + 12] = _mm512_shuffle_f32x4(t[4 + c], t[12 + c], 0xdd);
    }
}

/* Loads rows [0,rows) x columns [0,cols) of a row-major block (stride ld), transposes it and
 * stores column t (t < cols) as `rows` floats... via the mask `out` at dst + t * dst_stride. */
INL T512 void transpose_block(const float *src, long ld, int rows, int cols, float *dst,
                              long dst_stride, __mmask16 out)
{
    __m512 r[16];
    __mmask16 in = (__mmask16)((1u << cols) - 1u);
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++)
        r[i] = i < rows ? _mm512_maskz_loadu_ps(in, src + i * ld) : _mm512_setzero_ps();
    transpose16(r);
#pragma GCC unroll 16
    for (int t = 0; t < 16; t++)
        if (t < cols)
            _mm512_mask_storeu_ps(dst + t * dst_stride, out, r[t]);
}

static T512 void pack_a(int trans_a, int mc, int kc, const float *A, long lda,
                        const int *heights, int np, float *dst)
{
    int r0 = 0;
    for (int p = 0; p < np; p++) {
        int h = heights[p];
        __mmask16 hm = (__mmask16)((1u << h) - 1u);
        if (trans_a) {
            const float *src = A + r0;
            for (int k = 0; k < kc; k++)
                _mm512_mask_storeu_ps(dst + k * h, hm,
                                      _mm512_maskz_loadu_ps(hm, src + k * lda));
        } else {
            const float *src = A + r0 * lda;
            for (int k0 = 0; k0 < kc; k0 += 16) {
                int kk = kc - k0 < 16 ? kc - k0 : 16;
                transpose_block(src + k0, lda, h, kk, dst + k0 * h, h, hm);
            }
        }
        dst += (size_t)h * kc;
        r0 += h;
    }
    (void)mc;
}

static T512 void pack_b(int trans_b, int kc, int nc, const float *B, long ldb, float *dst)
{
    if (!trans_b) {
        /* Row by row, so that B is read in long contiguous runs. */
        int full = nc / NR, rest = nc - full * NR;
        int w = rest ? mn_gemm_panel_width(NR, rest) : 0;
        float *tail = dst + (size_t)full * NR * kc;
        __mmask16 m0 = (__mmask16)((1u << (rest < 16 ? rest : 16)) - 1u);
        __mmask16 m1 = (__mmask16)((1u << (rest > 16 ? rest - 16 : 0)) - 1u);
        for (int k = 0; k < kc; k++) {
            const float *src = B + k * ldb;
            float *d = dst + (size_t)k * NR;
            for (int p = 0; p < full; p++, src += NR, d += (size_t)NR * kc) {
                _mm512_store_ps(d, _mm512_loadu_ps(src));
                _mm512_store_ps(d + 16, _mm512_loadu_ps(src + 16));
            }
            if (rest) {
                _mm512_storeu_ps(tail + k * w, _mm512_maskz_loadu_ps(m0, src));
                if (w > 16)
                    _mm512_storeu_ps(tail + k * w + 16, _mm512_maskz_loadu_ps(m1, src + 16));
            }
        }
        return;
    }
    for (int j0 = 0; j0 < nc; j0 += NR) {
        int cnt = nc - j0 < NR ? nc - j0 : NR;
        int w = mn_gemm_panel_width(NR, cnt);
        for (int jb = 0; jb < w; jb += 16) {
            int jj = cnt - jb < 16 ? cnt - jb : 16;
            const float *src = B + (j0 + jb) * ldb;
            for (int k0 = 0; k0 < kc; k0 += 16) {
                int kk = kc - k0 < 16 ? kc - k0 : 16;
                transpose_block(src + k0, ldb, jj, kk, dst + k0 * w + jb, w, 0xffff);
            }
        }
        dst += (size_t)w * kc;
    }
}

/* ---- Dot-product kernel (A @ B^T with both read along K) -------------------------------- */

enum { DMI = 4, DNJ = 6 };

/* One dot tile (see mn_gemm_dot_fn); MI and NJ are constants after inlining. */
INL T512 void dot_body(const int mi, const int nj, int kc, const float *a, long lda,
                       const float *b, long ldb, float *sums, int first, int last, float *c,
                       long ldc, float alpha, float beta)
{
    __m512 acc[DMI][DNJ];
#pragma GCC unroll 4
    for (int r = 0; r < mi; r++)
#pragma GCC unroll 6
        for (int j = 0; j < nj; j++)
            acc[r][j] = first ? _mm512_setzero_ps() : _mm512_load_ps(sums + (r * DNJ + j) * 16);
    int k = 0;
    for (; k + 16 <= kc; k += 16) {
        __m512 x[DMI];
#pragma GCC unroll 4
        for (int r = 0; r < mi; r++)
            x[r] = _mm512_loadu_ps(a + r * lda + k);
#pragma GCC unroll 6
        for (int j = 0; j < nj; j++) {
            __m512 w = _mm512_loadu_ps(b + j * ldb + k);
#pragma GCC unroll 4
            for (int r = 0; r < mi; r++)
                acc[r][j] = _mm512_fmadd_ps(x[r], w, acc[r][j]);
        }
    }
    if (k < kc) {
        __mmask16 m = (__mmask16)((1u << (kc - k)) - 1u);
        __m512 x[DMI];
#pragma GCC unroll 4
        for (int r = 0; r < mi; r++)
            x[r] = _mm512_maskz_loadu_ps(m, a + r * lda + k);
#pragma GCC unroll 6
        for (int j = 0; j < nj; j++) {
            __m512 w = _mm512_maskz_loadu_ps(m, b + j * ldb + k);
#pragma GCC unroll 4
            for (int r = 0; r < mi; r++)
                acc[r][j] = _mm512_fmadd_ps(x[r], w, acc[r][j]);
        }
    }
    if (!last) {
#pragma GCC unroll 4
        for (int r = 0; r < mi; r++)
#pragma GCC unroll 6
            for (int j = 0; j < nj; j++)
                _mm512_store_ps(sums + (r * DNJ + j) * 16, acc[r][j]);
        return;
    }
#pragma GCC unroll 4
    for (int r = 0; r < mi; r++) {
        float *cr = c + r * ldc;
#pragma GCC unroll 6
        for (int j = 0; j < nj; j++) {
            float s = alpha * _mm512_reduce_add_ps(acc[r][j]);
            cr[j] = beta == 0.0f ? s : (beta == 1.0f ? s + cr[j] : s + beta * cr[j]);
        }
    }
}

typedef void (*dot_fn)(int kc, const float *a, long lda, const float *b, long ldb, float *sums,
                       int first, int last, float *c, long ldc, float alpha, float beta);
#define DOT(I, J)                                                                               \
    static T512 void dot_##I##_##J(int kc, const float *a, long lda, const float *b, long ldb, \
                                   float *sums, int first, int last, float *c, long ldc,        \
                                   float alpha, float beta)                                     \
    {                                                                                           \
        dot_body(I, J, kc, a, lda, b, ldb, sums, first, last, c, ldc, alpha, beta);            \
    }
#define DOTS(I) DOT(I, 1) DOT(I, 2) DOT(I, 3) DOT(I, 4) DOT(I, 5) DOT(I, 6)
DOTS(1) DOTS(2) DOTS(3) DOTS(4)
#undef DOTS
#undef DOT
#define DROW(I) {NULL, dot_##I##_1, dot_##I##_2, dot_##I##_3, dot_##I##_4, dot_##I##_5, dot_##I##_6}
static const dot_fn dots[DMI + 1][DNJ + 1] = {{NULL}, DROW(1), DROW(2), DROW(3), DROW(4)};
#undef DROW

static void dot(int mi, int nj, int kc, const float *a, long lda, const float *b, long ldb,
                float *sums, int first, int last, float *c, long ldc, float alpha, float beta)
{
    dots[mi][nj](kc, a, lda, b, ldb, sums, first, last, c, ldc, alpha, beta);
}

const mn_gemm_impl mn_gemm_impl_avx512 = {
    .name = "avx512",
    .mr = MR,
    .nr = NR,
    .kc = 256,
    .mc = 12 * MR,
    .nc = 32 * NR,
    .kernel = kernel,
    .pack_a = pack_a,
    .pack_b = pack_b,
    .dot = dot,
    .dmi = DMI,
    .dnj = DNJ,
    .dkc = 512,
    .dmc = 64,
};

#else
typedef int mn_gemm_avx512_unused; /* not an x86-64 target: nothing here */
#endif
