/* model.c: building a model from a spec, its parameters and workspace, the forward and backward
 * passes (as fused operations, see "Execution plan" below), and prediction. Training lives in
 * train.c, files in model_io.c. */
#include "model_internal.h"

#include "batchnorm.h"
#include "layers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void free_workspace(mn_model *m);

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
    mn_preprocess_parse("none", m->in_w, &m->preprocess);
    mn_status st = mn_spec_parse(m, spec);
    if (st != MN_OK) {
        mn_model_free(m);
        return st;
    }
    m->params = mn_alloc_aligned(m->num_params, sizeof(float));
    m->grads = mn_alloc_aligned(m->num_params, sizeof(float));
    m->buffers = mn_alloc_aligned(m->num_buffers, sizeof(float));
    if (!m->params || !m->grads || !m->buffers) {
        size_t n = m->num_params;
        mn_model_free(m);
        return mn_fail(MN_ERR_NOMEM, "out of memory for %zu parameters", n);
    }
    mn_model_init_params(m, init, seed);
    *out = m;
    return MN_OK;
}

void mn_model_free(mn_model *m)
{
    if (!m)
        return;
    free_workspace(m);
    mn_model_free(m->folded);
    mn_free_aligned(m->params);
    mn_free_aligned(m->grads);
    mn_free_aligned(m->buffers);
    mn_free_aligned(m->pre_buf);
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

mn_status mn_model_set_preprocess(mn_model *m, const char *name)
{
    mn_preprocess p;
    mn_status st = mn_preprocess_parse(name, m->in_w, &p);
    if (st != MN_OK)
        return st;
    m->preprocess = p;
    return MN_OK;
}

const char *mn_model_preprocess(const mn_model *m) { return m->preprocess.name; }

mn_status mn_model_preprocess_image(const mn_model *m, const uint8_t *in, uint8_t *out)
{
    const size_t per = (size_t)m->in_c * m->in_h * m->in_w;
    if (m->preprocess.kind == MN_PREPROCESS_NONE) {
        memcpy(out, in, per);
        return MN_OK;
    }
    float *buf = malloc(2 * per * sizeof *buf);
    if (!buf)
        return mn_fail(MN_ERR_NOMEM, "out of memory");
    mn_preprocess_u8(&m->preprocess, out, in, m->in_c, m->in_h, m->in_w, buf);
    free(buf);
    return MN_OK;
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
        if (L->kind == MN_LAYER_BN) { /* PyTorch's: gamma 1, beta 0, running mean 0, var 1 */
            for (size_t j = 0; j < L->w_count; j++) {
                w[j] = 1.0f, b[j] = 0.0f;
                m->buffers[L->r_off + j] = 0.0f;
                m->buffers[L->r_off + L->w_count + j] = 1.0f;
            }
            continue;
        }
        size_t fan_in = L->b_count ? L->w_count / L->b_count : 1;
        for (size_t j = 0; j < L->w_count; j++)
            w[j] = init == MN_INIT_ZERO           ? 0.0f
                   : init == MN_INIT_TRUNC_NORMAL ? trunc_normal(&rng, 0.1f)
                                                  : mn_rng_normal(&rng) * sqrtf(2.0f / fan_in);
        for (size_t j = 0; j < L->b_count; j++)
            b[j] = init == MN_INIT_TRUNC_NORMAL ? 0.1f : 0.0f;
    }
}

/* ---- Execution plan: fused operations and activation layouts ------------------------------
 * Layers run as operations: a stride-1 convolution takes a following ReLU and 2x2/2 max-pool
 * with it, a dense layer a following ReLU. An activation read by a fast convolution is kept
 * "HCW" with the convolution's zero padding around it (layers.h); every other is NCHW, which
 * is also PyTorch's flatten order for dense layers. ReLU and dropout keep their input's
 * layout (zeros stay zeros). Batch normalisation works NCHW and takes a following ReLU and
 * 2x2/2 max-pool with it, as a convolution would have; prediction runs through the folded twin
 * (fold.c) where bn directly follows a convolution or dense layer, so there the convolution
 * fuses them again. */

