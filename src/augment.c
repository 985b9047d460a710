/* augment.c: random distortions of training images (shift, rotation, scaling, elastic), applied
 * to uint8 pixels before normalisation. Each image's randomness comes from its own seed, so the
 * result does not depend on which thread does the work. Training only; never at evaluation. */
#include "augment.h"

#include <math.h>
#include <string.h>

bool mn_augment_enabled(const mn_train_params *p)
{
    return p->aug_shift > 0.0f || p->aug_rotate > 0.0f || p->aug_scale > 0.0f ||
           p->aug_elastic > 0.0f;
}

size_t mn_augment_scratch_floats(int rows, int cols)
{
    return (size_t)3 * rows * cols + (size_t)rows * rows + (size_t)cols * cols;
}

/* B[i][j] = normalised Gaussian weight of j for output i (zero outside the image), n x n. */
static void blur_matrix(float *B, int n, float sigma)
{
    float k[MN_AUGMENT_MAX_RADIUS * 2 + 1];
    int r = (int)ceilf(3.0f * sigma);
    if (r > MN_AUGMENT_MAX_RADIUS)
        r = MN_AUGMENT_MAX_RADIUS;
    float sum = 0.0f;
    for (int i = -r; i <= r; i++)
        sum += k[i + r] = expf(-(float)(i * i) / (2.0f * sigma * sigma));
    memset(B, 0, sizeof(float) * n * n);
    for (int i = 0; i < n; i++)
        for (int j = i - r; j <= i + r; j++)
            if (j >= 0 && j < n)
                B[i * n + j] = k[j - i + r] / sum;
}

/* f = Br f Bc^T: the separable blur of a rows x cols field as two small matrix products. */
static void blur(float *f, float *tmp, const float *Br, const float *Bc, int rows, int cols)
{
    for (int y = 0; y < rows; y++) /* tmp = f Bc^T (blur along x) */
        for (int x = 0; x < cols; x++) {
            float s = 0.0f;
            for (int j = 0; j < cols; j++)
                s += Bc[x * cols + j] * f[y * cols + j];
            tmp[y * cols + x] = s;
        }
    for (int y = 0; y < rows; y++) { /* f = Br tmp (blur along y) */
        for (int x = 0; x < cols; x++)
            f[y * cols + x] = 0.0f;
        for (int j = 0; j < rows; j++) {
            float w = Br[y * rows + j];
            if (w != 0.0f)
                for (int x = 0; x < cols; x++)
                    f[y * cols + x] += w * tmp[j * cols + x];
        }
    }
}

void mn_augment_image(uint8_t *dst, const uint8_t *src, int rows, int cols,
                      const mn_train_params *p, uint64_t seed, float *scratch)
{
    mn_rng rng;
    mn_rng_seed(&rng, seed);
    const float pi = 3.14159265f;
    float angle = p->aug_rotate > 0.0f ? (2.0f * mn_rng_uniform(&rng) - 1.0f) * p->aug_rotate * pi / 180.0f : 0.0f;
    float scale = p->aug_scale > 0.0f ? 1.0f + (2.0f * mn_rng_uniform(&rng) - 1.0f) * p->aug_scale : 1.0f;
    float tx = p->aug_shift > 0.0f ? (2.0f * mn_rng_uniform(&rng) - 1.0f) * p->aug_shift : 0.0f;
    float ty = p->aug_shift > 0.0f ? (2.0f * mn_rng_uniform(&rng) - 1.0f) * p->aug_shift : 0.0f;
    const int n = rows * cols;
    float *dx = NULL, *dy = NULL;
    if (p->aug_elastic > 0.0f) {
        /* Simard et al. 2003: uniform random displacements, smoothed, scaled by alpha. */
        dx = scratch, dy = scratch + n;
        float *tmp = scratch + 2 * n, *Br = tmp + n, *Bc = Br + rows * rows;
        for (int i = 0; i < n; i++) {
            dx[i] = 2.0f * mn_rng_uniform(&rng) - 1.0f;
            dy[i] = 2.0f * mn_rng_uniform(&rng) - 1.0f;
        }
        blur_matrix(Br, rows, MN_AUGMENT_SIGMA);
        blur_matrix(Bc, cols, MN_AUGMENT_SIGMA);
        blur(dx, tmp, Br, Bc, rows, cols);
        blur(dy, tmp, Br, Bc, rows, cols);
    }
    /* Inverse map: for each output pixel, where in the source it comes from. */
    const float cy = (rows - 1) * 0.5f, cx = (cols - 1) * 0.5f;
    const float c = cosf(angle) / scale, s = sinf(angle) / scale;
    for (int y = 0; y < rows; y++)
        for (int x = 0; x < cols; x++) {
            float ox = x - cx - tx, oy = y - cy - ty;
            float sx = c * ox + s * oy + cx, sy = -s * ox + c * oy + cy;
            if (dx) {
                sx += p->aug_elastic * dx[y * cols + x];
                sy += p->aug_elastic * dy[y * cols + x];
            }
            int x0 = (int)floorf(sx), y0 = (int)floorf(sy);
            float fx = sx - x0, fy = sy - y0, v = 0.0f;
            if (x0 >= 0 && x0 + 1 < cols && y0 >= 0 && y0 + 1 < rows) {
                /* all four neighbours inside: the loop below without its tests, same order */
                const uint8_t *s0 = src + y0 * cols + x0, *s1 = s0 + cols;
                v = (1.0f - fx) * (1.0f - fy) * s0[0];
                v += fx * (1.0f - fy) * s0[1];
                v += (1.0f - fx) * fy * s1[0];
                v += fx * fy * s1[1];
            } else {
                for (int j = 0; j < 2; j++)
                    for (int i = 0; i < 2; i++) {
                        int xx = x0 + i, yy = y0 + j;
                        if (xx < 0 || xx >= cols || yy < 0 || yy >= rows)
                            continue;
                        v += (i ? fx : 1.0f - fx) * (j ? fy : 1.0f - fy) * src[yy * cols + xx];
                    }
            }
            int q = (int)(v + 0.5f);
            dst[y * cols + x] = (uint8_t)(q > 255 ? 255 : q);
        }
}
