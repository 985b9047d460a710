/* model_internal.h: the model's layout, shared by the modules that build, run, train and save
 * models. Parameters live in one flat arena (weights then bias of each layer, in layer order);
 * gradients and optimizer moments mirror it. Batch normalisation's running statistics are not
 * parameters: they live in a second arena (`buffers`) that no optimizer sees, saved with them. */
#ifndef MN_MODEL_INTERNAL_H
#define MN_MODEL_INTERNAL_H

#include "internal.h"
#include "preprocess.h"
#include "safetensors.h"

typedef enum mn_layer_kind {
    MN_LAYER_CONV,
    MN_LAYER_POOL,
    MN_LAYER_DENSE,
    MN_LAYER_RELU,
    MN_LAYER_DROPOUT,
    MN_LAYER_FLATTEN,
    MN_LAYER_BN, /* batch normalisation per channel (over N, H, W) or per feature */
} mn_layer_kind;


typedef struct mn_layer {
    mn_layer_kind kind;
    int in_c, in_h, in_w;
    int out_c, out_h, out_w;
    int k, stride, pad; /* conv, pool */
    float p;            /* dropout probability */
    char name[16];      /* tensor name prefix: conv1, fc, fc2, bn1, ... ("" without parameters) */
    size_t w_off, w_count, b_off, b_count; /* into the parameter arena (bn: gamma, beta) */
    size_t r_off;       /* bn: running mean at buffers + r_off, running variance after it */
} mn_layer;

#define MN_MAX_LAYERS 64
#define MN_MAX_META 32
#define MN_MAX_TENSORS (4 * MN_MAX_LAYERS) /* bn layers have four */

struct mn_model {
    char *spec;          /* canonical spec string */
    char preset[16];     /* "softmax", "cnn" or "" */
    int num_layers;
    mn_layer layers[MN_MAX_LAYERS];
    int in_c, in_h, in_w;
    int num_classes;
    float norm_mean, norm_std;
    mn_preprocess preprocess; /* applied to each image's pixels before normalisation */
    float *pre_buf;           /* 2 images of scratch for it (mn_model_reserve) */

    size_t num_params;
    float *params, *grads; /* num_params each, aligned */
    size_t num_buffers;    /* bn running statistics: 2 per channel, not trained */
    float *buffers;        /* num_buffers (at least one allocated), aligned */
    /* Models with foldable bn layers predict through this twin: the same network with each bn
     * that directly follows a convolution or dense layer folded into it, its parameters
     * refreshed from these at every prediction call (mn_model_fold_batchnorm). */
    struct mn_model *folded;

    char *meta_key[MN_MAX_META], *meta_value[MN_MAX_META];
    int num_meta;

    /* Workspace for a batch of up to ws_batch images with ws_threads threads (see
     * mn_model_reserve). act[i] is layer i's input (act[0] the batch, in the layout the first
     * layer reads: use mn_model_set_input), act[num_layers] the logits [n, classes]; inputs of
     * layers fused into the previous ones (ReLU, pooling after a convolution) are NULL. */
    int ws_batch, ws_threads;
    float *act[MN_MAX_LAYERS + 1];
    float *grad_a, *grad_b; /* ping-pong buffers for activation gradients */
    uint8_t *dropout_mask[MN_MAX_LAYERS];
    struct mn_plan *plan;   /* fused operations, layouts, scratch (model.c) */
    float *probs;           /* ws_batch x classes */
};

/* Parses a spec (or a preset name) into model->layers with shapes, names and arena offsets.
 * Fills spec/preset/num_classes/num_params; allocates nothing else. */
mn_status mn_spec_parse(mn_model *model, const char *spec);

/* Makes sure the workspace holds a batch of `batch` with `threads` threads. Allocates only when
 * it grows. */
mn_status mn_model_reserve(mn_model *model, int batch, int threads);

/* Writes model->act[0] for n images of uint8 pixels, preprocessing and normalising them. */
void mn_model_load_input_u8(mn_model *model, const uint8_t *pixels, int n);
/* The same for pixels that are already preprocessed (the trainer's distorted images). */
void mn_model_load_preprocessed_u8(mn_model *model, const uint8_t *pixels, int n);
/* Writes model->act[0] from n images of already normalised (and preprocessed) values,
 * [n, C, H, W]. */
void mn_model_set_input(mn_model *model, const float *x, int n);

/* Runs the layers on act[0] (n images); train enables dropout, drawing masks from rng, and makes
 * bn layers normalise with the batch's statistics and update their running ones (otherwise
 * they use the running ones; backward follows the mode of the last forward). */
void mn_model_forward(mn_model *model, int n, bool train, mn_rng *rng, int threads);

/* Given dlogits in grad_a (n x classes), fills model->grads (overwriting). */
void mn_model_backward(mn_model *model, int n, int threads);
/* The same followed by one optimizer update of every parameter (mn_optim_update's rule, `t` the
 * 1-based step): the bits of backward + mn_optim_update, but large dense layers are updated
 * block by block while their gradients are still in cache, so afterwards model->grads does not
 * hold those layers' weight gradients. */
void mn_model_backward_update(mn_model *model, int n, int threads, const mn_train_params *p,
                              float lr, int64_t t, float *m1, float *m2);

/* For benchmarks, after mn_model_reserve: the operations the layers run as (fused layers are
 * one), named in names[k] ("conv1+relu+pool") if names is not NULL; returns their count. With
 * `times` not NULL, later passes add operation k's seconds to times[2k] (forward) and
 * times[2k+1] (backward): wall time, or the process's CPU time if `cpu`; NULL stops that. */
int mn_model_ops(mn_model *model, char (*names)[48], double *times, bool cpu);

/* fold.c: batch normalisation folded into the layer before it (see mn_model_fold_batchnorm).
 * foldable_bn: some bn layer directly follows a convolution or dense layer (or a bn folded
 * there). fold_build: the folded network (spec without those bn layers), its parameters set.
 * fold_params: dst's parameters, running statistics and normalisation from src (dst made by
 * fold_build(src)). */
bool mn_model_foldable_bn(const mn_model *model);
mn_status mn_model_fold_build(const mn_model *model, mn_model **out);
void mn_model_fold_params(mn_model *dst, const mn_model *src);

/* Initialises parameters. */
void mn_model_init_params(mn_model *model, mn_init init, uint64_t seed);

/* optim.c: one update of all parameters from model->grads. `m1`/`m2` are the optimizer's
 * moments (NULL where the optimizer needs none), `t` the 1-based step number. */
void mn_optim_update(float *params, const float *grads, float *m1, float *m2, size_t n,
                     const mn_train_params *p, float lr, int64_t t, int threads);
/* The learning rate at step `step` (0-based) of `total`. */
float mn_schedule_lr(const mn_train_params *p, int64_t step, int64_t total);

/* model_io.c, shared with checkpoints: the model's tensors (pointing into its arenas; returns how
 * many, at most MN_MAX_TENSORS) and metadata; and a model rebuilt from a parsed file, where
 * tensors and metadata keys starting with `extra_prefix` (if not NULL) are left to the caller. */
typedef struct mn_model_meta {
    char fmt[16], shape[64], mean[32], std[32], classes[16];
    char *names;
    mn_st_meta meta[16 + MN_MAX_META];
    int count;
} mn_model_meta;
int mn_model_tensors(const mn_model *model, mn_st_tensor *tensors);
mn_status mn_model_meta_build(const mn_model *model, mn_model_meta *meta);
void mn_model_meta_free(mn_model_meta *meta);
mn_status mn_model_from_st(mn_model **out, const mn_st_file *file, const char *path,
                           const char *extra_prefix);

#endif
