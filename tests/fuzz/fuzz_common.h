/* fuzz_common.h: what the model fuzzers share: a check that an error message is one line and
 * names the input, and a cost estimate that keeps a run from spending seconds or gigabytes on
 * one valid but huge model (the spec limits allow 2^30 parameters; here we only want shapes). */
#ifndef MN_FUZZ_COMMON_H
#define MN_FUZZ_COMMON_H

#include "model_internal.h"

#include <stdlib.h>
#include <string.h>

/* Aborts unless the last error message is non-empty, one line and (when `name` is not NULL)
 * contains `name`. */
static inline void fuzz_check_message(const char *name)
{
    const char *msg = mn_error_message();
    if (!msg[0] || strchr(msg, '\n') || (name && !strstr(msg, name)))
        abort();
}

/* True when running the model on `batch` images at once is cheap: small parameter arena, im2col
 * buffer and multiply-adds, and at most 2^22 activation values for the whole batch. (A trainer
 * sizes its workspace for 256 images, the evaluation chunk, whatever its batch.) */
static inline bool fuzz_model_is_cheap(const mn_model *m, size_t batch)
{
    const size_t limit = (size_t)1 << 18;
    size_t act = (size_t)m->in_c * m->in_h * m->in_w, flops = 0;
    if (m->num_params > limit || act * batch > ((size_t)1 << 22))
        return false;
    for (int i = 0; i < m->num_layers; i++) {
        const mn_layer *L = &m->layers[i];
        size_t out = (size_t)L->out_c * L->out_h * L->out_w;
        act += out;
        if (L->kind == MN_LAYER_CONV) {
            size_t col = (size_t)L->in_c * L->k * L->k * L->out_h * L->out_w;
            if (col > limit)
                return false;
            flops += col * (size_t)L->out_c;
        } else if (L->kind == MN_LAYER_DENSE) {
            flops += L->w_count;
        } else {
            flops += out * (size_t)(L->k > 0 ? L->k * L->k : 1);
        }
        if (act * batch > ((size_t)1 << 22) || flops > ((size_t)1 << 21))
            return false;
    }
    return true;
}

#endif
