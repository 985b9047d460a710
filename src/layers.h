/* layers.h: forward and backward kernels of each layer kind. The _ref versions are plain loops
 * (direct convolution, no blocking, one thread) that serve as ground truth for the tests; the
 * others are the fast ones the model runs (direct convolution tiles, GEMMs, the thread pool),
 * tested against them. Reference tensors are NCHW, batch first. Backward kernels overwrite
 * (not accumulate) their gradient outputs; a NULL din skips the input gradient (first layer). */
#ifndef MN_LAYERS_H
#define MN_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#include "pool.h"

/* out[N,OC,OH,OW] = in[N,C,H,W] (*) w[OC,C,K,K] + b[OC]; stride S, zero padding P. */
void mn_conv2d_forward_ref(float *out, const float *in, const float *w, const float *b, int N,
                           int C, int H, int W, int OC, int K, int S, int P, int OH, int OW);
void mn_conv2d_backward_ref(float *din, float *dw, float *db, const float *dout, const float *in,
                            const float *w, int N, int C, int H, int W, int OC, int K, int S,
                            int P, int OH, int OW);

/* Strided convolutions (NCHW, im2col + one GEMM per image). `col` holds threads *
 * C*K*K*OH*OW floats; `slots` (backward) mn_conv_chunks(N) * (OC*C*K*K + OC) floats. Results
 * do not depend on the thread count. */
void mn_conv2d_forward(float *out, const float *in, const float *w, const float *b, int N, int C,
                       int H, int W, int OC, int K, int S, int P, int OH, int OW, float *col,
                       int threads);
void mn_conv2d_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                        const float *w, int N, int C, int H, int W, int OC, int K, int S, int P,
                        int OH, int OW, float *col, float *slots, int threads);

/* ---- The fast path: stride-1 convolution with fused ReLU and 2x2 max-pool ----------------
 * Images are "HCW": [rows][channels][columns], padded with zeros where a convolution reads
 * them. Weights are repacked per step (mn_conv_pack). Backward works on chunks of images
 * (mn_conv_chunks(N) of them, fixed by N alone), each writing its own weight-gradient slot;
 * mn_conv_reduce sums the slots in chunk order. Results do not depend on the thread count. */
typedef struct mn_conv_desc {
    int C, H, W;      /* input channels and size */
    int OC, K, P;     /* output channels, kernel size, zero padding (stride 1) */
    int OH, OW;       /* convolution output: H + 2P - K + 1, W + 2P - K + 1 */
    int relu, pool;   /* fused: ReLU; then max-pool 2x2 stride 2 */
    int YH, YW;       /* what the op writes: (OH/2, OW/2) with pool, else (OH, OW) */
    /* Input image n at in + n*in_img; value (y, c, x) at (y+P)*in_rs + c*in_cs + (x+P). */
    size_t in_img;
    long in_rs, in_cs;
    /* Output image n at out + n*out_img + out_off; value (y, c, x) at y*out_rs + c*out_cs + x. */
    size_t out_img, out_off;
    long out_rs, out_cs;
} mn_conv_desc;

/* Fills OH, OW, YH, YW and an HCW input layout with padding P; the output layout is left to
 * mn_conv_out_hcw / mn_conv_out_chw. */
void mn_conv_desc_init(mn_conv_desc *d, int C, int H, int W, int OC, int K, int P, int relu,
                       int pool);
/* Output laid out HCW with zero padding `pad` (for a following convolution), or CHW (NCHW,
 * PyTorch's flatten order, for a dense layer). Return floats per image. */
size_t mn_conv_out_hcw(mn_conv_desc *d, int pad);
size_t mn_conv_out_chw(mn_conv_desc *d);

size_t mn_conv_wf_size(const mn_conv_desc *d); /* forward weights: [K][C][K][OCp] */
size_t mn_conv_wb_size(const mn_conv_desc *d); /* input-gradient weights: [K][OCp][K][Cp] */
/* Repacks w[OC,C,K,K] (PyTorch's layout) into wf and (if not NULL) wb; or as a job. */
void mn_conv_pack(const mn_conv_desc *d, float *wf, float *wb, const float *w, int threads);
void mn_conv_pack_job(mn_job *job, const mn_conv_desc *d, float *wf, float *wb, const float *w);

/* out (and, with pool, arg: the window position 0..3 of each maximum, [N][YH][OC][YW]) from
 * in, wf, bias b (may be NULL). */
void mn_conv_forward(const mn_conv_desc *d, float *out, uint8_t *arg, const float *in,
                     const float *wf, const float *b, int N, int threads);

int mn_conv_chunks(int N);
size_t mn_conv_slot_size(const mn_conv_desc *d);          /* floats per weight-gradient slot */
size_t mn_conv_scratch_size(const mn_conv_desc *d, int din); /* floats per thread */
/* Gradients: din (input layout; interior only; NULL skips it) and the slots, from dout (output
 * layout) and the forward's out and arg. `scratch` holds threads * mn_conv_scratch_size. */
