/* mnist.h: the whole public API of mnist.c, a small C library that loads IDX image data sets,
 * trains and evaluates image classifiers on them, saves them as .safetensors files that PyTorch
 * can read, and turns new images into predictions.
 *
 * Conventions (read once, they hold everywhere):
 * - Every fallible function returns mn_status; MN_OK is 0. On failure, mn_error_message() returns
 *   a one-line, human-readable reason for the calling thread, naming the file where one is involved.
 * - The library never prints and never exits. Objects come in create/free pairs; free(NULL) is a
 *   no-op. Output pointers are only written on success.
 * - Tensors are float32, row-major, batch first, NCHW. Pixels are uint8, row-major.
 * - Randomness comes from a seeded generator of our own: same seed and thread count, same bits.
 */
#ifndef MNIST_H
#define MNIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MN_VERSION "0.1.0"
#define MN_FORMAT_VERSION 1 /* the model file's metadata "format_version" */

/* ------------------------------------------------------------------------------------------ */
/* Status and errors                                                                           */

typedef enum mn_status {
    MN_OK = 0,
    MN_ERR_IO,          /* file missing, unreadable, short read, failed write */
    MN_ERR_FORMAT,      /* the bytes do not follow the format (bad magic, bad JSON, ...) */
    MN_ERR_LIMIT,       /* a size is over a documented limit (see MN_DEFAULT_MAX_BYTES) */
    MN_ERR_NOMEM,       /* an allocation failed */
    MN_ERR_ARG,         /* a bad argument: bad spec string, bad option value, shape mismatch */
    MN_ERR_NETWORK,     /* a download failed */
    MN_ERR_CHECKSUM,    /* the bytes do not have the expected SHA-256 */
    MN_ERR_INTERRUPTED, /* the caller asked to stop (training callback returned false) */
} mn_status;

/* The reason for the calling thread's last failure, one line, never NULL ("" if none). The
 * pointer stays valid until this thread's next failing call. */
const char *mn_error_message(void);

/* A short name for a status ("io", "format", ...). */
const char *mn_status_name(mn_status status);

/* ------------------------------------------------------------------------------------------ */
/* Data sets (IDX files, raw or gzipped)                                                       */

/* Default limit on the decompressed bytes of one data file: 2^28 (256 MiB). The largest standard
 * MNIST-format file (60,000 x 28 x 28) is 47 MB. Raise it with mn_load_params.max_bytes. */
#define MN_DEFAULT_MAX_BYTES ((uint64_t)1 << 28)

/* An image data set held in memory once. Fields are read-only for the caller. */
typedef struct mn_dataset {
    uint32_t count;       /* number of images */
    uint32_t rows, cols;  /* each image is rows x cols */
    uint32_t num_classes; /* 1 + the largest label seen (at least 2 for a loaded set) */
    uint8_t *pixels;      /* count * rows * cols, row-major, 0 = background */
    uint8_t *labels;      /* count labels, each < num_classes */
} mn_dataset;

typedef enum mn_split { MN_SPLIT_TRAIN = 0, MN_SPLIT_TEST = 1 } mn_split;

typedef struct mn_load_params {
    uint64_t max_bytes;   /* refuse a file whose decompressed size would exceed this */
    uint32_t max_classes; /* refuse labels >= this (default 256: any uint8) */
} mn_load_params;

mn_load_params mn_load_default_params(void);

/* Decodes IDX image bytes (magic 0x00000803, raw or gzip-compressed) held in memory.
 * `name` is used in error messages only. On success *pixels is malloc'ed (caller frees). */
mn_status mn_idx_decode_images(const uint8_t *data, size_t size, const char *name,
                               const mn_load_params *params, uint8_t **pixels, uint32_t *count,
                               uint32_t *rows, uint32_t *cols);

/* Decodes IDX label bytes (magic 0x00000801, raw or gzip). *labels is malloc'ed (caller frees). */
mn_status mn_idx_decode_labels(const uint8_t *data, size_t size, const char *name,
                               const mn_load_params *params, uint8_t **labels, uint32_t *count);

/* Loads an image file and a label file into a new data set. The counts must agree. Pass NULL
 * params for the defaults. Free with mn_dataset_free. */
