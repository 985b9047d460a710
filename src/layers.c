/* layers.c: the fast layer kernels the model runs, cut into tasks for the thread pool.
 * - Stride-1 convolutions: direct convolution tiles (kernels/conv_*.c) on HCW images, with
 *   bias, ReLU and 2x2 max-pool applied to each tile before it leaves the cache; backward per
 *   chunk of images: the output gradient is expanded once per image, then the weight gradient
 *   (into the chunk's slot) and the input gradient (a convolution with flipped weights).
 * - Strided convolutions: im2col + GEMM per image (NCHW).
 * - Dense layers: GEMMs over fixed blocks of the output. Adam: vectorised, threaded.
 * Every task has a fixed piece of work and its own output, so results never depend on the
 * number of threads or on which thread ran what. Each kernel has a reference twin in
 * layers_ref.c and a test comparing the two. */
#include "layers.h"

#include "internal.h"
#include "kernels.h"
#include "kernels/conv_internal.h"
#include "pool.h"

#include <math.h>
#include <string.h>

static int min_i(int a, int b) { return a < b ? a : b; }
static int max_i(int a, int b) { return a > b ? a : b; }
static long round16(long x) { return (x + 15) & ~15L; }

/* Threads worth using for `macs` multiply-adds: small loops are not worth waking anyone. */
static int threads_for(double macs, int threads) { return macs < 2e5 ? 1 : threads; }

/* ==== Strided convolution: im2col + GEMM (NCHW) ============================================ */

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
                    for (int ox = 0; ox < OW; ox++) {
                        int x = ox * S + kx - P;
                        dst[ox] = (x >= 0 && x < W) ? src[x] : 0.0f;
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

int mn_conv_chunks(int N)
{
    /* At most 32 chunks: enough tasks to balance two to eight threads, few slots to sum. */
    int per = (N + 31) / 32;
    return (N + per - 1) / per;
}

/* Images [*lo, *hi) of chunk `i` of mn_conv_chunks(N). */
static void chunk_range(int N, int i, int *lo, int *hi)
{
    int per = (N + 31) / 32;
    *lo = i * per;
    *hi = min_i(N, *lo + per);
}

typedef struct im2col_job {
    float *out, *din, *slots, *col;
    const float *in, *w, *b, *dout;
    int N, C, H, W, OC, K, S, P, OH, OW;
} im2col_job;

static void im2col_fwd_task(void *ctx, int n, int worker)
{
    const im2col_job *j = ctx;
    const int CKK = j->C * j->K * j->K, PIX = j->OH * j->OW;
    float *col = j->col + (size_t)worker * CKK * PIX;
    float *y = j->out + (size_t)n * j->OC * PIX;
    im2col(col, j->in + (size_t)n * j->C * j->H * j->W, j->C, j->H, j->W, j->K, j->S, j->P,
           j->OH, j->OW);
    mn_gemm(0, 0, j->OC, PIX, CKK, 1.0f, j->w, CKK, col, PIX, 0.0f, y, PIX);
    if (j->b)
        for (int oc = 0; oc < j->OC; oc++)
            for (int p = 0; p < PIX; p++)
                y[(size_t)oc * PIX + p] += j->b[oc];
}

void mn_conv2d_forward(float *out, const float *in, const float *w, const float *b, int N, int C,
                       int H, int W, int OC, int K, int S, int P, int OH, int OW, float *col,
                       int threads)
{
    im2col_job j = {.out = out, .col = col, .in = in, .w = w, .b = b, .N = N, .C = C, .H = H,
                    .W = W, .OC = OC, .K = K, .S = S, .P = P, .OH = OH, .OW = OW};
    mn_pool_run(threads, N, im2col_fwd_task, &j);
}

static void im2col_bwd_task(void *ctx, int chunk, int worker)
{
    const im2col_job *j = ctx;
    const int CKK = j->C * j->K * j->K, PIX = j->OH * j->OW;
    float *col = j->col + (size_t)worker * CKK * PIX;
    float *dw = j->slots + (size_t)chunk * ((size_t)j->OC * CKK + j->OC), *db = dw + (size_t)j->OC * CKK;
    int lo, hi;
    chunk_range(j->N, chunk, &lo, &hi);
    memset(db, 0, sizeof(float) * j->OC);
    for (int n = lo; n < hi; n++) {
        const float *x = j->in + (size_t)n * j->C * j->H * j->W;
        const float *g = j->dout + (size_t)n * j->OC * PIX;
        im2col(col, x, j->C, j->H, j->W, j->K, j->S, j->P, j->OH, j->OW);
        /* dw[OC,CKK] (+)= g[OC,PIX] @ col[CKK,PIX]^T */
        mn_gemm(0, 1, j->OC, CKK, PIX, 1.0f, g, PIX, col, PIX, n > lo ? 1.0f : 0.0f, dw, CKK);
        for (int oc = 0; oc < j->OC; oc++) {
            float s = 0.0f;
            for (int p = 0; p < PIX; p++)
                s += g[(size_t)oc * PIX + p];
            db[oc] += s;
        }
        if (j->din) {
            /* col[CKK,PIX] = w[OC,CKK]^T @ g[OC,PIX], then scatter back */
            mn_gemm(1, 0, CKK, PIX, j->OC, 1.0f, j->w, CKK, g, PIX, 0.0f, col, PIX);
            col2im(j->din + (size_t)n * j->C * j->H * j->W, col, j->C, j->H, j->W, j->K, j->S,
                   j->P, j->OH, j->OW);
        }
    }
}

typedef struct sum_job {
    float *dst;
    const float *slots;
    size_t n, stride;
    int nslots;
} sum_job;

/* dst[i] = sum over slots s (in order) of slots[s*stride + i], for one 4096-float block. */
static void sum_task(void *ctx, int t, int worker)
{
    (void)worker;
    const sum_job *j = ctx;
    size_t lo = (size_t)t * 4096, hi = lo + 4096 < j->n ? lo + 4096 : j->n;
    for (size_t i = lo; i < hi; i++)
        j->dst[i] = j->slots[i];
    for (int s = 1; s < j->nslots; s++) {
        const float *src = j->slots + (size_t)s * j->stride;
        for (size_t i = lo; i < hi; i++)
            j->dst[i] += src[i];
    }
}

void mn_conv2d_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                        const float *w, int N, int C, int H, int W, int OC, int K, int S, int P,
                        int OH, int OW, float *col, float *slots, int threads)
{
    im2col_job j = {.din = din, .slots = slots, .col = col, .in = in, .w = w, .dout = dout,
                    .N = N, .C = C, .H = H, .W = W, .OC = OC, .K = K, .S = S, .P = P, .OH = OH,
                    .OW = OW};
    int chunks = mn_conv_chunks(N);
    mn_pool_run(threads, chunks, im2col_bwd_task, &j);
    size_t nw = (size_t)OC * C * K * K;
    sum_job s = {dw, slots, nw, nw + OC, chunks};
    mn_pool_run(threads, (int)((nw + 4095) / 4096), sum_task, &s);
    if (db) {
        sum_job sb = {db, slots + nw, (size_t)OC, nw + OC, chunks};
        mn_pool_run(1, (int)((OC + 4095) / 4096), sum_task, &sb);
    }
}

