/* internal.h: helpers shared by the library's modules and its tests, not part of the public API:
 * error reporting, whole-file reading with a size limit, atomic writes, aligned memory, the RNG
 * and the numeric kernels. */
#ifndef MN_INTERNAL_H
#define MN_INTERNAL_H

#include "mnist.h"

#include <stdarg.h>
#include <stdio.h>

#if defined(__GNUC__)
#define MN_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define MN_PRINTF(a, b)
#endif

/* Sets the calling thread's error message (printf-style) and returns `status`. */
mn_status mn_fail(mn_status status, const char *fmt, ...) MN_PRINTF(2, 3);
/* Puts "prefix: " (a file's name, say) before the thread's current message; returns `status`. */
mn_status mn_fail_prefix(mn_status status, const char *prefix);
void mn_clear_error(void);
/* Untrusted text as messages quote it: one line (control bytes become \xNN), at most 64 bytes of
 * it (cut at a UTF-8 boundary, then "..."). Use as mn_fail(..., "\"%s\"", mn_quote(s).text):
 * the array lives until the end of the full expression. */
typedef struct mn_quoted {
    char text[64 * 4 + 4];
} mn_quoted;
mn_quoted mn_quote(const char *s);

/* Reads a whole file into a malloc'ed buffer (one spare NUL byte after it). Refuses files over
 * max_bytes (MN_ERR_LIMIT), directories and short reads, with messages naming the path. */
mn_status mn_read_file(const char *path, uint64_t max_bytes, uint8_t **data, size_t *size);

/* Atomic file writing: opens "<path>.tmp.<pid>" for writing; commit flushes, fsyncs, closes and
 * renames it over `path`; abort closes and deletes it. */
typedef struct mn_atomic_file {
    FILE *fp;
    char *tmp_path;
    char *path;
} mn_atomic_file;
mn_status mn_atomic_open(mn_atomic_file *af, const char *path);
mn_status mn_atomic_commit(mn_atomic_file *af);
void mn_atomic_abort(mn_atomic_file *af);

/* 64-byte aligned, zeroed allocations; free with mn_free_aligned. NULL on failure or overflow. */
void *mn_alloc_aligned(size_t count, size_t elem_size);
void mn_free_aligned(void *p);

/* A small, seeded, splittable RNG (xoshiro256**), the same bits on every platform. */
typedef struct mn_rng {
    uint64_t s[4];
} mn_rng;
void mn_rng_seed(mn_rng *rng, uint64_t seed);
uint64_t mn_rng_next(mn_rng *rng);
uint32_t mn_rng_below(mn_rng *rng, uint32_t n); /* uniform in [0, n), n > 0 */
float mn_rng_uniform(mn_rng *rng);              /* uniform in [0, 1) */
float mn_rng_normal(mn_rng *rng);               /* standard normal */

/* Threads: resolves 0 to the number of cores. */
int mn_resolve_threads(int threads);

/* The index of the largest of p[0..n-1] (the first one on ties); 0 when n is 0. */
uint32_t mn_argmax(const float *p, uint32_t n);

#endif
