/* image_prep.c: turns a picture of one digit into what MNIST's authors made of NIST's scans:
 * ink bright on black, the ink's bounding box scaled (area-averaged, aspect kept) so its longer
 * side is 20 px, then placed in 28x28 with the intensity centre of mass at pixel (14, 14), the
 * place MNIST's digits have it on average (measured over the test set in index coordinates).
 * A large photo is first averaged down in whole blocks to at most 512 px a side: that bounds
 * the memory and calms camera noise, so that stray pixels do not stretch the ink's box.
 * Left out: deskewing, stroke-width normalisation, several digits in one image, shadows with
 * sharp edges. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MN_BOX 20          /* the longer side of the digit's box, as in MNIST */
#define MN_SIDE 28         /* the output canvas */
#define MN_WORK_SIDE 512   /* larger images are block-averaged down to this */
#define MN_MIN_MARGIN 2.0f /* grey levels above the paper that still count as paper */
#define MN_NOISE_MARGIN 8  /* margin = this x (75th - 50th percentile of the frame): ~5 sigma */
#define MN_MIN_CONTRAST 24 /* ink must rise this far over the paper, else it is only noise */

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The value at quantile q (0..1) of n sorted values. */
static float quantile(const float *sorted, size_t n, double q)
{
    size_t k = (size_t)(q * (double)(n - 1) + 0.5);
    return sorted[k < n ? k : n - 1];
}

/* Copies the outer frame of a w x h float image (each border pixel once) into out, sorted.
 * Returns the count (at most 2w + 2h). */
static size_t sorted_frame(const float *im, uint32_t w, uint32_t h, float *out)
{
    size_t n = 0;
    for (uint32_t y = 0; y < h; y++) {
        const float *row = im + (size_t)w * y;
        bool full = y == 0 || y == h - 1;
        for (uint32_t x = 0; x < w; x = (full || x == w - 1) ? x + 1 : w - 1)
            out[n++] = row[x];
    }
    qsort(out, n, sizeof out[0], cmp_float);
    return n;
}

/* The image as floats, averaged over k x k blocks (partial blocks at the right and bottom
 * edges average what they hold): ceil(w/k) x ceil(h/k). */
static float *block_average(const mn_image *im, uint32_t k, uint32_t *ww, uint32_t *wh)
{
    uint32_t w = im->width, h = im->height, bw = (w + k - 1) / k, bh = (h + k - 1) / k;
    float *work = calloc((size_t)bw * bh, sizeof *work);
    if (!work)
        return NULL;
    for (uint32_t y = 0; y < h; y++) {
        const uint8_t *row = im->pixels + (size_t)w * y;
        float *dst = work + (size_t)bw * (y / k);
        for (uint32_t x = 0; x < w; x++)
            dst[x / k] += row[x];
    }
    for (uint32_t by = 0; by < bh; by++) {
        uint32_t rows = by == bh - 1 ? h - by * k : k;
        for (uint32_t bx = 0; bx < bw; bx++) {
            uint32_t cols = bx == bw - 1 ? w - bx * k : k;
            work[(size_t)bw * by + bx] /= (float)(rows * cols);
        }
    }
    *ww = bw;
    *wh = bh;
    return work;
}

/* Evens out the paper: subtracts from each pixel of the (inverted: paper dark, ink bright)
 * working image the paper level around it, which is the median of its cell in a coarse grid
 * (ink covers less than half of most cells), the lowest such median among the neighbouring
 * cells (for cells inside a thick stroke), interpolated bilinearly between cell centres. This
 * removes shading and uneven light; on a clean page it subtracts the one paper level. */