typedef enum op_kind {
    OP_CONV,   /* stride-1 convolution [+ ReLU] [+ 2x2 max-pool], direct tiles */
    OP_IM2COL, /* any other convolution */
    OP_POOL,
    OP_DENSE,  /* [+ ReLU] */
    OP_RELU,
    OP_DROPOUT,
    OP_FLATTEN,
    OP_BN,     /* [+ ReLU] [+ 2x2 max-pool], NCHW */
} op_kind;

/* Dense layers with at least this many weights get their update fused into the backward pass
 * (mn_model_backward_update): their gradient would not stay in cache until a separate pass. */
#define FUSE_UPDATE_MIN 65536

typedef struct act_layout {
    int hcw, pad;  /* HCW with this padding, or NCHW */
    size_t size;   /* floats per image */
} act_layout;

typedef struct mn_op {
    op_kind kind;
    int first, last; /* layers first..last; reads act[first], writes act[last + 1] */
    int relu;        /* dense, bn: fused ReLU */
    mn_bn_desc bd;   /* OP_BN (N set per call) */
    int bn_train;    /* bn: the last forward used batch statistics */
    float *stat;     /* bn: mean[C] then 1/sqrt(var + eps)[C] of the last forward */
    mn_conv_desc cd; /* OP_CONV */
    float *wf, *wb;  /* OP_CONV: repacked weights */
    uint8_t *arg;    /* OP_CONV, OP_BN with pool: window position of each maximum */
    float *tmp;      /* NCHW output (and its gradient) when act[last + 1] is HCW */
    float *slots;    /* convolutions: weight gradients per chunk of images */
    float *dsave;    /* dense layers updated in backward: their output gradient */
} mn_op;

struct mn_plan {
    int num_ops;
    mn_op ops[MN_MAX_LAYERS];
    act_layout act[MN_MAX_LAYERS + 1];
    float *scratch; /* per thread, the convolutions' backward */
    size_t scratch_per;
    float *col;     /* per thread, im2col */
    size_t col_per;
    float *dscratch; /* per thread, a block of a dense layer's weight gradient */
    size_t dscratch_per;
    double *times;  /* mn_model_ops: seconds per operation, forward and backward */
    bool cpu_times;
};