/* ==== The fast path: direct convolution on HCW images ======================================= */

void mn_conv_desc_init(mn_conv_desc *d, int C, int H, int W, int OC, int K, int P, int relu,
                       int pool)
{
    memset(d, 0, sizeof *d);
    d->C = C, d->H = H, d->W = W, d->OC = OC, d->K = K, d->P = P;
    d->OH = H + 2 * P - K + 1;
    d->OW = W + 2 * P - K + 1;
    d->relu = relu, d->pool = pool;
    d->YH = pool ? d->OH / 2 : d->OH;
    d->YW = pool ? d->OW / 2 : d->OW;
    const long Wp = W + 2 * P;
    d->in_cs = Wp;
    d->in_rs = (long)C * Wp;
    d->in_img = (size_t)(H + 2 * P) * C * Wp;
}

size_t mn_conv_out_hcw(mn_conv_desc *d, int pad)
{
    const long Wp = d->YW + 2 * pad;
    d->out_cs = Wp;
    d->out_rs = (long)d->OC * Wp;
    d->out_off = (size_t)pad * d->out_rs + pad;
    d->out_img = (size_t)(d->YH + 2 * pad) * d->OC * Wp;
    return d->out_img;
}

size_t mn_conv_out_chw(mn_conv_desc *d)
{
    d->out_cs = (long)d->YH * d->YW;
    d->out_rs = d->YW;
    d->out_off = 0;
    d->out_img = (size_t)d->OC * d->YH * d->YW;
    return d->out_img;
}

size_t mn_conv_wf_size(const mn_conv_desc *d)
{
    return (size_t)d->K * d->C * d->K * round16(d->OC);
}

size_t mn_conv_wb_size(const mn_conv_desc *d)
{
    return (size_t)d->K * round16(d->OC) * d->K * round16(d->C);
}

typedef struct pack_job {
    const mn_conv_desc *d;
    float *wf, *wb;
    const float *w;
} pack_job;

