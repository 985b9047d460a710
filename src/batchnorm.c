/* batchnorm.c: batch normalisation forward and backward, a plain reference (double sums, one
 * thread) and the fast version the model runs: one task per block of channels on the thread
 * pool, each channel's sums taken over its images in order in eight float lanes per block of
 * 2048 values (vectorisable, and the same bits for any thread count), with a following ReLU and
 * 2x2 max-pool fused in (the pooled output and the window maxima's positions are all that is
 * written; backward recomputes the rest from the input). Tensors are NCHW viewed as [N, C, S].
 * Left out: other layouts (the model hands bn NCHW activations) and fusing the statistics into
 * the preceding convolution. */
#include "batchnorm.h"

#include "pool.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

/* ==== Reference ============================================================================ */

void mn_bn_forward_ref(float *out, float *mean, float *invstd, const float *in, const float *gamma,
                       const float *beta, int N, int C, int S)
{
    const double M = (double)N * S;
    for (int c = 0; c < C; c++) {
        double sum = 0, sq = 0;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < S; i++)
                sum += in[((size_t)n * C + c) * S + i];
        double mu = sum / M;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < S; i++) {
                double d = in[((size_t)n * C + c) * S + i] - mu;
                sq += d * d;
            }
        double is = 1.0 / sqrt(sq / M + MN_BN_EPS);
        mean[c] = (float)mu;
        invstd[c] = (float)is;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < S; i++) {
                size_t at = ((size_t)n * C + c) * S + i;
                out[at] = (float)((in[at] - mu) * is * gamma[c] + beta[c]);
            }
    }
}

void mn_bn_backward_ref(float *din, float *dgamma, float *dbeta, const float *dout,
                        const float *in, const float *mean, const float *invstd,
                        const float *gamma, int N, int C, int S)
{
    const double M = (double)N * S;
    for (int c = 0; c < C; c++) {
        double sdy = 0, sdyx = 0;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < S; i++) {
                size_t at = ((size_t)n * C + c) * S + i;
                sdy += dout[at];
                sdyx += dout[at] * (in[at] - (double)mean[c]) * invstd[c];
            }
        dgamma[c] = (float)sdyx;
        dbeta[c] = (float)sdy;
        if (!din)
            continue;
        double k = (double)gamma[c] * invstd[c] / M;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < S; i++) {
                size_t at = ((size_t)n * C + c) * S + i;
                double xhat = (in[at] - (double)mean[c]) * invstd[c];
                din[at] = (float)(k * (M * dout[at] - sdy - xhat * sdyx));
            }
    }
}

/* ==== Fast ================================================================================= */

enum { LANES = 8, BLOCK = 2048 };

/* Eight float lanes (GCC/Clang vector extension: plain C fallback code for any ISA, SSE or AVX
 * instructions where the compiler has them); sums in lanes are taken in a fixed order. */
typedef float lanes __attribute__((vector_size(4 * LANES)));
/* Four lanes (one SSE register) for the pooling windows; comparisons give -1 (true) or 0. */
typedef float quad __attribute__((vector_size(16)));
typedef int iquad __attribute__((vector_size(16)));

/* mask ? x : y, lane by lane (a macro: vectors are not passed by value, see load) */
#define blend(mask, x, y) ((quad)(((iquad)(x) & (mask)) | ((iquad)(y) & ~(mask))))

/* (vectors go by pointer: passing them by value changes the ABI without AVX) */
static inline void load(lanes *v, const float *p) { memcpy(v, p, sizeof *v); }

static inline double hsum(const lanes *v)
{
    double s = 0;
    for (int l = 0; l < LANES; l++)
        s += (*v)[l];
    return s;
}

/* Sums of p[i] - k and (p[i] - k)^2 over S values (k near the mean keeps the variance
 * accurate). */
static void sum_shifted(const float *p, size_t S, float k, double *s1, double *s2)
{
    for (size_t b = 0; b < S; b += BLOCK) {
        size_t e = S - b < BLOCK ? S : b + BLOCK, i = b;
        lanes a = {0}, q = {0};
        for (; i + LANES <= e; i += LANES) {
            lanes d;
            load(&d, p + i);
            d -= k;
            a += d;
            q += d * d;
        }
        double x = hsum(&a), y = hsum(&q);
        for (; i < e; i++) {
            float d = p[i] - k;
            x += d;
            y += (double)d * d;
        }
        *s1 += x;
        *s2 += y;
    }
}

