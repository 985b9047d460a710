/* test_layers.c: every layer's backward pass against central finite differences (reference
 * kernels), the fast kernels against the reference ones (several shapes, strides, paddings, odd
 * sizes, batch 1 and > 1, 1 and 2 threads), and a whole model's gradient against finite
 * differences of its loss. */
#include "check.h"
#include "internal.h"
#include "layers.h"
#include "model_internal.h"

#include <math.h>

static mn_rng g_rng;

static float *randn(size_t n, float scale)
{
    float *x = mn_alloc_aligned(n, sizeof(float));
    for (size_t i = 0; i < n; i++)
        x[i] = mn_rng_normal(&g_rng) * scale;
    return x;
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

static double max_rel_diff(const float *a, const float *b, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]) / (1.0 + fabs((double)b[i]));
        worst = d > worst ? d : worst;
    }
    return worst;
}

/* A scalar loss L = <forward(x), R>; `fwd` writes the output for the current parameters. */
typedef void (*forward_fn)(void *ctx, float *out);

/* Compares analytic gradient `grad` of L with respect to `x` (n values) against central
 * differences at up to 40 random positions. Returns the largest relative error. */
static double fd_check(forward_fn fwd, void *ctx, float *out, const float *R, size_t out_n,
                       float *x, const float *grad, size_t n)
{
    double worst = 0;
    for (int t = 0; t < 40; t++) {
        size_t i = mn_rng_below(&g_rng, (uint32_t)n);
        float keep = x[i], eps = 1e-2f * (1.0f + fabsf(keep));
        x[i] = keep + eps;
        fwd(ctx, out);
        double lp = dot(out, R, out_n);
        x[i] = keep - eps;
        fwd(ctx, out);
        double lm = dot(out, R, out_n);
        x[i] = keep;
        double num = (lp - lm) / (2.0 * eps);
        double err = fabs(num - grad[i]) / (1e-2 + fabs(num) + fabs(grad[i]));
        worst = err > worst ? err : worst;
    }
    return worst;
}

typedef struct conv_case {
    int N, C, H, W, OC, K, S, P;
} conv_case;

typedef struct conv_ctx {
    conv_case c;
    int OH, OW;
    float *x, *w, *b;
} conv_ctx;

static void conv_fwd(void *p, float *out)
{
    conv_ctx *k = p;
    mn_conv2d_forward_ref(out, k->x, k->w, k->b, k->c.N, k->c.C, k->c.H, k->c.W, k->c.OC, k->c.K,
                          k->c.S, k->c.P, k->OH, k->OW);
}

static void test_conv(conv_case c)
{
    conv_ctx k = {.c = c};
    k.OH = (c.H + 2 * c.P - c.K) / c.S + 1;
    k.OW = (c.W + 2 * c.P - c.K) / c.S + 1;
    size_t nx = (size_t)c.N * c.C * c.H * c.W, nw = (size_t)c.OC * c.C * c.K * c.K;
    size_t ny = (size_t)c.N * c.OC * k.OH * k.OW;
    k.x = randn(nx, 1.0f), k.w = randn(nw, 0.3f), k.b = randn(c.OC, 0.1f);
    float *R = randn(ny, 1.0f), *y = randn(ny, 0), *y2 = randn(ny, 0);
    float *dx = randn(nx, 0), *dw = randn(nw, 0), *db = randn(c.OC, 0);
    mn_conv2d_backward_ref(dx, dw, db, R, k.x, k.w, c.N, c.C, c.H, c.W, c.OC, c.K, c.S, c.P, k.OH,
                           k.OW);
    double ex = fd_check(conv_fwd, &k, y, R, ny, k.x, dx, nx);
    double ew = fd_check(conv_fwd, &k, y, R, ny, k.w, dw, nw);
    double eb = fd_check(conv_fwd, &k, y, R, ny, k.b, db, c.OC);
    CHECK(ex < 1e-2 && ew < 1e-2 && eb < 1e-2,
          "conv N%d C%d %dx%d OC%d K%d S%d P%d: finite differences dx %.2e dw %.2e db %.2e",
          c.N, c.C, c.H, c.W, c.OC, c.K, c.S, c.P, ex, ew, eb);

    /* fast kernels against the reference, with 1 and 2 threads */
    for (int threads = 1; threads <= 2; threads++) {
        size_t colsz = (size_t)c.C * c.K * c.K * k.OH * k.OW;
        float *col = randn(colsz * threads, 0), *part = randn((nw + c.OC) * threads, 0);
        float *dx2 = randn(nx, 0), *dw2 = randn(nw, 0), *db2 = randn(c.OC, 0);
        mn_conv2d_forward_ref(y, k.x, k.w, k.b, c.N, c.C, c.H, c.W, c.OC, c.K, c.S, c.P, k.OH, k.OW);
        mn_conv2d_forward(y2, k.x, k.w, k.b, c.N, c.C, c.H, c.W, c.OC, c.K, c.S, c.P, k.OH, k.OW,
                          col, threads);
        double ef = max_rel_diff(y2, y, ny);
        mn_conv2d_backward(dx2, dw2, db2, R, k.x, k.w, c.N, c.C, c.H, c.W, c.OC, c.K, c.S, c.P,
                           k.OH, k.OW, col, part, threads);
        double bx = max_rel_diff(dx2, dx, nx), bw = max_rel_diff(dw2, dw, nw),
               bb = max_rel_diff(db2, db, c.OC);
        CHECK(ef < 1e-4 && bx < 1e-4 && bw < 1e-4 && bb < 1e-4,
              "fast conv (%d threads) vs reference: forward %.2e dx %.2e dw %.2e db %.2e", threads,
              ef, bx, bw, bb);
        mn_free_aligned(col), mn_free_aligned(part), mn_free_aligned(dx2);
        mn_free_aligned(dw2), mn_free_aligned(db2);
    }
    mn_free_aligned(k.x), mn_free_aligned(k.w), mn_free_aligned(k.b), mn_free_aligned(R);
    mn_free_aligned(y), mn_free_aligned(y2), mn_free_aligned(dx), mn_free_aligned(dw);
    mn_free_aligned(db);
}