/* Task ky: rows ky of wf and wb. */
static void pack_task(void *ctx, int ky, int worker)
{
    (void)worker;
    const pack_job *j = ctx;
    const int C = j->d->C, K = j->d->K, OC = j->d->OC;
    const long OCp = round16(OC), Cp = round16(C);
    float *f = j->wf + (size_t)ky * C * K * OCp;
    for (int c = 0; c < C; c++)
        for (int kx = 0; kx < K; kx++, f += OCp) {
            for (int oc = 0; oc < OC; oc++)
                f[oc] = j->w[(((size_t)oc * C + c) * K + ky) * K + kx];
            for (long oc = OC; oc < OCp; oc++)
                f[oc] = 0.0f;
        }
    if (!j->wb)
        return;
    /* wb[ky'][oc][kx'][c] = w[oc][c][K-1-ky'][K-1-kx'] */
    float *b = j->wb + (size_t)ky * OCp * K * Cp;
    for (long oc = 0; oc < OCp; oc++)
        for (int kx = 0; kx < K; kx++, b += Cp) {
            if (oc >= OC) {
                memset(b, 0, sizeof(float) * Cp);
                continue;
            }
            const float *src = j->w + ((size_t)oc * C * K + (K - 1 - ky)) * K + (K - 1 - kx);
            for (int c = 0; c < C; c++)
                b[c] = src[(size_t)c * K * K];
            for (long c = C; c < Cp; c++)
                b[c] = 0.0f;
        }
}

void mn_conv_pack(const mn_conv_desc *d, float *wf, float *wb, const float *w, int threads)
{
    pack_job j = {d, wf, wb, w};
    mn_pool_run(threads_for((double)d->OC * d->C * d->K * d->K * 8, threads), d->K, pack_task, &j);
}

static void pack_job_task(void *ctx, int t, int worker) { pack_task(ctx, t, worker); }

void mn_conv_pack_job(mn_job *job, const mn_conv_desc *d, float *wf, float *wb, const float *w)
{
    pack_job j = {d, wf, wb, w};
    job->fn = pack_job_task;
    job->tasks = d->K;
    memcpy(job->ctx, &j, sizeof j);
}

typedef struct conv_job {
    const mn_conv_desc *d;
    const mn_conv_impl *im;
    float *out, *din, *slots, *scratch;
    uint8_t *arg;
    const uint8_t *carg;
    const float *in, *wf, *wb, *b, *dout, *fout;
    int N, groups, rows_per_task;
    size_t scratch_per;
} conv_job;

/* Task: image n, output rows [g*rows_per_task, ...) of the op. */
static void conv_fwd_task(void *ctx, int task, int worker)
{
    (void)worker;
    const conv_job *j = ctx;
    const mn_conv_desc *d = j->d;
    const int n = task / j->groups, y0 = task % j->groups * j->rows_per_task;
    const int y1 = min_i(d->YH, y0 + j->rows_per_task);
    const long OCp = round16(d->OC);
    const int cols = d->pool ? 2 * d->YW : d->OW; /* conv columns that reach the output */
    const float *in = j->in + (size_t)n * d->in_img;
    float *out = j->out + (size_t)n * d->out_img + d->out_off;
    uint8_t *arg = d->pool ? j->arg + (size_t)n * d->YH * d->OC * d->YW : NULL;
    _Alignas(64) float t0[MN_TILE_PX * MN_TILE_OC], t1[MN_TILE_PX * MN_TILE_OC];
    for (int y = y0; y < y1; y++)
        for (int oc0 = 0; oc0 < d->OC; oc0 += MN_TILE_OC) {
            const int no = min_i(MN_TILE_OC, d->OC - oc0), nv = no > 16 ? 2 : 1;
            for (int x0 = 0; x0 < cols; x0 += MN_TILE_PX) {
                const int np = min_i(MN_TILE_PX, cols - x0);
                const int cy = d->pool ? 2 * y : y;
                j->im->tile(np, nv, d->K, d->C, in + (size_t)cy * d->in_rs + x0, d->in_rs,
                            d->in_cs, j->wf + oc0, OCp, t0);
                if (d->pool)
                    j->im->tile(np, nv, d->K, d->C, in + (size_t)(cy + 1) * d->in_rs + x0,
                                d->in_rs, d->in_cs, j->wf + oc0, OCp, t1);
                const float *bias = j->b ? j->b + oc0 : NULL;
                float *dst = out + (size_t)y * d->out_rs + (size_t)oc0 * d->out_cs;
                if (d->pool)
                    j->im->pool_store(t0, t1, bias, np, no, d->relu, dst + x0 / 2, d->out_cs,
                                      arg + ((size_t)y * d->OC + oc0) * d->YW + x0 / 2, d->YW);
                else
                    j->im->store(t0, bias, np, no, d->relu, dst + x0, d->out_cs);
            }
        }
}

void mn_conv_forward(const mn_conv_desc *d, float *out, uint8_t *arg, const float *in,
                     const float *wf, const float *b, int N, int threads)
{
    /* Tasks of about 2M multiply-adds: whole images for small layers, a few rows for big. */
    double row_macs = (double)d->OW * d->OC * d->C * d->K * d->K * (d->pool ? 2 : 1);
    int rows = (int)fmin((double)d->YH, fmax(1.0, ceil(2e6 / fmax(row_macs, 1.0))));
    conv_job j = {.d = d, .im = mn_conv_impl_get(), .out = out, .arg = arg, .in = in, .wf = wf,
                  .b = b, .N = N, .rows_per_task = rows};
    j.groups = (d->YH + rows - 1) / rows;
    if (d->YH == 0)
        return;
    mn_pool_run(threads_for(row_macs * d->YH * N, threads), N * j.groups, conv_fwd_task, &j);
}

