/* layers_ref.c: the reference layer kernels: the definitions written as plainly as possible,
 * slow on purpose. The fast kernels in layers.c are tested against these, and these against
 * finite differences. */
#include "layers.h"

#include <math.h>
#include <string.h>

void mn_conv2d_forward_ref(float *out, const float *in, const float *w, const float *b, int N,
                           int C, int H, int W, int OC, int K, int S, int P, int OH, int OW)
{
    for (int n = 0; n < N; n++)
        for (int oc = 0; oc < OC; oc++)
            for (int oy = 0; oy < OH; oy++)
                for (int ox = 0; ox < OW; ox++) {
                    double acc = b ? b[oc] : 0.0;
                    for (int c = 0; c < C; c++)
                        for (int ky = 0; ky < K; ky++)
                            for (int kx = 0; kx < K; kx++) {
                                int y = oy * S + ky - P, x = ox * S + kx - P;
                                if (y < 0 || y >= H || x < 0 || x >= W)
                                    continue;
                                acc += (double)in[((size_t)(n * C + c) * H + y) * W + x] *
                                       w[((size_t)(oc * C + c) * K + ky) * K + kx];
                            }
                    out[((size_t)(n * OC + oc) * OH + oy) * OW + ox] = (float)acc;
                }
}

void mn_conv2d_backward_ref(float *din, float *dw, float *db, const float *dout, const float *in,
                            const float *w, int N, int C, int H, int W, int OC, int K, int S,
                            int P, int OH, int OW)
{
    memset(dw, 0, sizeof(float) * (size_t)OC * C * K * K);
    if (db)
        memset(db, 0, sizeof(float) * (size_t)OC);
    if (din)
        memset(din, 0, sizeof(float) * (size_t)N * C * H * W);
    for (int n = 0; n < N; n++)
        for (int oc = 0; oc < OC; oc++)
            for (int oy = 0; oy < OH; oy++)
                for (int ox = 0; ox < OW; ox++) {
                    float g = dout[((size_t)(n * OC + oc) * OH + oy) * OW + ox];
                    if (db)
                        db[oc] += g;
                    for (int c = 0; c < C; c++)
                        for (int ky = 0; ky < K; ky++)
                            for (int kx = 0; kx < K; kx++) {
                                int y = oy * S + ky - P, x = ox * S + kx - P;
                                if (y < 0 || y >= H || x < 0 || x >= W)
                                    continue;
                                size_t ii = ((size_t)(n * C + c) * H + y) * W + x;
                                size_t wi = ((size_t)(oc * C + c) * K + ky) * K + kx;
                                dw[wi] += g * in[ii];
                                if (din)
                                    din[ii] += g * w[wi];
                            }
                }
}

void mn_maxpool_forward_ref(float *out, const float *in, int N, int C, int H, int W, int K, int S,
                            int OH, int OW)
{
    for (int nc = 0; nc < N * C; nc++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                float m = -INFINITY;
                for (int ky = 0; ky < K; ky++)
                    for (int kx = 0; kx < K; kx++) {
                        float v = in[((size_t)nc * H + oy * S + ky) * W + ox * S + kx];
                        if (v > m)
                            m = v;
                    }
                out[((size_t)nc * OH + oy) * OW + ox] = m;
            }
}

void mn_maxpool_backward_ref(float *din, const float *dout, const float *in, int N, int C, int H,
                             int W, int K, int S, int OH, int OW)
{
    memset(din, 0, sizeof(float) * (size_t)N * C * H * W);
    for (int nc = 0; nc < N * C; nc++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                size_t best = 0;
                float m = -INFINITY;
                for (int ky = 0; ky < K; ky++)
                    for (int kx = 0; kx < K; kx++) {
                        size_t i = ((size_t)nc * H + oy * S + ky) * W + ox * S + kx;
                        if (in[i] > m) {
                            m = in[i];
                            best = i;
                        }
                    }
                din[best] += dout[((size_t)nc * OH + oy) * OW + ox];
            }
}

