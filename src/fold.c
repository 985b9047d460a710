/* fold.c: batch normalisation folded into the convolution or dense layer it directly follows
 * (a run of bn layers there folds one after the other), for inference: with s = gamma / sqrt(running_var + eps), w' = w * s (per output channel) and
 * b' = (b - running_mean) * s + beta, so the layer alone computes what layer + bn computes in
 * evaluation mode, and a convolution keeps its fused ReLU and pooling. A bn elsewhere (after
 * pooling, ReLU, flatten, or on the input) has nothing linear to fold into and stays. */
#include "model_internal.h"

#include "batchnorm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Layer i is a bn folded into the convolution or dense layer before it (directly, or through
 * bn layers folded there too). */
static bool folds(const mn_model *m, int i)
{
    if (i < 1 || i >= m->num_layers || m->layers[i].kind != MN_LAYER_BN)
        return false;
    mn_layer_kind prev = m->layers[i - 1].kind;
    return prev == MN_LAYER_CONV || prev == MN_LAYER_DENSE || folds(m, i - 1);
}

bool mn_model_foldable_bn(const mn_model *m)
{
    for (int i = 1; i < m->num_layers; i++)
        if (folds(m, i))
            return true;
    return false;
}

mn_status mn_model_fold_build(const mn_model *m, mn_model **out)
{
    bool any = mn_model_foldable_bn(m);
    char *spec = malloc(strlen(m->spec) + 1), *copy = strdup(m->spec);
    if (!spec || !copy) {
        free(spec);
        free(copy);
        return mn_fail(MN_ERR_NOMEM, "out of memory");
    }
    /* the spec's tokens are its layers, one each (mn_spec_parse refuses empty ones) */
    spec[0] = '\0';
    char *save = NULL;
    int i = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save), i++)
        if (!folds(m, i)) {
            if (*spec)
                strcat(spec, ",");
            strcat(spec, tok);
        }
    free(copy);
    mn_model *d;
    mn_status st = mn_model_create(&d, !any && *m->preset ? m->preset : spec, (uint32_t)m->in_c,
                                   (uint32_t)m->in_h, (uint32_t)m->in_w, MN_INIT_ZERO, 0);
    free(spec);
    if (st != MN_OK)
        return st;
    mn_model_fold_params(d, m);
    *out = d;
    return MN_OK;
}

void mn_model_fold_params(mn_model *d, const mn_model *m)
{
    d->norm_mean = m->norm_mean, d->norm_std = m->norm_std;
    d->preprocess = m->preprocess;
    int j = 0;
    for (int i = 0; i < m->num_layers; i++) {
        if (folds(m, i))
            continue;
        const mn_layer *S = &m->layers[i];
        const mn_layer *D = &d->layers[j++];
        float *w = d->params + D->w_off, *b = d->params + D->b_off;
        memcpy(w, m->params + S->w_off, S->w_count * sizeof(float));
        memcpy(b, m->params + S->b_off, S->b_count * sizeof(float));
        if (S->kind == MN_LAYER_BN)
            memcpy(d->buffers + D->r_off, m->buffers + S->r_off, 2 * S->w_count * sizeof(float));
        for (int f = i + 1; S->kind != MN_LAYER_BN && folds(m, f); f++) {
            const mn_layer *B = &m->layers[f];
            const float *gamma = m->params + B->w_off, *beta = m->params + B->b_off;
            const float *mean = m->buffers + B->r_off, *var = mean + B->w_count;
            const size_t per = S->w_count / (size_t)S->out_c; /* weights per output channel */
            for (int o = 0; o < S->out_c; o++) {
                double s = gamma[o] / sqrt((double)var[o] + MN_BN_EPS);
                for (size_t k = 0; k < per; k++)
                    w[o * per + k] = (float)(w[o * per + k] * s);
                b[o] = (float)((b[o] - (double)mean[o]) * s + beta[o]);
            }
        }
    }
}

mn_status mn_model_fold_batchnorm(const mn_model *m, mn_model **out)
{
    mn_model *d;
    mn_status st = mn_model_fold_build(m, &d);
    if (st != MN_OK)
        return st;
    for (int i = 0; st == MN_OK && i < m->num_meta; i++)
        st = mn_model_set_meta(d, m->meta_key[i], m->meta_value[i]);
    if (st != MN_OK) {
        mn_model_free(d);
        return st;
    }
    *out = d;
    return MN_OK;
}
