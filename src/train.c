/* train.c: the training loop as a resumable trainer: seeded epoch shuffles, batches, forward,
 * loss, backward, update, periodic evaluation (keeping the best parameters), progress through a
 * callback, and checkpoints that hold everything needed to continue bit for bit. The library
 * prints nothing; the CLI draws what the callback reports. */
#include "model_internal.h"

#include "batcher.h"
#include "layers.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CKPT "train." /* prefix of the checkpoint's own tensors and metadata */

/* Where the data order stands: what a checkpoint records of it. */
typedef struct data_cursor {
    uint32_t pos;       /* next index into perm */
    bool epoch_started; /* perm holds the current epoch's order */
    mn_rng epoch_rng;   /* data_rng as it was before this epoch's shuffle */
    mn_rng data_rng;
} data_cursor;

struct mn_trainer {
    mn_model *model;
    mn_train_params p;
    int64_t step, total;
    uint32_t count; /* training images (fixed for the run) */
    data_cursor cur;
    /* The next step's batch is chosen while this step computes; until that step runs, `used`
     * is the cursor as it was before the choice (what a checkpoint saves). */
    bool ahead;
    data_cursor used;
    mn_rng drop_rng;
    double best_acc;
    float *m1, *m2, *best; /* best: the parameters, then the bn running statistics */
    uint32_t *perm;
};

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

/* A new epoch's order: the identity, shuffled (so the order follows from the RNG state alone). */
static void start_epoch(mn_trainer *t)
{
    data_cursor *c = &t->cur;
    c->epoch_rng = c->data_rng;
    for (uint32_t i = 0; i < t->count; i++)
        t->perm[i] = i;
    for (uint32_t i = t->count - 1; i > 0; i--) {
        uint32_t j = mn_rng_below(&c->data_rng, i + 1);
        uint32_t tmp = t->perm[i];
        t->perm[i] = t->perm[j];
        t->perm[j] = tmp;
    }
    c->pos = 0;
    c->epoch_started = true;
}

/* Sets the data order to `c`, rebuilding its epoch's order from its RNG state. */
static void seek(mn_trainer *t, data_cursor c)
{
    if (c.epoch_started) {
        t->cur.data_rng = c.epoch_rng;
        start_epoch(t);
        t->cur.pos = c.pos;
    } else {
        t->cur = c;
    }
}