/* Sums of dy and dy * (x - mu) * is over S values. */
static void sum_grad(const float *dy, const float *x, size_t S, float mu, float is, double *sdy,
                     double *sdyx)
{
    for (size_t b = 0; b < S; b += BLOCK) {
        size_t e = S - b < BLOCK ? S : b + BLOCK, i = b;
        lanes a = {0}, g = {0};
        for (; i + LANES <= e; i += LANES) {
            lanes d, v;
            load(&d, dy + i);
            load(&v, x + i);
            a += d;
            g += d * ((v - mu) * is);
        }
        double s = hsum(&a), t = hsum(&g);
        for (; i < e; i++) {
            s += dy[i];
            t += dy[i] * ((x[i] - mu) * is);
        }
        *sdy += s;
        *sdyx += t;
    }
}

typedef struct bn_job {
    mn_bn_desc d;
    float *out, *mean, *invstd, *rmean, *rvar;
    float *din, *dgamma, *dbeta, *dout;
    uint8_t *arg;
    const float *in, *gamma, *beta;
    int train, per_task;
} bn_job;

/* The normalised (and rectified) value: the one expression forward and backward share, so the
 * backward's ReLU mask has the forward's bits. */
static inline float norm_relu(float x, float scale, float shift, int relu)
{
    float v = x * scale + shift;
    return relu && !(v > 0.0f) ? 0.0f : v;
}

static void bn_fwd_channel(const bn_job *j, int c)
{
    const mn_bn_desc *d = &j->d;
    const size_t S = (size_t)d->H * d->W, C = (size_t)d->C;
    const double M = (double)d->N * S;
    float mu, is;
    if (j->train) {
        double s0 = 0, t0 = 0;
        for (int n = 0; n < d->N; n++)
            sum_shifted(j->in + (n * C + c) * S, S, 0.0f, &s0, &t0);
        const float k = (float)(s0 / M); /* the mean: a second pass keeps the variance exact */
        double s1 = 0, s2 = 0;
        for (int n = 0; n < d->N; n++)
            sum_shifted(j->in + (n * C + c) * S, S, k, &s1, &s2);
        double m1 = s1 / M, var = s2 / M - m1 * m1;
        var = var > 0.0 ? var : 0.0;
        mu = (float)(k + m1);
        is = (float)(1.0 / sqrt(var + MN_BN_EPS));
        if (j->rmean) {
            const float mom = MN_BN_MOMENTUM;
            float unbiased = (float)(M > 1 ? var * M / (M - 1) : var);
            j->rmean[c] = (1.0f - mom) * j->rmean[c] + mom * mu;
            j->rvar[c] = (1.0f - mom) * j->rvar[c] + mom * unbiased;
        }
    } else {
        mu = j->rmean[c];
        is = (float)(1.0 / sqrt((double)j->rvar[c] + MN_BN_EPS));
    }
    j->mean[c] = mu;
    j->invstd[c] = is;
    const float scale = j->gamma[c] * is, shift = j->beta[c] - mu * scale;
    const int relu = d->relu, W = d->W, OH = d->H / 2, OW = d->W / 2;
    for (int n = 0; n < d->N; n++) {
        const float *x = j->in + (n * C + c) * S;
        if (!d->pool) {
            float *y = j->out + (n * C + c) * S;
            if (relu)
                for (size_t i = 0; i < S; i++)
                    y[i] = norm_relu(x[i], scale, shift, 1);
            else
                for (size_t i = 0; i < S; i++)
                    y[i] = x[i] * scale + shift;
            continue;
        }
        /* 2x2 max-pool of the normalised values: the first maximum of each window, as
         * mn_maxpool_forward_ref finds it */
        float *y = j->out + (n * C + c) * (size_t)OH * OW;
        uint8_t *arg = j->arg + (n * C + c) * (size_t)OH * OW;
        /* two rows normalised at a time (a vectorisable loop); the tail of the last group of
         * windows reads zeros past them (and its results are not stored) */
        float t[2][256 + 2 * LANES] = {{0}};
        for (int oy = 0; oy < OH; oy++)
            for (int x0 = 0; x0 < 2 * OW; x0 += 256) {
                int len = 2 * OW - x0 < 256 ? 2 * OW - x0 : 256;
                for (int r = 0; r < 2; r++) {
                    const float *row = x + (size_t)(2 * oy + r) * W + x0;
                    if (relu)
                        for (int i = 0; i < len; i++)
                            t[r][i] = norm_relu(row[i], scale, shift, 1);
                    else
                        for (int i = 0; i < len; i++)
                            t[r][i] = row[i] * scale + shift;
                }
                /* the first maximum of (a, b, c, d) is that of (a, b) or of (c, d): pairs,
                 * four windows at a time without branches */
                float *yo = y + (size_t)oy * OW + x0 / 2;
                uint8_t *ao = arg + (size_t)oy * OW + x0 / 2;
                const int h = len / 2;
                for (int i = 0; i < h; i += 4) {
                    quad r0, r1, r2, r3; /* 8 values of each row: even and odd columns */
                    memcpy(&r0, t[0] + 2 * i, 16), memcpy(&r1, t[0] + 2 * i + 4, 16);
                    memcpy(&r2, t[1] + 2 * i, 16), memcpy(&r3, t[1] + 2 * i + 4, 16);
                    quad a = __builtin_shufflevector(r0, r1, 0, 2, 4, 6);
                    quad b = __builtin_shufflevector(r0, r1, 1, 3, 5, 7);
                    quad c = __builtin_shufflevector(r2, r3, 0, 2, 4, 6);
                    quad e = __builtin_shufflevector(r2, r3, 1, 3, 5, 7);
                    iquad k0 = b > a, k1 = e > c;
                    quad m0 = blend(k0, b, a), m1 = blend(k1, e, c);
                    iquad up = m1 > m0;
                    quad m = blend(up, m1, m0);
                    iquad k = (up & (2 - k1)) | (~up & -k0);
                    const int valid = h - i < 4 ? h - i : 4;
                    memcpy(yo + i, &m, sizeof(float) * (size_t)valid);
                    for (int l = 0; l < valid; l++)
                        ao[i + l] = (uint8_t)k[l];
                }
            }
    }
}