size_t mn_conv_slot_size(const mn_conv_desc *d)
{
    return mn_conv_wf_size(d) + (size_t)round16(d->OC);
}

/* Per-thread scratch: the output gradient of one image as [OH][OW][OCp] (for the weight
 * gradient) and, for the input gradient, as HCW padded by K-1 on every side. */
static size_t grad_hwc_size(const mn_conv_desc *d)
{
    return (size_t)d->OH * d->OW * round16(d->OC);
}

static size_t grad_pad_size(const mn_conv_desc *d)
{
    return (size_t)(d->OH + 2 * d->K - 2) * round16(d->OC) * (d->OW + 2 * d->K - 2);
}

size_t mn_conv_scratch_size(const mn_conv_desc *d, int din)
{
    /* a multiple of 16 floats, so that every thread's part starts 64-byte aligned */
    return (size_t)round16((long)grad_hwc_size(d)) +
           (size_t)round16((long)(din ? grad_pad_size(d) : (size_t)2 * d->OC * d->OW));
}

/* The gradient at the convolution's output for image n, dout routed back through pool and
 * ReLU: channel-major rows (the interior of `pad` if not NULL, else `rows`, two rows of OC x
 * OW), transposed into hwc [OH][OW][OCp]. */
static void expand_grad(const conv_job *j, int n, float *hwc, float *pad, float *rows)
{
    const mn_conv_desc *d = j->d;
    const mn_conv_impl *im = j->im;
    const long OCp = round16(d->OC), pw = d->OW + 2 * d->K - 2;
    const long prs = OCp * pw, pcs = pw, poff = (long)(d->K - 1) * prs + d->K - 1;
    const long rcs = pad ? pcs : d->OW; /* channel stride of the rows */
    const float *g = j->dout + (size_t)n * d->out_img + d->out_off;
    const float *o = j->fout + (size_t)n * d->out_img + d->out_off;
    const size_t hrow = (size_t)d->OW * OCp;
    if (d->pool) {
        const uint8_t *a = j->carg + (size_t)n * d->YH * d->OC * d->YW;
        for (int py = 0; py < d->YH; py++) {
            float *r0 = pad ? pad + poff + (size_t)(2 * py) * prs : rows;
            float *r1 = pad ? r0 + prs : rows + (size_t)d->OC * d->OW;
            for (int oc = 0; oc < d->OC; oc++) {
                size_t at = (size_t)py * d->out_rs + (size_t)oc * d->out_cs;
                im->expand_pool(r0 + oc * rcs, r1 + oc * rcs, g + at, o + at,
                                a + ((size_t)py * d->OC + oc) * d->YW, d->OW, d->relu);
            }
            im->transpose(hwc + (size_t)(2 * py) * hrow, OCp, r0, rcs, d->OC, (int)OCp, d->OW);
            im->transpose(hwc + (size_t)(2 * py + 1) * hrow, OCp, r1, rcs, d->OC, (int)OCp, d->OW);
        }
        if (d->OH > 2 * d->YH) /* an odd last row: no window takes it (pad's row stays 0) */
            memset(hwc + (size_t)(d->OH - 1) * hrow, 0, sizeof(float) * hrow);
        return;
    }
    for (int y = 0; y < d->OH; y++) {
        float *r = pad ? pad + poff + (size_t)y * prs : rows;
        for (int oc = 0; oc < d->OC; oc++) {
            size_t at = (size_t)y * d->out_rs + (size_t)oc * d->out_cs;
            im->expand(r + oc * rcs, g + at, o + at, d->OW, d->relu);
        }
        im->transpose(hwc + (size_t)y * hrow, OCp, r, rcs, d->OC, (int)OCp, d->OW);
    }
}

/* Rows of the weight-gradient kernel per pass: the pass's output gradients stay in L1. */
static int dw_rows(const mn_conv_desc *d)
{
    long per_row = (long)d->OW * round16(d->OC) * 4;
    return max_i(1, min_i(d->OH, (int)(24576 / (per_row > 0 ? per_row : 1))));
}

