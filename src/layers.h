/* layers.h: forward and backward kernels of each layer kind. The _ref versions are plain loops
 * (direct convolution, no blocking, one thread) that serve as ground truth for the tests; the
 * others are the fast ones the model runs (im2col + GEMM, OpenMP over the batch). All tensors are
 * NCHW, batch first. Backward kernels overwrite (not accumulate) their gradient outputs; a NULL
 * din skips the input gradient (first layer). */
#ifndef MN_LAYERS_H
#define MN_LAYERS_H

#include <stddef.h>
#include <stdint.h>

/* out[N,OC,OH,OW] = in[N,C,H,W] (*) w[OC,C,K,K] + b[OC]; stride S, zero padding P. */
void mn_conv2d_forward_ref(float *out, const float *in, const float *w, const float *b, int N,
                           int C, int H, int W, int OC, int K, int S, int P, int OH, int OW);
void mn_conv2d_backward_ref(float *din, float *dw, float *db, const float *dout, const float *in,
                            const float *w, int N, int C, int H, int W, int OC, int K, int S,
                            int P, int OH, int OW);

/* Fast versions. `col` is a workspace of threads * C*K*K*OH*OW floats; `dw_part` (backward) of
 * threads * (OC*C*K*K + OC) floats. Results depend on the thread count only through the
 * fixed-order sum of per-thread weight gradients. */
void mn_conv2d_forward(float *out, const float *in, const float *w, const float *b, int N, int C,
                       int H, int W, int OC, int K, int S, int P, int OH, int OW, float *col,
                       int threads);
void mn_conv2d_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                        const float *w, int N, int C, int H, int W, int OC, int K, int S, int P,
                        int OH, int OW, float *col, float *dw_part, int threads);

/* out[N,C,OH,OW] = max over each KxK window (stride S) of in[N,C,H,W]. Backward routes each
 * output gradient to the first maximum of its window (summing where windows overlap). */
void mn_maxpool_forward_ref(float *out, const float *in, int N, int C, int H, int W, int K, int S,
                            int OH, int OW);
void mn_maxpool_backward_ref(float *din, const float *dout, const float *in, int N, int C, int H,
                             int W, int K, int S, int OH, int OW);
void mn_maxpool_forward(float *out, const float *in, int N, int C, int H, int W, int K, int S,
                        int OH, int OW, int threads);
void mn_maxpool_backward(float *din, const float *dout, const float *in, int N, int C, int H,
                         int W, int K, int S, int OH, int OW, int threads);

/* out[N,OUT] = in[N,IN] @ w[OUT,IN]^T + b[OUT] (PyTorch's nn.Linear layout). */
void mn_dense_forward_ref(float *out, const float *in, const float *w, const float *b, int N,
                          int IN, int OUT);
void mn_dense_backward_ref(float *din, float *dw, float *db, const float *dout, const float *in,
                           const float *w, int N, int IN, int OUT);
void mn_dense_forward(float *out, const float *in, const float *w, const float *b, int N, int IN,
                      int OUT, int threads);
void mn_dense_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                       const float *w, int N, int IN, int OUT, int threads);

/* Elementwise layers (n values). ReLU backward uses the forward output; dropout multiplies by
 * mask[i] * scale (mask 0 or 1, scale = 1/(1-p), "inverted" dropout). */
void mn_relu_forward(float *out, const float *in, size_t n);
void mn_relu_backward(float *din, const float *dout, const float *out, size_t n);
void mn_dropout_forward(float *out, const float *in, const uint8_t *mask, float scale, size_t n);
void mn_dropout_backward(float *din, const float *dout, const uint8_t *mask, float scale,
                         size_t n);

/* Softmax over K classes for each of N rows: probs[N,K] (may be NULL), the mean cross-entropy
 * (returned, natural log) and dlogits[N,K] = (probs - onehot(labels)) / N (may be NULL). */
float mn_softmax_xent(float *dlogits, float *probs, const float *logits, const uint8_t *labels,
                      int N, int K);
void mn_softmax(float *probs, const float *logits, int N, int K);

#endif
