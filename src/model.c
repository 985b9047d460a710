/* model.c: building a model from a spec, its parameters and workspace, the forward and backward
 * passes over the layer list, and prediction. Training lives in train.c, files in model_io.c. */
#include "model_internal.h"

#include "layers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

mn_status mn_model_create(mn_model **out, const char *spec, uint32_t channels, uint32_t rows,
                          uint32_t cols, mn_init init, uint64_t seed)
{
    if (!spec)
        return mn_fail(MN_ERR_ARG, "model spec is missing");
    if (channels < 1 || channels > 4096 || rows < 1 || rows > 4096 || cols < 1 || cols > 4096)
        return mn_fail(MN_ERR_ARG, "input shape %ux%ux%u is out of range (1..4096 each)",
                       channels, rows, cols);
    mn_model *m = calloc(1, sizeof *m);
    if (!m)
        return mn_fail(MN_ERR_NOMEM, "out of memory");
    m->in_c = (int)channels, m->in_h = (int)rows, m->in_w = (int)cols;
    m->norm_mean = 0.0f, m->norm_std = 1.0f;
    mn_status st = mn_spec_parse(m, spec);
    if (st != MN_OK) {
        mn_model_free(m);
        return st;
    }
    m->params = mn_alloc_aligned(m->num_params, sizeof(float));
    m->grads = mn_alloc_aligned(m->num_params, sizeof(float));
    if (!m->params || !m->grads) {
        size_t n = m->num_params;
        mn_model_free(m);
        return mn_fail(MN_ERR_NOMEM, "out of memory for %zu parameters", n);
    }
    mn_model_init_params(m, init, seed);
    *out = m;
    return MN_OK;
}

static void free_workspace(mn_model *m)
{
    for (int i = 0; i <= MN_MAX_LAYERS; i++) {
        mn_free_aligned(m->act[i]);
        m->act[i] = NULL;
    }
    for (int i = 0; i < MN_MAX_LAYERS; i++) {
        free(m->dropout_mask[i]);
        m->dropout_mask[i] = NULL;
    }
    mn_free_aligned(m->grad_a);
    mn_free_aligned(m->grad_b);
    mn_free_aligned(m->col);
    mn_free_aligned(m->dw_part);
    mn_free_aligned(m->probs);
    m->grad_a = m->grad_b = m->col = m->dw_part = m->probs = NULL;
    m->ws_batch = m->ws_threads = 0;
}

void mn_model_free(mn_model *m)
{
    if (!m)
        return;
    free_workspace(m);
    mn_free_aligned(m->params);
    mn_free_aligned(m->grads);
    for (int i = 0; i < m->num_meta; i++) {
        free(m->meta_key[i]);
        free(m->meta_value[i]);
    }
    free(m->spec);
    free(m);
}

const char *mn_model_spec(const mn_model *m) { return m->spec; }
const char *mn_model_preset(const mn_model *m) { return m->preset; }
uint64_t mn_model_param_count(const mn_model *m) { return m->num_params; }
uint32_t mn_model_num_classes(const mn_model *m) { return (uint32_t)m->num_classes; }

void mn_model_input_shape(const mn_model *m, uint32_t *c, uint32_t *h, uint32_t *w)
{
    if (c)
        *c = (uint32_t)m->in_c;
    if (h)
        *h = (uint32_t)m->in_h;
    if (w)
        *w = (uint32_t)m->in_w;
}

void mn_model_set_normalisation(mn_model *m, float mean, float std)
{
    m->norm_mean = mean;
    m->norm_std = std > 0.0f ? std : 1.0f;
}

void mn_model_get_normalisation(const mn_model *m, float *mean, float *std)
{
    *mean = m->norm_mean;
    *std = m->norm_std;
}

mn_status mn_model_set_meta(mn_model *m, const char *key, const char *value)
{
    for (int i = 0; i < m->num_meta; i++)
        if (!strcmp(m->meta_key[i], key)) {
            char *v = strdup(value);
            if (!v)
                return mn_fail(MN_ERR_NOMEM, "out of memory");
            free(m->meta_value[i]);
            m->meta_value[i] = v;
            return MN_OK;
        }
    if (m->num_meta >= MN_MAX_META)
        return mn_fail(MN_ERR_LIMIT, "more than %d metadata entries", MN_MAX_META);
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return mn_fail(MN_ERR_NOMEM, "out of memory");
    }
    m->meta_key[m->num_meta] = k;
    m->meta_value[m->num_meta++] = v;
    return MN_OK;
}

