/* kernels.h: the numeric kernels behind the layers. Each fast kernel has a plain-C reference
 * twin (suffix _ref) that the tests compare it against. Kernels are pure functions: outputs
 * first, then inputs, then shapes. Row-major throughout. */
#ifndef MN_KERNELS_H
#define MN_KERNELS_H

#include <stddef.h>

/* C[M,N] = beta * C + alpha * op(A) @ op(B), single-threaded.
 * op(A) is [M,K]: A is stored [M,K] (lda >= K) or, if trans_a, [K,M] (lda >= M).
 * op(B) is [K,N]: B is stored [K,N] (ldb >= N) or, if trans_b, [N,K] (ldb >= K).
 * beta == 0 means C is not read (it may hold NaN). */
void mn_gemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc);
void mn_gemm_ref(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                 int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* The same, split over `threads` threads (the worker pool) by blocks of C, so each element of C is
 * computed by one thread in a fixed order: results do not depend on the thread count. */
void mn_gemm_mt(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                int lda, const float *B, int ldb, float beta, float *C, int ldc, int threads);

/* Which instruction set the dispatcher chose: "avx512", "avx2" or "portable". Setting the
 * environment variable MNIST_ISA to one of these (at most what the CPU has) forces it. */
const char *mn_kernels_isa(void);

/* For tests and benchmarks: forces "avx512", "avx2" or "portable" for all later calls (not
 * while another thread is inside a kernel); NULL returns to the automatic choice. Returns 0,
 * or -1 (nothing changed) if the name is unknown or the CPU lacks that instruction set. */
int mn_kernels_set_isa(const char *isa);

#endif