mn_status mn_dataset_load_idx(mn_dataset **out, const char *images_path, const char *labels_path,
                              const mn_load_params *params);

/* Loads MNIST's standard file names from `dir`: train-images-idx3-ubyte[.gz] and
 * train-labels-idx1-ubyte[.gz] (or t10k-... for MN_SPLIT_TEST); a .gz file is tried first. */
mn_status mn_dataset_load_dir(mn_dataset **out, const char *dir, mn_split split,
                              const mn_load_params *params);

/* Splits off the last `n` images of `*set` into a new data set (for validation); `*set` keeps
 * the first count - n images. */
mn_status mn_dataset_split_tail(mn_dataset *set, uint32_t n, mn_dataset **tail);

void mn_dataset_free(mn_dataset *set);

/* The directory the CLI uses when none is given: $MNIST_DATA, else "./data/mnist". */
const char *mn_default_data_dir(void);

/* ------------------------------------------------------------------------------------------ */
/* Downloading and verifying MNIST                                                             */

/* The four MNIST files, the SHA-256 of each one's decompressed bytes, and the default mirrors. */
typedef struct mn_mnist_file {
    const char *name;          /* e.g. "train-images-idx3-ubyte.gz" */
    const char *sha256;        /* hex SHA-256 of the decompressed bytes */
    uint64_t decompressed_size;
} mn_mnist_file;

const mn_mnist_file *mn_mnist_files(size_t *count);
const char *const *mn_mnist_default_mirrors(size_t *count); /* base URLs ending in '/' */

/* Downloads each missing or wrong file from the mirrors (in order; `mirror` first if not NULL)
 * into `dir` (created if needed), verifying the decompressed SHA-256 before renaming a temporary
 * file into place. A corrupt download is deleted. `progress` (may be NULL) is told each file:
 * url NULL and MN_OK when already present and valid, else once per mirror tried with its outcome
 * (mn_error_message() holds the reason). $MNIST_MIRRORS (comma-separated base URLs), when set,
 * replaces the default mirrors. URLs may be http://, https:// or file://. */
typedef void (*mn_fetch_progress_fn)(void *user, const char *file, const char *url,
                                     mn_status status);
mn_status mn_mnist_fetch(const char *dir, const char *mirror, mn_fetch_progress_fn progress,
                         void *user);

/* Checks that the four files in `dir` exist and have the right decompressed SHA-256.
 * `report` (may be NULL) is told each file's status (url = the path checked; the uncompressed
 * name is accepted when the .gz is absent). Returns the first failure. */
mn_status mn_mnist_verify(const char *dir, mn_fetch_progress_fn report, void *user);

/* SHA-256 of the bytes after gunzip (of the bytes as they are, if not gzipped), as 64 hex chars
 * plus NUL in hex_out. */
mn_status mn_sha256_decompressed_file(const char *path, char hex_out[65]);

/* ------------------------------------------------------------------------------------------ */
/* Models                                                                                     */

typedef struct mn_model mn_model;

typedef enum mn_init {
    MN_INIT_DEFAULT = 0,   /* the preset's own (tutorial) init; He/Kaiming for custom specs */
    MN_INIT_ZERO,          /* all weights and biases zero (the tutorial's softmax regression) */
    MN_INIT_TRUNC_NORMAL,  /* weights ~ truncated normal std 0.1, biases 0.1 (the tutorial's CNN) */
    MN_INIT_HE,            /* weights ~ N(0, 2/fan_in), biases 0 */
} mn_init;

/* Builds a model for inputs of channels x rows x cols from a preset name ("softmax", "cnn") or a
 * spec string such as "conv:32:5,relu,pool:2,conv:64:5,relu,pool:2,dense:1024,relu,dropout:0.5,
 * dense:10". Tokens: conv:OUT:K[:STRIDE[:PAD]] (PAD defaults to "same" for stride 1: K/2),
 * pool:K[:STRIDE], dense:OUT, relu, bn, dropout:P, flatten. The last layer must be dense with as
 * many outputs as classes. A bad token fails with MN_ERR_ARG and a message pointing at it.
 * `bn` is batch normalisation as PyTorch's BatchNorm2d (per channel, over images and pixels)
 * or, after a dense layer or flatten, BatchNorm1d (per feature): eps 1e-5, momentum 0.1,
 * trainable scale and shift (gamma 1 and beta 0 at first, whatever `init`); training uses the
 * batch's statistics and keeps running ones, which prediction uses. */