typedef struct pool_ctx {
    int N, C, H, W, K, S, OH, OW;
    float *x;
} pool_ctx;

static void pool_fwd(void *p, float *out)
{
    pool_ctx *k = p;
    mn_maxpool_forward_ref(out, k->x, k->N, k->C, k->H, k->W, k->K, k->S, k->OH, k->OW);
}

static void test_pool(int N, int C, int H, int W, int K, int S)
{
    pool_ctx k = {N, C, H, W, K, S, (H - K) / S + 1, (W - K) / S + 1, NULL};
    size_t nx = (size_t)N * C * H * W, ny = (size_t)N * C * k.OH * k.OW;
    k.x = randn(nx, 1.0f);
    float *R = randn(ny, 1.0f), *y = randn(ny, 0), *y2 = randn(ny, 0);
    float *dx = randn(nx, 0), *dx2 = randn(nx, 0);
    mn_maxpool_backward_ref(dx, R, k.x, N, C, H, W, K, S, k.OH, k.OW);
    /* finite differences need steps smaller than the gaps between values in a window */
    double worst = 0;
    for (int t = 0; t < 40; t++) {
        size_t i = mn_rng_below(&g_rng, (uint32_t)nx);
        float keep = k.x[i], eps = 1e-4f;
        k.x[i] = keep + eps;
        pool_fwd(&k, y);
        double lp = dot(y, R, ny);
        k.x[i] = keep - eps;
        pool_fwd(&k, y);
        double lm = dot(y, R, ny);
        k.x[i] = keep;
        double num = (lp - lm) / (2 * eps);
        double err = fabs(num - dx[i]) / (1e-2 + fabs(num) + fabs(dx[i]));
        worst = err > worst ? err : worst;
    }
    CHECK(worst < 1e-2, "maxpool N%d C%d %dx%d K%d S%d: finite differences %.2e", N, C, H, W, K,
          S, worst);
    for (int threads = 1; threads <= 2; threads++) {
        pool_fwd(&k, y);
        mn_maxpool_forward(y2, k.x, N, C, H, W, K, S, k.OH, k.OW, threads);
        mn_maxpool_backward(dx2, R, k.x, N, C, H, W, K, S, k.OH, k.OW, threads);
        CHECK(max_rel_diff(y2, y, ny) == 0 && max_rel_diff(dx2, dx, nx) < 1e-6,
              "fast maxpool (%d threads) differs from the reference", threads);
    }
    mn_free_aligned(k.x), mn_free_aligned(R), mn_free_aligned(y), mn_free_aligned(y2);
    mn_free_aligned(dx), mn_free_aligned(dx2);
}

typedef struct dense_ctx {
    int N, IN, OUT;
    float *x, *w, *b;
} dense_ctx;

static void dense_fwd(void *p, float *out)
{
    dense_ctx *k = p;
    mn_dense_forward_ref(out, k->x, k->w, k->b, k->N, k->IN, k->OUT);
}

