/* conv.c: the portable versions of the fast layers' inner loops (see conv_internal.h), written
 * as plain loops over contiguous channels that the compiler vectorises, and the choice of table
 * by instruction set. */
#include "kernels/conv_internal.h"

#include "kernels.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

static void tile_portable(int np, int nv, int K, int C, const float *in, long rs, long cs,
                          const float *w, long ws, float *t)
{
    const int no = 16 * nv;
    float acc[MN_TILE_PX][MN_TILE_OC];
    memset(acc, 0, sizeof acc);
    for (int ky = 0; ky < K; ky++)
        for (int c = 0; c < C; c++) {
            const float *p = in + ky * rs + c * cs;
            for (int kx = 0; kx < K; kx++, w += ws)
                for (int px = 0; px < np; px++) {
                    float x = p[kx + px];
                    for (int oc = 0; oc < no; oc++)
                        acc[px][oc] += x * w[oc];
                }
        }
    for (int px = 0; px < np; px++)
        memcpy(t + px * MN_TILE_OC, acc[px], sizeof(float) * no);
}

static void dw_portable(int R, int V, int rows, int OW, const float *in, long rs, const float *g,
                        long gs, long gx, float *d, long ds, int acc)
{
    const int no = 16 * V;
    float s[6][64];
    for (int r = 0; r < R; r++)
        for (int oc = 0; oc < no; oc++)
            s[r][oc] = acc ? d[r * ds + oc] : 0.0f;
    for (int y = 0; y < rows; y++)
        for (int x = 0; x < OW; x++) {
            const float *gp = g + y * gs + x * gx;
            for (int r = 0; r < R; r++) {
                float v = in[y * rs + x + r];
                for (int oc = 0; oc < no; oc++)
                    s[r][oc] += v * gp[oc];
            }
        }
    for (int r = 0; r < R; r++)
        memcpy(d + r * ds, s[r], sizeof(float) * no);
}

static void store_portable(const float *t, const float *bias, int np, int no, int relu,
                           float *dst, long cs)
{
    for (int o = 0; o < no; o++) {
        float b = bias ? bias[o] : 0.0f;
        for (int px = 0; px < np; px++) {
            float v = t[px * MN_TILE_OC + o] + b;
            dst[o * cs + px] = relu && !(v > 0.0f) ? 0.0f : v;
        }
    }
}

static void pool_store_portable(const float *t0, const float *t1, const float *bias, int np,
                                int no, int relu, float *dst, long cs, uint8_t *arg, long acs)
{
    for (int o = 0; o < no; o++) {
        float b = bias ? bias[o] : 0.0f;
        for (int j = 0; j < np / 2; j++) {
            float m = t0[2 * j * MN_TILE_OC + o] + b, v;
            int k = 0;
            if ((v = t0[(2 * j + 1) * MN_TILE_OC + o] + b) > m)
                m = v, k = 1;
            if ((v = t1[2 * j * MN_TILE_OC + o] + b) > m)
                m = v, k = 2;
            if ((v = t1[(2 * j + 1) * MN_TILE_OC + o] + b) > m)
                m = v, k = 3;
            dst[o * cs + j] = relu && !(m > 0.0f) ? 0.0f : m;
            arg[o * acs + j] = (uint8_t)k;
        }
    }
}

static void expand_portable(float *dst, const float *g, const float *o, int W, int relu)
{
    for (int x = 0; x < W; x++)
        dst[x] = relu && !(o[x] > 0.0f) ? 0.0f : g[x];
}

static void expand_pool_portable(float *dst0, float *dst1, const float *g, const float *o,
                                 const uint8_t *a, int W, int relu)
{
    const int pw = W / 2;
    for (int x = 0; x < W; x++) {
        int j = x / 2;
        bool live = j < pw && (!relu || o[j] > 0.0f);
        dst0[x] = live && a[j] == x % 2 ? g[j] : 0.0f;
        dst1[x] = live && a[j] == 2 + x % 2 ? g[j] : 0.0f;
    }
}

static void transpose_portable(float *dst, long ld, const float *src, long cs, int C, int Cp,
                               int W)
{
    for (int x = 0; x < W; x++) {
        float *d = dst + x * ld;
        for (int c = 0; c < C; c++)
            d[c] = src[c * cs + x];
        for (int c = C; c < Cp; c++)
            d[c] = 0.0f;
    }
}

static void adam_portable(float *p, const float *g, float *m, float *v, size_t n, float b1,
                          float b2, float step, float eps, float wd)
{
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        p[i] -= step * m[i] / (sqrtf(v[i]) + eps) + wd * p[i];
    }
}

const mn_conv_impl mn_conv_impl_portable = {
    .name = "portable",
    .tile = tile_portable,
    .dw = dw_portable,
    .store = store_portable,
    .pool_store = pool_store_portable,
    .expand = expand_portable,
    .expand_pool = expand_pool_portable,
    .transpose = transpose_portable,
    .adam = adam_portable,
};

const mn_conv_impl *mn_conv_impl_get(void)
{
#if defined(__x86_64__)
    const char *isa = mn_kernels_isa();
    if (isa[0] == 'a' && !strcmp(isa, "avx512"))
        return &mn_conv_impl_avx512;
#endif
    return &mn_conv_impl_portable;
}
