/* gemm_ref.c: the reference GEMM (a plain triple loop summing in double: slow, obviously
 * correct, the ground truth of the tests) and the portable implementation used when the CPU
 * has neither AVX2 nor AVX-512: plain-C packers and a small register-blocked micro-kernel that
 * the compiler vectorises for whatever the baseline target is. */
#include "kernels.h"
#include "kernels/gemm_internal.h"

#include <stddef.h>
#include <string.h>

/* C[M,N] = beta * C + alpha * op(A)[M,K] @ op(B)[K,N]. */
void mn_gemm_ref(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                 int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double sum = 0.0;
            for (int k = 0; k < K; k++) {
                float a = trans_a ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                float b = trans_b ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                sum += (double)a * (double)b;
            }
            float *c = &C[(size_t)i * ldc + j];
            *c = beta == 0.0f ? alpha * (float)sum : alpha * (float)sum + beta * *c;
        }
    }
}

/* ---- Generic packers (layouts in gemm_internal.h) ---------------------------------------- */

void mn_gemm_pack_a_c(int trans_a, int mc, int kc, const float *A, long lda, const int *heights,
                      int np, float *dst)
{
    int r0 = 0;
    for (int p = 0; p < np; p++) {
        int h = heights[p];
        if (trans_a) {
            for (int k = 0; k < kc; k++)
                for (int r = 0; r < h; r++)
                    dst[(size_t)k * h + r] = A[k * lda + r0 + r];
        } else {
            for (int r = 0; r < h; r++)
                for (int k = 0; k < kc; k++)
                    dst[(size_t)k * h + r] = A[(r0 + r) * lda + k];
        }
        dst += (size_t)h * kc;
        r0 += h;
    }
    (void)mc;
}

void mn_gemm_pack_b_c(int nr, int trans_b, int kc, int nc, const float *B, long ldb,
                      float *dst)
{
    for (int j0 = 0; j0 < nc; j0 += nr) {
        int cnt = nc - j0 < nr ? nc - j0 : nr;
        int w = mn_gemm_panel_width(nr, cnt);
        for (int k = 0; k < kc; k++) {
            for (int j = 0; j < w; j++) {
                float v = 0.0f;
                if (j < cnt)
                    v = trans_b ? B[(j0 + j) * ldb + k] : B[k * ldb + j0 + j];
                dst[(size_t)k * w + j] = v;
            }
        }
        dst += (size_t)w * kc;
    }
}

/* ---- Portable micro-kernel: 6x8 tiles ---------------------------------------------------- */

enum { PMR = 6, PNR = 8 };

#if defined(__GNUC__)
/* Two 4-float vectors per row: GCC and Clang map these onto whatever SIMD the target has. */
typedef float v4 __attribute__((vector_size(16)));
#define V4_ZERO ((v4){0.0f, 0.0f, 0.0f, 0.0f})
#define V4_SET1(x) ((v4){(x), (x), (x), (x)})
#endif

/* t[r][j] = sum over k of a[k*6 + r] * b[k*ldb + j]: the full 6x8 tile, a and b padded. */
static void tile_6x8(int kc, const float *a, const float *b, long ldb, float t[PMR][PNR])
{
#if defined(__GNUC__)
    v4 acc[PMR][2];
    for (int r = 0; r < PMR; r++)
        acc[r][0] = acc[r][1] = V4_ZERO;
    for (int k = 0; k < kc; k++) {
        v4 b0, b1;
        memcpy(&b0, b + k * ldb, sizeof b0);
        memcpy(&b1, b + k * ldb + 4, sizeof b1);
        for (int r = 0; r < PMR; r++) {
            v4 ar = V4_SET1(a[k * PMR + r]);
            acc[r][0] = acc[r][0] + ar * b0;
            acc[r][1] = acc[r][1] + ar * b1;
        }
    }
    for (int r = 0; r < PMR; r++) {
        memcpy(&t[r][0], &acc[r][0], sizeof acc[r][0]);
        memcpy(&t[r][4], &acc[r][1], sizeof acc[r][1]);
    }
#else
    for (int r = 0; r < PMR; r++)
        for (int j = 0; j < PNR; j++)
            t[r][j] = 0.0f;
    for (int k = 0; k < kc; k++)
        for (int r = 0; r < PMR; r++)
            for (int j = 0; j < PNR; j++)
                t[r][j] = t[r][j] + a[k * PMR + r] * b[k * ldb + j];
#endif
}

/* C[mr,nr] = alpha * a[mr,kc] @ b[kc,nr] + beta * C. Partial tiles are copied into zero-padded
 * buffers first, so that every element goes through the same arithmetic whatever its tile. */
static void kernel_portable(int mr, int nr, int kc, const float *a, const float *b, long ldb,
                            float *c, long ldc, float alpha, float beta)
{
    float t[PMR][PNR];
    if (mr == PMR && nr == PNR) {
        tile_6x8(kc, a, b, ldb, t);
    } else {
        /* kc <= 256 (the implementation's K block): 12 KiB of stack at most. */
        float ap[256 * PMR], bp[256 * PNR];
        for (int k = 0; k < kc; k++) {
            for (int r = 0; r < PMR; r++)
                ap[k * PMR + r] = r < mr ? a[k * mr + r] : 0.0f;
            for (int j = 0; j < PNR; j++)
                bp[k * PNR + j] = j < nr ? b[k * ldb + j] : 0.0f;
        }
        tile_6x8(kc, ap, bp, PNR, t);
    }
    for (int r = 0; r < mr; r++) {
        float *cr = c + r * ldc;
        for (int j = 0; j < nr; j++) {
            float v = alpha * t[r][j];
            cr[j] = beta == 0.0f ? v : v + beta * cr[j];
        }
    }
}

static void pack_b_portable(int trans_b, int kc, int nc, const float *B, long ldb, float *dst)
{
    mn_gemm_pack_b_c(PNR, trans_b, kc, nc, B, ldb, dst);
}

const mn_gemm_impl mn_gemm_impl_portable = {
    .name = "portable",
    .mr = PMR,
    .nr = PNR,
    .kc = 256,
    .mc = 16 * PMR,
    .nc = 64 * PNR,
    .kernel = kernel_portable,
    .pack_a = mn_gemm_pack_a_c,
    .pack_b = pack_b_portable,
};
