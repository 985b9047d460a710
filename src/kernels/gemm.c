/* gemm.c: the GEMM driver. Picks an instruction set at run time (AVX-512, AVX2 or portable
 * C), cuts the product into cache-sized blocks, packs them (BLIS-style loops: N block, K block,
 * pack B if transposed, M block, pack A, micro-tiles) and hands tiles to that instruction set's
 * micro-kernel; A @ B^T with few rows takes a dot-product path that packs nothing. mn_gemm_mt
 * splits C into one block per thread. Packing buffers are per thread, grown on demand and
 * freed when the thread exits: no allocation in the steady state.
 * Left out: double precision, strided batches, threads sharing one packed block. */
#include "kernels.h"
#include "kernels/gemm_internal.h"

#include "internal.h"
#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- Choosing the instruction set -------------------------------------------------------- */

static const mn_gemm_impl *isa_lookup(const char *name)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (strcmp(name, "avx512") == 0)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                       __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")
                   ? &mn_gemm_impl_avx512
                   : NULL;
    if (strcmp(name, "avx2") == 0)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
                   ? &mn_gemm_impl_avx2
                   : NULL;
#endif
    if (strcmp(name, "portable") == 0)
        return &mn_gemm_impl_portable;
    return NULL;
}

static const mn_gemm_impl *isa_best(void)
{
    static const char *const order[] = {"avx512", "avx2", "portable"};
    const char *want = getenv("MNIST_ISA");
    size_t first = 0;
    /* MNIST_ISA caps the choice: the named set if the CPU has it, else the best below it. */
    for (size_t i = 0; want && i < sizeof order / sizeof order[0]; i++)
        if (strcmp(want, order[i]) == 0)
            first = i;
    for (size_t i = first; i < sizeof order / sizeof order[0]; i++) {
        const mn_gemm_impl *im = isa_lookup(order[i]);
        if (im)
            return im;
    }
    return &mn_gemm_impl_portable;
}

static _Atomic(const mn_gemm_impl *) g_impl;

static const mn_gemm_impl *impl_get(void)
{
    const mn_gemm_impl *im = atomic_load_explicit(&g_impl, memory_order_acquire);
    if (!im) {
        im = isa_best();
        atomic_store_explicit(&g_impl, im, memory_order_release);
    }
    return im;
}

const char *mn_kernels_isa(void) { return impl_get()->name; }

int mn_kernels_set_isa(const char *isa)
{
    const mn_gemm_impl *im = isa ? isa_lookup(isa) : isa_best();
    if (!im)
        return -1;
    atomic_store_explicit(&g_impl, im, memory_order_release);
    return 0;
}

/* ---- Per-thread packing buffers ---------------------------------------------------------- */

static pthread_key_t g_buf_key;
static pthread_once_t g_buf_once = PTHREAD_ONCE_INIT;
static int g_buf_key_ok;
static _Thread_local float *t_buf;
static _Thread_local size_t t_buf_cap;

static void buf_key_create(void) { g_buf_key_ok = pthread_key_create(&g_buf_key, free) == 0; }

/* A 64-byte aligned buffer of at least n floats owned by the calling thread (freed when the
 * thread exits), or NULL if memory is short. */
static float *thread_buffer(size_t n)
{
    if (t_buf_cap >= n)
        return t_buf;
    pthread_once(&g_buf_once, buf_key_create);
    if (!g_buf_key_ok)
        return NULL;
    n = (n + 4095) & ~(size_t)4095; /* grow in 16 KiB steps */
    if (n > SIZE_MAX / sizeof(float))
        return NULL;
    float *p = aligned_alloc(64, n * sizeof(float));
    if (!p)
        return NULL;
    if (pthread_setspecific(g_buf_key, p) != 0) {
        free(p);
        return NULL;
    }
    free(t_buf);
    t_buf = p;
    t_buf_cap = n;
    return p;
}