/* Chooses the images of step `step`'s batch and starts the batcher on them. */
static void choose_batch(mn_trainer *t, mn_batcher *b, int64_t step)
{
    t->used = t->cur;
    t->ahead = true;
    uint32_t *idx = mn_batcher_indices(b);
    for (uint32_t j = 0; j < t->p.batch; j++) {
        if (!t->cur.epoch_started || t->cur.pos == t->count)
            start_epoch(t);
        idx[j] = t->perm[t->cur.pos++];
    }
    /* each image's distortion is drawn from (seed, step, slot) */
    mn_batcher_submit(b, t->p.seed * 0x9e3779b97f4a7c15ULL + (uint64_t)step * t->p.batch);
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

static mn_status check_params(const mn_train_params *p)
{
    if (p->batch < 1 || p->batch > 65536)
        return mn_fail(MN_ERR_ARG, "batch size %u is out of range (1..65536)", p->batch);
    if (!(p->lr > 0.0f) || !isfinite(p->lr))
        return mn_fail(MN_ERR_ARG, "learning rate must be positive");
    if (p->steps <= 0 && !(p->epochs > 0.0))
        return mn_fail(MN_ERR_ARG, "nothing to train: give steps or epochs > 0");
    if (p->optimizer > MN_OPT_ADAM || p->schedule > MN_SCHEDULE_ONECYCLE)
        return mn_fail(MN_ERR_ARG, "unknown optimizer or schedule");
    return MN_OK;
}

mn_status mn_trainer_create(mn_trainer **out, mn_model *model, const mn_train_params *params)
{
    mn_status st = check_params(params);
    if (st != MN_OK)
        return st;
    mn_trainer *t = calloc(1, sizeof *t);
    if (!t)
        return mn_fail(MN_ERR_NOMEM, "out of memory");
    t->model = model;
    t->p = *params;
    t->p.threads = mn_resolve_threads(params->threads);
    t->best_acc = -1.0;
    mn_rng_seed(&t->cur.data_rng, t->p.seed);
    mn_rng_seed(&t->drop_rng, t->p.seed ^ 0xd20b0c7ULL);
    size_t np = model->num_params;
    bool ok = true;
    if (t->p.optimizer != MN_OPT_SGD)
        ok = ok && (t->m1 = mn_alloc_aligned(np, sizeof(float)));
    if (t->p.optimizer == MN_OPT_ADAM)
        ok = ok && (t->m2 = mn_alloc_aligned(np, sizeof(float)));
    if (t->p.keep_best)
        ok = ok && (t->best = mn_alloc_aligned(np + model->num_buffers, sizeof(float)));
    if (!ok) {
        mn_trainer_free(t);
        return mn_fail(MN_ERR_NOMEM, "out of memory for the optimizer state");
    }
    *out = t;
    return MN_OK;
}

void mn_trainer_free(mn_trainer *t)
{
    if (!t)
        return;
    mn_free_aligned(t->m1);
    mn_free_aligned(t->m2);
    mn_free_aligned(t->best);
    free(t->perm);
    free(t);
}

mn_train_params *mn_trainer_params(mn_trainer *t) { return &t->p; }
int64_t mn_trainer_step(const mn_trainer *t) { return t->step; }
int64_t mn_trainer_total_steps(const mn_trainer *t) { return t->total; }

double mn_trainer_best_accuracy(const mn_trainer *t) { return t->best_acc; }

/* Allocates what the loop needs, once, for a data set of `count` images. */
static mn_status prepare(mn_trainer *t, const mn_dataset *train)
{
    if (t->count && t->count != train->count)
        return mn_fail(MN_ERR_ARG, "the training set has %u images, but this run (or its "
                                   "checkpoint) was made with %u", train->count, t->count);
    t->count = train->count;
    t->total = t->p.steps > 0 ? t->p.steps : (int64_t)ceil(t->p.epochs * t->count / t->p.batch);
    if (t->total < 1)
        t->total = 1;
    int batch = (int)t->p.batch;
    mn_status st = mn_model_reserve(t->model, batch > 256 ? batch : 256, t->p.threads);
    if (st != MN_OK)
        return st;
    if (!t->perm) {
        if (!(t->perm = malloc(sizeof(uint32_t) * t->count)))
            return mn_fail(MN_ERR_NOMEM, "out of memory for training batches");
        seek(t, t->cur); /* resumed: rebuild this epoch's order from its RNG state */
    }
    return MN_OK;
}

/* The training images as the model's preprocessing leaves them, into out (out->pixels stays
 * NULL when the model has none). Training distorts these, so the distortions come after the
 * preprocessing, as they would on an image that was preprocessed before it reached us: the
 * other order would let deskewing, which moves the ink's centroid to the centre, undo every
 * shift, and width normalisation undo horizontal scaling. */
static mn_status preprocess_set(const mn_model *m, const mn_dataset *set, mn_dataset *out)
{
    if (m->preprocess.kind == MN_PREPROCESS_NONE)
        return MN_OK;
    const size_t per = (size_t)set->rows * set->cols;
    float *scratch = malloc(2 * per * sizeof *scratch);
    uint8_t *px = malloc((size_t)set->count * per);
    if (!scratch || !px) {
        free(scratch);
        free(px);
        return mn_fail(MN_ERR_NOMEM, "out of memory for the preprocessed training images");
    }
    for (uint32_t i = 0; i < set->count; i++)
        mn_preprocess_u8(&m->preprocess, px + i * per, set->pixels + i * per, 1, (int)set->rows,
                         (int)set->cols, scratch);
    free(scratch);
    *out = *set;
    out->pixels = px;
    return MN_OK;
}

/* The steps themselves; mn_trainer_run sets up and tears down around them. */
static mn_status run_steps(mn_trainer *t, const mn_dataset *eval_set, mn_batcher *b)
{
    mn_model *m = t->model;
    const mn_train_params *p = &t->p;
    const int threads = p->threads, batch = (int)p->batch;
    const size_t np = m->num_params;
    const int64_t report_every = p->report_every > 0 ? p->report_every : 100;
    double t0 = now_seconds(), t_report = t0, loss_sum = 0.0;
    int64_t loss_n = 0, images_since = 0;
    mn_status st;

    if (t->step < t->total)
        choose_batch(t, b, t->step);
    while (t->step < t->total) {
        if (p->stop && *p->stop) {
            if (p->checkpoint_path && (st = mn_trainer_save(t, p->checkpoint_path)) != MN_OK)
                return st;
            return mn_fail(MN_ERR_INTERRUPTED, "training stopped at step %lld of %lld",
                           (long long)t->step, (long long)t->total);
        }
        const uint8_t *labels, *pixels = mn_batcher_wait(b, &labels);
        t->ahead = false; /* this step's batch is in use: the cursor is past it */
        if (t->step + 1 < t->total)
            choose_batch(t, b, t->step + 1); /* made while this step computes */
        mn_model_load_preprocessed_u8(m, pixels, batch);
        mn_model_forward(m, batch, true, &t->drop_rng, threads);
        float loss = mn_softmax_xent_smooth(m->grad_a, NULL, m->act[m->num_layers], labels,
                                            batch, m->num_classes, p->label_smoothing);
        if (!isfinite(loss))
            return mn_fail(MN_ERR_ARG, "training diverged at step %lld (loss is %g): lower the "
                                       "learning rate", (long long)t->step + 1, loss);
        float lr = mn_schedule_lr(p, t->step, t->total);
        mn_model_backward_update(m, batch, threads, p, lr, t->step + 1, t->m1, t->m2);
        t->step++;
        loss_sum += loss;
        loss_n++;
        images_since += batch;

        bool last = t->step == t->total;
        bool do_eval = eval_set && (last || (p->eval_every > 0 && t->step % p->eval_every == 0));
        bool do_report = last || t->step % report_every == 0 || do_eval;
        if (do_report) {
            mn_train_progress pr;
            memset(&pr, 0, sizeof pr);
            double now = now_seconds();
            pr.step = t->step;
            pr.total_steps = t->total;
            pr.epoch = (double)t->step * batch / t->count;
            pr.loss = (float)(loss_sum / loss_n);
            pr.lr = lr;
            pr.images_per_second = now > t_report ? images_since / (now - t_report) : 0.0;
            if (do_eval) {
                mn_eval_result ev;
                if ((st = mn_model_evaluate(m, eval_set, threads, &ev)) != MN_OK)
                    return st;
                pr.evaluated = true;
                pr.eval_accuracy = ev.accuracy;
                pr.eval_loss = ev.loss;
                mn_eval_result_free(&ev);
                if (pr.eval_accuracy > t->best_acc) {
                    t->best_acc = pr.eval_accuracy;
                    pr.best = true;
                    if (t->best) {
                        memcpy(t->best, m->params, np * sizeof(float));
                        memcpy(t->best + np, m->buffers, m->num_buffers * sizeof(float));
                    }
                }
            }
            pr.elapsed_seconds = now_seconds() - t0;
            loss_sum = 0.0;
            loss_n = 0;
            images_since = 0;
            if (p->callback && !p->callback(p->user, &pr)) {
                if (p->checkpoint_path && (st = mn_trainer_save(t, p->checkpoint_path)) != MN_OK)
                    return st;
                return mn_fail(MN_ERR_INTERRUPTED, "training stopped at step %lld of %lld",
                               (long long)t->step, (long long)t->total);
            }
            t_report = now_seconds(); /* evaluating and reporting is not training speed */
        }
        if (p->checkpoint_path && p->checkpoint_every > 0 && t->step % p->checkpoint_every == 0 &&
            !last && (st = mn_trainer_save(t, p->checkpoint_path)) != MN_OK)
            return st;
    }
    if (t->best && t->best_acc >= 0.0) {
        memcpy(m->params, t->best, np * sizeof(float));
        memcpy(m->buffers, t->best + np, m->num_buffers * sizeof(float));
    }
    return MN_OK;
}

mn_status mn_trainer_run(mn_trainer *t, const mn_dataset *train, const mn_dataset *eval_set)
{
    if (!train || train->count == 0)
        return mn_fail(MN_ERR_ARG, "the training set is empty");
    mn_status st = check_fit(t->model, train, "training");
    if (st == MN_OK && eval_set)
        st = check_fit(t->model, eval_set, "evaluation");
    if (st == MN_OK)
        st = prepare(t, train);
    if (st != MN_OK)
        return st;
    mn_dataset pre = {0};
    if ((st = preprocess_set(t->model, train, &pre)) != MN_OK)
        return st;
    mn_batcher *b;
    if ((st = mn_batcher_create(&b, pre.pixels ? &pre : train, &t->p, (int)t->p.batch)) == MN_OK) {
        st = run_steps(t, eval_set, b);
        mn_batcher_free(b);
    }
    free(pre.pixels);
    if (t->ahead) {
        /* stopped early: forget the batch chosen ahead; a later run chooses it again */
        t->ahead = false;
        seek(t, t->used);
    }
    return st;
}

mn_status mn_model_train(mn_model *model, const mn_dataset *train, const mn_dataset *eval_set,
                         const mn_train_params *params)
{
    mn_trainer *t;
    mn_status st = mn_trainer_create(&t, model, params);
    if (st != MN_OK)
        return st;
    st = mn_trainer_run(t, train, eval_set);
    mn_trainer_free(t);
    return st;
}

/* ---- checkpoints: the model file plus "train."-prefixed tensors and metadata ---- */

enum { F_I64, F_F64, F_F32, F_U32, F_INT, F_BOOL, F_U64 };
static const struct {
    const char *key;
    int type;
    size_t offset;
} g_fields[] = {
    {CKPT "steps", F_I64, offsetof(mn_train_params, steps)},
    {CKPT "epochs", F_F64, offsetof(mn_train_params, epochs)},
    {CKPT "batch", F_U32, offsetof(mn_train_params, batch)},
    {CKPT "lr", F_F32, offsetof(mn_train_params, lr)},
    {CKPT "optimizer", F_INT, offsetof(mn_train_params, optimizer)},
    {CKPT "momentum", F_F32, offsetof(mn_train_params, momentum)},
    {CKPT "beta1", F_F32, offsetof(mn_train_params, beta1)},
    {CKPT "beta2", F_F32, offsetof(mn_train_params, beta2)},
    {CKPT "eps", F_F32, offsetof(mn_train_params, eps)},
    {CKPT "weight_decay", F_F32, offsetof(mn_train_params, weight_decay)},
    {CKPT "label_smoothing", F_F32, offsetof(mn_train_params, label_smoothing)},
    {CKPT "schedule", F_INT, offsetof(mn_train_params, schedule)},
    {CKPT "warmup_steps", F_I64, offsetof(mn_train_params, warmup_steps)},
    {CKPT "aug_shift", F_F32, offsetof(mn_train_params, aug_shift)},
    {CKPT "aug_rotate", F_F32, offsetof(mn_train_params, aug_rotate)},
    {CKPT "aug_scale", F_F32, offsetof(mn_train_params, aug_scale)},
    {CKPT "aug_elastic", F_F32, offsetof(mn_train_params, aug_elastic)},
    {CKPT "seed", F_U64, offsetof(mn_train_params, seed)},
    {CKPT "threads", F_INT, offsetof(mn_train_params, threads)},
    {CKPT "eval_every", F_I64, offsetof(mn_train_params, eval_every)},
    {CKPT "report_every", F_I64, offsetof(mn_train_params, report_every)},
    {CKPT "keep_best", F_BOOL, offsetof(mn_train_params, keep_best)},
    {CKPT "checkpoint_every", F_I64, offsetof(mn_train_params, checkpoint_every)},
};
#define NFIELDS (sizeof g_fields / sizeof g_fields[0])

static void format_field(char *buf, size_t n, const mn_train_params *p, size_t i)
{
    const char *base = (const char *)p + g_fields[i].offset;
    switch (g_fields[i].type) {
    case F_I64: snprintf(buf, n, "%" PRId64, *(const int64_t *)base); break;
    case F_F64: snprintf(buf, n, "%.17g", *(const double *)base); break;
    case F_F32: snprintf(buf, n, "%.9g", (double)*(const float *)base); break;
    case F_U32: snprintf(buf, n, "%" PRIu32, *(const uint32_t *)base); break;
    case F_INT: snprintf(buf, n, "%d", *(const int *)base); break;
    case F_BOOL: snprintf(buf, n, "%d", *(const bool *)base ? 1 : 0); break;
    case F_U64: snprintf(buf, n, "%" PRIu64, *(const uint64_t *)base); break;
    }
}

static bool parse_field(const char *s, mn_train_params *p, size_t i)
{
    char *base = (char *)p + g_fields[i].offset, *end;
    if (!s || !*s)
        return false;
    errno = 0;
    switch (g_fields[i].type) {
    case F_I64: *(int64_t *)base = strtoll(s, &end, 10); break;
    case F_F64: *(double *)base = strtod(s, &end); break;
    case F_F32: *(float *)base = strtof(s, &end); break;
    case F_U32: *(uint32_t *)base = (uint32_t)strtoul(s, &end, 10); break;
    case F_INT: *(int *)base = (int)strtol(s, &end, 10); break;
    case F_BOOL: *(bool *)base = strtol(s, &end, 10) != 0; break;
    case F_U64: *(uint64_t *)base = strtoull(s, &end, 10); break;
    default: return false;
    }
    return !*end && !errno;
}

static void format_rng(char *buf, const mn_rng *r)
{
    snprintf(buf, 68, "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64, r->s[0], r->s[1],
             r->s[2], r->s[3]);
}

static bool parse_rng(const char *s, mn_rng *r)
{
    if (!s || strlen(s) != 64)
        return false;
    for (int i = 0; i < 4; i++) {
        char part[17], *end;
        memcpy(part, s + 16 * i, 16);
        part[16] = '\0';
        r->s[i] = strtoull(part, &end, 16);
        if (*end)
            return false;
    }
    return true;
}

mn_status mn_trainer_save(const mn_trainer *t, const char *path)
{
    const mn_model *m = t->model;
    mn_st_tensor tensors[MN_MAX_TENSORS + 3];
    int nt = mn_model_tensors(m, tensors);
    const char *names[3] = {CKPT "m1", CKPT "m2", CKPT "best"};
    float *state[3] = {t->m1, t->m2, t->best};
    for (int i = 0; i < 3; i++)
        if (state[i]) {
            mn_st_tensor *x = &tensors[nt++];
            memset(x, 0, sizeof *x);
            snprintf(x->name, sizeof x->name, "%s", names[i]);
            x->ndim = 1;
            x->count = m->num_params + (i == 2 ? m->num_buffers : 0);
            x->shape[0] = (int64_t)x->count;
            x->data = state[i];
        }
    mn_model_meta mm;
    mn_status st = mn_model_meta_build(m, &mm);
    if (st != MN_OK)
        return st;
    char values[NFIELDS + 8][72];
    mn_st_meta meta[16 + MN_MAX_META + NFIELDS + 8];
    int n = 0;
    for (int i = 0; i < mm.count; i++)
        meta[n++] = mm.meta[i];
    for (size_t i = 0; i < NFIELDS; i++) {
        format_field(values[i], sizeof values[i], &t->p, i);
        meta[n++] = (mn_st_meta){(char *)g_fields[i].key, values[i]};
    }
    size_t v = NFIELDS;
    snprintf(values[v], 72, "%" PRId64, t->step);
    meta[n++] = (mn_st_meta){CKPT "step", values[v++]};
    snprintf(values[v], 72, "%" PRIu32, t->count);
    meta[n++] = (mn_st_meta){CKPT "count", values[v++]};
    const data_cursor *c = t->ahead ? &t->used : &t->cur;
    snprintf(values[v], 72, "%" PRIu32, c->pos);
    meta[n++] = (mn_st_meta){CKPT "pos", values[v++]};
    snprintf(values[v], 72, "%d", c->epoch_started ? 1 : 0);
    meta[n++] = (mn_st_meta){CKPT "epoch_started", values[v++]};
    snprintf(values[v], 72, "%.17g", t->best_acc);
    meta[n++] = (mn_st_meta){CKPT "best_acc", values[v++]};
    format_rng(values[v], &c->epoch_rng);
    meta[n++] = (mn_st_meta){CKPT "epoch_rng", values[v++]};
    format_rng(values[v], &t->drop_rng);
    meta[n++] = (mn_st_meta){CKPT "drop_rng", values[v++]};
    st = mn_st_write(path, tensors, nt, meta, n);
    mn_model_meta_free(&mm);
    return st;
}

mn_status mn_trainer_load(mn_trainer **out, mn_model **model_out, const char *path)
{
    mn_st_file f;
    mn_status st = mn_st_read(path, &f);
    if (st != MN_OK)
        return st;
    mn_model *m = NULL;
    mn_trainer *t = NULL;
    if (!mn_st_meta_get(&f, CKPT "step")) {
        st = mn_fail(MN_ERR_FORMAT, "%s: not a checkpoint (a model file? train with "
                                    "--checkpoint to make one)", path);
        goto fail;
    }
    if ((st = mn_model_from_st(&m, &f, path, CKPT)) != MN_OK)
        goto fail;
    mn_train_params p = mn_train_default_params();
    for (size_t i = 0; i < NFIELDS; i++)
        if (!parse_field(mn_st_meta_get(&f, g_fields[i].key), &p, i)) {
            st = mn_fail(MN_ERR_FORMAT, "%s: checkpoint field %s is missing or malformed", path,
                         g_fields[i].key);
            goto fail;
        }
    if ((st = check_params(&p)) != MN_OK || (st = mn_trainer_create(&t, m, &p)) != MN_OK) {
        st = mn_fail_prefix(MN_ERR_FORMAT, path);
        goto fail;
    }
    long long step, count, pos, started;
    char *end;
    const char *keys[4] = {CKPT "step", CKPT "count", CKPT "pos", CKPT "epoch_started"};
    long long *vals[4] = {&step, &count, &pos, &started};
    for (int i = 0; i < 4; i++) {
        const char *s = mn_st_meta_get(&f, keys[i]);
        *vals[i] = s ? strtoll(s, &end, 10) : -1;
        if (!s || *end || *vals[i] < 0) {
            st = mn_fail(MN_ERR_FORMAT, "%s: checkpoint field %s is missing or malformed", path,
                         keys[i]);
            goto fail;
        }
    }
    const char *best_acc = mn_st_meta_get(&f, CKPT "best_acc");
    if (count < 1 || count > UINT32_MAX || pos > count || !best_acc ||
        !parse_rng(mn_st_meta_get(&f, CKPT "epoch_rng"), &t->cur.epoch_rng) ||
        !parse_rng(mn_st_meta_get(&f, CKPT "drop_rng"), &t->drop_rng)) {
        st = mn_fail(MN_ERR_FORMAT, "%s: checkpoint training state is malformed", path);
        goto fail;
    }
    t->step = step;
    t->count = (uint32_t)count;
    t->cur.pos = (uint32_t)pos;
    t->cur.epoch_started = started != 0;
    t->best_acc = strtod(best_acc, NULL);
    if (t->cur.epoch_started) /* else data_rng is still the seed's, as mn_trainer_create set it */
        t->cur.data_rng = t->cur.epoch_rng;
    const char *names[3] = {CKPT "m1", CKPT "m2", CKPT "best"};
    float *state[3] = {t->m1, t->m2, t->best};
    for (int i = 0; i < 3; i++) {
        const mn_st_tensor *x = mn_st_find(&f, names[i]);
        if (!state[i] && !x)
            continue;
        size_t want = m->num_params + (i == 2 ? m->num_buffers : 0);
        if (!state[i] || !x || x->count != want) {
            st = mn_fail(MN_ERR_FORMAT, "%s: optimizer state %s is missing or has the wrong size",
                         path, names[i]);
            goto fail;
        }
        memcpy(state[i], x->data, want * sizeof(float));
    }
    mn_st_free(&f);
    *out = t;
    *model_out = m;
    return MN_OK;
fail:
    mn_trainer_free(t);
    mn_model_free(m);
    mn_st_free(&f);
    return st;
}
