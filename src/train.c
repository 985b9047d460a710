/* train.c: the training loop: seeded epoch shuffles, batches, forward, loss, backward, update,
 * periodic evaluation (keeping the best parameters) and progress through a callback. The library
 * prints nothing; the CLI draws what the callback reports. */
#include "model_internal.h"

#include "layers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

mn_train_params mn_train_default_params(void)
{
    mn_train_params p;
    memset(&p, 0, sizeof p);
    p.steps = 1000;
    p.batch = 100;
    p.lr = 0.5f;
    p.optimizer = MN_OPT_SGD;
    p.momentum = 0.9f;
    p.beta1 = 0.9f;
    p.beta2 = 0.999f;
    p.eps = 1e-8f;
    p.seed = 1;
    p.report_every = 50;
    return p;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void shuffle(uint32_t *perm, uint32_t n, mn_rng *rng)
{
    for (uint32_t i = n - 1; i > 0; i--) {
        uint32_t j = mn_rng_below(rng, i + 1);
        uint32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

/* Checks that a data set fits the model's input and classes. */
static mn_status check_fit(const mn_model *m, const mn_dataset *set, const char *what)
{
    if (m->in_c != 1 || (int)set->rows != m->in_h || (int)set->cols != m->in_w)
        return mn_fail(MN_ERR_ARG, "%s images are %ux%u but the model takes %dx%dx%d", what,
                       set->rows, set->cols, m->in_c, m->in_h, m->in_w);
    for (uint32_t i = 0; i < set->count; i++)
        if (set->labels[i] >= m->num_classes)
            return mn_fail(MN_ERR_ARG, "%s label %u of image %u is beyond the model's %d classes",
                           what, set->labels[i], i, m->num_classes);
    return MN_OK;
}

mn_status mn_model_train(mn_model *m, const mn_dataset *train, const mn_dataset *eval_set,
                         const mn_train_params *p)
{
    if (!train || train->count == 0)
        return mn_fail(MN_ERR_ARG, "the training set is empty");
    if (p->batch < 1 || p->batch > 65536)
        return mn_fail(MN_ERR_ARG, "batch size %u is out of range (1..65536)", p->batch);
    if (!(p->lr > 0.0f) || !isfinite(p->lr))
        return mn_fail(MN_ERR_ARG, "learning rate must be positive");
    mn_status st = check_fit(m, train, "training");
    if (st == MN_OK && eval_set)
        st = check_fit(m, eval_set, "evaluation");
    if (st != MN_OK)
        return st;

    const int threads = mn_resolve_threads(p->threads);
    const int batch = (int)p->batch;
    const uint32_t count = train->count;
    int64_t total = p->steps > 0 ? p->steps : (int64_t)ceil(p->epochs * count / batch);
    if (total < 1)
        return mn_fail(MN_ERR_ARG, "nothing to train: give steps or epochs > 0");

    /* Everything the loop needs is allocated here, once. */
    st = mn_model_reserve(m, batch > 256 ? batch : 256, threads);
    if (st != MN_OK)
        return st;
    size_t np = m->num_params;
    float *m1 = NULL, *m2 = NULL, *best = NULL;
    uint32_t *perm = malloc(sizeof(uint32_t) * count);
    uint8_t *labels = malloc((size_t)batch);
    uint8_t *pixels = malloc((size_t)batch * train->rows * train->cols);
    bool ok = perm && labels && pixels;
    if (p->optimizer != MN_OPT_SGD)
        ok = ok && (m1 = mn_alloc_aligned(np, sizeof(float)));
    if (p->optimizer == MN_OPT_ADAM)
        ok = ok && (m2 = mn_alloc_aligned(np, sizeof(float)));
    if (p->keep_best && eval_set)
        ok = ok && (best = mn_alloc_aligned(np, sizeof(float)));
    if (!ok) {
        st = mn_fail(MN_ERR_NOMEM, "out of memory for training state");
        goto done;
    }

    mn_rng data_rng, drop_rng;
    mn_rng_seed(&data_rng, p->seed);
    mn_rng_seed(&drop_rng, p->seed ^ 0xd20b0c7ULL);
    for (uint32_t i = 0; i < count; i++)
        perm[i] = i;
    shuffle(perm, count, &data_rng);
    uint32_t pos = 0;

    const size_t img = (size_t)train->rows * train->cols;
    const int64_t report_every = p->report_every > 0 ? p->report_every : 100;
    double t0 = now_seconds(), t_report = t0, loss_sum = 0.0, best_acc = -1.0;
    int64_t loss_n = 0, images_since = 0;
    mn_eval_result ev;
    memset(&ev, 0, sizeof ev);

    for (int64_t step = 0; step < total; step++) {
        for (int j = 0; j < batch; j++) {
            if (pos == count) {
                shuffle(perm, count, &data_rng);
                pos = 0;
            }
            uint32_t idx = perm[pos++];
            memcpy(pixels + (size_t)j * img, train->pixels + (size_t)idx * img, img);
            labels[j] = train->labels[idx];
        }
        mn_model_load_input_u8(m, pixels, batch);
        mn_model_forward(m, batch, true, &drop_rng, threads);
        float loss = mn_softmax_xent(m->grad_a, NULL, m->act[m->num_layers], labels, batch,
                                     m->num_classes);
        mn_model_backward(m, batch, threads);
        float lr = mn_schedule_lr(p, step, total);
        mn_optim_update(m->params, m->grads, m1, m2, np, p, lr, step + 1, threads);
        loss_sum += loss;
        loss_n++;
        images_since += batch;

        bool last = step + 1 == total;
        bool do_eval = eval_set && (last || (p->eval_every > 0 && (step + 1) % p->eval_every == 0));
        bool do_report = last || (step + 1) % report_every == 0 || do_eval;
        if (!isfinite(loss)) {
            st = mn_fail(MN_ERR_ARG, "training diverged at step %lld (loss is %g): lower the "
                                     "learning rate", (long long)step + 1, loss);
            goto done;
        }
        if (!do_report)
            continue;
        mn_train_progress pr;
        memset(&pr, 0, sizeof pr);
        double t = now_seconds();
        pr.step = step + 1;
        pr.total_steps = total;
        pr.epoch = (double)(step + 1) * batch / count;
        pr.loss = (float)(loss_sum / loss_n);
        pr.lr = lr;
        pr.images_per_second = t > t_report ? images_since / (t - t_report) : 0.0;
        if (do_eval) {
            st = mn_model_evaluate(m, eval_set, threads, &ev);
            if (st != MN_OK)
                goto done;
            pr.evaluated = true;
            pr.eval_accuracy = ev.accuracy;
            pr.eval_loss = ev.loss;
            mn_eval_result_free(&ev);
            if (ev.accuracy > best_acc) {
                best_acc = ev.accuracy;
                pr.best = true;
                if (best)
                    memcpy(best, m->params, np * sizeof(float));
            }
        }
        pr.elapsed_seconds = now_seconds() - t0;
        loss_sum = 0.0;
        loss_n = 0;
        images_since = 0;
        if (p->callback && !p->callback(p->user, &pr)) {
            st = mn_fail(MN_ERR_INTERRUPTED, "training stopped at step %lld", (long long)step + 1);
            goto done;
        }
        t_report = now_seconds(); /* evaluation and reporting time is not training speed */
    }
    if (best && best_acc >= 0.0)
        memcpy(m->params, best, np * sizeof(float));
done:
    free(perm);
    free(labels);
    free(pixels);
    mn_free_aligned(m1);
    mn_free_aligned(m2);
    mn_free_aligned(best);
    return st;
}
