/* evaluate.c: accuracy, mean loss and the confusion matrix of a model on a data set. */
#include "model_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void mn_eval_result_free(mn_eval_result *r)
{
    free(r->confusion);
    free(r->predicted);
    r->confusion = NULL;
    r->predicted = NULL;
}

mn_status mn_model_evaluate(mn_model *m, const mn_dataset *set, int threads, mn_eval_result *r)
{
    if ((int)set->rows != m->in_h || (int)set->cols != m->in_w || m->in_c != 1)
        return mn_fail(MN_ERR_ARG, "data set images are %ux%u but the model takes %dx%dx%d",
                       set->rows, set->cols, m->in_c, m->in_h, m->in_w);
    if (set->count == 0)
        return mn_fail(MN_ERR_ARG, "the evaluation set is empty");
    const int K = m->num_classes;
    const uint32_t chunk = 1000;
    memset(r, 0, sizeof *r);
    float *probs = malloc(sizeof(float) * chunk * K);
    r->confusion = calloc((size_t)K * K, sizeof(uint32_t));
    r->predicted = malloc(sizeof(uint32_t) * set->count);
    if (!probs || !r->confusion || !r->predicted) {
        free(probs);
        mn_eval_result_free(r);
        return mn_fail(MN_ERR_NOMEM, "out of memory for evaluation");
    }
    const size_t img = (size_t)set->rows * set->cols;
    double loss = 0.0;
    for (uint32_t start = 0; start < set->count; start += chunk) {
        uint32_t n = set->count - start < chunk ? set->count - start : chunk;
        mn_status st = mn_model_predict(m, set->pixels + start * img, n, probs, threads);
        if (st != MN_OK) {
            free(probs);
            mn_eval_result_free(r);
            return st;
        }
        for (uint32_t i = 0; i < n; i++) {
            const float *p = probs + (size_t)i * K;
            int best = (int)mn_argmax(p, (uint32_t)K);
            unsigned label = set->labels[start + i];
            if ((int)label >= K) {
                free(probs);
                mn_eval_result_free(r);
                return mn_fail(MN_ERR_ARG, "label %u of image %u is beyond the model's %d classes",
                               label, start + i, K);
            }
            r->predicted[start + i] = (uint32_t)best;
            r->confusion[label * K + best]++;
            r->correct += (int)label == best;
            loss -= log(p[label] > 1e-30f ? p[label] : 1e-30f);
        }
    }
    free(probs);
    r->count = set->count;
    r->num_classes = (uint32_t)K;
    r->accuracy = (double)r->correct / set->count;
    r->loss = loss / set->count;
    return MN_OK;
}