static void test_dense(int N, int IN, int OUT)
{
    dense_ctx k = {N, IN, OUT, randn((size_t)N * IN, 1), randn((size_t)OUT * IN, 0.3f), randn(OUT, 0.1f)};
    size_t ny = (size_t)N * OUT;
    float *R = randn(ny, 1), *y = randn(ny, 0), *y2 = randn(ny, 0);
    float *dx = randn((size_t)N * IN, 0), *dw = randn((size_t)OUT * IN, 0), *db = randn(OUT, 0);
    float *dx2 = randn((size_t)N * IN, 0), *dw2 = randn((size_t)OUT * IN, 0), *db2 = randn(OUT, 0);
    mn_dense_backward_ref(dx, dw, db, R, k.x, k.w, N, IN, OUT);
    double ex = fd_check(dense_fwd, &k, y, R, ny, k.x, dx, (size_t)N * IN);
    double ew = fd_check(dense_fwd, &k, y, R, ny, k.w, dw, (size_t)OUT * IN);
    double eb = fd_check(dense_fwd, &k, y, R, ny, k.b, db, OUT);
    CHECK(ex < 1e-2 && ew < 1e-2 && eb < 1e-2,
          "dense N%d %d->%d: finite differences dx %.2e dw %.2e db %.2e", N, IN, OUT, ex, ew, eb);
    for (int threads = 1; threads <= 2; threads++) {
        dense_fwd(&k, y);
        mn_dense_forward(y2, k.x, k.w, k.b, N, IN, OUT, threads);
        mn_dense_backward(dx2, dw2, db2, R, k.x, k.w, N, IN, OUT, threads);
        double ef = max_rel_diff(y2, y, ny), bx = max_rel_diff(dx2, dx, (size_t)N * IN),
               bw = max_rel_diff(dw2, dw, (size_t)OUT * IN), bb = max_rel_diff(db2, db, OUT);
        CHECK(ef < 1e-4 && bx < 1e-4 && bw < 1e-4 && bb < 1e-4,
              "fast dense N%d %d->%d (%d threads) vs reference: forward %.2e dx %.2e dw %.2e db %.2e",
              N, IN, OUT, threads, ef, bx, bw, bb);
    }
    mn_free_aligned(k.x), mn_free_aligned(k.w), mn_free_aligned(k.b), mn_free_aligned(R);
    mn_free_aligned(y), mn_free_aligned(y2), mn_free_aligned(dx), mn_free_aligned(dw);
    mn_free_aligned(db), mn_free_aligned(dx2), mn_free_aligned(dw2), mn_free_aligned(db2);
}

static void test_elementwise(void)
{
    enum { n = 64 };
    float x[n], y[n], R[n], dx[n], num[n];
    uint8_t mask[n];
    for (int i = 0; i < n; i++) {
        x[i] = mn_rng_normal(&g_rng);
        if (fabsf(x[i]) < 0.05f)
            x[i] = 0.5f; /* keep away from ReLU's kink */
        R[i] = mn_rng_normal(&g_rng);
        mask[i] = mn_rng_uniform(&g_rng) < 0.5f;
    }
    /* ReLU: d<out,R>/dx_i = R_i where x_i > 0 */
    mn_relu_forward(y, x, n);
    mn_relu_backward(dx, R, y, n);
    double worst = 0;
    for (int i = 0; i < n; i++) {
        float xp[1] = {x[i] + 1e-3f}, xm[1] = {x[i] - 1e-3f}, yp, ym;
        mn_relu_forward(&yp, xp, 1);
        mn_relu_forward(&ym, xm, 1);
        num[i] = (yp - ym) / 2e-3f * R[i];
        worst = fmax(worst, fabs(num[i] - dx[i]));
    }
    CHECK(worst < 1e-3, "relu backward vs finite differences: %.2e", worst);
    /* dropout: linear in x, so the gradient is exactly mask * scale * R */
    mn_dropout_forward(y, x, mask, 2.0f, n);
    mn_dropout_backward(dx, R, mask, 2.0f, n);
    int ok = 1, kept = 0;
    for (int i = 0; i < n; i++) {
        ok &= y[i] == (mask[i] ? 2.0f * x[i] : 0.0f) && dx[i] == (mask[i] ? 2.0f * R[i] : 0.0f);
        kept += mask[i];
    }
    CHECK(ok && kept > 0 && kept < n, "dropout forward/backward do not match mask * scale");

    /* softmax cross-entropy: dlogits against finite differences of the mean loss */
    enum { N = 3, K = 5 };
    float z[N * K], dz[N * K];
    uint8_t labels[N] = {0, 4, 2};
    for (int i = 0; i < N * K; i++)
        z[i] = mn_rng_normal(&g_rng) * 2;
    mn_softmax_xent(dz, NULL, z, labels, N, K);
    worst = 0;
    for (int i = 0; i < N * K; i++) {
        float keep = z[i];
        z[i] = keep + 1e-3f;
        double lp = mn_softmax_xent(NULL, NULL, z, labels, N, K);
        z[i] = keep - 1e-3f;
        double lm = mn_softmax_xent(NULL, NULL, z, labels, N, K);
        z[i] = keep;
        worst = fmax(worst, fabs((lp - lm) / 2e-3 - dz[i]));
    }
    CHECK(worst < 1e-3, "softmax cross-entropy gradient vs finite differences: %.2e", worst);
    float p[N * K];
    mn_softmax(p, z, N, K);
    double rowsum = 0;
    for (int k = 0; k < K; k++)
        rowsum += p[k];
    CHECK(fabs(rowsum - 1.0) < 1e-6, "softmax row sums to %.8f", rowsum);
}