/* The gradient that reaches window o's maximum (zero where the ReLU stopped it) and that
 * maximum's input value *xm: the float operations of the forward's norm_relu, so the mask has
 * its bits. */
static inline float window_grad(const float *x, const float *g, const uint8_t *arg, int W,
                                int OW, int oy, int ox, float scale, float shift, int relu,
                                size_t *at, float *xm)
{
    const int q = arg[(size_t)oy * OW + ox];
    *at = (size_t)(2 * oy + (q >> 1)) * W + 2 * ox + (q & 1);
    *xm = x[*at];
    return relu && !(*xm * scale + shift > 0.0f) ? 0.0f : g[(size_t)oy * OW + ox];
}

static void bn_bwd_channel(const bn_job *j, int c)
{
    const mn_bn_desc *d = &j->d;
    const size_t S = (size_t)d->H * d->W, C = (size_t)d->C;
    const double M = (double)d->N * S;
    const float mu = j->mean[c], is = j->invstd[c];
    const float scale = j->gamma[c] * is, shift = j->beta[c] - mu * scale;
    const int relu = d->relu, W = d->W, OH = d->H / 2, OW = d->W / 2;
    const size_t OS = (size_t)OH * OW;
    double sdy = 0, sdyx = 0;
    for (int n = 0; n < d->N; n++) {
        const float *x = j->in + (n * C + c) * S;
        if (!d->pool) {
            float *dy = j->dout + (n * C + c) * S;
            if (relu)
                for (size_t i = 0; i < S; i++)
                    dy[i] = norm_relu(x[i], scale, shift, 1) > 0.0f ? dy[i] : 0.0f;
            sum_grad(dy, x, S, mu, is, &sdy, &sdyx);
            continue;
        }
        /* only each window's maximum has a gradient (where the ReLU passed it); the sums
         * go window by window, in order, in floats within an image */
        const float *g = j->dout + (n * C + c) * OS;
        const uint8_t *arg = j->arg + (n * C + c) * OS;
        float a = 0, b = 0;
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                size_t at;
                float xm, gv = window_grad(x, g, arg, W, OW, oy, ox, scale, shift, relu, &at, &xm);
                a += gv;
                b += gv * ((xm - mu) * is);
            }
        sdy += a;
        sdyx += b;
    }
    j->dgamma[c] = (float)sdyx;
    j->dbeta[c] = (float)sdy;
    if (!j->din)
        return;
    const float a = (float)(sdy / M), b = (float)(sdyx / M);
    for (int n = 0; n < d->N; n++) {
        const float *x = j->in + (n * C + c) * S;
        float *dx = j->din + (n * C + c) * S;
        if (!d->pool) {
            const float *dy = j->dout + (n * C + c) * S;
            if (j->train)
                for (size_t i = 0; i < S; i++)
                    dx[i] = scale * (dy[i] - a - (x[i] - mu) * is * b);
            else
                for (size_t i = 0; i < S; i++)
                    dx[i] = dy[i] * scale;
            continue;
        }
        /* every value gets the statistics' share (none in evaluation mode), window maxima
         * their gradient too */
        const float *g = j->dout + (n * C + c) * OS;
        const uint8_t *arg = j->arg + (n * C + c) * OS;
        if (j->train)
            for (size_t i = 0; i < S; i++)
                dx[i] = scale * (0.0f - a - (x[i] - mu) * is * b);
        else
            memset(dx, 0, S * sizeof(float));
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                size_t at;
                float xm, gv = window_grad(x, g, arg, W, OW, oy, ox, scale, shift, relu, &at, &xm);
                dx[at] = j->train ? scale * (gv - a - (xm - mu) * is * b) : gv * scale;
            }
    }
}

