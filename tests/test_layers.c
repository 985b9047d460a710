/* test_layers.c: every layer's backward pass against central finite differences (reference
 * kernels), the fast kernels against the reference ones (several shapes, strides, paddings, odd
 * sizes, batch 1 and > 1, 1 and 2 threads), and a whole model's gradient against finite
 * differences of its loss. */
#include "check.h"
#include "gradcheck.h"
#include "internal.h"
#include "layers.h"
#include "kernels.h"
#include "model_internal.h"

#include <math.h>

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
    double ex = fd_check(conv_fwd, &k, y, R, ny, k.x, dx, nx, 40, false);
    double ew = fd_check(conv_fwd, &k, y, R, ny, k.w, dw, nw, 40, false);
    double eb = fd_check(conv_fwd, &k, y, R, ny, k.b, db, c.OC, 40, false);
    CHECK(ex < 1e-2 && ew < 1e-2 && eb < 1e-2,
          "conv N%d C%d %dx%d OC%d K%d S%d P%d: finite differences dx %.2e dw %.2e db %.2e",
          c.N, c.C, c.H, c.W, c.OC, c.K, c.S, c.P, ex, ew, eb);

    /* the im2col kernels against the reference, with 1 and 2 threads */
    for (int threads = 1; threads <= 2; threads++) {
        size_t colsz = (size_t)c.C * c.K * c.K * k.OH * k.OW;
        float *col = randn(colsz * threads, 0);
        float *part = randn((nw + c.OC) * (size_t)mn_conv_chunks(c.N), 0);
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
              "im2col conv (%d threads) vs reference: forward %.2e dx %.2e dw %.2e db %.2e",
              threads, ef, bx, bw, bb);
        mn_free_aligned(col), mn_free_aligned(part), mn_free_aligned(dx2);
        mn_free_aligned(dw2), mn_free_aligned(db2);
    }
    mn_free_aligned(k.x), mn_free_aligned(k.w), mn_free_aligned(k.b), mn_free_aligned(R);
    mn_free_aligned(y), mn_free_aligned(y2), mn_free_aligned(dx), mn_free_aligned(dw);
    mn_free_aligned(db);
}

/* The direct (stride-1) convolution with fused ReLU and pool against reference layers run one
 * after the other, on HCW images, for an output laid out HCW with padding `opad` (or CHW when
 * opad < 0). Also: padding left untouched, and the same bits with 1 and 3 threads. */
