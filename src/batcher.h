/* batcher.h: training batches made one step ahead (see batcher.c). */
#ifndef MN_BATCHER_H
#define MN_BATCHER_H

#include "internal.h"

typedef struct mn_batcher mn_batcher;

/* A batcher for batches of `batch` images of `set`, distorted as params->aug_* say (copied
 * as they are when nothing is set). `set` must outlive the batcher. Never starts a thread when
 * there is nothing to distort. */
mn_status mn_batcher_create(mn_batcher **out, const mn_dataset *set,
                            const mn_train_params *params, int batch);

/* Joins the thread and frees everything; a batch in flight is finished first. NULL is fine. */
void mn_batcher_free(mn_batcher *b);

/* Where the caller writes the next batch's image indices (batch of them, each < set->count)
 * before mn_batcher_submit. Valid until that call. */
uint32_t *mn_batcher_indices(mn_batcher *b);

/* Starts making the batch whose indices were just written; image j is distorted with the seed
 * seed_base + j, so the pixels depend on nothing else (not on threads or timing). At most one
 * batch is in flight: call mn_batcher_wait before the next submit. */
void mn_batcher_submit(mn_batcher *b, uint64_t seed_base);

/* Waits for the submitted batch (the caller helps with images not yet started) and returns
 * its pixels (batch x rows x cols bytes) and labels. Both stay valid until the second submit
 * after this call, so the caller can use them while the next batch is made. */
const uint8_t *mn_batcher_wait(mn_batcher *b, const uint8_t **labels);

#endif