mn_status mn_model_create(mn_model **out, const char *spec, uint32_t channels, uint32_t rows,
                          uint32_t cols, mn_init init, uint64_t seed);
void mn_model_free(mn_model *model);

/* The canonical spec string (presets expanded), the preset name or "" and the counts. The
 * strings point into the model; do not free them. */
const char *mn_model_spec(const mn_model *model);
const char *mn_model_preset(const mn_model *model);
uint64_t mn_model_param_count(const mn_model *model);
uint32_t mn_model_num_classes(const mn_model *model);
void mn_model_input_shape(const mn_model *model, uint32_t *channels, uint32_t *rows,
                          uint32_t *cols);
/* A one-line-per-layer description ("conv1 conv 5x5 1->32 same  28x28x1 -> 28x28x32  832
 * params"), written into buf (truncated to size). Returns the length it wanted. */
size_t mn_model_describe(const mn_model *model, char *buf, size_t size);

/* Normalisation applied to pixels before the first layer: x = (p/255 - mean) / std. The
 * softmax preset uses mean 0, std 1 (pixels in [0,1], as the tutorial); saved in the model file. */
void mn_model_set_normalisation(mn_model *model, float mean, float std);
void mn_model_get_normalisation(const mn_model *model, float *mean, float *std);

/* Preprocessing applied to each image's pixels before normalisation, in training (once, to
 * the training set, rounded to bytes; augmentation then distorts the results) and prediction
 * alike: "none" (the default), "deskew" (the shear that makes the image's mixed second moment
 * zero, its centroid moved to the centre) or "width:N" (the ink's bounding box stretched or
 * squeezed to N pixels wide, centred; rows unchanged). Models trained on differently
 * preprocessed images make different mistakes, which helps ensembles. Saved in the model file
 * (metadata "preprocess", absent for none). */
mn_status mn_model_set_preprocess(mn_model *model, const char *name);
const char *mn_model_preprocess(const mn_model *model);
/* One image (channels*rows*cols uint8 pixels) as the model sees it after its preprocessing,
 * rounded to uint8 (to show it); a copy when the model has none. */
mn_status mn_model_preprocess_image(const mn_model *model, const uint8_t *in, uint8_t *out);

/* Free-form metadata strings stored in the model file (e.g. "seed", "train_accuracy"). */
mn_status mn_model_set_meta(mn_model *model, const char *key, const char *value);
const char *mn_model_get_meta(const mn_model *model, const char *key); /* NULL if absent */

/* Predicts `n` images of uint8 pixels (n * channels*rows*cols, 0 = background) and writes n x
 * classes probabilities (softmax). Uses up to `threads` threads (0 = all cores). bn layers use
 * their running statistics (folded into the layer before them where possible). */
mn_status mn_model_predict(mn_model *model, const uint8_t *pixels, uint32_t n, float *probs,
                           int threads);

/* The same for float pixels on a 0..255 scale (before the model's normalisation). */
mn_status mn_model_predict_float(mn_model *model, const float *pixels, uint32_t n, float *probs,
                                 int threads);

/* Saves as .safetensors (tensor names and layouts of PyTorch's state_dict: conv1.weight is
 * [out, in, kh, kw], fc1.weight is [out, in]; a single dense layer is "fc"; bn layers are bn1,
 * bn2, ... with .weight, .bias, .running_mean and .running_var, all [channels], but no
 * num_batches_tracked). Written to a temporary file and renamed, so `path` is never left
 * half-written. */
mn_status mn_model_save(const mn_model *model, const char *path);

/* Loads a model saved by mn_model_save, checking everything (header size against the file size,
 * JSON, dtype, shapes against the spec, offsets in range, no overlap, running variances >= 0). */
mn_status mn_model_load(mn_model **out, const char *path);