/* The whole model: the gradient of the mean loss over a batch against finite differences. */
static void test_model_gradient(const char *spec, int H, int threads)
{
    mn_model *m;
    mn_status st = mn_model_create(&m, spec, 1, (uint32_t)H, (uint32_t)H, MN_INIT_HE, 7);
    CHECK(st == MN_OK, "create %s: %s", spec, mn_error_message());
    if (st != MN_OK)
        return;
    enum { N = 3 };
    CHECK(mn_model_reserve(m, N, threads) == MN_OK, "reserve");
    uint8_t labels[N] = {1, 0, 2};
    float *input = randn((size_t)N * H * H, 1.0f);
    memcpy(m->act[0], input, sizeof(float) * N * H * H);
    mn_model_forward(m, N, false, NULL, threads);
    mn_softmax_xent(m->grad_a, NULL, m->act[m->num_layers], labels, N, m->num_classes);
    mn_model_backward(m, N, threads);
    /* Central differences at two step sizes; where they disagree the step crossed a ReLU or
     * max-pool kink, and that position is skipped (counted, and few are allowed). */
    double worst = 0;
    int skipped = 0;
    for (int t = 0; t < 60; t++) {
        size_t i = mn_rng_below(&g_rng, (uint32_t)m->num_params);
        float keep = m->params[i];
        double num[2];
        for (int e = 0; e < 2; e++) {
            float eps = e ? 1e-3f : 2e-3f;
            double l[2];
            for (int s = 0; s < 2; s++) {
                m->params[i] = keep + (s ? -eps : eps);
                memcpy(m->act[0], input, sizeof(float) * N * H * H);
                mn_model_forward(m, N, false, NULL, threads);
                l[s] = mn_softmax_xent(NULL, NULL, m->act[m->num_layers], labels, N,
                                       m->num_classes);
            }
            num[e] = (l[0] - l[1]) / (2 * eps);
        }
        m->params[i] = keep;
        if (fabs(num[0] - num[1]) > 1e-2 * (1e-3 + fabs(num[0]) + fabs(num[1]))) {
            skipped++;
            continue;
        }
        double g = m->grads[i];
        worst = fmax(worst, fabs(num[1] - g) / (1e-3 + fabs(num[1]) + fabs(g)));
    }
    CHECK(skipped <= 6, "model %s: %d of 60 positions sit on a kink", spec, skipped);
    CHECK(worst < 3e-2, "model %s (%d threads): gradient vs finite differences %.2e", spec,
          threads, worst);
    printf("model %s, %d threads: max relative gradient error %.2e (%d kinks skipped)\n", spec,
           threads, worst, skipped);
    mn_free_aligned(input);
    mn_model_free(m);
}

int main(void)
{
    mn_rng_seed(&g_rng, 12345);
    const conv_case convs[] = {
        {2, 3, 7, 6, 4, 3, 1, 1}, {2, 2, 9, 8, 3, 5, 2, 2}, {1, 1, 5, 5, 2, 5, 1, 0},
        {3, 2, 8, 8, 2, 4, 2, 0}, {1, 1, 28, 28, 4, 5, 1, 2}, {5, 3, 6, 7, 17, 1, 1, 0},
    };
    for (size_t i = 0; i < sizeof convs / sizeof convs[0]; i++)
        test_conv(convs[i]);
    test_pool(2, 3, 8, 8, 2, 2);
    test_pool(2, 2, 7, 7, 3, 2);
    test_pool(1, 2, 5, 6, 2, 1);
    test_pool(1, 1, 7, 7, 2, 2);
    test_dense(3, 7, 5);
    test_dense(1, 33, 17);
    test_dense(20, 100, 10);
    test_elementwise();
    test_model_gradient("conv:3:3,relu,pool:2,conv:4:3:2,relu,dense:5,relu,dense:3", 8, 1);
    test_model_gradient("conv:3:3,relu,pool:2,conv:4:3:2,relu,dense:5,relu,dense:3", 8, 2);
    test_model_gradient("dense:7,relu,dense:3", 5, 1);
    return check_summary();
}