const char *mn_model_get_meta(const mn_model *m, const char *key)
{
    for (int i = 0; i < m->num_meta; i++)
        if (!strcmp(m->meta_key[i], key))
            return m->meta_value[i];
    return NULL;
}

static float trunc_normal(mn_rng *rng, float std)
{
    for (;;) {
        float z = mn_rng_normal(rng);
        if (z > -2.0f && z < 2.0f)
            return z * std;
    }
}

void mn_model_init_params(mn_model *m, mn_init init, uint64_t seed)
{
    if (init == MN_INIT_DEFAULT)
        init = !strcmp(m->preset, "softmax") ? MN_INIT_ZERO
               : !strcmp(m->preset, "cnn")   ? MN_INIT_TRUNC_NORMAL
                                             : MN_INIT_HE;
    mn_rng rng;
    mn_rng_seed(&rng, seed ^ 0x1a17c0de5eedULL);
    for (int i = 0; i < m->num_layers; i++) {
        mn_layer *L = &m->layers[i];
        float *w = m->params + L->w_off, *b = m->params + L->b_off;
        size_t fan_in = L->b_count ? L->w_count / L->b_count : 1;
        for (size_t j = 0; j < L->w_count; j++)
            w[j] = init == MN_INIT_ZERO           ? 0.0f
                   : init == MN_INIT_TRUNC_NORMAL ? trunc_normal(&rng, 0.1f)
                                                  : mn_rng_normal(&rng) * sqrtf(2.0f / fan_in);
        for (size_t j = 0; j < L->b_count; j++)
            b[j] = init == MN_INIT_TRUNC_NORMAL ? 0.1f : 0.0f;
    }
}

static size_t layer_in_size(const mn_layer *L) { return (size_t)L->in_c * L->in_h * L->in_w; }
static size_t layer_out_size(const mn_layer *L) { return (size_t)L->out_c * L->out_h * L->out_w; }

mn_status mn_model_reserve(mn_model *m, int batch, int threads)
{
    if (batch <= m->ws_batch && threads <= m->ws_threads)
        return MN_OK;
    if (batch < m->ws_batch)
        batch = m->ws_batch;
    if (threads < m->ws_threads)
        threads = m->ws_threads;
    free_workspace(m);
    size_t max_act = layer_in_size(&m->layers[0]), max_col = 1, max_part = 1;
    for (int i = 0; i < m->num_layers; i++) {
        const mn_layer *L = &m->layers[i];
        size_t o = layer_out_size(L);
        max_act = o > max_act ? o : max_act;
        if (L->kind == MN_LAYER_CONV) {
            size_t col = (size_t)L->in_c * L->k * L->k * L->out_h * L->out_w;
            max_col = col > max_col ? col : max_col;
            size_t part = L->w_count + L->b_count;
            max_part = part > max_part ? part : max_part;
        }
    }
    bool ok = true;
    m->act[0] = mn_alloc_aligned((size_t)batch * layer_in_size(&m->layers[0]), sizeof(float));
    ok = ok && m->act[0];
    for (int i = 0; i < m->num_layers && ok; i++) {
        m->act[i + 1] = mn_alloc_aligned((size_t)batch * layer_out_size(&m->layers[i]), sizeof(float));
        ok = ok && m->act[i + 1];
        if (m->layers[i].kind == MN_LAYER_DROPOUT) {
            m->dropout_mask[i] = calloc((size_t)batch * layer_out_size(&m->layers[i]), 1);
            ok = ok && m->dropout_mask[i];
        }
    }
    m->grad_a = mn_alloc_aligned((size_t)batch * max_act, sizeof(float));
    m->grad_b = mn_alloc_aligned((size_t)batch * max_act, sizeof(float));
    m->col = mn_alloc_aligned((size_t)threads * max_col, sizeof(float));
    m->dw_part = mn_alloc_aligned((size_t)threads * max_part, sizeof(float));
    m->probs = mn_alloc_aligned((size_t)batch * m->num_classes, sizeof(float));
    ok = ok && m->grad_a && m->grad_b && m->col && m->dw_part && m->probs;
    if (!ok) {
        free_workspace(m);
        return mn_fail(MN_ERR_NOMEM, "out of memory for a batch of %d images", batch);
    }
    m->ws_batch = batch;
    m->ws_threads = threads;
    return MN_OK;
}