static void conv_bwd_task(void *ctx, int chunk, int worker)
{
    const conv_job *j = ctx;
    const mn_conv_desc *d = j->d;
    const mn_conv_impl *im = j->im;
    const int C = d->C, K = d->K;
    const long OCp = round16(d->OC), Cp = round16(C);
    float *hwc = j->scratch + (size_t)worker * j->scratch_per;
    float *pad = j->din ? hwc + round16((long)grad_hwc_size(d)) : NULL;
    float *rows = hwc + round16((long)grad_hwc_size(d));
    float *dw = j->slots + (size_t)chunk * mn_conv_slot_size(d), *db = dw + mn_conv_wf_size(d);
    int lo, hi;
    chunk_range(j->N, chunk, &lo, &hi);
    if (pad)
        memset(pad, 0, sizeof(float) * grad_pad_size(d));
    memset(db, 0, sizeof(float) * OCp);
    const int rb = dw_rows(d);
    for (int n = lo; n < hi; n++) {
        expand_grad(j, n, hwc, pad, rows);
        /* bias: the sum over pixels, in pixel order */
        for (long p = 0; p < (long)d->OH * d->OW; p++)
            for (long oc = 0; oc < OCp; oc++)
                db[oc] += hwc[p * OCp + oc];
        /* weights: tiles of up to 6 taps (kx) x 64 channels for each (ky, c) */
        const float *in = j->in + (size_t)n * d->in_img;
        for (int y0 = 0; y0 < d->OH; y0 += rb) {
            const int rows = min_i(rb, d->OH - y0);
            const int acc = n > lo || y0 > 0;
            for (int ky = 0; ky < K; ky++)
                for (int c = 0; c < C; c++)
                    for (int kx0 = 0; kx0 < K; kx0 += 6) {
                        const int R = min_i(6, K - kx0);
                        for (long oc0 = 0; oc0 < OCp; oc0 += 64) {
                            const int V = (int)((OCp - oc0 >= 64 ? 64 : OCp - oc0) / 16);
                            im->dw(R, V, rows, d->OW,
                                   in + (size_t)(y0 + ky) * d->in_rs + (size_t)c * d->in_cs + kx0,
                                   d->in_rs, hwc + (size_t)y0 * d->OW * OCp + oc0,
                                   (long)d->OW * OCp, OCp,
                                   dw + (((size_t)ky * C + c) * K + kx0) * OCp + oc0, OCp, acc);
                        }
                    }
        }
        if (!j->din)
            continue;
        /* input gradient: the convolution of the padded output gradient with flipped weights */
        const long prs = OCp * (d->OW + 2 * K - 2), pcs = d->OW + 2 * K - 2;
        float *dx = j->din + (size_t)n * d->in_img + (size_t)d->P * d->in_rs + d->P;
        _Alignas(64) float t[MN_TILE_PX * MN_TILE_OC];
        for (int y = 0; y < d->H; y++)
            for (int c0 = 0; c0 < C; c0 += MN_TILE_OC) {
                const int no = min_i(MN_TILE_OC, C - c0), nv = no > 16 ? 2 : 1;
                for (int x0 = 0; x0 < d->W; x0 += MN_TILE_PX) {
                    const int np = min_i(MN_TILE_PX, d->W - x0);
                    im->tile(np, nv, K, (int)OCp,
                             pad + (size_t)(y + d->P) * prs + (x0 + d->P), prs, pcs, j->wb + c0,
                             Cp, t);
                    im->store(t, NULL, np, no, 0, dx + (size_t)y * d->in_rs +
                                                      (size_t)c0 * d->in_cs + x0, d->in_cs);
                }
            }
    }
}

/* Stores a job's context (checked to fit). */
#define JOB_SET(job, f, n, jctx)                                                                  \
    do {                                                                                        \
        _Static_assert(sizeof(jctx) <= sizeof((job)->ctx), "job context too large");            \
        (job)->fn = (f);                                                                        \
        (job)->tasks = (n);                                                                     \
        memcpy((job)->ctx, &(jctx), sizeof(jctx));                                              \
    } while (0)

void mn_conv_backward_job(mn_job *job, const mn_conv_desc *d, float *din, float *slots,
                          const float *dout, const float *out, const uint8_t *arg,
                          const float *in, const float *wb, int N, float *scratch)
{
    conv_job j = {.d = d, .im = mn_conv_impl_get(), .din = din, .slots = slots,
                  .scratch = scratch, .carg = arg, .in = in, .wb = wb, .dout = dout, .fout = out,
                  .N = N, .scratch_per = mn_conv_scratch_size(d, din != NULL)};
    JOB_SET(job, conv_bwd_task, mn_conv_chunks(N), j);
}

void mn_conv_backward(const mn_conv_desc *d, float *din, float *slots, const float *dout,
                      const float *out, const uint8_t *arg, const float *in, const float *wb,
                      int N, float *scratch, int threads)
{
    mn_job job;
    mn_conv_backward_job(&job, d, din, slots, dout, out, arg, in, wb, N, scratch);
    double macs = (double)d->OH * d->OW * d->OC * d->C * d->K * d->K * N * (din ? 2 : 1);
    mn_pool_run_jobs(threads_for(macs, threads), &job, 1);
}

typedef struct reduce_job {
    const mn_conv_desc *d;
    float *dw, *db;
    const float *slots;
    int nslots;
} reduce_job;

enum { REDUCE_ROWS = 32 };

/* Task: rows [REDUCE_ROWS t, ...) of the [K][C][K] x OCp slot layout (the bias is one more
 * row), summed over the slots in order with contiguous reads, then put in PyTorch's order. */