/* ---- The blocked product ----------------------------------------------------------------- */

/* Choices that must not depend on how C is split between threads, so that every element of C
 * is summed in the same order whatever the thread count. */
typedef struct plan {
    const mn_gemm_impl *im;
    int kc;     /* K block depth: K is cut into equal blocks of at most im->kc (dkc) */
    int pack_b; /* B is packed; otherwise (never when transposed) the kernel reads it in place */
    int dot;    /* the dot-product path (A @ B^T, small M): nothing is packed */
} plan;

static size_t round_up(size_t x, size_t to) { return (x + to - 1) / to * to; }

static plan make_plan(const mn_gemm_impl *im, int trans_a, int trans_b, int M, int K)
{
    /* A transposed B must be packed. An untransposed one is read in place (with prefetching
     * in the kernel) unless many rows of A share each block: packing then pays for itself in
     * L1 hits, mostly where the row stride of B aliases in the cache (ldb = 1024: 20-40%). */
    plan p = {.im = im, .pack_b = trans_b || M >= 256};
    /* A @ B^T with few rows of A: transposing B would be copied work shared by few rows (fc1
     * forward at batch 50: 35% of the time), so read both along K instead. */
    p.dot = im->dot && !trans_a && trans_b && M <= 192 && K >= 512;
    int kcmax = p.dot ? im->dkc : im->kc;
    int nk = (K + kcmax - 1) / kcmax;
    p.kc = nk ? (K + nk - 1) / nk : 1;
    if (p.dot) /* whole vectors in every block but the last */
        p.kc = (int)round_up((size_t)p.kc, 16);
    return p;
}

/* C = beta * C for the degenerate cases (K == 0 or alpha == 0). */
static void scale_c(int M, int N, float beta, float *C, long ldc)
{
    for (int i = 0; i < M; i++) {
        float *c = C + i * ldc;
        if (beta == 0.0f)
            memset(c, 0, (size_t)N * sizeof(float));
        else if (beta != 1.0f)
            for (int j = 0; j < N; j++)
                c[j] *= beta;
    }
}

/* C = alpha * A @ B^T + beta * C by dot-product tiles, nothing packed. For each block of rows
 * of A and a few rows of B, the K blocks go by with those rows of B in L1 while the tiles walk
 * down A; each tile's partial sums wait in `sums` between K blocks. */
