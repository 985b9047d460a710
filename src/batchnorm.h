/* batchnorm.h: batch normalisation kernels (PyTorch's BatchNorm1d/2d), on x[N, C, S]: S values
 * per channel and image (H*W after a convolution, 1 after a dense layer), NCHW. Training mode
 * normalises with the batch's mean and biased variance over N*S values per channel and moves
 * the running statistics towards the batch's (unbiased variance, momentum MN_BN_MOMENTUM);
 * evaluation mode uses the running statistics. Backward kernels overwrite their outputs. */
#ifndef MN_BATCHNORM_H
#define MN_BATCHNORM_H

#include <stddef.h>
#include <stdint.h>

#include "pool.h"

/* PyTorch's defaults. */
#define MN_BN_EPS 1e-5
#define MN_BN_MOMENTUM 0.1f

/* Reference, training mode, one thread, double sums: out = (in - mean) * invstd * gamma + beta
 * with the batch's mean[C] and invstd[C] = 1/sqrt(var + eps), written for backward. */
void mn_bn_forward_ref(float *out, float *mean, float *invstd, const float *in, const float *gamma,
                       const float *beta, int N, int C, int S);
/* din (NULL skips it), dgamma[C], dbeta[C] from dout, for the forward above. */
void mn_bn_backward_ref(float *din, float *dgamma, float *dbeta, const float *dout,
                        const float *in, const float *mean, const float *invstd,
                        const float *gamma, int N, int C, int S);

/* Fast, threaded over channels (each channel's sums in a fixed order: the bits do not depend
 * on the thread count), with a ReLU and a 2x2 stride-2 max-pool optionally fused after the
 * normalisation (the output is then [N, C, H/2, W/2], arg the window position 0..3 of each
 * maximum, [N, C, H/2, W/2]). */
typedef struct mn_bn_desc {
    int N, C, H, W; /* input [N, C, H, W]; after a dense layer H = W = 1 */
    int relu, pool;
} mn_bn_desc;
/* `train`: batch statistics into mean/invstd, running_mean/running_var (if not NULL) moved
 * towards them; else mean/invstd are written from the running statistics. */
void mn_bn_forward(const mn_bn_desc *d, float *out, uint8_t *arg, float *mean, float *invstd,
                   float *running_mean, float *running_var, const float *in, const float *gamma,
                   const float *beta, int train, int threads);
/* Backward of that forward (same mean/invstd, arg, `train`). Without pooling but with the ReLU,
 * dout is first masked in place where the forward's output was <= 0. din may be NULL. */
void mn_bn_backward(const mn_bn_desc *d, float *din, float *dgamma, float *dbeta, float *dout,
                    const uint8_t *arg, const float *in, const float *mean, const float *invstd,
                    const float *gamma, const float *beta, int train, int threads);
/* The same as a job to run later (mn_pool_run_jobs), beside independent ones. */
void mn_bn_backward_job(mn_job *job, const mn_bn_desc *d, float *din, float *dgamma,
                        float *dbeta, float *dout, const uint8_t *arg, const float *in,
                        const float *mean, const float *invstd, const float *gamma,
                        const float *beta, int train);

#endif