static void reduce_task(void *ctx, int t, int worker)
{
    (void)worker;
    const reduce_job *j = ctx;
    const mn_conv_desc *d = j->d;
    const int C = d->C, K = d->K, rows = K * C * K;
    const long OCp = round16(d->OC);
    const size_t slot = mn_conv_slot_size(d);
    const int r0 = t * REDUCE_ROWS, r1 = min_i(rows + 1, r0 + REDUCE_ROWS);
    float acc[REDUCE_ROWS * 64];
    for (long oc0 = 0; oc0 < OCp; oc0 += 64) {
        const long w = OCp - oc0 < 64 ? OCp - oc0 : 64;
        for (int r = r0; r < r1; r++)
            memcpy(acc + (r - r0) * 64, j->slots + (size_t)r * OCp + oc0, sizeof(float) * w);
        for (int k = 1; k < j->nslots; k++) {
            const float *src = j->slots + k * slot;
            for (int r = r0; r < r1; r++) {
                float *a = acc + (r - r0) * 64;
                const float *b = src + (size_t)r * OCp + oc0;
                for (long o = 0; o < w; o++)
                    a[o] += b[o];
            }
        }
        for (int r = r0; r < r1; r++) {
            const float *a = acc + (r - r0) * 64;
            const int no = (int)(d->OC - oc0 < w ? d->OC - oc0 : w);
            if (r == rows) { /* the bias */
                if (j->db)
                    memcpy(j->db + oc0, a, sizeof(float) * (no > 0 ? no : 0));
                continue;
            }
            const int ky = r / (C * K), c = r / K % C, kx = r % K;
            for (int o = 0; o < no; o++)
                j->dw[(((size_t)(oc0 + o) * C + c) * K + ky) * K + kx] = a[o];
        }
    }
}

void mn_conv_reduce_job(mn_job *job, const mn_conv_desc *d, float *dw, float *db,
                        const float *slots, int nslots)
{
    reduce_job j = {d, dw, db, slots, nslots};
    int rows = d->K * d->C * d->K + 1;
    JOB_SET(job, reduce_task, (rows + REDUCE_ROWS - 1) / REDUCE_ROWS, j);
}

void mn_conv_reduce(const mn_conv_desc *d, float *dw, float *db, const float *slots, int nslots,
                    int threads)
{
    mn_job job;
    mn_conv_reduce_job(&job, d, dw, db, slots, nslots);
    double work = (double)mn_conv_slot_size(d) * nslots;
    mn_pool_run_jobs(work < 2e5 ? 1 : threads, &job, 1);
}

/* ==== Elementwise ========================================================================== */

/* Dropout without branches (the mask is random, so branches would mispredict half the time):
 * the kept values' bits pass, the others become +0, as in the reference. */
void mn_dropout_apply(float *out, const float *in, const uint8_t *mask, float scale, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float v = in[i] * scale;
        uint32_t bits;
        memcpy(&bits, &v, sizeof bits);
        bits &= 0u - (uint32_t)(mask[i] != 0);
        memcpy(&out[i], &bits, sizeof bits);
    }
}

void mn_nchw_to_hcw(float *dst, const float *src, int N, int C, int H, int W, int pad)
{
    const size_t Wp = (size_t)W + 2 * pad, img = (size_t)(H + 2 * pad) * C * Wp;
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int y = 0; y < H; y++)
                memcpy(dst + n * img + ((size_t)(y + pad) * C + c) * Wp + pad,
                       src + (((size_t)n * C + c) * H + y) * W, sizeof(float) * W);
}

void mn_hcw_to_nchw(float *dst, const float *src, int N, int C, int H, int W, int pad)
{
    const size_t Wp = (size_t)W + 2 * pad, img = (size_t)(H + 2 * pad) * C * Wp;
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int y = 0; y < H; y++)
                memcpy(dst + (((size_t)n * C + c) * H + y) * W,
                       src + n * img + ((size_t)(y + pad) * C + c) * Wp + pad, sizeof(float) * W);
}

/* ==== Max-pool (NCHW, any window and stride) ================================================ */

typedef struct maxpool_job {
    float *out, *din;
    const float *in, *dout;
    int C, H, W, K, S, OH, OW;
} maxpool_job;

static void maxpool_fwd_task(void *ctx, int n, int worker)
{
    (void)worker;
    const maxpool_job *j = ctx;
    for (int c = 0; c < j->C; c++) {
        const float *x = j->in + ((size_t)n * j->C + c) * j->H * j->W;
        float *y = j->out + ((size_t)n * j->C + c) * j->OH * j->OW;
        for (int oy = 0; oy < j->OH; oy++)
            for (int ox = 0; ox < j->OW; ox++) {
                const float *win = x + (size_t)oy * j->S * j->W + ox * j->S;
                float m = -INFINITY;
                for (int ky = 0; ky < j->K; ky++)
                    for (int kx = 0; kx < j->K; kx++)
                        m = win[ky * j->W + kx] > m ? win[ky * j->W + kx] : m;
                y[oy * j->OW + ox] = m;
            }
    }
}