static void test_conv_fast(conv_case c, int relu, int pool, int opad)
{
    mn_conv_desc d;
    mn_conv_desc_init(&d, c.C, c.H, c.W, c.OC, c.K, c.P, relu, pool);
    size_t out_img = opad >= 0 ? mn_conv_out_hcw(&d, opad) : mn_conv_out_chw(&d);
    const int N = c.N, OH = d.OH, OW = d.OW, YH = d.YH, YW = d.YW;
    size_t nx = (size_t)N * c.C * c.H * c.W, nw = (size_t)c.OC * c.C * c.K * c.K;
    size_t n0 = (size_t)N * c.OC * OH * OW, ny = (size_t)N * c.OC * YH * YW;
    float *x = randn(nx, 1), *w = randn(nw, 0.3f), *b = randn(c.OC, 0.1f);
    /* reference: conv, relu, pool; backward in reverse */
    float *y0 = randn(n0, 0), *y1 = randn(n0, 0), *y2 = randn(ny, 0), *R = randn(ny, 1);
    float *g1 = randn(n0, 0), *g0 = randn(n0, 0), *dx = randn(nx, 0), *dw = randn(nw, 0);
    float *db = randn(c.OC, 0);
    mn_conv2d_forward_ref(y0, x, w, b, N, c.C, c.H, c.W, c.OC, c.K, 1, c.P, OH, OW);
    memcpy(y1, y0, n0 * sizeof(float));
    if (relu)
        mn_relu_forward(y1, y0, n0);
    if (pool)
        mn_maxpool_forward_ref(y2, y1, N, c.OC, OH, OW, 2, 2, YH, YW);
    else
        memcpy(y2, y1, n0 * sizeof(float));
    if (pool)
        mn_maxpool_backward_ref(g1, R, y1, N, c.OC, OH, OW, 2, 2, YH, YW);
    else
        memcpy(g1, R, n0 * sizeof(float));
    memcpy(g0, g1, n0 * sizeof(float));
    if (relu)
        mn_relu_backward(g0, g1, y1, n0);
    mn_conv2d_backward_ref(dx, dw, db, g0, x, w, N, c.C, c.H, c.W, c.OC, c.K, 1, c.P, OH, OW);

    float *xh = randn((size_t)N * d.in_img, 0), *dout = randn((size_t)N * out_img, 0);
    mn_nchw_to_hcw(xh, x, N, c.C, c.H, c.W, c.P);
    if (opad >= 0)
        mn_nchw_to_hcw(dout, R, N, c.OC, YH, YW, opad);
    else
        memcpy(dout, R, ny * sizeof(float));
    float *first_out = NULL, *first_dw = NULL, *first_din = NULL;
    for (int threads = 1; threads <= 3; threads += 2) {
        float *wf = randn(mn_conv_wf_size(&d), 0), *wb = randn(mn_conv_wb_size(&d), 0);
        float *out = mn_alloc_aligned((size_t)N * out_img, sizeof(float));
        float *din = mn_alloc_aligned((size_t)N * d.in_img, sizeof(float));
        uint8_t *arg = mn_alloc_aligned((size_t)N * YH * c.OC * YW + 1, 1);
        float *slots = randn((size_t)mn_conv_chunks(N) * mn_conv_slot_size(&d), 0);
        float *scratch = randn((size_t)threads * mn_conv_scratch_size(&d, 1), 0);
        float *y3 = randn(ny, 0), *dx3 = randn(nx, 0), *dw3 = randn(nw, 0), *db3 = randn(c.OC, 0);
        mn_conv_pack(&d, wf, wb, w, threads);
        mn_conv_forward(&d, out, arg, xh, wf, b, N, threads);
        mn_conv_backward(&d, din, slots, dout, out, arg, xh, wb, N, scratch, threads);
        mn_conv_reduce(&d, dw3, db3, slots, mn_conv_chunks(N), threads);
        if (opad >= 0)
            mn_hcw_to_nchw(y3, out, N, c.OC, YH, YW, opad);
        else
            memcpy(y3, out, ny * sizeof(float));
        mn_hcw_to_nchw(dx3, din, N, c.C, c.H, c.W, c.P);
        /* the padding of both HCW buffers is still zero */
        double pad_sum = 0;
        for (size_t i = 0; i < (size_t)N * out_img; i++)
            pad_sum += fabs(out[i]);
        for (size_t i = 0; i < ny; i++)
            pad_sum -= fabs(y3[i]);
        float *din_back = mn_alloc_aligned((size_t)N * d.in_img, sizeof(float));
        mn_nchw_to_hcw(din_back, dx3, N, c.C, c.H, c.W, c.P);
        bool din_pad_ok = memcmp(din_back, din, sizeof(float) * N * d.in_img) == 0;
        double ef = max_rel_diff(y3, y2, ny), ex = max_rel_diff(dx3, dx, nx);
        double ew = max_rel_diff(dw3, dw, nw), eb = max_rel_diff(db3, db, c.OC);
        CHECK(ef < 1e-4 && ex < 1e-4 && ew < 1e-4 && eb < 1e-4 && fabs(pad_sum) < 1e-3 && din_pad_ok,
              "direct conv %s N%d C%d %dx%d OC%d K%d P%d relu %d pool %d out pad %d (%d threads): "
              "forward %.2e dx %.2e dw %.2e db %.2e, padding %s",
              mn_kernels_isa(), N, c.C, c.H, c.W, c.OC, c.K, c.P, relu, pool, opad, threads, ef,
              ex, ew, eb, fabs(pad_sum) < 1e-3 && din_pad_ok ? "untouched" : "WRITTEN");
        if (!first_out) {
            first_out = y3, first_dw = dw3, first_din = dx3;
        } else {
            CHECK(!memcmp(first_out, y3, ny * sizeof(float)) &&
                      !memcmp(first_dw, dw3, nw * sizeof(float)) &&
                      !memcmp(first_din, dx3, nx * sizeof(float)),
                  "direct conv: 1 and 3 threads give different bits");
            mn_free_aligned(y3), mn_free_aligned(dw3), mn_free_aligned(dx3);
        }
        mn_free_aligned(wf), mn_free_aligned(wb), mn_free_aligned(out), mn_free_aligned(din);
        mn_free_aligned(arg), mn_free_aligned(slots), mn_free_aligned(scratch);
        mn_free_aligned(db3), mn_free_aligned(din_back);
    }
    mn_free_aligned(first_out), mn_free_aligned(first_dw), mn_free_aligned(first_din);
    mn_free_aligned(x), mn_free_aligned(w), mn_free_aligned(b), mn_free_aligned(y0);
    mn_free_aligned(y1), mn_free_aligned(y2), mn_free_aligned(R), mn_free_aligned(g1);
    mn_free_aligned(g0), mn_free_aligned(dx), mn_free_aligned(dw), mn_free_aligned(db);
    mn_free_aligned(xh), mn_free_aligned(dout);
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
    double ex = fd_check(dense_fwd, &k, y, R, ny, k.x, dx, (size_t)N * IN, 40, false);
    double ew = fd_check(dense_fwd, &k, y, R, ny, k.w, dw, (size_t)OUT * IN, 40, false);
    double eb = fd_check(dense_fwd, &k, y, R, ny, k.b, db, OUT, 40, false);
    CHECK(ex < 1e-2 && ew < 1e-2 && eb < 1e-2,
          "dense N%d %d->%d: finite differences dx %.2e dw %.2e db %.2e", N, IN, OUT, ex, ew, eb);
    float *g = randn(ny, 0), *yr = randn(ny, 0);
    for (int threads = 1; threads <= 2; threads++) {
        dense_fwd(&k, y);
        mn_dense_forward(y2, k.x, k.w, k.b, N, IN, OUT, 0, threads);
        memcpy(g, R, ny * sizeof(float));
        mn_dense_backward(dx2, dw2, db2, g, y2, k.x, k.w, N, IN, OUT, 0, threads);
        double ef = max_rel_diff(y2, y, ny), bx = max_rel_diff(dx2, dx, (size_t)N * IN),
               bw = max_rel_diff(dw2, dw, (size_t)OUT * IN), bb = max_rel_diff(db2, db, OUT);
        CHECK(ef < 1e-4 && bx < 1e-4 && bw < 1e-4 && bb < 1e-4,
              "fast dense N%d %d->%d (%d threads) vs reference: forward %.2e dx %.2e dw %.2e db %.2e",
              N, IN, OUT, threads, ef, bx, bw, bb);
        /* with the ReLU fused: the reference's ReLU, then the gradient masked where out <= 0 */
        mn_relu_forward(yr, y, ny);
        mn_dense_forward(y2, k.x, k.w, k.b, N, IN, OUT, 1, threads);
        for (size_t i = 0; i < ny; i++)
            g[i] = yr[i] > 0.0f ? R[i] : 0.0f;
        mn_dense_backward_ref(dx, dw, db, g, k.x, k.w, N, IN, OUT);
        memcpy(g, R, ny * sizeof(float));
        mn_dense_backward(dx2, dw2, db2, g, y2, k.x, k.w, N, IN, OUT, 1, threads);
        ef = max_rel_diff(y2, yr, ny), bx = max_rel_diff(dx2, dx, (size_t)N * IN);
        bw = max_rel_diff(dw2, dw, (size_t)OUT * IN), bb = max_rel_diff(db2, db, OUT);
        CHECK(ef < 1e-4 && bx < 1e-4 && bw < 1e-4 && bb < 1e-4,
              "fast dense+relu N%d %d->%d (%d threads): forward %.2e dx %.2e dw %.2e db %.2e", N,
              IN, OUT, threads, ef, bx, bw, bb);
        mn_dense_backward_ref(dx, dw, db, R, k.x, k.w, N, IN, OUT);
    }
    mn_free_aligned(g), mn_free_aligned(yr);
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
/* The whole model's forward pass (evaluation) against the reference layers run one after the
 * other on NCHW tensors: every grouping into fused operations and every layout change between
 * them must compute the same logits. */
static void test_model_reference(const char *spec, int C, int H, int W, int threads)
{
    mn_model *m;
    mn_status st = mn_model_create(&m, spec, (uint32_t)C, (uint32_t)H, (uint32_t)W, MN_INIT_HE, 5);
    CHECK(st == MN_OK, "create %s: %s", spec, mn_error_message());
    if (st != MN_OK)
        return;
    enum { N = 3 };
    for (size_t i = 0; i < m->num_buffers; i += 2) /* bn: some running statistics */
        m->buffers[i] = 0.1f * (float)(i % 7), m->buffers[i + 1] = 0.5f + 0.1f * (float)(i % 5);
    float *x = randn((size_t)N * C * H * W, 1.0f);
    CHECK(mn_model_reserve(m, N, threads) == MN_OK, "reserve");
    mn_model_set_input(m, x, N);
    mn_model_forward(m, N, false, NULL, threads);
    const float *logits = m->act[m->num_layers];
    float *cur = x;
    for (int l = 0; l < m->num_layers; l++) {
        const mn_layer *L = &m->layers[l];
        const float *w = m->params + L->w_off, *b = m->params + L->b_off;
        size_t in_n = (size_t)L->in_c * L->in_h * L->in_w;
        size_t out_n = (size_t)L->out_c * L->out_h * L->out_w;
        float *next = malloc(N * out_n * sizeof(float));
        switch (L->kind) {
        case MN_LAYER_CONV:
            mn_conv2d_forward_ref(next, cur, w, b, N, L->in_c, L->in_h, L->in_w, L->out_c, L->k,
                                  L->stride, L->pad, L->out_h, L->out_w);
            break;
        case MN_LAYER_POOL:
            mn_maxpool_forward_ref(next, cur, N, L->in_c, L->in_h, L->in_w, L->k, L->stride,
                                   L->out_h, L->out_w);
            break;
        case MN_LAYER_DENSE:
            mn_dense_forward_ref(next, cur, w, b, N, (int)in_n, L->out_c);
            break;
        case MN_LAYER_RELU:
            for (size_t i = 0; i < N * out_n; i++)
                next[i] = cur[i] > 0.0f ? cur[i] : 0.0f;
            break;
        case MN_LAYER_BN: {
            const float *rm = m->buffers + L->r_off, *rv = rm + L->in_c;
            size_t S = (size_t)L->in_h * L->in_w;
            for (size_t i = 0; i < N * out_n; i++) {
                int c = (int)(i / S % (size_t)L->in_c);
                next[i] = (cur[i] - rm[c]) / sqrtf(rv[c] + 1e-5f) * w[c] + b[c];
            }
            break;
        }
        default: /* dropout at evaluation, flatten */
            memcpy(next, cur, N * out_n * sizeof(float));
        }
        if (cur != x)
            free(cur);
        cur = next;
    }
    double worst = max_rel_diff(logits, cur, (size_t)N * m->num_classes);
    CHECK(worst < 1e-4, "model %s on %dx%dx%d (%d threads): logits differ from the reference "
          "layers by %.2e", spec, C, H, W, threads, worst);
    free(cur);
    free(x);
    mn_model_free(m);
}

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
    mn_model_set_input(m, input, N);
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
                mn_model_set_input(m, input, N);
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

/* Dropout in the model: the masks are the high halves of mn_rng_next's stream, one number per
 * value; the fast apply equals the reference forward and backward bit for bit. */
static void test_dropout_model(void)
{
    mn_model *m;
    CHECK(mn_model_create(&m, "dropout:0.3,dense:4", 1, 5, 7, MN_INIT_HE, 1) == MN_OK, "create");
    enum { N = 3, IN = 35 };
    CHECK(mn_model_reserve(m, N, 2) == MN_OK, "reserve");
    float *x = randn((size_t)N * IN, 1.0f), *ref = randn((size_t)N * IN, 0);
    float *fast = randn((size_t)N * IN, 0);
    mn_model_set_input(m, x, N);
    mn_rng a, b;
    mn_rng_seed(&a, 99);
    b = a;
    mn_model_forward(m, N, true, &a, 2);
    uint32_t keep = (uint32_t)((1.0 - 0.3f) * 4294967296.0);
    int same = 1, kept = 0;
    for (int i = 0; i < N * IN; i++) {
        int want = (uint32_t)(mn_rng_next(&b) >> 32) < keep;
        same &= m->dropout_mask[0][i] == want;
        kept += want;
    }
    CHECK(same && kept > 0 && kept < N * IN && !memcmp(&a, &b, sizeof a),
          "dropout masks are not mn_rng_next's stream");
    const uint8_t *mask = m->dropout_mask[0];
    mn_dropout_forward(ref, x, mask, 1.0f / 0.7f, (size_t)N * IN);
    mn_dropout_apply(fast, x, mask, 1.0f / 0.7f, (size_t)N * IN);
    bool eq = !memcmp(ref, fast, sizeof(float) * N * IN);
    mn_dropout_backward(ref, x, mask, 1.0f / 0.7f, (size_t)N * IN);
    mn_dropout_apply(fast, x, mask, 1.0f / 0.7f, (size_t)N * IN);
    CHECK(eq && !memcmp(ref, fast, sizeof(float) * N * IN),
          "fast dropout differs from the reference");
    mn_free_aligned(x), mn_free_aligned(ref), mn_free_aligned(fast);
    mn_model_free(m);
}

/* The update fused into the backward pass gives the bits of backward followed by the update,
 * for each optimizer, with 1 and 2 threads. */
static void test_fused_update(void)
{
    const char *spec = "conv:4:3,relu,pool:2,dense:300,relu,dropout:0.5,dense:10";
    enum { N = 5 };
    float *input = randn((size_t)N * 784, 1.0f);
    uint8_t labels[N] = {1, 0, 2, 7, 9};
    const mn_optimizer opts[] = {MN_OPT_SGD, MN_OPT_MOMENTUM, MN_OPT_ADAM};
    for (int o = 0; o < 3; o++)
        for (int threads = 1; threads <= 2; threads++) {
            mn_model *a, *b;
            mn_model_create(&a, spec, 1, 28, 28, MN_INIT_HE, 3);
            mn_model_create(&b, spec, 1, 28, 28, MN_INIT_HE, 3);
            mn_model_reserve(a, N, threads);
            mn_model_reserve(b, N, threads);
            size_t np = a->num_params;
            float *m1a = randn(np, 0.01f), *m2a = randn(np, 0), *m1b = randn(np, 0);
            float *m2b = randn(np, 0);
            for (size_t i = 0; i < np; i++)
                m2a[i] = m1a[i] * m1a[i], m1b[i] = m1a[i], m2b[i] = m2a[i];
            mn_train_params p = mn_train_default_params();
            p.optimizer = opts[o];
            p.weight_decay = 0.01f;
            for (int step = 1; step <= 3; step++) {
                mn_model *ms[2] = {a, b};
                for (int k = 0; k < 2; k++) {
                    mn_rng rng;
                    mn_rng_seed(&rng, (uint64_t)step);
                    mn_model_set_input(ms[k], input, N);
                    mn_model_forward(ms[k], N, true, &rng, threads);
                    mn_softmax_xent(ms[k]->grad_a, NULL, ms[k]->act[ms[k]->num_layers], labels, N,
                                    10);
                }
                mn_model_backward(a, N, threads);
                mn_optim_update(a->params, a->grads, m1a, m2a, np, &p, 1e-3f, step, threads);
                mn_model_backward_update(b, N, threads, &p, 1e-3f, step, m1b, m2b);
            }
            CHECK(!memcmp(a->params, b->params, np * sizeof(float)) &&
                      !memcmp(m1a, m1b, np * sizeof(float)) && !memcmp(m2a, m2b, np * sizeof(float)),
                  "fused update (optimizer %d, %d threads) differs from backward + update", o,
                  threads);
            mn_free_aligned(m1a), mn_free_aligned(m2a), mn_free_aligned(m1b), mn_free_aligned(m2b);
            mn_model_free(a);
            mn_model_free(b);
        }
    mn_free_aligned(input);
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
    /* fused and unfused operations, layout changes between them */
    test_model_gradient("conv:4:3,pool:3:2,conv:5:3,relu,flatten,dropout:0,dense:3", 9, 2);
    test_model_gradient("conv:2:3:1:0,conv:3:3,relu,pool:2,dense:4,relu,dropout:0,dense:3", 8, 3);
    test_model_gradient("conv:3:5,relu,relu,pool:2,dense:3", 8, 1);
    test_model_gradient("flatten,conv:3:1:1:0,relu,dense:2", 5, 2);
    /* ReLU and dropout between an operation that writes NCHW (strided convolution, pooling, bn)
     * and a fast convolution (found by fuzz_spec: the ReLU overran a buffer) */
    test_model_gradient("conv:3:3:2,relu,conv:4:3,relu,pool:2,dense:3", 9, 2);
    test_model_gradient("conv:3:3,pool:3,dropout:0,relu,conv:4:2,relu,dense:3", 9, 1);
    const char *layouts[] = {
        "conv:4:3:4:valid,relu,conv:33:5,relu,pool:3,conv:63:2,relu,pool:2,dense:10",
        "conv:3:3:2,relu,conv:4:3,relu,pool:2,dense:3",
        "conv:3:3,pool:3,dropout:0.5,relu,conv:4:2,relu,dense:3",
        "pool:2,relu,relu,conv:5:3,bn,relu,pool:2,dense:4",
        "conv:6:3,bn,relu,conv:4:3,relu,pool:2,conv:3:3:2,dense:5,bn,relu,dense:3",
        "conv:32:5,bn,relu,pool:2,conv:64:5,bn,relu,pool:2,dense:1024,relu,dropout:0.5,dense:10",
        "cnn",
        "dropout:0.2,conv:3:5,pool:2:1,relu,conv:2:1,dense:3",
    };
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
        test_model_reference(layouts[i], 1, 28, 28, 2);
        test_model_reference(layouts[i], 1, 28, 28, 1);
    }
    test_model_reference("conv:4:3,relu,conv:3:2:2,relu,conv:5:3,pool:2,dense:3", 3, 11, 13, 2);
    test_fused_update();
    test_dropout_model();

    /* the direct convolution: shapes of the cnn, odd sizes, batch 1, channel counts around the
     * tile sizes, kernels wider than a tile of taps, padding wider than the kernel */
    const conv_case fast[] = {
        {2, 3, 7, 6, 4, 3, 1, 1},   {1, 1, 28, 28, 32, 5, 1, 2}, {3, 32, 14, 14, 64, 5, 1, 2},
        {2, 5, 9, 17, 40, 7, 1, 3}, {1, 2, 5, 5, 17, 1, 1, 0},   {2, 3, 6, 5, 20, 3, 1, 0},
        {1, 2, 4, 4, 3, 2, 1, 3},   {33, 2, 6, 6, 5, 3, 1, 1},   {2, 70, 5, 5, 66, 3, 1, 1},
    };
    const int variants[][3] = {{0, 0, -1}, {1, 0, 0}, {1, 1, 2}, {0, 1, -1}, {1, 1, -1}};
    const char *isas[] = {"avx512", "portable"};
    for (int a = 0; a < 2; a++) {
        if (mn_kernels_set_isa(isas[a]) != 0) {
            printf("(no %s on this CPU)\n", isas[a]);
            continue;
        }
        for (size_t i = 0; i < sizeof fast / sizeof fast[0]; i++)
            for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++)
                if (i != 2 || v == 2 || v == 4) /* the big one: only as the cnn runs it */
                    test_conv_fast(fast[i], variants[v][0], variants[v][1], variants[v][2]);
    }
    mn_kernels_set_isa(NULL);
    return check_summary();
}