/* A new model for inference with batch normalisation folded away: each bn layer that directly
 * follows a convolution or dense layer (or a bn folded there) is removed and folded into that
 * layer's weights and bias: with s = gamma / sqrt(running_var + 1e-5) per output channel,
 * w' = w * s and b' = (b - running_mean) * s + beta. A bn anywhere else (after pooling, ReLU or
 * flatten, or first) stays. The new model predicts what `model` predicts, up to float rounding
 * (mn_model_predict already runs this form internally); its spec lacks the folded bn tokens and
 * its tensors are named after that spec; normalisation and metadata are copied. Without bn
 * layers: a plain copy. The caller frees *out with mn_model_free. */
mn_status mn_model_fold_batchnorm(const mn_model *model, mn_model **out);

/* ------------------------------------------------------------------------------------------ */
/* Evaluation                                                                                  */

#define MN_MAX_CLASSES 256

typedef struct mn_eval_result {
    uint32_t count;       /* images evaluated */
    uint32_t correct;
    double accuracy;      /* correct / count */
    double loss;          /* mean cross-entropy (natural log) */
    uint32_t num_classes;
    uint32_t *confusion;  /* num_classes x num_classes, rows = true class; malloc'ed */
    uint32_t *predicted;  /* count predicted classes, in data set order; malloc'ed */
} mn_eval_result;

/* Evaluates a model on a data set (threads 0 = all cores). Free the result with
 * mn_eval_result_free. */
mn_status mn_model_evaluate(mn_model *model, const mn_dataset *set, int threads,
                            mn_eval_result *result);
void mn_eval_result_free(mn_eval_result *result);

/* ------------------------------------------------------------------------------------------ */
/* Training                                                                                    */

typedef enum mn_optimizer {
    MN_OPT_SGD = 0,
    MN_OPT_MOMENTUM,
    MN_OPT_ADAM,
} mn_optimizer;

typedef enum mn_schedule {
    MN_SCHEDULE_CONSTANT = 0,
    MN_SCHEDULE_COSINE,   /* lr * 0.5 * (1 + cos(pi * t)), after warm-up */
    MN_SCHEDULE_ONECYCLE, /* linear up to lr over warm-up, then cosine down to lr/1000 */
} mn_schedule;

typedef struct mn_train_progress {
    int64_t step, total_steps;
    double epoch;           /* fractional epochs done */
    float loss;             /* mean training loss over the steps since the last report */
    float lr;
    double images_per_second;
    double elapsed_seconds;
    bool evaluated;         /* true when eval_accuracy/eval_loss hold a fresh evaluation */
    double eval_accuracy, eval_loss;
    bool best;              /* the evaluation is the best so far (the model was kept) */
} mn_train_progress;

/* Called every report_every steps and after each evaluation; return false to stop training
 * (mn_model_train then returns MN_ERR_INTERRUPTED with the model as it is). */
typedef bool (*mn_train_callback)(void *user, const mn_train_progress *progress);

typedef struct mn_train_params {
    int64_t steps;          /* if > 0, train this many steps; else `epochs` */
    double epochs;
    uint32_t batch;
    float lr;
    mn_optimizer optimizer;
    float momentum;         /* MN_OPT_MOMENTUM */
    float beta1, beta2, eps;/* MN_OPT_ADAM */
    float weight_decay;     /* decoupled (AdamW-style) when > 0 */
    float label_smoothing;  /* target (1 - e) on the label plus e / classes everywhere; 0 = off */
    mn_schedule schedule;
    int64_t warmup_steps;
    /* Data augmentation for training (0 = off): random shift up to aug_shift pixels, rotation up
     * to aug_rotate degrees, scaling by up to 1 +- aug_scale, elastic distortion of strength
     * aug_elastic (pixels; Simard et al., sigma 4). */
    float aug_shift, aug_rotate, aug_scale, aug_elastic;
    uint64_t seed;          /* data order, dropout, augmentation */
    int threads;            /* 0 = all cores */
    int64_t eval_every;     /* steps between evaluations on `eval_set` (0 = only at the end) */
    int64_t report_every;   /* steps between callback reports */
    bool keep_best;         /* restore the parameters of the best evaluation at the end */
    mn_train_callback callback;
    void *user;
    /* Checkpoints (see mn_trainer_save) go to checkpoint_path (if not NULL) every
     * checkpoint_every steps (0: only when stopped). */
    const char *checkpoint_path;
    int64_t checkpoint_every;
    /* When *stop becomes non-zero (a signal handler may set it), training finishes the current
     * step, writes a checkpoint if checkpoint_path is set and returns MN_ERR_INTERRUPTED. */
    const volatile int *stop;
} mn_train_params;