static void gemm_dot(const plan *pl, int M, int N, int K, float alpha, const float *A, long lda,
                     const float *B, long ldb, float beta, float *C, long ldc)
{
    const mn_gemm_impl *im = pl->im;
    const int MI = im->dmi, NJ = im->dnj;
    /* Row blocks of at most dmc rows (rows of A each touch their own pages: few enough for the
     * TLB), as even as whole tiles allow. */
    int nb = (M + im->dmc - 1) / im->dmc;
    const int MC = (int)round_up((size_t)((M + nb - 1) / nb), (size_t)MI);
    size_t tile = (size_t)MI * NJ * 16;
    float *sums = thread_buffer(tile * (size_t)((MC + MI - 1) / MI));
    if (!sums) {
        mn_gemm_ref(0, 1, M, N, K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
        return;
    }
    for (int ic = 0; ic < M; ic += MC) {
        int mc = M - ic < MC ? M - ic : MC;
        for (int j = 0; j < N; j += NJ) {
            int nj = N - j < NJ ? N - j : NJ;
            for (int pc = 0; pc < K; pc += pl->kc) {
                int kc = K - pc < pl->kc ? K - pc : pl->kc;
                float *s = sums;
                for (int i = ic; i < ic + mc; i += MI, s += tile) {
                    int mi = ic + mc - i < MI ? ic + mc - i : MI;
                    im->dot(mi, nj, kc, A + i * lda + pc, lda, B + j * ldb + pc, ldb, s, pc == 0,
                            pc + kc >= K, C + i * ldc + j, ldc, alpha, beta);
                }
            }
        }
    }
}

/* The single-threaded blocked product on the calling thread. */
static void gemm_run(const plan *pl, int trans_a, int trans_b, int M, int N, int K, float alpha,
                     const float *A, long lda, const float *B, long ldb, float beta, float *C,
                     long ldc)
{
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0 || alpha == 0.0f) {
        scale_c(M, N, beta, C, ldc);
        return;
    }
    const mn_gemm_impl *im = pl->im;
    if (pl->dot) {
        gemm_dot(pl, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    const int MR = im->mr, NR = im->nr;
    const int MC = M < im->mc ? M : im->mc;
    const int NC = N < im->nc ? N : im->nc;
    size_t a_need = (size_t)MC * pl->kc;
    size_t b_need = pl->pack_b ? round_up((size_t)pl->kc * round_up(NC, NR), 16) : 0;
    float *buf = thread_buffer(round_up(a_need, 16) + b_need);
    if (!buf) {
        mn_gemm_ref(trans_a, trans_b, M, N, K, alpha, A, (int)lda, B, (int)ldb, beta, C,
                    (int)ldc);
        return;
    }
    float *bbuf = buf;
    float *abuf = buf + b_need;
    int heights[64]; /* mc <= 64 * mr for every implementation */

    for (int jc = 0; jc < N; jc += NC) {
        int nc = N - jc < NC ? N - jc : NC;
        for (int pc = 0; pc < K; pc += pl->kc) {
            int kc = K - pc < pl->kc ? K - pc : pl->kc;
            float beta_k = pc == 0 ? beta : 1.0f;
            if (pl->pack_b)
                im->pack_b(trans_b, kc, nc, trans_b ? B + jc * ldb + pc : B + pc * ldb + jc,
                           ldb, bbuf);
            for (int ic = 0; ic < M; ic += MC) {
                int mc = M - ic < MC ? M - ic : MC;
                /* Balanced panel heights: 64 rows with mr 14 become 13+13+13+13+12. */
                int np = (mc + MR - 1) / MR;
                for (int p = 0; p < np; p++)
                    heights[p] = mc / np + (p < mc % np);
                im->pack_a(trans_a, mc, kc, trans_a ? A + pc * lda + ic : A + ic * lda + pc, lda,
                           heights, np, abuf);
                for (int jr = 0; jr < nc; jr += NR) {
                    int nr = nc - jr < NR ? nc - jr : NR;
                    const float *bp;
                    long bst;
                    if (pl->pack_b) {
                        bp = bbuf + (size_t)jr * kc;
                        bst = mn_gemm_panel_width(NR, nr);
                    } else {
                        bp = B + pc * ldb + jc + jr;
                        bst = ldb;
                    }
                    const float *ap = abuf;
                    float *cp = C + ic * ldc + jc + jr;
                    for (int p = 0; p < np; p++) {
                        im->kernel(heights[p], nr, kc, ap, bp, bst, cp, ldc, alpha, beta_k);
                        ap += (size_t)heights[p] * kc;
                        cp += heights[p] * ldc;
                    }
                }
            }
        }
    }
}

void mn_gemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc)
{
    plan pl = make_plan(impl_get(), trans_a, trans_b, M, K);
    gemm_run(&pl, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* ---- Threads: one block of C each -------------------------------------------------------- */

/* Part `i` of `parts` of [0,total) in units of `gran` (the last unit may be short). */
static void split_range(int total, int parts, int gran, int i, int *start, int *len)
{
    int units = (total + gran - 1) / gran;
    int lo = (int)((long long)units * i / parts) * gran;
    int hi = (int)((long long)units * (i + 1) / parts) * gran;
    if (hi > total)
        hi = total;
    if (lo > total)
        lo = total;
    *start = lo;
    *len = hi - lo;
}

/* Rough cost in cycles of the busiest thread for a tm x tn grid: its FMAs, plus reading or
 * packing its rows of A and its columns of B (each thread packs its own: more threads along N
 * repeat A's packing, more along M repeat B's), plus starting the threads. */
static double grid_cost(const plan *pl, int M, int N, int K, int tm, int tn)
{
    int gran = pl->im->nr / 2 > 0 ? pl->im->nr / 2 : 1;
    int s, len, mmax = 0, nmax = 0;
    for (int i = 0; i < tm; i++) {
        split_range(M, tm, 1, i, &s, &len);
        mmax = len > mmax ? len : mmax;
    }
    for (int i = 0; i < tn; i++) {
        split_range(N, tn, gran, i, &s, &len);
        len = (int)round_up((size_t)len, (size_t)gran);
        nmax = len > nmax ? len : nmax;
    }
    double m = mmax, n = nmax;
    double cost = m * n * K / 32.0 + (pl->dot ? 0.15 : 0.3) * m * K;
    cost += (pl->pack_b && !pl->dot ? 0.3 : 0.15) * n * K;
    return cost + (tm * tn > 1 ? 3000.0 * tm * tn : 0.0);
}

/* The grid of blocks (tm x tn <= threads) with the least cost for its busiest thread. */
static void choose_grid(const plan *pl, int M, int N, int K, int threads, int *tm_out,
                        int *tn_out)
{
    int gran = pl->im->nr / 2 > 0 ? pl->im->nr / 2 : 1;
    int best_tm = 1, best_tn = 1;
    double best = grid_cost(pl, M, N, K, 1, 1);
    for (int t = 2; t <= threads; t++) {
        for (int tm = 1; tm <= t; tm++) {
            int tn = t / tm;
            if (t % tm || tm > M || (long)(tn - 1) * gran >= N)
                continue;
            double c = grid_cost(pl, M, N, K, tm, tn);
            if (c < best) {
                best = c;
                best_tm = tm;
                best_tn = tn;
            }
        }
    }
    *tm_out = best_tm;
    *tn_out = best_tn;
}

typedef struct gemm_mt_job {
    const plan *pl;
    int trans_a, trans_b, M, N, K, tm, tn, gran, lda, ldb, ldc;
    float alpha, beta;
    const float *A, *B;
    float *C;
} gemm_mt_job;

/* Task b: the block (b / tn, b % tn) of C's tm x tn grid. */
static void gemm_mt_task(void *ctx, int b, int worker)
{
    (void)worker;
    const gemm_mt_job *j = ctx;
    int i0, mlen, j0, nlen;
    split_range(j->M, j->tm, 1, b / j->tn, &i0, &mlen);
    split_range(j->N, j->tn, j->gran, b % j->tn, &j0, &nlen);
    const float *Ab = j->trans_a ? j->A + i0 : j->A + (size_t)i0 * j->lda;
    const float *Bb = j->trans_b ? j->B + (size_t)j0 * j->ldb : j->B + j0;
    gemm_run(j->pl, j->trans_a, j->trans_b, mlen, nlen, j->K, j->alpha, Ab, j->lda, Bb, j->ldb,
             j->beta, j->C + (size_t)i0 * j->ldc + j0, j->ldc);
}

void mn_gemm_mt(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                int lda, const float *B, int ldb, float beta, float *C, int ldc, int threads)
{
    plan pl = make_plan(impl_get(), trans_a, trans_b, M, K);
    int best_tm, best_tn;
    choose_grid(&pl, M, N, K, threads < 1 ? 1 : threads, &best_tm, &best_tn);
    int nt = best_tm * best_tn;
    if (nt == 1) {
        gemm_run(&pl, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    gemm_mt_job j = {&pl, trans_a, trans_b, M, N, K, best_tm, best_tn,
                     pl.im->nr / 2 > 0 ? pl.im->nr / 2 : 1, lda, ldb, ldc, alpha, beta, A, B, C};
    mn_pool_run(nt, nt, gemm_mt_task, &j);
}