void mn_dense_forward_ref(float *out, const float *in, const float *w, const float *b, int N,
                          int IN, int OUT)
{
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OUT; o++) {
            double acc = b ? b[o] : 0.0;
            for (int i = 0; i < IN; i++)
                acc += (double)in[(size_t)n * IN + i] * w[(size_t)o * IN + i];
            out[(size_t)n * OUT + o] = (float)acc;
        }
}

void mn_dense_backward_ref(float *din, float *dw, float *db, const float *dout, const float *in,
                           const float *w, int N, int IN, int OUT)
{
    for (int o = 0; o < OUT; o++) {
        double gb = 0;
        for (int n = 0; n < N; n++)
            gb += dout[(size_t)n * OUT + o];
        if (db)
            db[o] = (float)gb;
        for (int i = 0; i < IN; i++) {
            double g = 0;
            for (int n = 0; n < N; n++)
                g += (double)dout[(size_t)n * OUT + o] * in[(size_t)n * IN + i];
            dw[(size_t)o * IN + i] = (float)g;
        }
    }
    if (din)
        for (int n = 0; n < N; n++)
            for (int i = 0; i < IN; i++) {
                double g = 0;
                for (int o = 0; o < OUT; o++)
                    g += (double)dout[(size_t)n * OUT + o] * w[(size_t)o * IN + i];
                din[(size_t)n * IN + i] = (float)g;
            }
}

void mn_relu_forward(float *out, const float *in, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

void mn_relu_backward(float *din, const float *dout, const float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        din[i] = out[i] > 0.0f ? dout[i] : 0.0f;
}

void mn_dropout_forward(float *out, const float *in, const uint8_t *mask, float scale, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = mask[i] ? in[i] * scale : 0.0f;
}

void mn_dropout_backward(float *din, const float *dout, const uint8_t *mask, float scale, size_t n)
{
    for (size_t i = 0; i < n; i++)
        din[i] = mask[i] ? dout[i] * scale : 0.0f;
}

void mn_softmax(float *probs, const float *logits, int N, int K)
{
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * K;
        float *p = probs + (size_t)n * K;
        float m = z[0];
        for (int k = 1; k < K; k++)
            m = z[k] > m ? z[k] : m;
        double sum = 0;
        for (int k = 0; k < K; k++) {
            p[k] = expf(z[k] - m);
            sum += p[k];
        }
        float inv = (float)(1.0 / sum);
        for (int k = 0; k < K; k++)
            p[k] *= inv;
    }
}

float mn_softmax_xent(float *dlogits, float *probs, const float *logits, const uint8_t *labels,
                      int N, int K)
{
    return mn_softmax_xent_smooth(dlogits, probs, logits, labels, N, K, 0.0f);
}

float mn_softmax_xent_smooth(float *dlogits, float *probs, const float *logits,
                             const uint8_t *labels, int N, int K, float smoothing)
{
    /* targets q = (1 - e) onehot + e / K: loss = logsumexp(z) - sum q z, dlogits = (p - q) / N.
     * With e = 0 every operation is the plain one-hot case's, bit for bit. */
    const float off = smoothing > 0.0f ? smoothing / (float)K : 0.0f;
    const float on = smoothing > 0.0f ? 1.0f - smoothing + off : 1.0f;
    double loss = 0;
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * K;
        float m = z[0];
        for (int k = 1; k < K; k++)
            m = z[k] > m ? z[k] : m;
        double sum = 0;
        for (int k = 0; k < K; k++)
            sum += exp((double)z[k] - m);
        double logsum = log(sum) + m;
        if (smoothing > 0.0f) {
            double zsum = 0;
            for (int k = 0; k < K; k++)
                zsum += z[k];
            loss += logsum - (1.0 - smoothing) * z[labels[n]] - (double)smoothing / K * zsum;
        } else {
            loss += logsum - z[labels[n]];
        }
        for (int k = 0; k < K; k++) {
            float p = (float)exp((double)z[k] - logsum);
            if (probs)
                probs[(size_t)n * K + k] = p;
            if (dlogits)
                dlogits[(size_t)n * K + k] = (p - (k == labels[n] ? on : off)) / (float)N;
        }
    }
    return (float)(loss / N);
}