/* The tutorial's softmax recipe: SGD, lr 0.5, batch 100, 1000 steps. */
mn_train_params mn_train_default_params(void);

/* Trains `model` on `train`; evaluates on `eval_set` (may be NULL) every eval_every steps and at
 * the end. Deterministic for a fixed seed and thread count. The same as creating a trainer,
 * running it and freeing it. */
mn_status mn_model_train(mn_model *model, const mn_dataset *train, const mn_dataset *eval_set,
                         const mn_train_params *params);

/* A training run that can be saved and resumed: the model, the optimizer's moments, the RNG
 * states and the position in the data order. A run resumed from a checkpoint ends with the same
 * bits as one never interrupted (same seed, same thread count). */
typedef struct mn_trainer mn_trainer;

/* `model` is borrowed (it must outlive the trainer); `params` is copied. */
mn_status mn_trainer_create(mn_trainer **out, mn_model *model, const mn_train_params *params);
/* Trains until the planned steps are done (MN_OK), or until stopped (MN_ERR_INTERRUPTED). Call
 * again after a stop to go on. `train` must be the same data set at every call and resume. */
mn_status mn_trainer_run(mn_trainer *trainer, const mn_dataset *train, const mn_dataset *eval_set);
/* Writes a checkpoint atomically (temporary file, fsync, rename): a .safetensors file whose model
 * tensors load like any model file, plus the training state. */
mn_status mn_trainer_save(const mn_trainer *trainer, const char *path);
/* Reads a checkpoint: a new model (*model, the caller frees it after the trainer) and a trainer
 * with the saved parameters; callback, user, stop and checkpoint_path are reset, set them
 * through mn_trainer_params. */
mn_status mn_trainer_load(mn_trainer **out, mn_model **model, const char *path);
/* The trainer's parameters, to set callback/user/stop/checkpoint fields (others are fixed). */
mn_train_params *mn_trainer_params(mn_trainer *trainer);
int64_t mn_trainer_step(const mn_trainer *trainer);        /* steps done so far */
int64_t mn_trainer_total_steps(const mn_trainer *trainer); /* 0 until the first run */
/* The best accuracy of the evaluations during training so far (kept across a resume), or a
 * negative number before the first. */
double mn_trainer_best_accuracy(const mn_trainer *trainer);
void mn_trainer_free(mn_trainer *trainer);

/* ------------------------------------------------------------------------------------------ */
/* Images: reading files and making them look like MNIST                                       */

/* Limit on an input image's width and height, checked before any pixel is decoded. */
#define MN_IMAGE_MAX_SIDE 8192

/* A greyscale image, 8 bits per pixel, row-major. */
typedef struct mn_image {
    uint32_t width, height;
    uint8_t *pixels; /* width * height; malloc'ed */
} mn_image;

/* Reads a PNG, JPEG or PGM/PPM (P2/P3/P5/P6) file as greyscale (colour is converted with
 * Rec. 601 luma; alpha is composited over white). */
mn_status mn_image_load(const char *path, mn_image *out);
/* The same from bytes in memory; `name` is used in messages. */
mn_status mn_image_decode(const uint8_t *data, size_t size, const char *name, mn_image *out);
void mn_image_free(mn_image *image);

/* Writes a greyscale PNG atomically (temporary file, then rename). */
mn_status mn_image_save_png(const char *path, const mn_image *image);

/* Turns any picture of one digit into an MNIST-like 28x28 (ink bright on black): greyscale,
 * invert if the background is light, crop to the ink, scale the longer side to 20 px keeping the
 * aspect ratio, place the centre of mass at the centre of the 28x28 canvas. Fails with
 * MN_ERR_FORMAT if the image holds no ink. out28 receives 784 pixels. */
mn_status mn_image_to_mnist(const mn_image *image, uint8_t out28[784]);

#ifdef __cplusplus
}
#endif

#endif /* MNIST_H */
