/* preprocess.c: a model's fixed per-image preprocessing, applied to the pixels (0..255) of every
 * image it trains on (before augmentation) and predicts: none, `deskew` (the shear that makes the
 * image's second moment mu11 zero, centroid moved to the centre) or `width:N` (each image
 * stretched or squeezed horizontally so its ink's bounding box is N pixels wide, centred). Models
 * that see differently preprocessed images make different mistakes, which is what an ensemble
 * needs (Ciresan et al., "Convolutional Neural Network Committees for Handwritten Character
 * Classification", ICDAR 2011). Both resample bilinearly with zeros outside the image; channels
 * share one transform, fitted to their sum. Deterministic, one image at a time. */
#include "preprocess.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

mn_status mn_preprocess_parse(const char *text, int width, mn_preprocess *out)
{
    mn_preprocess p = {MN_PREPROCESS_NONE, 0, "none"};
    if (text && *text && strcmp(text, "none")) {
        if (!strcmp(text, "deskew")) {
            p.kind = MN_PREPROCESS_DESKEW;
            strcpy(p.name, "deskew");
        } else if (!strncmp(text, "width:", 6)) {
            char *end;
            errno = 0;
            long n = strtol(text + 6, &end, 10);
            if (text[6] < '0' || text[6] > '9' || *end || errno || n < 1 || n > width)
                return mn_fail(MN_ERR_ARG, "preprocessing \"%s\": expected width:N with N from 1 "
                               "to %d (the image width)", mn_quote(text).text, width);
            p.kind = MN_PREPROCESS_WIDTH;
            p.width = (int)n;
            snprintf(p.name, sizeof p.name, "width:%d", p.width);
        } else {
            return mn_fail(MN_ERR_ARG, "preprocessing \"%s\" is not known (expected none, deskew "
                           "or width:N)", mn_quote(text).text);
        }
    }
    *out = p;
    return MN_OK;
}

/* src at (y, x), bilinear, zero outside. */
static float sample(const float *src, int H, int W, double y, double x)
{
    double fy = floor(y), fx = floor(x);
    if (!(fy > -2.0 && fy < H && fx > -2.0 && fx < W))
        return 0.0f;
    int y0 = (int)fy, x0 = (int)fx;
    float wy = (float)(y - fy), wx = (float)(x - fx);
    float v00 = 0, v01 = 0, v10 = 0, v11 = 0;
    if (y0 >= 0 && y0 < H) {
        if (x0 >= 0 && x0 < W)
            v00 = src[(size_t)y0 * W + x0];
        if (x0 + 1 >= 0 && x0 + 1 < W)
            v01 = src[(size_t)y0 * W + x0 + 1];
    }
    if (y0 + 1 >= 0 && y0 + 1 < H) {
        if (x0 >= 0 && x0 < W)
            v10 = src[(size_t)(y0 + 1) * W + x0];
        if (x0 + 1 >= 0 && x0 + 1 < W)
            v11 = src[(size_t)(y0 + 1) * W + x0 + 1];
    }
    return (1 - wy) * ((1 - wx) * v00 + wx * v01) + wy * ((1 - wx) * v10 + wx * v11);
}

/* Every output pixel (y, x) samples the input at (y - oy + cy, ax * (x - ox) + b * (y - oy) + cx)
 * where (oy, ox) is the image's centre. */
static void resample(float *dst, const float *src, int C, int H, int W, double cy, double cx,
                     double ax, double b)
{
    const double oy = (H - 1) / 2.0, ox = (W - 1) / 2.0;
    for (int c = 0; c < C; c++) {
        const float *s = src + (size_t)c * H * W;
        float *d = dst + (size_t)c * H * W;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                d[(size_t)y * W + x] =
                    sample(s, H, W, y - oy + cy, ax * (x - ox) + b * (y - oy) + cx);
    }
}

static void deskew(float *dst, const float *src, int C, int H, int W)
{
    double m = 0, my = 0, mx = 0;
    for (int c = 0; c < C; c++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                double v = src[((size_t)c * H + y) * W + x];
                m += v, my += v * y, mx += v * x;
            }
    if (!(m > 0)) {
        memcpy(dst, src, (size_t)C * H * W * sizeof *dst);
        return;
    }
    const double cy = my / m, cx = mx / m;
    double yy = 0, xy = 0;
    for (int c = 0; c < C; c++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                double v = src[((size_t)c * H + y) * W + x];
                yy += v * (y - cy) * (y - cy), xy += v * (x - cx) * (y - cy);
            }
    /* x drifts by alpha per row down the image; the output undoes that (a slope beyond 1, 45
     * degrees, is not a slant but a stroke: left alone) */
    double alpha = yy > 1e-6 * m ? xy / yy : 0.0;
    if (alpha > 1.0 || alpha < -1.0)
        alpha = 0.0;
    resample(dst, src, C, H, W, cy, cx, 1.0, alpha);
}

static void width_norm(float *dst, const float *src, int C, int H, int W, int N)
{
    int x0 = W, x1 = -1;
    for (int c = 0; c < C; c++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                if (src[((size_t)c * H + y) * W + x] > 0.0f) {
                    x0 = x < x0 ? x : x0;
                    x1 = x > x1 ? x : x1;
                }
    if (x1 < 0) {
        memcpy(dst, src, (size_t)C * H * W * sizeof *dst);
        return;
    }
    /* pixel centres x0..x1 span a box x1 - x0 + 1 wide: map it onto N columns about the centre
     * (rows unchanged) */
    const double scale = (double)(x1 - x0 + 1) / N;
    resample(dst, src, C, H, W, (H - 1) / 2.0, (x0 + x1) / 2.0, scale, 0.0);
}

void mn_preprocess_apply(const mn_preprocess *p, float *dst, const float *src, int C, int H,
                         int W)
{
    if (p->kind == MN_PREPROCESS_DESKEW)
        deskew(dst, src, C, H, W);
    else if (p->kind == MN_PREPROCESS_WIDTH)
        width_norm(dst, src, C, H, W, p->width);
    else
        memcpy(dst, src, (size_t)C * H * W * sizeof *dst);
}

void mn_preprocess_u8(const mn_preprocess *p, uint8_t *dst, const uint8_t *src, int C, int H,
                      int W, float *scratch)
{
    const size_t per = (size_t)C * H * W;
    for (size_t k = 0; k < per; k++)
        scratch[per + k] = src[k];
    mn_preprocess_apply(p, scratch, scratch + per, C, H, W);
    for (size_t k = 0; k < per; k++) {
        float v = scratch[k] + 0.5f;
        dst[k] = v <= 0.0f ? 0 : v >= 255.0f ? 255 : (uint8_t)v;
    }
}
