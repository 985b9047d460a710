/* safetensors.h: reading and writing .safetensors files (8-byte little-endian header length,
 * a JSON header, then raw little-endian tensor bytes). Only F32 tensors are written or accepted.
 * The model module maps its parameters onto these; this module knows nothing of layers. */
#ifndef MN_SAFETENSORS_H
#define MN_SAFETENSORS_H

#include "mnist.h"

#define MN_ST_MAX_DIMS 8
#define MN_ST_MAX_NAME 128
/* Header larger than this is refused before it is allocated. */
#define MN_ST_MAX_HEADER ((uint64_t)1 << 24)

typedef struct mn_st_tensor {
    char name[MN_ST_MAX_NAME];
    int ndim;
    int64_t shape[MN_ST_MAX_DIMS];
    uint64_t count;     /* product of shape (1 for ndim 0) */
    float *data;        /* write: caller's data; read: points into mn_st_file's buffer */
} mn_st_tensor;

typedef struct mn_st_meta {
    char *key, *value;
} mn_st_meta;

typedef struct mn_st_file {
    mn_st_tensor *tensors;
    int num_tensors;
    mn_st_meta *meta;   /* the "__metadata__" object: string keys and string values */
    int num_meta;
    void *buffer;       /* owns the tensor data */
} mn_st_file;

/* Writes `n` tensors and `n_meta` metadata pairs atomically (temporary file, then rename). */
mn_status mn_st_write(const char *path, const mn_st_tensor *tensors, int n,
                      const mn_st_meta *meta, int n_meta);

/* Reads and validates a whole file: header length against the file size and MN_ST_MAX_HEADER,
 * JSON syntax, each entry's dtype ("F32" only), shape (non-negative, no overflow), data_offsets
 * (in range, matching the shape, no overlaps, covering the data area exactly), metadata values
 * being strings. Every failure names the file and the problem. */
mn_status mn_st_read(const char *path, mn_st_file *out);
/* The same from memory (for the fuzzer); `name` is used in messages. Copies what it keeps. */
mn_status mn_st_parse(const uint8_t *data, size_t size, const char *name, mn_st_file *out);
void mn_st_free(mn_st_file *file);

/* Lookups; NULL if absent. */
const mn_st_tensor *mn_st_find(const mn_st_file *file, const char *name);
const char *mn_st_meta_get(const mn_st_file *file, const char *key);

#endif