void mn_maxpool_forward(float *out, const float *in, int N, int C, int H, int W, int K, int S,
                        int OH, int OW, int threads)
{
    maxpool_job j = {.out = out, .in = in, .C = C, .H = H, .W = W, .K = K, .S = S, .OH = OH,
                     .OW = OW};
    mn_pool_run(threads_for((double)N * C * H * W, threads), N, maxpool_fwd_task, &j);
}

static void maxpool_bwd_task(void *ctx, int n, int worker)
{
    (void)worker;
    const maxpool_job *j = ctx;
    for (int c = 0; c < j->C; c++) {
        const size_t nc = (size_t)n * j->C + c;
        const float *x = j->in + nc * j->H * j->W;
        float *dx = j->din + nc * j->H * j->W;
        const float *g = j->dout + nc * j->OH * j->OW;
        memset(dx, 0, sizeof(float) * (size_t)j->H * j->W);
        for (int oy = 0; oy < j->OH; oy++)
            for (int ox = 0; ox < j->OW; ox++) {
                int base = oy * j->S * j->W + ox * j->S, best = base;
                float m = -INFINITY;
                for (int ky = 0; ky < j->K; ky++)
                    for (int kx = 0; kx < j->K; kx++) {
                        int i = base + ky * j->W + kx;
                        if (x[i] > m) {
                            m = x[i];
                            best = i;
                        }
                    }
                dx[best] += g[oy * j->OW + ox];
            }
    }
}

void mn_maxpool_backward(float *din, const float *dout, const float *in, int N, int C, int H,
                         int W, int K, int S, int OH, int OW, int threads)
{
    maxpool_job j = {.din = din, .dout = dout, .in = in, .C = C, .H = H, .W = W, .K = K, .S = S,
                     .OH = OH, .OW = OW};
    mn_pool_run(threads_for((double)N * C * H * W, threads), N, maxpool_bwd_task, &j);
}

/* ==== Dense ================================================================================= */

enum { DENSE_COLS = 64, DENSE_ROWS = 128, DENSE_IN_COLS = 256 };

typedef struct dense_job {
    float *out, *din, *dw, *db, *dout, *scratch;
    const float *in, *w, *b;
    int N, IN, OUT, relu, col_blocks, w_tasks;
    mn_update_fn update;
    void *ctx;
} dense_job;

/* Task: rows [DENSE_ROWS*r, ...) x columns [DENSE_COLS*c, ...) of out. */
static void dense_fwd_task(void *ctx, int t, int worker)
{
    (void)worker;
    const dense_job *j = ctx;
    const int n0 = t / j->col_blocks * DENSE_ROWS, o0 = t % j->col_blocks * DENSE_COLS;
    const int nn = min_i(DENSE_ROWS, j->N - n0), no = min_i(DENSE_COLS, j->OUT - o0);
    float *out = j->out + (size_t)n0 * j->OUT + o0;
    /* out[N,OUT] = in[N,IN] @ w[OUT,IN]^T */
    mn_gemm(0, 1, nn, no, j->IN, 1.0f, j->in + (size_t)n0 * j->IN, j->IN,
            j->w + (size_t)o0 * j->IN, j->IN, 0.0f, out, j->OUT);
    for (int n = 0; n < nn; n++) {
        float *r = out + (size_t)n * j->OUT;
        if (j->b)
            for (int o = 0; o < no; o++)
                r[o] += j->b[o0 + o];
        if (j->relu)
            for (int o = 0; o < no; o++)
                r[o] = r[o] > 0.0f ? r[o] : 0.0f;
    }
}

void mn_dense_forward(float *out, const float *in, const float *w, const float *b, int N, int IN,
                      int OUT, int relu, int threads)
{
    dense_job j = {.out = out, .in = in, .w = w, .b = b, .N = N, .IN = IN, .OUT = OUT,
                   .relu = relu};
    j.col_blocks = (OUT + DENSE_COLS - 1) / DENSE_COLS;
    int row_blocks = (N + DENSE_ROWS - 1) / DENSE_ROWS;
    mn_pool_run(threads_for((double)N * IN * OUT, threads), row_blocks * j.col_blocks,
                dense_fwd_task, &j);
}

/* Tasks [0, w_tasks): rows [DENSE_COLS*t, ...) of dw and db; then columns
 * [DENSE_IN_COLS*(t - w_tasks), ...) of din. */
