/* layers.c: the fast layer kernels the model runs: convolution as im2col + GEMM per image with
 * OpenMP over the batch, dense layers as one threaded GEMM, pooling and elementwise loops.
 * Every kernel here has a reference twin in layers_ref.c and a test comparing the two. */
#include "layers.h"

#include "kernels.h"

#include <math.h>
#include <omp.h>
#include <string.h>

/* col[C*K*K, OH*OW] from one image in[C,H,W]: row (c,ky,kx), column (oy,ox). */
static void im2col(float *col, const float *in, int C, int H, int W, int K, int S, int P, int OH,
                   int OW)
{
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < K; ky++)
            for (int kx = 0; kx < K; kx++) {
                float *row = col + ((size_t)(c * K + ky) * K + kx) * OH * OW;
                const float *plane = in + (size_t)c * H * W;
                for (int oy = 0; oy < OH; oy++) {
                    int y = oy * S + ky - P;
                    float *dst = row + (size_t)oy * OW;
                    if (y < 0 || y >= H) {
                        memset(dst, 0, sizeof(float) * OW);
                        continue;
                    }
                    const float *src = plane + (size_t)y * W;
                    if (S == 1) {
                        /* x = ox + kx - P is inside [0, W) for ox in [lo, hi) */
                        int lo = P - kx, hi = W + P - kx;
                        lo = lo < 0 ? 0 : (lo > OW ? OW : lo);
                        hi = hi > OW ? OW : (hi < lo ? lo : hi);
                        memset(dst, 0, sizeof(float) * lo);
                        memcpy(dst + lo, src + lo + kx - P, sizeof(float) * (hi - lo));
                        memset(dst + hi, 0, sizeof(float) * (OW - hi));
                    } else {
                        for (int ox = 0; ox < OW; ox++) {
                            int x = ox * S + kx - P;
                            dst[ox] = (x >= 0 && x < W) ? src[x] : 0.0f;
                        }
                    }
                }
            }
}

/* The adjoint of im2col: din[C,H,W] = sum of col entries that read each input pixel. */
static void col2im(float *din, const float *col, int C, int H, int W, int K, int S, int P, int OH,
                   int OW)
{
    memset(din, 0, sizeof(float) * (size_t)C * H * W);
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < K; ky++)
            for (int kx = 0; kx < K; kx++) {
                const float *row = col + ((size_t)(c * K + ky) * K + kx) * OH * OW;
                float *plane = din + (size_t)c * H * W;
                for (int oy = 0; oy < OH; oy++) {
                    int y = oy * S + ky - P;
                    if (y < 0 || y >= H)
                        continue;
                    const float *src = row + (size_t)oy * OW;
                    float *dst = plane + (size_t)y * W;
                    for (int ox = 0; ox < OW; ox++) {
                        int x = ox * S + kx - P;
                        if (x >= 0 && x < W)
                            dst[x] += src[ox];
                    }
                }
            }
}

/* The images of a batch handled by thread t of T: [*lo, *hi). */
static void thread_range(int N, int t, int T, int *lo, int *hi)
{
    *lo = (int)((long long)N * t / T);
    *hi = (int)((long long)N * (t + 1) / T);
}

void mn_conv2d_forward(float *out, const float *in, const float *w, const float *b, int N, int C,
                       int H, int W, int OC, int K, int S, int P, int OH, int OW, float *col,
                       int threads)
{
    const int CKK = C * K * K, PIX = OH * OW;
#pragma omp parallel num_threads(threads)
    {
        int T = omp_get_num_threads(), t = omp_get_thread_num(), lo, hi;
        thread_range(N, t, T, &lo, &hi);
        float *my_col = col + (size_t)t * CKK * PIX;
        for (int n = lo; n < hi; n++) {
            const float *x = in + (size_t)n * C * H * W;
            float *y = out + (size_t)n * OC * PIX;
            im2col(my_col, x, C, H, W, K, S, P, OH, OW);
            mn_gemm(0, 0, OC, PIX, CKK, 1.0f, w, CKK, my_col, PIX, 0.0f, y, PIX);
            if (b)
                for (int oc = 0; oc < OC; oc++)
                    for (int p = 0; p < PIX; p++)
                        y[(size_t)oc * PIX + p] += b[oc];
        }
    }
}

