/* preprocess.h: a model's fixed per-image preprocessing (none, deskew, width:N), applied before
 * normalisation to every image it trains on or predicts; see preprocess.c. */
#ifndef MN_PREPROCESS_H
#define MN_PREPROCESS_H

#include "internal.h"

typedef enum mn_preprocess_kind {
    MN_PREPROCESS_NONE,
    MN_PREPROCESS_DESKEW,
    MN_PREPROCESS_WIDTH,
} mn_preprocess_kind;

typedef struct mn_preprocess {
    mn_preprocess_kind kind;
    int width;     /* MN_PREPROCESS_WIDTH: the ink's new width in pixels */
    char name[24]; /* "none", "deskew" or "width:N": what mn_preprocess_parse reads back */
} mn_preprocess;

/* Parses "none" (or "" or NULL), "deskew" or "width:N" for images `width` pixels wide
 * (1 <= N <= width). */
mn_status mn_preprocess_parse(const char *text, int width, mn_preprocess *out);
/* dst = the preprocessed src, one image [C][H][W] of pixel values (dst and src distinct). */
void mn_preprocess_apply(const mn_preprocess *p, float *dst, const float *src, int C, int H,
                         int W);
/* The same for pixels as bytes: dst = the preprocessed src, rounded to the nearest byte.
 * scratch holds 2 * C * H * W floats. */
void mn_preprocess_u8(const mn_preprocess *p, uint8_t *dst, const uint8_t *src, int C, int H,
                      int W, float *scratch);

#endif
