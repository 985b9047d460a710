/* gradcheck.h: what the layer tests share: seeded random tensors, and the check of an analytic
 * gradient against central finite differences of L = <forward(x), R>. Include once per test
 * program (the definitions are static). */
#ifndef MN_GRADCHECK_H
#define MN_GRADCHECK_H

#include "internal.h"

#include <math.h>
#include <stdbool.h>

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

typedef void (*forward_fn)(void *ctx, float *out);

/* Compares the analytic gradient `grad` of L with respect to x (n values) against central
 * differences at `tries` random positions, or at every position when `every_if_few` and
 * n <= tries; returns the largest relative error. fwd(ctx, out) recomputes out from x. */
static double fd_check(forward_fn fwd, void *ctx, float *out, const float *R, size_t out_n,
                       float *x, const float *grad, size_t n, int tries, bool every_if_few)
{
    double worst = 0;
    const bool all = every_if_few && n <= (size_t)tries;
    for (int t = 0; t < (all ? (int)n : tries); t++) {
        size_t i = all ? (size_t)t : mn_rng_below(&g_rng, (uint32_t)n);
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

#endif
