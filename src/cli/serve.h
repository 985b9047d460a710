/* serve.h: the parts of `mnist serve` below the HTTP layer: a pool of model copies that runs
 * concurrent predictions together in batches, and the API's request -> JSON reply logic (no
 * sockets, so it can be reasoned about and tested apart from libmicrohttpd). */
#ifndef MN_SERVE_H
#define MN_SERVE_H

#include "mnist.h"

#include <stddef.h>

#define SERVE_MAX_BODY ((size_t)1 << 20) /* request bodies over 1 MiB get 413 */
#define SERVE_MAX_BATCH 64               /* at most this many images in one forward pass */
#define SERVE_ERROR_SIZE 256             /* room for one error message */

/* ---- the model pool (serve_pool.c) ---- */

typedef struct serve_pool serve_pool;

/* Loads `copies` copies of the model file at `path` (each with its own workspace: a model is
 * not thread-safe) and sizes the preprocessing slots. The model must take 1x28x28 images.
 * On failure, err gets the reason. */
mn_status serve_pool_create(serve_pool **out, const char *path, int copies,
                            char err[SERVE_ERROR_SIZE]);
void serve_pool_free(serve_pool *pool);

/* The first copy, for descriptions only (its spec, counts, metadata): never predict with it. */
const mn_model *serve_pool_model(const serve_pool *pool);
int serve_pool_copies(const serve_pool *pool);
/* Images predicted and forward passes run so far (images / batches = the mean batch size). */
void serve_pool_stats(serve_pool *pool, uint64_t *images, uint64_t *batches);

/* Predicts one 28x28 image (784 pixels, ink bright) into probs (num_classes floats). Safe from
 * any number of threads: while every copy is busy, requests queue up, and the next free copy
 * takes all waiting ones (up to SERVE_MAX_BATCH) as one batch. On failure, err gets the reason. */
mn_status serve_pool_predict(serve_pool *pool, const uint8_t px[784], float *probs,
                             char err[SERVE_ERROR_SIZE]);

/* Bounds how many request bodies are decoded at once (a 1 MiB PNG can hold 64 MiB of pixels). */
void serve_pool_enter_prep(serve_pool *pool);
void serve_pool_leave_prep(serve_pool *pool);

/* ---- the API (serve_api.c) ---- */

typedef struct serve_reply {
    unsigned status; /* HTTP status code */
    char *body;      /* malloc'ed JSON text (free()), or NULL if out of memory */
    size_t size;
} serve_reply;

/* POST /api/predict. `body` is a PNG (or JPEG, PGM/PPM) file, or JSON {"pixels": [W*H numbers
 * 0-255], "width": W, "height": H} (width and height default to 28); ink may be dark on light
 * or light on dark. Either is preprocessed like `mnist predict` does. 200 replies hold
 * {"digit", "probability", "probabilities", "preprocessed"}; bad input gets 400 {"error"}. */
void serve_api_predict(serve_pool *pool, const uint8_t *body, size_t size, serve_reply *reply);

/* GET /api/model: the model's file name, preset, spec, parameters, classes, input shape, the
 * training metadata it holds, the server's copies and limits, and the images and batches
 * predicted so far. */
void serve_api_model(serve_pool *pool, const char *path, serve_reply *reply);

/* Any error: {"error": message} with `status`. */
void serve_api_error(serve_reply *reply, unsigned status, const char *message);

#endif