void mn_conv2d_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                        const float *w, int N, int C, int H, int W, int OC, int K, int S, int P,
                        int OH, int OW, float *col, float *dw_part, int threads)
{
    const int CKK = C * K * K, PIX = OH * OW;
    const size_t part = (size_t)OC * CKK + OC;
#pragma omp parallel num_threads(threads)
    {
        int T = omp_get_num_threads(), t = omp_get_thread_num(), lo, hi;
        thread_range(N, t, T, &lo, &hi);
        float *my_col = col + (size_t)t * CKK * PIX;
        float *my_dw = dw_part + (size_t)t * part, *my_db = my_dw + (size_t)OC * CKK;
        memset(my_dw, 0, sizeof(float) * part);
        for (int n = lo; n < hi; n++) {
            const float *x = in + (size_t)n * C * H * W;
            const float *g = dout + (size_t)n * OC * PIX;
            im2col(my_col, x, C, H, W, K, S, P, OH, OW);
            /* dw[OC,CKK] += g[OC,PIX] @ col[CKK,PIX]^T */
            mn_gemm(0, 1, OC, CKK, PIX, 1.0f, g, PIX, my_col, PIX, 1.0f, my_dw, CKK);
            for (int oc = 0; oc < OC; oc++) {
                float s = 0.0f;
                for (int p = 0; p < PIX; p++)
                    s += g[(size_t)oc * PIX + p];
                my_db[oc] += s;
            }
            if (din) {
                /* col[CKK,PIX] = w[OC,CKK]^T @ g[OC,PIX], then scatter back */
                mn_gemm(1, 0, CKK, PIX, OC, 1.0f, w, CKK, g, PIX, 0.0f, my_col, PIX);
                col2im(din + (size_t)n * C * H * W, my_col, C, H, W, K, S, P, OH, OW);
            }
        }
#pragma omp barrier
        /* Sum the per-thread parts in thread order: the same bits for a given thread count. */
        size_t plo = part * t / T, phi = part * (t + 1) / T;
        for (size_t i = plo; i < phi; i++) {
            float s = dw_part[i];
            for (int u = 1; u < T; u++)
                s += dw_part[(size_t)u * part + i];
            if (i < (size_t)OC * CKK)
                dw[i] = s;
            else if (db)
                db[i - (size_t)OC * CKK] = s;
        }
    }
}

void mn_maxpool_forward(float *out, const float *in, int N, int C, int H, int W, int K, int S,
                        int OH, int OW, int threads)
{
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int nc = 0; nc < N * C; nc++) {
        const float *x = in + (size_t)nc * H * W;
        float *y = out + (size_t)nc * OH * OW;
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                const float *win = x + (size_t)oy * S * W + ox * S;
                float m = -INFINITY;
                for (int ky = 0; ky < K; ky++)
                    for (int kx = 0; kx < K; kx++)
                        m = win[ky * W + kx] > m ? win[ky * W + kx] : m;
                y[oy * OW + ox] = m;
            }
    }
}

void mn_maxpool_backward(float *din, const float *dout, const float *in, int N, int C, int H,
                         int W, int K, int S, int OH, int OW, int threads)
{
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int nc = 0; nc < N * C; nc++) {
        const float *x = in + (size_t)nc * H * W;
        float *dx = din + (size_t)nc * H * W;
        const float *g = dout + (size_t)nc * OH * OW;
        memset(dx, 0, sizeof(float) * (size_t)H * W);
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                int base = oy * S * W + ox * S, best = base;
                float m = -INFINITY;
                for (int ky = 0; ky < K; ky++)
                    for (int kx = 0; kx < K; kx++) {
                        int i = base + ky * W + kx;
                        if (x[i] > m) {
                            m = x[i];
                            best = i;
                        }
                    }
                dx[best] += g[oy * OW + ox];
            }
    }
}

void mn_dense_forward(float *out, const float *in, const float *w, const float *b, int N, int IN,
                      int OUT, int threads)
{
    /* out[N,OUT] = in[N,IN] @ w[OUT,IN]^T */
    mn_gemm_mt(0, 1, N, OUT, IN, 1.0f, in, IN, w, IN, 0.0f, out, OUT, threads);
    if (b)
        for (int n = 0; n < N; n++)
            for (int o = 0; o < OUT; o++)
                out[(size_t)n * OUT + o] += b[o];
}

void mn_dense_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                       const float *w, int N, int IN, int OUT, int threads)
{
    /* dw[OUT,IN] = dout[N,OUT]^T @ in[N,IN] */
    mn_gemm_mt(1, 0, OUT, IN, N, 1.0f, dout, OUT, in, IN, 0.0f, dw, IN, threads);
    if (db)
        for (int o = 0; o < OUT; o++) {
            float s = 0.0f;
            for (int n = 0; n < N; n++)
                s += dout[(size_t)n * OUT + o];
            db[o] = s;
        }
    /* din[N,IN] = dout[N,OUT] @ w[OUT,IN] */
    if (din)
        mn_gemm_mt(0, 0, N, IN, OUT, 1.0f, dout, OUT, w, IN, 0.0f, din, IN, threads);
}