void mn_conv_backward(const mn_conv_desc *d, float *din, float *slots, const float *dout,
                      const float *out, const uint8_t *arg, const float *in, const float *wb,
                      int N, float *scratch, int threads);
/* dw[OC,C,K,K] and db[OC] (may be NULL) = the sum of `nslots` slots, in order. */
void mn_conv_reduce(const mn_conv_desc *d, float *dw, float *db, const float *slots,
                    int nslots, int threads);
/* The same two as jobs to run later (mn_pool_run_jobs), alone or beside independent ones.
 * Everything they point to, d included, must stay valid until they have run. */
void mn_conv_backward_job(mn_job *job, const mn_conv_desc *d, float *din, float *slots,
                          const float *dout, const float *out, const uint8_t *arg,
                          const float *in, const float *wb, int N, float *scratch);
void mn_conv_reduce_job(mn_job *job, const mn_conv_desc *d, float *dw, float *db,
                        const float *slots, int nslots);

/* Layout conversions for a convolution's input: NCHW <-> HCW with zero padding `pad`. */
void mn_nchw_to_hcw(float *dst, const float *src, int N, int C, int H, int W, int pad);
void mn_hcw_to_nchw(float *dst, const float *src, int N, int C, int H, int W, int pad);

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
/* Fast versions, split into fixed blocks of the output (results independent of the thread
 * count), with an optional fused ReLU: forward applies it to out; backward first masks dout
 * (in place) where out <= 0. */
void mn_dense_forward(float *out, const float *in, const float *w, const float *b, int N, int IN,
                      int OUT, int relu, int threads);
void mn_dense_backward(float *din, float *dw, float *db, float *dout, const float *out,
                       const float *in, const float *w, int N, int IN, int OUT, int relu,
                       int threads);
/* The same with the parameter update fused in: each block of rows of dw is computed into
 * per-thread `scratch` (threads * mn_dense_scratch_size(IN) floats) and handed, still in cache,
 * to update(ctx, off, g, count) for weights [off, off + count) of this layer (dw itself is not
 * written); db is written, then update(ctx, OUT * IN + o0, db + o0, count) for the bias. din
 * is computed first, from the weights before any update. */
typedef void (*mn_update_fn)(void *ctx, size_t off, const float *g, size_t count);
size_t mn_dense_scratch_size(int IN);
void mn_dense_backward_update(float *din, float *db, float *dout, const float *out,
                              const float *in, const float *w, int N, int IN, int OUT, int relu,
                              mn_update_fn update, void *ctx, float *scratch, int threads);
/* Its two halves as jobs: din (with the ReLU mask applied to dout first, here), and the
 * weight-gradient blocks with their updates, which must run after din's job. */
void mn_dense_din_job(mn_job *job, float *din, float *dout, const float *out, const float *w,
                      int N, int IN, int OUT, int relu);
void mn_dense_update_job(mn_job *job, float *db, const float *dout, const float *in, int N,
                         int IN, int OUT, mn_update_fn update, void *ctx, float *scratch);

/* Elementwise layers (n values). ReLU backward uses the forward output; dropout multiplies by
 * mask[i] * scale (mask 0 or 1, scale = 1/(1-p), "inverted" dropout). */
void mn_relu_forward(float *out, const float *in, size_t n);
void mn_relu_backward(float *din, const float *dout, const float *out, size_t n);
void mn_dropout_forward(float *out, const float *in, const uint8_t *mask, float scale, size_t n);
void mn_dropout_backward(float *din, const float *dout, const uint8_t *mask, float scale,
                         size_t n);
/* Fast dropout, forward and backward alike: out[i] = mask[i] ? in[i] * scale : 0, no branches. */
void mn_dropout_apply(float *out, const float *in, const uint8_t *mask, float scale, size_t n);

/* Adam over n parameters (see mn_conv_impl's adam), threaded. */
void mn_adam_update(float *p, const float *g, float *m, float *v, size_t n, float b1, float b2,
                    float step, float eps, float wd, int threads);

/* Softmax over K classes for each of N rows: probs[N,K] (may be NULL), the mean cross-entropy
 * (returned, natural log) and dlogits[N,K] = (probs - onehot(labels)) / N (may be NULL). */
float mn_softmax_xent(float *dlogits, float *probs, const float *logits, const uint8_t *labels,
                      int N, int K);
/* The same against smoothed targets (1 - smoothing) onehot + smoothing / K (label smoothing). */
float mn_softmax_xent_smooth(float *dlogits, float *probs, const float *logits,
                             const uint8_t *labels, int N, int K, float smoothing);
void mn_softmax(float *probs, const float *logits, int N, int K);

#endif
