/* serve_pool.c: model copies shared by the server's connection threads. A model's workspace is
 * not thread-safe, so each copy is used by one thread at a time; requests that arrive while all
 * copies are busy wait in a queue, and whichever thread next finds a copy free runs the whole
 * queue (up to SERVE_MAX_BATCH) as one forward pass, which reads the weights once for all of
 * them. No thread of its own: the requesting threads take turns doing the work ("combining").
 * Left out: fairness beyond first-come-first-served, priorities, deadlines. */
#include "serve.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct job {
    const uint8_t *px;
    float *probs;
    mn_status status;
    char *err;
    bool done;
    struct job *next;
} job;

typedef struct slot {
    mn_model *model;
    bool busy;
    uint8_t *px;  /* SERVE_MAX_BATCH x 784 */
    float *probs; /* SERVE_MAX_BATCH x classes */
} slot;

struct serve_pool {
    pthread_mutex_t lock;
    pthread_cond_t changed; /* a batch finished: a job is done and a copy is free */
    job *head, *tail;       /* waiting jobs, oldest first */
    slot *slots;
    int copies;
    uint32_t classes;
    uint64_t images, batches; /* served so far */
    sem_t prep;
};

static void pool_destroy(serve_pool *p, int loaded)
{
    for (int i = 0; i < loaded; i++) {
        mn_model_free(p->slots[i].model);
        free(p->slots[i].px);
        free(p->slots[i].probs);
    }
    free(p->slots);
    free(p);
}

mn_status serve_pool_create(serve_pool **out, const char *path, int copies,
                            char err[SERVE_ERROR_SIZE])
{
    snprintf(err, SERVE_ERROR_SIZE, "out of memory for %d copies of %s", copies, path);
    if (copies < 1 || copies > 256) {
        snprintf(err, SERVE_ERROR_SIZE, "%d model copies: want 1 to 256", copies);
        return MN_ERR_ARG;
    }
    serve_pool *p = calloc(1, sizeof *p);
    if (!p || !(p->slots = calloc((size_t)copies, sizeof *p->slots))) {
        free(p);
        return MN_ERR_NOMEM;
    }
    int loaded = 0;
    for (; loaded < copies; loaded++) {
        slot *s = &p->slots[loaded];
        mn_status st = mn_model_load(&s->model, path);
        if (st != MN_OK) {
            snprintf(err, SERVE_ERROR_SIZE, "%s", mn_error_message());
            pool_destroy(p, loaded);
            return st;
        }
        uint32_t c, h, w;
        mn_model_input_shape(s->model, &c, &h, &w);
        p->classes = mn_model_num_classes(s->model);
        s->px = malloc((size_t)SERVE_MAX_BATCH * 784);
        s->probs = malloc(sizeof(float) * SERVE_MAX_BATCH * p->classes);
        if (c != 1 || h != 28 || w != 28) {
            snprintf(err, SERVE_ERROR_SIZE, "%s takes %ux%ux%u inputs; serve makes 28x28 grey "
                     "images", path, c, h, w);
            pool_destroy(p, loaded + 1);
            return MN_ERR_ARG;
        }
        if (!s->px || !s->probs) {
            pool_destroy(p, loaded + 1);
            return MN_ERR_NOMEM;
        }
        /* Grow the workspace to a full batch now, not under load. */
        memset(s->px, 0, (size_t)SERVE_MAX_BATCH * 784);
        if ((st = mn_model_predict(s->model, s->px, SERVE_MAX_BATCH, s->probs, 1)) != MN_OK) {
            snprintf(err, SERVE_ERROR_SIZE, "%s", mn_error_message());
            pool_destroy(p, loaded + 1);
            return st;
        }
    }
    int slots = copies * 2 < 4 ? 4 : copies * 2;
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        pool_destroy(p, copies);
        return MN_ERR_NOMEM;
    }
    if (pthread_cond_init(&p->changed, NULL) != 0) {
        pthread_mutex_destroy(&p->lock);
        pool_destroy(p, copies);
        return MN_ERR_NOMEM;
    }
    if (sem_init(&p->prep, 0, (unsigned)slots) != 0) {
        pthread_cond_destroy(&p->changed);
        pthread_mutex_destroy(&p->lock);
        pool_destroy(p, copies);
        return MN_ERR_NOMEM;
    }
    p->copies = copies;
    *out = p;
    return MN_OK;
}

void serve_pool_free(serve_pool *p)
{
    if (!p)
        return;
    sem_destroy(&p->prep);
    pthread_cond_destroy(&p->changed);
    pthread_mutex_destroy(&p->lock);
    pool_destroy(p, p->copies);
}

const mn_model *serve_pool_model(const serve_pool *p) { return p->slots[0].model; }
int serve_pool_copies(const serve_pool *p) { return p->copies; }

void serve_pool_stats(serve_pool *p, uint64_t *images, uint64_t *batches)
{
    pthread_mutex_lock(&p->lock);
    *images = p->images;
    *batches = p->batches;
    pthread_mutex_unlock(&p->lock);
}

void serve_pool_enter_prep(serve_pool *p)
{
    while (sem_wait(&p->prep) != 0) {
    } /* EINTR only */
}

void serve_pool_leave_prep(serve_pool *p) { sem_post(&p->prep); }

/* Runs the jobs from `batch` (n of them, linked) on slot s, outside the lock. */
static void run_batch(serve_pool *p, slot *s, job *batch, int n)
{
    int i = 0;
    for (job *j = batch; i < n; j = j->next, i++)
        memcpy(s->px + (size_t)i * 784, j->px, 784);
    mn_status st = mn_model_predict(s->model, s->px, (uint32_t)n, s->probs, 1);
    i = 0;
    for (job *j = batch; i < n; j = j->next, i++) {
        j->status = st;
        if (st == MN_OK)
            memcpy(j->probs, s->probs + (size_t)i * p->classes, sizeof(float) * p->classes);
        else
            snprintf(j->err, SERVE_ERROR_SIZE, "%s", mn_error_message());
    }
}

mn_status serve_pool_predict(serve_pool *p, const uint8_t px[784], float *probs,
                             char err[SERVE_ERROR_SIZE])
{
    job me = {.px = px, .probs = probs, .err = err};
    pthread_mutex_lock(&p->lock);
    if (p->tail)
        p->tail->next = &me;
    else
        p->head = &me;
    p->tail = &me;
    while (!me.done) {
        slot *s = NULL;
        for (int i = 0; i < p->copies && p->head; i++)
            if (!p->slots[i].busy) {
                s = &p->slots[i];
                break;
            }
        if (!s) {
            pthread_cond_wait(&p->changed, &p->lock);
            continue;
        }
        /* Take the oldest waiting jobs (ours among them unless over SERVE_MAX_BATCH wait). */
        job *batch = p->head, *last = batch;
        int n = 1;
        while (n < SERVE_MAX_BATCH && last->next) {
            last = last->next;
            n++;
        }
        p->head = last->next;
        if (!p->head)
            p->tail = NULL;
        s->busy = true;
        p->images += (uint64_t)n;
        p->batches++;
        pthread_mutex_unlock(&p->lock);
        run_batch(p, s, batch, n);
        pthread_mutex_lock(&p->lock);
        int i = 0;
        for (job *j = batch, *next; i < n; j = next, i++) {
            next = j->next; /* read before `done`: its owner may return at once */
            j->next = NULL;
            j->done = true;
        }
        s->busy = false;
        pthread_cond_broadcast(&p->changed);
    }
    pthread_mutex_unlock(&p->lock);
    return me.status;
}