static void dense_bwd_task(void *ctx, int t, int worker)
{
    const dense_job *j = ctx;
    if (t < j->w_tasks) {
        const int o0 = t * DENSE_COLS, no = min_i(DENSE_COLS, j->OUT - o0);
        float *dw = j->update ? j->scratch + (size_t)worker * mn_dense_scratch_size(j->IN)
                              : j->dw + (size_t)o0 * j->IN;
        /* dw[OUT,IN] = dout[N,OUT]^T @ in[N,IN] */
        mn_gemm(1, 0, no, j->IN, j->N, 1.0f, j->dout + o0, j->OUT, j->in, j->IN, 0.0f, dw, j->IN);
        if (j->update)
            j->update(j->ctx, (size_t)o0 * j->IN, dw, (size_t)no * j->IN);
        if (j->db) {
            for (int o = 0; o < no; o++)
                j->db[o0 + o] = 0.0f;
            for (int n = 0; n < j->N; n++)
                for (int o = 0; o < no; o++)
                    j->db[o0 + o] += j->dout[(size_t)n * j->OUT + o0 + o];
            if (j->update)
                j->update(j->ctx, (size_t)j->OUT * j->IN + o0, j->db + o0, (size_t)no);
        }
        return;
    }
    const int i0 = (t - j->w_tasks) * DENSE_IN_COLS, ni = min_i(DENSE_IN_COLS, j->IN - i0);
    /* din[N,IN] = dout[N,OUT] @ w[OUT,IN] */
    mn_gemm(0, 0, j->N, ni, j->OUT, 1.0f, j->dout, j->OUT, j->w + i0, j->IN, 0.0f, j->din + i0,
            j->IN);
}

void mn_dense_backward(float *din, float *dw, float *db, float *dout, const float *out,
                       const float *in, const float *w, int N, int IN, int OUT, int relu,
                       int threads)
{
    if (relu) {
        size_t n = (size_t)N * OUT;
        for (size_t i = 0; i < n; i++)
            dout[i] = out[i] > 0.0f ? dout[i] : 0.0f;
    }
    dense_job j = {.din = din, .dw = dw, .db = db, .dout = dout, .in = in, .w = w, .N = N,
                   .IN = IN, .OUT = OUT};
    j.w_tasks = (OUT + DENSE_COLS - 1) / DENSE_COLS;
    int x_tasks = din ? (IN + DENSE_IN_COLS - 1) / DENSE_IN_COLS : 0;
    mn_pool_run(threads_for((double)N * IN * OUT * (din ? 2 : 1), threads), j.w_tasks + x_tasks,
                dense_bwd_task, &j);
}

size_t mn_dense_scratch_size(int IN) { return (size_t)DENSE_COLS * IN; }

void mn_dense_din_job(mn_job *job, float *din, float *dout, const float *out, const float *w,
                      int N, int IN, int OUT, int relu)
{
    if (relu) {
        size_t n = (size_t)N * OUT;
        for (size_t i = 0; i < n; i++)
            dout[i] = out[i] > 0.0f ? dout[i] : 0.0f;
    }
    dense_job j = {.din = din, .dout = dout, .w = w, .N = N, .IN = IN, .OUT = OUT};
    JOB_SET(job, dense_bwd_task, din ? (IN + DENSE_IN_COLS - 1) / DENSE_IN_COLS : 0, j);
}

void mn_dense_update_job(mn_job *job, float *db, const float *dout, const float *in, int N,
                         int IN, int OUT, mn_update_fn update, void *ctx, float *scratch)
{
    dense_job j = {.db = db, .dout = (float *)dout, .scratch = scratch, .in = in, .N = N,
                   .IN = IN, .OUT = OUT, .update = update, .ctx = ctx};
    j.w_tasks = (OUT + DENSE_COLS - 1) / DENSE_COLS;
    JOB_SET(job, dense_bwd_task, j.w_tasks, j);
}

void mn_dense_backward_update(float *din, float *db, float *dout, const float *out,
                              const float *in, const float *w, int N, int IN, int OUT, int relu,
                              mn_update_fn update, void *ctx, float *scratch, int threads)
{
    mn_job job;
    const int th = threads_for((double)N * IN * OUT, threads);
    /* din first: it reads every weight, and the updates change them */
    mn_dense_din_job(&job, din, dout, out, w, N, IN, OUT, relu);
    mn_pool_run_jobs(th, &job, 1);
    mn_dense_update_job(&job, db, dout, in, N, IN, OUT, update, ctx, scratch);
    mn_pool_run_jobs(th, &job, 1);
}

/* ==== Adam ================================================================================== */

typedef struct adam_job {
    const mn_conv_impl *im;
    float *p, *m, *v;
    const float *g;
    size_t n;
    float b1, b2, step, eps, wd;
} adam_job;

enum { ADAM_BLOCK = 1 << 15 };

static void adam_task(void *ctx, int t, int worker)
{
    (void)worker;
    const adam_job *j = ctx;
    size_t lo = (size_t)t * ADAM_BLOCK, n = j->n - lo < ADAM_BLOCK ? j->n - lo : ADAM_BLOCK;
    j->im->adam(j->p + lo, j->g + lo, j->m + lo, j->v + lo, n, j->b1, j->b2, j->step, j->eps,
                j->wd);
}

void mn_adam_update(float *p, const float *g, float *m, float *v, size_t n, float b1, float b2,
                    float step, float eps, float wd, int threads)
{
    adam_job j = {mn_conv_impl_get(), p, m, v, g, n, b1, b2, step, eps, wd};
    mn_pool_run(threads_for((double)n, threads), (int)((n + ADAM_BLOCK - 1) / ADAM_BLOCK),
                adam_task, &j);
}
