/* batcher.c: makes the next training batch (labels, and pixels copied or randomly distorted)
 * on a thread of its own while the current step computes, so augmentation costs the step
 * little. Two slots alternate: one is being made while the trainer reads the other. Images are
 * claimed one at a time by compare-and-swap on (generation, next image), so the trainer, if it
 * gets there first, helps finish the batch; each image's result depends only on its index and
 * seed, never on which thread made it. Without augmentation nothing runs in the background (a
 * copy costs microseconds).
 * Left out: more than one background thread (one keeps up with two cores' compute, even with
 * elastic distortion) and preparing more than one batch ahead. */
#include "batcher.h"

#include "augment.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
    uint32_t *idx;
    uint8_t *labels, *pixels;
} slot;

struct mn_batcher {
    const mn_dataset *set;
    mn_train_params p; /* the aug_* fields */
    int batch;
    size_t img;
    bool augment;
    slot slots[2];
    int fill; /* the slot the next submit makes */
    /* The batch in flight: written under `lock` before its generation is published. */
    int busy;
    uint64_t seed_base;
    uint32_t gen;
    bool quit;
    _Atomic uint64_t claim; /* (generation << 32) | next unclaimed image */
    _Atomic uint32_t done;  /* images of the batch in flight that are finished */
    pthread_mutex_t lock;
    pthread_cond_t wake, finished;
    pthread_t thread;
    bool threaded;
    float *scratch[2]; /* augmentation scratch: [0] the trainer's thread, [1] the batcher's */
};

static void make_image(mn_batcher *b, const slot *s, int j, uint64_t seed_base, float *scratch)
{
    uint32_t i = s->idx[j];
    const uint8_t *src = b->set->pixels + (size_t)i * b->img;
    s->labels[j] = b->set->labels[i];
    if (b->augment)
        mn_augment_image(s->pixels + (size_t)j * b->img, src, (int)b->set->rows,
                         (int)b->set->cols, &b->p, seed_base + (uint64_t)j, scratch);
    else
        memcpy(s->pixels + (size_t)j * b->img, src, b->img);
}

/* Makes unclaimed images of generation `gen` until none is left. */
static void work(mn_batcher *b, uint32_t gen, const slot *s, uint64_t seed_base, float *scratch)
{
    for (;;) {
        uint64_t c = atomic_load(&b->claim);
        do {
            if ((uint32_t)(c >> 32) != gen || (uint32_t)c >= (uint32_t)b->batch)
                return;
        } while (!atomic_compare_exchange_weak(&b->claim, &c, c + 1));
        make_image(b, s, (int)(uint32_t)c, seed_base, scratch);
        if (atomic_fetch_add(&b->done, 1) + 1 == (uint32_t)b->batch) {
            pthread_mutex_lock(&b->lock);
            pthread_cond_broadcast(&b->finished);
            pthread_mutex_unlock(&b->lock);
        }
    }
}

static void *batcher_main(void *arg)
{
    mn_batcher *b = arg;
    pthread_mutex_lock(&b->lock);
    for (uint32_t seen = b->gen;;) {
        while (!b->quit && b->gen == seen)
            pthread_cond_wait(&b->wake, &b->lock);
        if (b->quit)
            break;
        seen = b->gen;
        const slot *s = &b->slots[b->busy];
        uint64_t seed_base = b->seed_base;
        pthread_mutex_unlock(&b->lock);
        work(b, seen, s, seed_base, b->scratch[1]);
        pthread_mutex_lock(&b->lock);
    }
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

mn_status mn_batcher_create(mn_batcher **out, const mn_dataset *set,
                            const mn_train_params *params, int batch)
{
    mn_batcher *b = calloc(1, sizeof *b);
    if (!b)
        return mn_fail(MN_ERR_NOMEM, "out of memory for training batches");
    b->set = set;
    b->p = *params;
    b->batch = batch;
    b->img = (size_t)set->rows * set->cols;
    b->augment = mn_augment_enabled(params);
    b->busy = -1;
    bool ok = true;
    for (int k = 0; k < 2; k++) {
        slot *s = &b->slots[k];
        ok = ok && (s->idx = malloc(sizeof(uint32_t) * (size_t)batch)) &&
             (s->labels = malloc((size_t)batch)) && (s->pixels = malloc((size_t)batch * b->img));
        ok = ok && (b->scratch[k] = malloc(sizeof(float) * mn_augment_scratch_floats(
                                                (int)set->rows, (int)set->cols)));
    }
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->wake, NULL);
    pthread_cond_init(&b->finished, NULL);
    if (!ok) {
        mn_batcher_free(b);
        return mn_fail(MN_ERR_NOMEM, "out of memory for training batches");
    }
    /* without a thread (none needed, or none to be had) the trainer makes every image */
    b->threaded = b->augment && pthread_create(&b->thread, NULL, batcher_main, b) == 0;
    *out = b;
    return MN_OK;
}

void mn_batcher_free(mn_batcher *b)
{
    if (!b)
        return;
    if (b->threaded) {
        pthread_mutex_lock(&b->lock);
        b->quit = true;
        pthread_cond_signal(&b->wake);
        pthread_mutex_unlock(&b->lock);
        pthread_join(b->thread, NULL);
    }
    pthread_mutex_destroy(&b->lock);
    pthread_cond_destroy(&b->wake);
    pthread_cond_destroy(&b->finished);
    for (int k = 0; k < 2; k++) {
        free(b->slots[k].idx);
        free(b->slots[k].labels);
        free(b->slots[k].pixels);
        free(b->scratch[k]);
    }
    free(b);
}

uint32_t *mn_batcher_indices(mn_batcher *b) { return b->slots[b->fill].idx; }

void mn_batcher_submit(mn_batcher *b, uint64_t seed_base)
{
    pthread_mutex_lock(&b->lock);
    b->busy = b->fill;
    b->fill ^= 1;
    b->seed_base = seed_base;
    b->gen++;
    atomic_store(&b->done, 0);
    atomic_store(&b->claim, (uint64_t)b->gen << 32);
    pthread_cond_signal(&b->wake);
    pthread_mutex_unlock(&b->lock);
}

const uint8_t *mn_batcher_wait(mn_batcher *b, const uint8_t **labels)
{
    const slot *s = &b->slots[b->busy];
    work(b, b->gen, s, b->seed_base, b->scratch[0]);
    pthread_mutex_lock(&b->lock);
    while (atomic_load(&b->done) < (uint32_t)b->batch)
        pthread_cond_wait(&b->finished, &b->lock);
    pthread_mutex_unlock(&b->lock);
    *labels = s->labels;
    return s->pixels;
}