static bool subtract_paper(float *work, uint32_t w, uint32_t h)
{
    uint32_t longest = w > h ? w : h;
    uint32_t cell = longest / 8 > 16 ? longest / 8 : 16;
    uint32_t gw = (w + cell - 1) / cell, gh = (h + cell - 1) / cell;
    float *med = malloc((size_t)gw * gh * sizeof *med);
    float *low = malloc((size_t)gw * gh * sizeof *low);
    float *vals = malloc((size_t)cell * cell * sizeof *vals);
    if (!med || !low || !vals) {
        free(med);
        free(low);
        free(vals);
        return false;
    }
    for (uint32_t gy = 0; gy < gh; gy++)
        for (uint32_t gx = 0; gx < gw; gx++) {
            size_t n = 0;
            for (uint32_t y = gy * cell; y < h && y < (gy + 1) * cell; y++)
                for (uint32_t x = gx * cell; x < w && x < (gx + 1) * cell; x++)
                    vals[n++] = work[(size_t)w * y + x];
            qsort(vals, n, sizeof vals[0], cmp_float);
            med[gy * gw + gx] = quantile(vals, n, 0.5);
        }
    for (uint32_t gy = 0; gy < gh; gy++)
        for (uint32_t gx = 0; gx < gw; gx++) {
            float m = med[gy * gw + gx];
            for (uint32_t ny = gy ? gy - 1 : 0; ny <= gy + 1 && ny < gh; ny++)
                for (uint32_t nx = gx ? gx - 1 : 0; nx <= gx + 1 && nx < gw; nx++)
                    m = fminf(m, med[ny * gw + nx]);
            low[gy * gw + gx] = m;
        }
    for (uint32_t y = 0; y < h; y++) {
        float fy = (y + 0.5f) / (float)cell - 0.5f;
        uint32_t y0 = fy > 0 ? (uint32_t)fy : 0, y1 = y0 + 1 < gh ? y0 + 1 : y0;
        float ay = fy > (float)y0 ? fminf(fy - (float)y0, 1.0f) : 0.0f;
        for (uint32_t x = 0; x < w; x++) {
            float fx = (x + 0.5f) / (float)cell - 0.5f;
            uint32_t x0 = fx > 0 ? (uint32_t)fx : 0, x1 = x0 + 1 < gw ? x0 + 1 : x0;
            float ax = fx > (float)x0 ? fminf(fx - (float)x0, 1.0f) : 0.0f;
            float top = low[y0 * gw + x0] * (1 - ax) + low[y0 * gw + x1] * ax;
            float bottom = low[y1 * gw + x0] * (1 - ax) + low[y1 * gw + x1] * ax;
            work[(size_t)w * y + x] -= top * (1 - ay) + bottom * ay;
        }
    }
    free(med);
    free(low);
    free(vals);
    return true;
}

/* Resampling weights for one axis, from `in` source pixels to `out` output pixels: output j
 * takes weight[j*taps + k] of source first[j] + k, for k < count[j]. Shrinking averages the
 * source area under each output pixel (no aliasing); growing interpolates linearly. */
typedef struct axis_weights {
    int taps;
    int *first, *count;
    float *weight;
} axis_weights;

static void axis_free(axis_weights *a)
{
    free(a->first);
    free(a->count);
    free(a->weight);
    a->first = a->count = NULL;
    a->weight = NULL;
}

static bool axis_build(axis_weights *a, int in, int out)
{
    a->taps = in > out ? (in + out - 1) / out + 1 : 2;
    a->first = calloc((size_t)out, sizeof *a->first);
    a->count = calloc((size_t)out, sizeof *a->count);
    a->weight = calloc((size_t)out * (size_t)a->taps, sizeof *a->weight);
    if (!a->first || !a->count || !a->weight) {
        axis_free(a);
        return false;
    }
    double ratio = (double)in / out; /* source pixels per output pixel */
    for (int j = 0; j < out; j++) {
        float *wj = a->weight + (size_t)j * a->taps;
        if (in > out) {
            double lo = j * ratio, hi = (j + 1) * ratio;
            int i0 = (int)floor(lo), i1 = (int)ceil(hi);
            if (i1 > in)
                i1 = in;
            a->first[j] = i0;
            for (int i = i0; i < i1 && i - i0 < a->taps; i++) {
                double cover = fmin(hi, i + 1.0) - fmax(lo, (double)i);
                wj[i - i0] = (float)(cover > 0 ? cover / ratio : 0);
                a->count[j] = i - i0 + 1;
            }
        } else {
            double u = (j + 0.5) * ratio - 0.5;
            int i0 = (int)floor(u);
            double f = u - i0;
            if (i0 < 0) {
                i0 = 0;
                f = 0;
            }
            if (i0 >= in - 1) {
                i0 = in - 1;
                f = 0;
            }
            a->first[j] = i0;
            a->count[j] = f > 0 ? 2 : 1;
            wj[0] = (float)(1 - f);
            wj[1] = (float)f;
        }
    }
    return true;
}

