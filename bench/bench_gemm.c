/* bench_gemm.c: GFLOP/s of mn_gemm (one thread) and mn_gemm_mt (two threads) on the shapes a
 * training step of the tutorial CNN runs, as a percentage of the FP32 peak that it measures
 * first with a loop of independent FMAs (or of the peak given with --peak, in GFLOP/s per core).
 * Usage: bench_gemm [--isa avx512|avx2|portable] [--peak GFLOPS] [--threads N] [--time SECONDS] */
#include "internal.h"
#include "kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#if defined(__x86_64__)
#define FMA16(reg) "vfmadd231ps %%zmm30, %%zmm31, %%zmm" #reg "\n\t"
/* 16 independent chains of 512-bit FMAs: the core's FP32 throughput, in GFLOP/s. */
__attribute__((target("avx512f"))) static double peak_avx512(long iters)
{
    double t = now();
    __asm__ volatile("vxorps %%xmm30, %%xmm30, %%xmm30\n\t"
                     "vxorps %%xmm31, %%xmm31, %%xmm31\n\t"
                     "1:\n\t" FMA16(0) FMA16(1) FMA16(2) FMA16(3) FMA16(4) FMA16(5) FMA16(6)
                         FMA16(7) FMA16(8) FMA16(9) FMA16(10) FMA16(11) FMA16(12) FMA16(13)
                             FMA16(14) FMA16(15) "dec %0\n\t"
                                                 "jnz 1b\n\t"
                                                 "vzeroupper"
                     : "+r"(iters)
                     :
                     : "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
                       "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15",
                       "xmm30", "xmm31");
    return now() - t;
}
#define FMA8(reg) "vfmadd231ps %%ymm14, %%ymm15, %%ymm" #reg "\n\t"
__attribute__((target("avx2,fma"))) static double peak_avx2(long iters)
{
    double t = now();
    __asm__ volatile("vxorps %%xmm14, %%xmm14, %%xmm14\n\t"
                     "vxorps %%xmm15, %%xmm15, %%xmm15\n\t"
                     "1:\n\t" FMA8(0) FMA8(1) FMA8(2) FMA8(3) FMA8(4) FMA8(5) FMA8(6) FMA8(7)
                         FMA8(8) FMA8(9) FMA8(10) FMA8(11) FMA8(12) FMA8(13) "dec %0\n\t"
                                                                            "jnz 1b\n\t"
                                                                            "vzeroupper"
                     : "+r"(iters)
                     :
                     : "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
                       "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    return now() - t;
}
#endif

/* Best of many short runs of the FMA loop of the chosen instruction set (short, so that some
 * run through undisturbed on a shared machine); 0 if unknown. */
static double measure_peak(const char *isa)
{
    double best = 0.0;
#if defined(__x86_64__)
    const long iters = 1000000;
    for (int r = 0; r < 100; r++) {
        double gf = 0.0;
        if (strcmp(isa, "avx512") == 0)
            gf = iters * 16.0 * 32.0 / peak_avx512(iters) / 1e9;
        else if (strcmp(isa, "avx2") == 0)
            gf = iters * 14.0 * 16.0 / peak_avx2(iters) / 1e9;
        if (gf > best)
            best = gf;
    }
#else
    (void)isa;
#endif
    return best;
}

typedef struct shape {
    const char *name;
    int ta, tb, M, N, K;
    float beta;
} shape;

static const shape g_shapes[] = {
    {"conv1 fwd (per image)", 0, 0, 32, 784, 25, 0.0f},
    {"conv2 fwd (per image)", 0, 0, 64, 196, 800, 0.0f},
    {"conv2 dW (per image)", 0, 1, 64, 800, 196, 1.0f},
    {"conv2 dcol (per image)", 1, 0, 800, 196, 64, 0.0f},
    {"fc1 fwd b50", 0, 1, 50, 1024, 3136, 0.0f},
    {"fc1 dW b50", 1, 0, 1024, 3136, 50, 0.0f},
    {"fc1 dx b50", 0, 0, 50, 3136, 1024, 0.0f},
    {"fc1 fwd b128", 0, 1, 128, 1024, 3136, 0.0f},
    {"fc1 dW b128", 1, 0, 1024, 3136, 128, 0.0f},
    {"fc1 dx b128", 0, 0, 128, 3136, 1024, 0.0f},
    {"fc1 fwd b1000", 0, 1, 1000, 1024, 3136, 0.0f},
    {"fc1 dW b1000", 1, 0, 1024, 3136, 1000, 0.0f},
    {"fc1 dx b1000", 0, 0, 1000, 3136, 1024, 0.0f},
    {"square 512", 0, 0, 512, 512, 512, 0.0f},
};

/* Seconds per call: the best of batches run for about `budget` seconds in all (at least one
 * call). */
static double time_gemm(const shape *s, const float *A, const float *B, float *C, int threads,
                        double budget)
{
    int lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N, ldc = s->N;
    double best = 1e30, start = now();
    int reps = 1;
    do {
        double t = now();
        for (int r = 0; r < reps; r++) {
            if (threads == 1)
                mn_gemm(s->ta, s->tb, s->M, s->N, s->K, 1.0f, A, lda, B, ldb, s->beta, C, ldc);
            else
                mn_gemm_mt(s->ta, s->tb, s->M, s->N, s->K, 1.0f, A, lda, B, ldb, s->beta, C,
                           ldc, threads);
        }
        t = (now() - t) / reps;
        if (t < best)
            best = t;
        if (t * reps < 0.01)
            reps *= 2;
    } while (now() - start < budget);
    return best;
}

int main(int argc, char **argv)
{
    double peak = 0.0, budget = 0.3;
    int threads = 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--isa") == 0 && i + 1 < argc) {
            if (mn_kernels_set_isa(argv[++i]) != 0) {
                fprintf(stderr, "bench_gemm: instruction set %s is not available\n", argv[i]);
                return 1;
            }
        } else if (strcmp(argv[i], "--peak") == 0 && i + 1 < argc) {
            peak = atof(argv[++i]);
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            threads = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--time") == 0 && i + 1 < argc) {
            budget = atof(argv[++i]);
        } else {
            fprintf(stderr, "usage: bench_gemm [--isa avx512|avx2|portable] [--peak GFLOPS] "
                            "[--threads N] [--time SECONDS]\n");
            return 2;
        }
    }
    const char *isa = mn_kernels_isa();
    if (peak <= 0.0) {
        peak = measure_peak(isa);
        if (peak > 0.0)
            printf("isa %s, measured FP32 peak %.1f GFLOP/s per core (FMA loop)\n", isa, peak);
        else
            printf("isa %s, peak unknown (give --peak GFLOPS for percentages)\n", isa);
    } else {
        printf("isa %s, stated FP32 peak %.1f GFLOP/s per core\n", isa, peak);
    }
    printf("%-24s %2s %2s %5s %5s %5s  %8s %6s  %8s %6s %6s\n", "shape", "tA", "tB", "M", "N",
           "K", "1t GF/s", "%peak", "mt GF/s", "%peak", "x");

    mn_rng rng;
    mn_rng_seed(&rng, 1);
    for (size_t i = 0; i < sizeof g_shapes / sizeof g_shapes[0]; i++) {
        const shape *s = &g_shapes[i];
        size_t na = (size_t)s->M * s->K, nb = (size_t)s->K * s->N, nc = (size_t)s->M * s->N;
        float *A = mn_alloc_aligned(na, sizeof(float));
        float *B = mn_alloc_aligned(nb, sizeof(float));
        float *C = mn_alloc_aligned(nc, sizeof(float));
        if (!A || !B || !C) {
            fprintf(stderr, "bench_gemm: out of memory\n");
            return 1;
        }
        for (size_t j = 0; j < na; j++)
            A[j] = mn_rng_uniform(&rng) - 0.5f;
        for (size_t j = 0; j < nb; j++)
            B[j] = mn_rng_uniform(&rng) - 0.5f;
        double flops = 2.0 * s->M * s->N * s->K;
        /* Short bursts of each in turn, so that on a shared machine both get quiet moments. */
        double t1 = 1e30, tm = 1e30;
        for (int round = 0; round < 6; round++) {
            double t = time_gemm(s, A, B, C, 1, budget / 6);
            t1 = t < t1 ? t : t1;
            t = time_gemm(s, A, B, C, threads, budget / 6);
            tm = t < tm ? t : tm;
        }
        double g1 = flops / t1 / 1e9, gm = flops / tm / 1e9;
        printf("%-24s %2d %2d %5d %5d %5d  %8.1f %5.0f%%  %8.1f %5.0f%% %6.2f\n", s->name, s->ta,
               s->tb, s->M, s->N, s->K, g1, peak > 0 ? 100.0 * g1 / peak : 0.0, gm,
               peak > 0 ? 100.0 * gm / (peak * threads) : 0.0, t1 / tm);
        fflush(stdout);
        mn_free_aligned(A);
        mn_free_aligned(B);
        mn_free_aligned(C);
    }
    return 0;
}