void mn_model_load_input_u8(mn_model *m, const uint8_t *pixels, int n)
{
    size_t count = (size_t)n * m->in_c * m->in_h * m->in_w;
    float scale = 1.0f / (255.0f * m->norm_std), shift = -m->norm_mean / m->norm_std;
    float *x = m->act[0];
    for (size_t i = 0; i < count; i++)
        x[i] = pixels[i] * scale + shift;
}

static void load_input_float(mn_model *m, const float *pixels, int n)
{
    size_t count = (size_t)n * m->in_c * m->in_h * m->in_w;
    float scale = 1.0f / (255.0f * m->norm_std), shift = -m->norm_mean / m->norm_std;
    for (size_t i = 0; i < count; i++)
        m->act[0][i] = pixels[i] * scale + shift;
}

void mn_model_forward(mn_model *m, int n, bool train, mn_rng *rng, int threads)
{
    for (int i = 0; i < m->num_layers; i++) {
        const mn_layer *L = &m->layers[i];
        const float *x = m->act[i];
        float *y = m->act[i + 1];
        const float *w = m->params + L->w_off, *b = m->params + L->b_off;
        size_t count = (size_t)n * layer_out_size(L);
        switch (L->kind) {
        case MN_LAYER_CONV:
            mn_conv2d_forward(y, x, w, b, n, L->in_c, L->in_h, L->in_w, L->out_c, L->k,
                              L->stride, L->pad, L->out_h, L->out_w, m->col, threads);
            break;
        case MN_LAYER_POOL:
            mn_maxpool_forward(y, x, n, L->in_c, L->in_h, L->in_w, L->k, L->stride, L->out_h,
                               L->out_w, threads);
            break;
        case MN_LAYER_DENSE:
            mn_dense_forward(y, x, w, b, n, L->in_c, L->out_c, threads);
            break;
        case MN_LAYER_RELU:
            mn_relu_forward(y, x, count);
            break;
        case MN_LAYER_DROPOUT:
            if (train && L->p > 0.0f) {
                uint8_t *mask = m->dropout_mask[i];
                uint32_t keep = (uint32_t)((1.0 - L->p) * 4294967296.0);
                for (size_t j = 0; j < count; j++)
                    mask[j] = (uint32_t)(mn_rng_next(rng) >> 32) < keep;
                mn_dropout_forward(y, x, mask, 1.0f / (1.0f - L->p), count);
            } else {
                memcpy(y, x, count * sizeof(float));
            }
            break;
        case MN_LAYER_FLATTEN:
            memcpy(y, x, count * sizeof(float));
            break;
        }
    }
}

void mn_model_backward(mn_model *m, int n, int threads)
{
    float *g = m->grad_a, *gin = m->grad_b;
    for (int i = m->num_layers - 1; i >= 0; i--) {
        const mn_layer *L = &m->layers[i];
        const float *x = m->act[i], *y = m->act[i + 1];
        const float *w = m->params + L->w_off;
        float *dw = m->grads + L->w_off, *db = m->grads + L->b_off;
        float *din = i > 0 ? gin : NULL; /* no gradient for the input images */
        size_t count = (size_t)n * layer_out_size(L);
        switch (L->kind) {
        case MN_LAYER_CONV:
            mn_conv2d_backward(din, dw, db, g, x, w, n, L->in_c, L->in_h, L->in_w, L->out_c,
                               L->k, L->stride, L->pad, L->out_h, L->out_w, m->col, m->dw_part,
                               threads);
            break;
        case MN_LAYER_POOL:
            if (din)
                mn_maxpool_backward(din, g, x, n, L->in_c, L->in_h, L->in_w, L->k, L->stride,
                                    L->out_h, L->out_w, threads);
            break;
        case MN_LAYER_DENSE:
            mn_dense_backward(din, dw, db, g, x, w, n, L->in_c, L->out_c, threads);
            break;
        case MN_LAYER_RELU:
            if (din)
                mn_relu_backward(din, g, y, count);
            break;
        case MN_LAYER_DROPOUT:
            if (din) {
                if (L->p > 0.0f)
                    mn_dropout_backward(din, g, m->dropout_mask[i], 1.0f / (1.0f - L->p), count);
                else
                    memcpy(din, g, count * sizeof(float));
            }
            break;
        case MN_LAYER_FLATTEN:
            if (din)
                memcpy(din, g, count * sizeof(float));
            break;
        }
        float *t = g;
        g = gin;
        gin = t;
    }
}

