/* optim.c: the parameter update rules (SGD, momentum, Adam, with decoupled weight decay) and the
 * learning-rate schedules. One loop over the flat parameter arena, in fixed blocks on the
 * thread pool (Adam's inner loop is vectorised in kernels/). */
#include "model_internal.h"

#include "layers.h"
#include "pool.h"

#include <math.h>

typedef struct sgd_job {
    float *params, *m1;
    const float *grads;
    size_t n;
    float lr, wd, mu;
} sgd_job;

enum { BLOCK = 1 << 15 };

/* One block of SGD (m1 NULL) or momentum. */
static void sgd_task(void *ctx, int t, int worker)
{
    (void)worker;
    const sgd_job *j = ctx;
    size_t lo = (size_t)t * BLOCK, hi = j->n - lo < BLOCK ? j->n : lo + BLOCK;
    float *p = j->params, *m = j->m1;
    const float *g = j->grads;
    if (!m) {
        for (size_t i = lo; i < hi; i++)
            p[i] -= j->lr * g[i] + j->wd * p[i];
        return;
    }
    for (size_t i = lo; i < hi; i++) {
        m[i] = j->mu * m[i] + g[i];
        p[i] -= j->lr * m[i] + j->wd * p[i];
    }
}

void mn_optim_update(float *params, const float *grads, float *m1, float *m2, size_t n,
                     const mn_train_params *p, float lr, int64_t t, int threads)
{
    const float wd = p->weight_decay > 0.0f ? lr * p->weight_decay : 0.0f;
    if (p->optimizer == MN_OPT_ADAM) {
        const double b1 = p->beta1, b2 = p->beta2;
        /* The bias corrections folded into the step size, as TensorFlow's Adam does. */
        const float step = lr * (float)(sqrt(1.0 - pow(b2, (double)t)) / (1.0 - pow(b1, (double)t)));
        mn_adam_update(params, grads, m1, m2, n, p->beta1, p->beta2, step, p->eps, wd, threads);
        return;
    }
    sgd_job j = {params, p->optimizer == MN_OPT_MOMENTUM ? m1 : NULL, grads, n, lr, wd,
                 p->momentum};
    mn_pool_run(n < 100000 ? 1 : threads, (int)((n + BLOCK - 1) / BLOCK), sgd_task, &j);
}

float mn_schedule_lr(const mn_train_params *p, int64_t step, int64_t total)
{
    const double pi = 3.14159265358979323846;
    double lr = p->lr;
    int64_t warm = p->warmup_steps > 0 ? p->warmup_steps : 0;
    if (warm >= total)
        warm = total > 1 ? total - 1 : 0;
    switch (p->schedule) {
    case MN_SCHEDULE_CONSTANT:
        if (step < warm)
            return (float)(lr * (step + 1) / warm);
        return (float)lr;
    case MN_SCHEDULE_COSINE:
    case MN_SCHEDULE_ONECYCLE: {
        double floor = p->schedule == MN_SCHEDULE_ONECYCLE ? lr / 1000.0 : 0.0;
        if (step < warm)
            return (float)(floor + (lr - floor) * (step + 1) / warm);
        double t = total - warm > 1 ? (double)(step - warm) / (double)(total - warm - 1) : 1.0;
        return (float)(floor + (lr - floor) * 0.5 * (1.0 + cos(pi * t)));
    }
    }
    return (float)lr;
}
