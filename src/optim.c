/* optim.c: the parameter update rules (SGD, momentum, Adam, with decoupled weight decay) and the
 * learning-rate schedules. One loop over the flat parameter arena. */
#include "model_internal.h"

#include <math.h>

void mn_optim_update(float *params, const float *grads, float *m1, float *m2, size_t n,
                     const mn_train_params *p, float lr, int64_t t, int threads)
{
    const float wd = p->weight_decay > 0.0f ? lr * p->weight_decay : 0.0f;
    switch (p->optimizer) {
    case MN_OPT_SGD:
#pragma omp parallel for num_threads(threads) schedule(static)
        for (size_t i = 0; i < n; i++)
            params[i] -= lr * grads[i] + wd * params[i];
        break;
    case MN_OPT_MOMENTUM: {
        const float mu = p->momentum;
#pragma omp parallel for num_threads(threads) schedule(static)
        for (size_t i = 0; i < n; i++) {
            m1[i] = mu * m1[i] + grads[i];
            params[i] -= lr * m1[i] + wd * params[i];
        }
        break;
    }
    case MN_OPT_ADAM: {
        const float b1 = p->beta1, b2 = p->beta2, eps = p->eps;
        /* The bias corrections folded into the step size, as TensorFlow's Adam does. */
        const float step = lr * (float)(sqrt(1.0 - pow(b2, (double)t)) / (1.0 - pow(b1, (double)t)));
#pragma omp parallel for num_threads(threads) schedule(static)
        for (size_t i = 0; i < n; i++) {
            float g = grads[i];
            m1[i] = b1 * m1[i] + (1.0f - b1) * g;
            m2[i] = b2 * m2[i] + (1.0f - b2) * g * g;
            params[i] -= step * m1[i] / (sqrtf(m2[i]) + eps) + wd * params[i];
        }
        break;
    }
    }
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