/* The whole-pixel shift that brings a centre of mass c (index coordinates) nearest to 14.
 * MNIST's own digits break the ties (c = k + 0.5) both ways, about as often, so any rule
 * moves 0.3% of them by one pixel when they go through again. */
static long shift_to_centre(double c) { return lround(MN_SIDE / 2.0 - c); }

mn_status mn_image_to_mnist(const mn_image *image, uint8_t out28[784])
{
    if (!image || !image->pixels || image->width == 0 || image->height == 0 || !out28)
        return mn_fail(MN_ERR_ARG, "mn_image_to_mnist needs a non-empty image and an output");
    if (image->width > MN_IMAGE_MAX_SIDE || image->height > MN_IMAGE_MAX_SIDE)
        return mn_fail(MN_ERR_LIMIT, "image is %ux%u, over the limit of %d pixels a side",
                       (unsigned)image->width, (unsigned)image->height, MN_IMAGE_MAX_SIDE);
    uint32_t longest = image->width > image->height ? image->width : image->height;
    uint32_t k = (longest + MN_WORK_SIDE - 1) / MN_WORK_SIDE, w = 0, h = 0;
    float *work = block_average(image, k, &w, &h);
    float *frame = work ? malloc((2 * (size_t)w + 2 * (size_t)h) * sizeof *frame) : NULL;
    if (!work || !frame) {
        free(work);
        free(frame);
        return mn_fail(MN_ERR_NOMEM, "out of memory preparing a %ux%u image",
                       (unsigned)image->width, (unsigned)image->height);
    }

    /* Paper: the median of the outer frame. Light paper means dark ink: invert, so that ink is
     * bright. Then even out the paper, and take the noise margin from the spread of what is
     * left of the frame (the 75th percentile, so that ink touching a quarter of the frame does
     * not count as noise). */
    size_t nf = sorted_frame(work, w, h, frame);
    if (quantile(frame, nf, 0.5) > 127.5f)
        for (size_t i = 0; i < (size_t)w * h; i++)
            work[i] = 255.0f - work[i];
    if (!subtract_paper(work, w, h)) {
        free(work);
        free(frame);
        return mn_fail(MN_ERR_NOMEM, "out of memory preparing a %ux%u image",
                       (unsigned)image->width, (unsigned)image->height);
    }
    nf = sorted_frame(work, w, h, frame);
    float bg = quantile(frame, nf, 0.5);
    float noise = quantile(frame, nf, 0.75) - bg;
    free(frame);
    float maxv = 0;
    for (size_t i = 0; i < (size_t)w * h; i++)
        maxv = work[i] > maxv ? work[i] : maxv;
    float contrast = maxv - bg;
    float margin = fmaxf(MN_MIN_MARGIN, fminf(MN_NOISE_MARGIN * noise, contrast / 2));
    float t = bg + margin; /* at or below this, paper */

    /* The ink: how far each pixel rises over the paper level; its bounding box. */
    uint32_t x0 = w, x1 = 0, y0 = h, y1 = 0;
    for (uint32_t y = 0; y < h; y++) {
        float *row = work + (size_t)w * y;
        for (uint32_t x = 0; x < w; x++) {
            row[x] = row[x] > t ? row[x] - t : 0.0f;
            if (row[x] > 0) {
                x0 = x < x0 ? x : x0;
                x1 = x > x1 ? x : x1;
                y0 = y < y0 ? y : y0;
                y1 = y;
            }
        }
    }
    if (x0 > x1 || contrast < MN_MIN_CONTRAST) {
        free(work);
        return mn_fail(MN_ERR_FORMAT, "no ink found (the image is blank)");
    }

    /* Scale the box so its longer side is 20 px, keeping the aspect ratio. */
    int bw = (int)(x1 - x0 + 1), bh = (int)(y1 - y0 + 1);
    int longer = bw > bh ? bw : bh;
    int ow = (int)lround((double)bw * MN_BOX / longer);
    int oh = (int)lround((double)bh * MN_BOX / longer);
    if (ow < 1)
        ow = 1;
    if (oh < 1)
        oh = 1;
    axis_weights ax = {0}, ay = {0};
    float *tmp = malloc((size_t)bh * (size_t)ow * sizeof *tmp);
    float box[MN_BOX * MN_BOX];
    if (!tmp || !axis_build(&ax, bw, ow) || !axis_build(&ay, bh, oh)) {
        free(work);
        free(tmp);
        axis_free(&ax);
        axis_free(&ay);
        return mn_fail(MN_ERR_NOMEM, "out of memory scaling a %dx%d digit", bw, bh);
    }
    for (int y = 0; y < bh; y++) { /* rows: bw -> ow */
        const float *row = work + (size_t)w * (y0 + (uint32_t)y) + x0;
        for (int j = 0; j < ow; j++) {
            const float *wj = ax.weight + (size_t)j * ax.taps;
            const float *src = row + ax.first[j];
            float acc = 0;
            for (int i = 0; i < ax.count[j]; i++)
                acc += wj[i] * src[i];
            tmp[(size_t)y * ow + j] = acc;
        }
    }
    free(work);
    float top = 0;
    for (int j = 0; j < oh; j++) { /* columns: bh -> oh */
        const float *wj = ay.weight + (size_t)j * ay.taps;
        for (int i = 0; i < ow; i++) {
            float acc = 0;
            for (int m = 0; m < ay.count[j]; m++)
                acc += wj[m] * tmp[(size_t)(ay.first[j] + m) * ow + i];
            box[j * ow + i] = acc;
            if (acc > top)
                top = acc;
        }
    }
    free(tmp);
    axis_free(&ax);
    axis_free(&ay);
    if (!(top > 0))
        return mn_fail(MN_ERR_FORMAT, "no ink found (the image is blank)");

    /* Contrast as in MNIST, where the core of a stroke is 255 (about 40% of the ink pixels are
     * 250 or more): the 90th percentile of the ink becomes 255, brighter ink is clipped. An
     * already MNIST-like digit keeps its levels; faint pencil or thin strokes become visible. */
    float sorted[MN_BOX * MN_BOX];
    int n_ink = 0;
    for (int i = 0; i < ow * oh; i++)
        if (box[i] > 0.05f * top)
            sorted[n_ink++] = box[i];
    qsort(sorted, (size_t)n_ink, sizeof sorted[0], cmp_float);
    float ref = sorted[(n_ink * 9) / 10];
    if (!(ref > 0))
        ref = top;
    double mass = 0, mx = 0, my = 0;
    for (int j = 0; j < oh; j++)
        for (int i = 0; i < ow; i++) {
            float v = fminf(box[j * ow + i] / ref, 1.0f);
            box[j * ow + i] = v;
            mass += v;
            mx += v * i;
            my += v * j;
        }
    long dx = shift_to_centre(mx / mass), dy = shift_to_centre(my / mass);
    memset(out28, 0, MN_SIDE * MN_SIDE);
    for (int j = 0; j < oh; j++) {
        long y = j + dy;
        if (y < 0 || y >= MN_SIDE)
            continue;
        for (int i = 0; i < ow; i++) {
            long x = i + dx;
            if (x < 0 || x >= MN_SIDE)
                continue;
            long v = lroundf(box[j * ow + i] * 255.0f);
            out28[y * MN_SIDE + x] = (uint8_t)(v > 255 ? 255 : v < 0 ? 0 : v);
        }
    }
    return MN_OK;
}
