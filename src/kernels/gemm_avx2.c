/* gemm_avx2.c: the AVX2+FMA micro-kernel (up to 6 rows x 16 columns: 12 ymm accumulators),
 * for CPUs without AVX-512. Packing uses the plain-C packers. Compiled with function target
 * attributes; gemm.c calls in here only when the CPU has AVX2 and FMA. */
#include "kernels/gemm_internal.h"

#if defined(__x86_64__)

#include <immintrin.h>
#include <stddef.h>

#define T256 __attribute__((target("avx2,fma")))
#define INL static inline __attribute__((always_inline))

enum { MR = 6, NR = 16 };

static const int mask_src[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

/* C[MR,8*NV] = alpha * a[MR,kc] @ b[kc,8*NV] + beta * C; m selects the valid lanes of the last
 * 8 columns (and guards the loads of b). */
INL T256 void ukr(const int mr, const int nv, int kc, const float *a, const float *b, long ldb,
                  float *c, long ldc, __m256i m, float alpha, float beta)
{
    __m256 acc[MR][2];
#pragma GCC unroll 6
    for (int r = 0; r < mr; r++) {
        acc[r][0] = _mm256_setzero_ps();
        acc[r][1] = _mm256_setzero_ps();
    }
#pragma GCC unroll 2
    for (int k = 0; k < kc; k++) {
        __m256 b0, b1;
        if (nv == 2) {
            b0 = _mm256_loadu_ps(b);
            b1 = _mm256_maskload_ps(b + 8, m);
        } else {
            b0 = _mm256_maskload_ps(b, m);
            b1 = b0;
        }
#pragma GCC unroll 6
        for (int r = 0; r < mr; r++) {
            __m256 ar = _mm256_broadcast_ss(a + r);
            acc[r][0] = _mm256_fmadd_ps(ar, b0, acc[r][0]);
            if (nv == 2)
                acc[r][1] = _mm256_fmadd_ps(ar, b1, acc[r][1]);
        }
        a += mr;
        b += ldb;
    }
    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
#pragma GCC unroll 6
    for (int r = 0; r < mr; r++) {
        float *cr = c + r * ldc;
        float *last = nv == 2 ? cr + 8 : cr;
        __m256 vl = _mm256_mul_ps(va, acc[r][nv - 1]);
        if (beta == 1.0f)
            vl = _mm256_fmadd_ps(va, acc[r][nv - 1], _mm256_maskload_ps(last, m));
        else if (beta != 0.0f)
            vl = _mm256_fmadd_ps(va, acc[r][nv - 1],
                                 _mm256_mul_ps(vb, _mm256_maskload_ps(last, m)));
        if (nv == 2) {
            __m256 v0 = _mm256_mul_ps(va, acc[r][0]);
            if (beta == 1.0f)
                v0 = _mm256_fmadd_ps(va, acc[r][0], _mm256_loadu_ps(cr));
            else if (beta != 0.0f)
                v0 = _mm256_fmadd_ps(va, acc[r][0], _mm256_mul_ps(vb, _mm256_loadu_ps(cr)));
            _mm256_storeu_ps(cr, v0);
        }
        _mm256_maskstore_ps(last, m, vl);
    }
}

typedef void (*tile_fn)(int kc, const float *a, const float *b, long ldb, float *c, long ldc,
                        __m256i m, float alpha, float beta);

#define TILE(R, V)                                                                              \
    static T256 void tile_##R##_##V(int kc, const float *a, const float *b, long ldb, float *c, \
                                    long ldc, __m256i m, float alpha, float beta)               \
    {                                                                                           \
        ukr(R, V, kc, a, b, ldb, c, ldc, m, alpha, beta);                                       \
    }
#define TILES(R) TILE(R, 1) TILE(R, 2)
TILES(1) TILES(2) TILES(3) TILES(4) TILES(5) TILES(6)
#undef TILES
#undef TILE

#define ROW(R) {tile_##R##_1, tile_##R##_2}
static const tile_fn tiles[MR + 1][2] = {
    {NULL, NULL}, ROW(1), ROW(2), ROW(3), ROW(4), ROW(5), ROW(6),
};
#undef ROW

static T256 void kernel(int mr, int nr, int kc, const float *a, const float *b, long ldb,
                        float *c, long ldc, float alpha, float beta)
{
    int wide = nr > 8;
    int last = wide ? nr - 8 : nr;
    __m256i m = _mm256_loadu_si256((const __m256i *)(mask_src + 8 - last));
    tiles[mr][wide](kc, a, b, ldb, c, ldc, m, alpha, beta);
}

static void pack_b(int trans_b, int kc, int nc, const float *B, long ldb, float *dst)
{
    mn_gemm_pack_b_c(NR, trans_b, kc, nc, B, ldb, dst);
}

const mn_gemm_impl mn_gemm_impl_avx2 = {
    .name = "avx2",
    .mr = MR,
    .nr = NR,
    .kc = 256,
    .mc = 24 * MR,
    .nc = 64 * NR,
    .kernel = kernel,
    .pack_a = mn_gemm_pack_a_c,
    .pack_b = pack_b,
};

#else
typedef int mn_gemm_avx2_unused; /* not an x86-64 target: nothing here */
#endif