/* Runs inference on n inputs in chunks that fit the workspace; writes probabilities. */
static mn_status predict_chunks(mn_model *m, const void *pixels, bool is_float, uint32_t n,
                                float *probs, int threads)
{
    threads = mn_resolve_threads(threads);
    int chunk = n < 256 ? (int)(n ? n : 1) : 256;
    mn_status st = mn_model_reserve(m, chunk, threads);
    if (st != MN_OK)
        return st;
    size_t in_size = (size_t)m->in_c * m->in_h * m->in_w;
    for (uint32_t start = 0; start < n; start += (uint32_t)chunk) {
        int b = (int)(n - start < (uint32_t)chunk ? n - start : (uint32_t)chunk);
        if (is_float)
            load_input_float(m, (const float *)pixels + (size_t)start * in_size, b);
        else
            mn_model_load_input_u8(m, (const uint8_t *)pixels + (size_t)start * in_size, b);
        mn_model_forward(m, b, false, NULL, threads);
        mn_softmax(probs + (size_t)start * m->num_classes, m->act[m->num_layers], b,
                   m->num_classes);
    }
    return MN_OK;
}

mn_status mn_model_predict(mn_model *m, const uint8_t *pixels, uint32_t n, float *probs,
                           int threads)
{
    return predict_chunks(m, pixels, false, n, probs, threads);
}

mn_status mn_model_predict_float(mn_model *m, const float *pixels, uint32_t n, float *probs,
                                 int threads)
{
    return predict_chunks(m, pixels, true, n, probs, threads);
}

size_t mn_model_describe(const mn_model *m, char *buf, size_t size)
{
    size_t len = 0;
#define OUT(...)                                                                             \
    do {                                                                                     \
        int k_ = snprintf(buf ? buf + (len < size ? len : size) : NULL,                      \
                          len < size ? size - len : 0, __VA_ARGS__);                         \
        if (k_ > 0)                                                                          \
            len += (size_t)k_;                                                               \
    } while (0)
    for (int i = 0; i < m->num_layers; i++) {
        const mn_layer *L = &m->layers[i];
        char what[64];
        switch (L->kind) {
        case MN_LAYER_CONV:
            snprintf(what, sizeof what, "conv %dx%d %d->%d stride %d pad %d", L->k, L->k,
                     L->in_c, L->out_c, L->stride, L->pad);
            break;
        case MN_LAYER_POOL:
            snprintf(what, sizeof what, "maxpool %dx%d stride %d", L->k, L->k, L->stride);
            break;
        case MN_LAYER_DENSE:
            snprintf(what, sizeof what, "dense %d->%d", L->in_c, L->out_c);
            break;
        case MN_LAYER_RELU: snprintf(what, sizeof what, "relu"); break;
        case MN_LAYER_DROPOUT: snprintf(what, sizeof what, "dropout %.2g", L->p); break;
        case MN_LAYER_FLATTEN: snprintf(what, sizeof what, "flatten"); break;
        }
        OUT("  %-6s %-34s %4dx%-4dx%-5d -> %4dx%-4dx%-5d %10zu params\n", L->name, what,
            L->in_h, L->in_w, L->in_c, L->out_h, L->out_w, L->out_c, L->w_count + L->b_count);
    }
#undef OUT
    if (buf && size)
        buf[len < size ? len : size - 1] = '\0';
    return len;
}