static void bn_fwd_task(void *ctx, int t, int worker)
{
    (void)worker;
    const bn_job *j = ctx;
    for (int c = t * j->per_task; c < j->d.C && c < (t + 1) * j->per_task; c++)
        bn_fwd_channel(j, c);
}

static void bn_bwd_task(void *ctx, int t, int worker)
{
    (void)worker;
    const bn_job *j = ctx;
    for (int c = t * j->per_task; c < j->d.C && c < (t + 1) * j->per_task; c++)
        bn_bwd_channel(j, c);
}

/* Channels per task: at least ~8k values each, so small layers are not cut into crumbs. */
static int per_task(const mn_bn_desc *d)
{
    double per_channel = (double)d->N * d->H * d->W;
    int k = per_channel >= 8192 ? 1 : (int)(8192 / per_channel);
    return k < d->C ? k : d->C;
}

static void run(const mn_bn_desc *d, bn_job *j, mn_task_fn fn, int threads)
{
    j->d = *d;
    j->per_task = per_task(d);
    bool small = (double)d->N * d->C * d->H * d->W < 65536;
    mn_pool_run(small ? 1 : threads, (d->C + j->per_task - 1) / j->per_task, fn, j);
}

void mn_bn_forward(const mn_bn_desc *d, float *out, uint8_t *arg, float *mean, float *invstd,
                   float *running_mean, float *running_var, const float *in, const float *gamma,
                   const float *beta, int train, int threads)
{
    bn_job j = {.out = out, .arg = arg, .mean = mean, .invstd = invstd, .rmean = running_mean,
                .rvar = running_var, .in = in, .gamma = gamma, .beta = beta, .train = train};
    run(d, &j, bn_fwd_task, threads);
}

void mn_bn_backward(const mn_bn_desc *d, float *din, float *dgamma, float *dbeta, float *dout,
                    const uint8_t *arg, const float *in, const float *mean, const float *invstd,
                    const float *gamma, const float *beta, int train, int threads)
{
    mn_job job;
    mn_bn_backward_job(&job, d, din, dgamma, dbeta, dout, arg, in, mean, invstd, gamma, beta,
                       train);
    bool small = (double)d->N * d->C * d->H * d->W < 65536;
    mn_pool_run_jobs(small ? 1 : threads, &job, 1);
}

void mn_bn_backward_job(mn_job *job, const mn_bn_desc *d, float *din, float *dgamma,
                        float *dbeta, float *dout, const uint8_t *arg, const float *in,
                        const float *mean, const float *invstd, const float *gamma,
                        const float *beta, int train)
{
    bn_job j = {.d = *d, .mean = (float *)mean, .invstd = (float *)invstd, .din = din,
                .dgamma = dgamma, .dbeta = dbeta, .dout = dout, .arg = (uint8_t *)arg, .in = in,
                .gamma = gamma, .beta = beta, .train = train, .per_task = per_task(d)};
    _Static_assert(sizeof j <= sizeof job->ctx, "bn_job must fit in a job");
    memcpy(job->ctx, &j, sizeof j);
    job->fn = bn_bwd_task;
    job->tasks = (d->C + j.per_task - 1) / j.per_task;
}