static double now_seconds(bool cpu)
{
    struct timespec ts;
    clock_gettime(cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static size_t layer_in_size(const mn_layer *L) { return (size_t)L->in_c * L->in_h * L->in_w; }
static size_t layer_out_size(const mn_layer *L) { return (size_t)L->out_c * L->out_h * L->out_w; }

static void plan_free(struct mn_plan *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->num_ops; i++) {
        mn_free_aligned(p->ops[i].wf);
        mn_free_aligned(p->ops[i].wb);
        mn_free_aligned(p->ops[i].arg);
        mn_free_aligned(p->ops[i].tmp);
        mn_free_aligned(p->ops[i].slots);
        mn_free_aligned(p->ops[i].dsave);
        mn_free_aligned(p->ops[i].stat);
    }
    mn_free_aligned(p->scratch);
    mn_free_aligned(p->col);
    mn_free_aligned(p->dscratch);
    free(p);
}

static void free_workspace(mn_model *m)
{
    for (int i = 0; i <= MN_MAX_LAYERS; i++) {
        mn_free_aligned(m->act[i]);
        m->act[i] = NULL;
    }
    for (int i = 0; i < MN_MAX_LAYERS; i++) {
        mn_free_aligned(m->dropout_mask[i]);
        m->dropout_mask[i] = NULL;
    }
    mn_free_aligned(m->grad_a);
    mn_free_aligned(m->grad_b);
    mn_free_aligned(m->probs);
    plan_free(m->plan);
    m->plan = NULL;
    m->grad_a = m->grad_b = m->probs = NULL;
    m->ws_batch = m->ws_threads = 0;
}

/* Groups the layers into operations and picks each activation's layout. */
static void plan_build(const mn_model *m, struct mn_plan *p)
{
    int n = 0;
    for (int i = 0; i < m->num_layers; n++) {
        const mn_layer *L = &m->layers[i];
        mn_op *op = &p->ops[n];
        memset(op, 0, sizeof *op);
        op->first = i;
        switch (L->kind) {
        case MN_LAYER_CONV:
            if (L->stride != 1) {
                op->kind = OP_IM2COL;
                break;
            }
            op->kind = OP_CONV;
            {
                int relu = i + 1 < m->num_layers && m->layers[i + 1].kind == MN_LAYER_RELU;
                int j = i + relu + 1;
                int pool = j < m->num_layers && m->layers[j].kind == MN_LAYER_POOL &&
                           m->layers[j].k == 2 && m->layers[j].stride == 2;
                mn_conv_desc_init(&op->cd, L->in_c, L->in_h, L->in_w, L->out_c, L->k, L->pad,
                                  relu, pool);
                i += relu + pool;
            }
            break;
        case MN_LAYER_POOL: op->kind = OP_POOL; break;
        case MN_LAYER_DENSE:
            op->kind = OP_DENSE;
            op->relu = i + 1 < m->num_layers && m->layers[i + 1].kind == MN_LAYER_RELU;
            i += op->relu;
            break;
        case MN_LAYER_BN:
            op->kind = OP_BN;
            {
                int relu = i + 1 < m->num_layers && m->layers[i + 1].kind == MN_LAYER_RELU;
                int j = i + relu + 1;
                int pool = j < m->num_layers && m->layers[j].kind == MN_LAYER_POOL &&
                           m->layers[j].k == 2 && m->layers[j].stride == 2;
                op->bd = (mn_bn_desc){1, L->in_c, L->in_h, L->in_w, relu, pool};
                op->relu = relu;
                i += relu + pool;
            }
            break;
        case MN_LAYER_RELU: op->kind = OP_RELU; break;
        case MN_LAYER_DROPOUT: op->kind = OP_DROPOUT; break;
        case MN_LAYER_FLATTEN: op->kind = OP_FLATTEN; break;
        }
        op->last = i;
        i++;
    }
    p->num_ops = n;
    /* Layouts, from the logits back: an operation's input is HCW for a fast convolution, its
     * output's layout for ReLU and dropout, else NCHW. */
    const mn_layer *last = &m->layers[m->num_layers > 0 ? m->num_layers - 1 : 0];
    p->act[m->num_layers] = (act_layout){0, 0, layer_out_size(last)};
    for (int k = n - 1; k >= 0; k--) {
        mn_op *op = &p->ops[k];
        const mn_layer *L = &m->layers[op->first];
        act_layout *a = &p->act[op->first];
        if (op->kind == OP_CONV)
            *a = (act_layout){1, L->pad, op->cd.in_img};
        else if (op->kind == OP_RELU || op->kind == OP_DROPOUT)
            *a = p->act[op->last + 1];
        else
            *a = (act_layout){0, 0, layer_in_size(L)};
    }
    /* Where a fast convolution writes, it writes in the layout wanted. */
    for (int k = 0; k < n; k++) {
        mn_op *op = &p->ops[k];
        const act_layout *out = &p->act[op->last + 1];
        if (op->kind == OP_CONV) {
            if (out->hcw)
                mn_conv_out_hcw(&op->cd, out->pad);
            else
                mn_conv_out_chw(&op->cd);
        }
    }
}

/* The spatial shape of activation i (the input of layer i, or the logits). */
static void act_shape(const mn_model *m, int i, int *c, int *h, int *w)
{
    if (i < m->num_layers) {
        const mn_layer *L = &m->layers[i];
        *c = L->in_c, *h = L->in_h, *w = L->in_w;
    } else {
        const mn_layer *L = &m->layers[i > 0 ? i - 1 : 0];
        *c = L->out_c, *h = L->out_h, *w = L->out_w;
    }
}

mn_status mn_model_reserve(mn_model *m, int batch, int threads)
{
    if (m->preprocess.kind != MN_PREPROCESS_NONE && !m->pre_buf &&
        !(m->pre_buf = mn_alloc_aligned(2 * (size_t)m->in_c * m->in_h * m->in_w, sizeof(float))))
        return mn_fail(MN_ERR_NOMEM, "out of memory for preprocessing");
    if (batch <= m->ws_batch && threads <= m->ws_threads)
        return MN_OK;
    if (batch < 1 || threads < 1)
        return mn_fail(MN_ERR_ARG, "batch %d or threads %d is below 1", batch, threads);
    if (batch < m->ws_batch)
        batch = m->ws_batch;
    if (threads < m->ws_threads)
        threads = m->ws_threads;
    free_workspace(m);
    struct mn_plan *p = calloc(1, sizeof *p);
    if (!p)
        return mn_fail(MN_ERR_NOMEM, "out of memory");
    m->plan = p;
    plan_build(m, p);
    const size_t B = (size_t)batch;
    const int slots = batch < 32 ? batch : 32;
    bool ok = true;
    size_t max_act = 0;
    /* activations: each operation's input and output (a fused layer's own input is none) */
    for (int k = 0; k < p->num_ops && ok; k++) {
        const mn_op *op = &p->ops[k];
        int idx[2] = {op->first, op->last + 1};
        for (int s = 0; s < 2 && ok; s++) {
            size_t size = p->act[idx[s]].size;
            max_act = size > max_act ? size : max_act;
            if (!m->act[idx[s]])
                ok = (m->act[idx[s]] = mn_alloc_aligned(B * size, sizeof(float))) != NULL;
        }
    }
    for (int k = 0; k < p->num_ops && ok; k++) {
        mn_op *op = &p->ops[k];
        const mn_layer *L = &m->layers[op->first];
        const act_layout *out = &p->act[op->last + 1];
        if (op->kind == OP_CONV) {
            const mn_conv_desc *d = &op->cd;
            ok = (op->wf = mn_alloc_aligned(mn_conv_wf_size(d), sizeof(float))) &&
                 (op->wb = mn_alloc_aligned(mn_conv_wb_size(d), sizeof(float)));
            if (ok && d->pool)
                ok = (op->arg = mn_alloc_aligned(B * d->YH * d->OC * d->YW, 1)) != NULL;
            size_t s = mn_conv_scratch_size(d, op->first > 0);
            p->scratch_per = s > p->scratch_per ? s : p->scratch_per;
            ok = ok && (op->slots = mn_alloc_aligned((size_t)slots * mn_conv_slot_size(d),
                                                     sizeof(float)));
        } else if (op->kind == OP_IM2COL) {
            size_t s = (size_t)L->in_c * L->k * L->k * L->out_h * L->out_w;
            p->col_per = s > p->col_per ? s : p->col_per;
            ok = ok && (op->slots = mn_alloc_aligned((size_t)slots * (L->w_count + L->b_count),
                                                     sizeof(float)));
        }
        if (op->kind == OP_DENSE && L->w_count >= FUSE_UPDATE_MIN) {
            size_t s = mn_dense_scratch_size(L->in_c);
            p->dscratch_per = s > p->dscratch_per ? s : p->dscratch_per;
            ok = ok && (op->dsave = mn_alloc_aligned(B * L->out_c, sizeof(float)));
        }
        /* An NCHW result to convert for a fast convolution. ReLU and dropout need none: they
         * work element by element in their output's layout, which their input already has. */
        if (ok && op->kind != OP_CONV && op->kind != OP_RELU && op->kind != OP_DROPOUT &&
            out->hcw)
            ok = (op->tmp = mn_alloc_aligned(B * layer_out_size(&m->layers[op->last]),
                                             sizeof(float))) != NULL;
        if (ok && op->kind == OP_DROPOUT)
            ok = (m->dropout_mask[op->first] = mn_alloc_aligned(B * out->size, 1)) != NULL;
        if (ok && op->kind == OP_BN)
            ok = (op->stat = mn_alloc_aligned(2 * (size_t)L->in_c, sizeof(float))) != NULL;
        if (ok && op->kind == OP_BN && op->bd.pool)
            ok = (op->arg = mn_alloc_aligned(B * layer_out_size(&m->layers[op->last]), 1)) != NULL;
    }
    if (ok && p->scratch_per)
        ok = (p->scratch = mn_alloc_aligned((size_t)threads * p->scratch_per, sizeof(float))) != NULL;
    if (ok && p->col_per)
        ok = (p->col = mn_alloc_aligned((size_t)threads * p->col_per, sizeof(float))) != NULL;
    if (ok && p->dscratch_per)
        ok = (p->dscratch = mn_alloc_aligned((size_t)threads * p->dscratch_per, sizeof(float))) != NULL;
    ok = ok && (m->grad_a = mn_alloc_aligned(B * max_act, sizeof(float))) &&
         (m->grad_b = mn_alloc_aligned(B * max_act, sizeof(float))) &&
         (m->probs = mn_alloc_aligned(B * m->num_classes, sizeof(float)));
    if (!ok) {
        free_workspace(m);
        return mn_fail(MN_ERR_NOMEM, "out of memory for a batch of %d images", batch);
    }
    m->ws_batch = batch;
    m->ws_threads = threads;
    return MN_OK;
}

/* Writes n images of normalised values into act[0]: v(i) = src[i] * scale + shift, where
 * src is uint8 or float per `is_u8`; pixels are preprocessed first where `pre` says so. */
static void load_input(mn_model *m, const void *src, bool is_u8, float scale, float shift, int n,
                       bool pre)
{
    const act_layout *a = &m->plan->act[0];
    int C, H, W;
    act_shape(m, 0, &C, &H, &W);
    const size_t Wp = (size_t)W + 2 * a->pad, per = (size_t)C * H * W;
    const uint8_t *u = src;
    const float *f = src;
    pre = pre && m->preprocess.kind != MN_PREPROCESS_NONE;
    for (int i = 0; i < n; i++) {
        size_t base = (size_t)i * per;
        bool from_u8 = is_u8;
        const float *fi = f;
        if (pre) { /* the image as floats in pre_buf[per..], preprocessed into pre_buf[0..] */
            for (size_t k = 0; k < per; k++)
                m->pre_buf[per + k] = is_u8 ? u[base + k] : f[base + k];
            /* in the model's input shape: act[0]'s is [784, 1, 1] before a dense layer */
            mn_preprocess_apply(&m->preprocess, m->pre_buf, m->pre_buf + per, m->in_c, m->in_h,
                                m->in_w);
            from_u8 = false, fi = m->pre_buf, base = 0;
        }
        for (int c = 0; c < C; c++)
            for (int y = 0; y < H; y++) {
                float *dst = m->act[0] + (size_t)i * a->size +
                             (a->hcw ? ((size_t)(y + a->pad) * C + c) * Wp + a->pad
                                     : ((size_t)c * H + y) * W);
                size_t s = base + ((size_t)c * H + y) * W;
                if (from_u8)
                    for (int x = 0; x < W; x++)
                        dst[x] = u[s + x] * scale + shift;
                else
                    for (int x = 0; x < W; x++)
                        dst[x] = fi[s + x] * scale + shift;
            }
    }
}

void mn_model_load_input_u8(mn_model *m, const uint8_t *pixels, int n)
{
    load_input(m, pixels, true, 1.0f / (255.0f * m->norm_std), -m->norm_mean / m->norm_std, n,
               true);
}

void mn_model_load_preprocessed_u8(mn_model *m, const uint8_t *pixels, int n)
{
    load_input(m, pixels, true, 1.0f / (255.0f * m->norm_std), -m->norm_mean / m->norm_std, n,
               false);
}

static void load_input_float(mn_model *m, const float *pixels, int n)
{
    load_input(m, pixels, false, 1.0f / (255.0f * m->norm_std), -m->norm_mean / m->norm_std, n,
               true);
}

void mn_model_set_input(mn_model *m, const float *x, int n)
{
    load_input(m, x, false, 1.0f, 0.0f, n, false);
}

/* NCHW <-> the HCW layout of activation i, for n images. */
static void to_layout(mn_model *m, int i, float *dst, const float *nchw, int n)
{
    int C, H, W;
    act_shape(m, i, &C, &H, &W);
    mn_nchw_to_hcw(dst, nchw, n, C, H, W, m->plan->act[i].pad);
}

static void from_layout(mn_model *m, int i, float *nchw, const float *src, int n)
{
    int C, H, W;
    act_shape(m, i, &C, &H, &W);
    mn_hcw_to_nchw(nchw, src, n, C, H, W, m->plan->act[i].pad);
}

/* mask[j] = (the high 32 bits of the j-th number from rng) < keep: mn_rng_next's stream
 * (xoshiro256**), stepped here in registers rather than by a call per value. */
static void dropout_mask(uint8_t *mask, size_t count, uint32_t keep, mn_rng *rng)
{
    uint64_t s0 = rng->s[0], s1 = rng->s[1], s2 = rng->s[2], s3 = rng->s[3];
    for (size_t j = 0; j < count; j++) {
        uint64_t x = s1 * 5, r = ((x << 7) | (x >> 57)) * 9, t = s1 << 17;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = (s3 << 45) | (s3 >> 19);
        mask[j] = (uint32_t)(r >> 32) < keep;
    }
    rng->s[0] = s0, rng->s[1] = s1, rng->s[2] = s2, rng->s[3] = s3;
}

void mn_model_forward(mn_model *m, int n, bool train, mn_rng *rng, int threads)
{
    struct mn_plan *p = m->plan;
    threads = threads < m->ws_threads ? threads : m->ws_threads;
    for (int k = 0; k < p->num_ops; k++) {
        double t0 = p->times ? now_seconds(p->cpu_times) : 0.0;
        mn_op *op = &p->ops[k];
        const mn_layer *L = &m->layers[op->first];
        const float *x = m->act[op->first];
        float *y = op->tmp ? op->tmp : m->act[op->last + 1];
        const float *w = m->params + L->w_off, *b = m->params + L->b_off;
        size_t count = (size_t)n * p->act[op->last + 1].size;
        switch (op->kind) {
        case OP_CONV:
            mn_conv_pack(&op->cd, op->wf, NULL, w, threads);
            mn_conv_forward(&op->cd, y, op->arg, x, op->wf, b, n, threads);
            break;
        case OP_IM2COL:
            mn_conv2d_forward(y, x, w, b, n, L->in_c, L->in_h, L->in_w, L->out_c, L->k,
                              L->stride, L->pad, L->out_h, L->out_w, p->col, threads);
            break;
        case OP_POOL:
            mn_maxpool_forward(y, x, n, L->in_c, L->in_h, L->in_w, L->k, L->stride, L->out_h,
                               L->out_w, threads);
            break;
        case OP_DENSE:
            mn_dense_forward(y, x, w, b, n, L->in_c, L->out_c, op->relu, threads);
            break;
        case OP_RELU:
            mn_relu_forward(y, x, count);
            break;
        case OP_DROPOUT:
            if (train && L->p > 0.0f) {
                uint8_t *mask = m->dropout_mask[op->first];
                uint32_t keep = (uint32_t)((1.0 - L->p) * 4294967296.0);
                dropout_mask(mask, count, keep, rng);
                mn_dropout_apply(y, x, mask, 1.0f / (1.0f - L->p), count);
            } else {
                memcpy(y, x, count * sizeof(float));
            }
            break;
        case OP_FLATTEN:
            memcpy(y, x, (size_t)n * layer_out_size(L) * sizeof(float));
            break;
        case OP_BN:
            op->bn_train = train;
            op->bd.N = n;
            mn_bn_forward(&op->bd, y, op->arg, op->stat, op->stat + L->in_c,
                          m->buffers + L->r_off, m->buffers + L->r_off + L->in_c, x, w, b,
                          train, threads);
            break;
        }
        if (op->tmp)
            to_layout(m, op->last + 1, m->act[op->last + 1], op->tmp, n);
        if (p->times)
            p->times[2 * k] += now_seconds(p->cpu_times) - t0;
    }
}

/* The optimizer step of mn_model_backward_update, for the fused dense layers' blocks. */
typedef struct update_ctx {
    float *params, *m1, *m2;
    const mn_train_params *p;
    float lr;
    int64_t t;
    size_t base; /* the layer's first parameter */
} update_ctx;

static void update_block(void *ctx, size_t off, const float *g, size_t count)
{
    const update_ctx *u = ctx;
    size_t at = u->base + off;
    mn_optim_update(u->params + at, g, u->m1 ? u->m1 + at : NULL, u->m2 ? u->m2 + at : NULL,
                    count, u->p, u->lr, u->t, 1);
}

/* Backward; with `u` (one per operation), large dense layers are updated on the way (fused[k]
 * set for them). Work that nothing next needs waits in `pending` and runs beside the next
 * parallel loop: a dense layer's weight update (memory-bound) beside a convolution's backward
 * pass (arithmetic-bound), a convolution's gradient sum beside the next one's backward pass.
 * What pending work reads is its own (slots, saved gradients), never the ping-pong buffers. */
static void backward(mn_model *m, int n, int threads, update_ctx *u, bool *fused)
{
    struct mn_plan *p = m->plan;
    threads = threads < m->ws_threads ? threads : m->ws_threads;
    mn_job pending[2 * MN_MAX_LAYERS];
    int np = 0;
    for (int k = 0; k < p->num_ops; k++) { /* the flipped weights of input gradients */
        mn_op *op = &p->ops[k];
        if (op->kind == OP_CONV && op->first > 0)
            mn_conv_pack_job(&pending[np++], &op->cd, op->wf, op->wb,
                             m->params + m->layers[op->first].w_off);
    }
    mn_pool_run_jobs(threads, pending, np);
    np = 0;
    float *g = m->grad_a, *gin = m->grad_b;
    for (int k = p->num_ops - 1; k >= 0; k--) {
        double t0 = p->times ? now_seconds(p->cpu_times) : 0.0;
        mn_op *op = &p->ops[k];
        const mn_layer *L = &m->layers[op->first];
        const float *x = m->act[op->first], *y = m->act[op->last + 1];
        const float *w = m->params + L->w_off;
        float *dw = m->grads + L->w_off, *db = m->grads + L->b_off;
        float *din = op->first > 0 ? gin : NULL; /* no gradient for the input images */
        size_t count = (size_t)n * p->act[op->last + 1].size;
        float *gy = g;
        if (op->tmp) { /* the gradient arrives HCW; this operation works NCHW */
            from_layout(m, op->last + 1, op->tmp, g, n);
            gy = op->tmp;
        }
        bool fuse = u && op->kind == OP_DENSE && L->w_count >= FUSE_UPDATE_MIN;
        if (np && (op->kind == OP_IM2COL || op->kind == OP_POOL || (op->kind == OP_DENSE && !fuse))) {
            mn_pool_run_jobs(threads, pending, np); /* these run on their own */
            np = 0;
        }
        switch (op->kind) {
        case OP_CONV:
            mn_conv_backward_job(&pending[np++], &op->cd, din, op->slots, gy, y, op->arg, x,
                                 op->wb, n, p->scratch);
            mn_pool_run_jobs(threads, pending, np);
            np = 0;
            mn_conv_reduce_job(&pending[np++], &op->cd, dw, L->b_count ? db : NULL, op->slots,
                               mn_conv_chunks(n));
            break;
        case OP_IM2COL:
            mn_conv2d_backward(din, dw, db, gy, x, w, n, L->in_c, L->in_h, L->in_w, L->out_c,
                               L->k, L->stride, L->pad, L->out_h, L->out_w, p->col, op->slots,
                               threads);
            break;
        case OP_POOL:
            if (din)
                mn_maxpool_backward(din, gy, x, n, L->in_c, L->in_h, L->in_w, L->k, L->stride,
                                    L->out_h, L->out_w, threads);
            break;
        case OP_DENSE:
            if (fuse) {
                /* input gradient now (old weights); weights and bias later, beside the next */
                mn_dense_din_job(&pending[np++], din, gy, y, w, n, L->in_c, L->out_c, op->relu);
                memcpy(op->dsave, gy, sizeof(float) * n * L->out_c);
                mn_pool_run_jobs(threads, pending, np);
                np = 0;
                u[k].base = L->w_off;
                mn_dense_update_job(&pending[np++], db, op->dsave, x, n, L->in_c, L->out_c,
                                    update_block, &u[k], p->dscratch);
                fused[k] = true;
            } else {
                mn_dense_backward(din, dw, db, gy, y, x, w, n, L->in_c, L->out_c, op->relu,
                                  threads);
            }
            break;
        case OP_RELU:
            if (din)
                mn_relu_backward(din, gy, y, count);
            break;
        case OP_DROPOUT:
            if (din) {
                if (L->p > 0.0f)
                    mn_dropout_apply(din, gy, m->dropout_mask[op->first], 1.0f / (1.0f - L->p),
                                     count);
                else
                    memcpy(din, gy, count * sizeof(float));
            }
            break;
        case OP_FLATTEN:
            if (din)
                memcpy(din, gy, (size_t)n * layer_out_size(L) * sizeof(float));
            break;
        case OP_BN:
            /* beside what is pending (a dense layer's update, a convolution's gradient sum) */
            op->bd.N = n;
            mn_bn_backward_job(&pending[np++], &op->bd, din, dw, db, gy, op->arg, x, op->stat,
                               op->stat + L->in_c, w, m->params + L->b_off, op->bn_train);
            mn_pool_run_jobs(threads, pending, np);
            np = 0;
            break;
        }
        float *t = g;
        g = gin;
        gin = t;
        if (p->times)
            p->times[2 * k + 1] += now_seconds(p->cpu_times) - t0;
    }
    mn_pool_run_jobs(threads, pending, np);
}

void mn_model_backward(mn_model *m, int n, int threads) { backward(m, n, threads, NULL, NULL); }

void mn_model_backward_update(mn_model *m, int n, int threads, const mn_train_params *p,
                              float lr, int64_t t, float *m1, float *m2)
{
    struct mn_plan *plan = m->plan;
    update_ctx u[MN_MAX_LAYERS];
    for (int k = 0; k < plan->num_ops; k++)
        u[k] = (update_ctx){m->params, m1, m2, p, lr, t, 0};
    bool fused[MN_MAX_LAYERS] = {false};
    threads = threads < m->ws_threads ? threads : m->ws_threads;
    backward(m, n, threads, u, fused);
    for (int k = 0; k < plan->num_ops; k++) {
        const mn_layer *L = &m->layers[plan->ops[k].first];
        size_t count = L->w_count + L->b_count;
        if (fused[k] || !count)
            continue;
        mn_optim_update(m->params + L->w_off, m->grads + L->w_off, m1 ? m1 + L->w_off : NULL,
                        m2 ? m2 + L->w_off : NULL, count, p, lr, t, threads);
    }
}

int mn_model_ops(mn_model *m, char (*names)[48], double *times, bool cpu)
{
    struct mn_plan *p = m->plan;
    if (!p)
        return 0;
    p->times = times;
    p->cpu_times = cpu;
    for (int k = 0; names && k < p->num_ops; k++) {
        const mn_op *op = &p->ops[k];
        const mn_layer *L = &m->layers[op->first];
        static const char *const kinds[] = {"conv", "conv", "pool", "dense", "relu", "dropout",
                                            "flatten", "bn"};
        snprintf(names[k], 48, "%s%s%s%s", *L->name ? L->name : kinds[op->kind],
                 op->relu || (op->kind == OP_CONV && op->cd.relu) ? "+relu" : "",
                 (op->kind == OP_CONV && op->cd.pool) || (op->kind == OP_BN && op->bd.pool)
                     ? "+pool"
                     : "",
                 op->kind == OP_IM2COL ? " (im2col)" : "");
    }
    return p->num_ops;
}

/* Runs inference on n inputs in chunks that fit the workspace; writes probabilities. A model
 * with foldable bn layers runs its folded twin, refreshed from its parameters first. */
static mn_status predict_chunks(mn_model *m, const void *pixels, bool is_float, uint32_t n,
                                float *probs, int threads)
{
    if (mn_model_foldable_bn(m)) {
        mn_status st = m->folded ? MN_OK : mn_model_fold_build(m, &m->folded);
        if (st != MN_OK)
            return st;
        mn_model_fold_params(m->folded, m);
        return predict_chunks(m->folded, pixels, is_float, n, probs, threads);
    }
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
        case MN_LAYER_BN:
            snprintf(what, sizeof what, "batchnorm %d %s", L->in_c,
                     L->in_h * L->in_w > 1 ? "channels" : "features");
            break;
        }
        OUT("  %-6s %-34s %4dx%-4dx%-5d -> %4dx%-4dx%-5d %10zu params\n", L->name, what,
            L->in_h, L->in_w, L->in_c, L->out_h, L->out_w, L->out_c, L->w_count + L->b_count);
    }
#undef OUT
    if (buf && size)
        buf[len < size ? len : size - 1] = '\0';
    return len;
}
