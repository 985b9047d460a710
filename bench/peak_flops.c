/* peak_flops.c: the FP32 peak this machine delivers right now, for bench/run.sh to put the
 * library's GFLOP/s in proportion: each of N threads (default 2) runs 24 independent chains of
 * AVX-512 FMAs on registers only, for about --seconds (default 0.5); prints the best of three
 * tries as "peak_gflops X" and per thread as "peak_gflops_per_thread X". Without AVX-512 (or
 * off x86-64) it says so and prints 0. Where the CPU has AVX512_BF16 it then does the same
 * with its BF16 dot product (VDPBF16PS: 32 products summed pairwise into 16 FP32 lanes, 64
 * flops) and prints "peak_bf16_gflops X": what a BF16 convolution could gain at most. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__)
static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* One instruction `op` (zmm_r += zmm30 * zmm31) on 24 accumulators per iteration, so that no
 * chain waits for its previous result. */
#define OP(op, r) op " %%zmm30, %%zmm31, %%zmm" #r "\n\t"
#define CHAINS(op)                                                                              \
    OP(op, 0) OP(op, 1) OP(op, 2) OP(op, 3) OP(op, 4) OP(op, 5) OP(op, 6) OP(op, 7) OP(op, 8)     \
    OP(op, 9) OP(op, 10) OP(op, 11) OP(op, 12) OP(op, 13) OP(op, 14) OP(op, 15) OP(op, 16)        \
    OP(op, 17) OP(op, 18) OP(op, 19) OP(op, 20) OP(op, 21) OP(op, 22) OP(op, 23)
#define LOOP(name, op, isa)                                                                     \
    __attribute__((target(isa))) static void name(long iters)                                  \
    {                                                                                           \
        __asm__ volatile("vxorps %%xmm30, %%xmm30, %%xmm30\n\t"                                  \
                         "vxorps %%xmm31, %%xmm31, %%xmm31\n\t"                                  \
                         "1:\n\t" CHAINS(op) "dec %0\n\t"                                        \
                         "jnz 1b\n\t"                                                            \
                         "vzeroupper"                                                           \
                         : "+r"(iters)                                                          \
                         :                                                                      \
                         : "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",        \
                           "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", \
                           "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21",       \
                           "xmm22", "xmm23", "xmm30", "xmm31");                                 \
    }
/* FP32 FMAs: 24 * 16 * 2 flops per iteration. */
LOOP(fma_loop, "vfmadd231ps", "avx512f")
/* BF16 dot products, 32 products summed pairwise into 16 lanes: 24 * 32 * 2 flops. */
LOOP(bf16_loop, "vdpbf16ps", "avx512f,avx512bf16")
#define FLOPS_PER_ITER (24.0 * 16 * 2)

typedef struct job {
    void (*loop)(long iters);
    long iters;
    double seconds;
} job;

static void *run(void *arg)
{
    job *j = arg;
    double t = now();
    j->loop(j->iters);
    j->seconds = now() - t;
    return NULL;
}

/* The best of three tries of `threads` threads, each running `loop` for about `seconds`, in
 * GFLOP/s (flops_per_iter per iteration). */
static double measure(int threads, double seconds, void (*loop)(long), double flops_per_iter)
{
    job cal = {loop, 1000000, 0}; /* calibrate: iterations per second of one thread */
    run(&cal);
    long iters = (long)(cal.iters / cal.seconds * seconds);
    double best = 0.0;
    job *jobs = calloc((size_t)threads, sizeof(job));
    pthread_t *ids = calloc((size_t)threads, sizeof(pthread_t));
    if (!jobs || !ids) {
        fprintf(stderr, "peak_flops: out of memory\n");
        exit(1);
    }
    for (int tries = 0; tries < 3; tries++) {
        for (int t = 0; t < threads; t++) {
            jobs[t] = (job){loop, iters, 0};
            pthread_create(&ids[t], NULL, run, &jobs[t]);
        }
        double slowest = 0.0;
        for (int t = 0; t < threads; t++) {
            pthread_join(ids[t], NULL);
            slowest = jobs[t].seconds > slowest ? jobs[t].seconds : slowest;
        }
        double gflops = threads * (double)iters * flops_per_iter / slowest * 1e-9;
        best = gflops > best ? gflops : best;
    }
    free(jobs);
    free(ids);
    return best;
}
#endif

int main(int argc, char **argv)
{
    int threads = 2;
    double seconds = 0.5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads"))
            threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds"))
            seconds = atof(argv[i + 1]);
    }
    if (threads < 1 || threads > 256 || !(seconds > 0)) {
        fprintf(stderr, "usage: peak_flops [--threads N] [--seconds S]\n");
        return 2;
    }
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f")) {
        printf("no AVX-512 on this CPU\npeak_gflops 0\n");
        return 0;
    }
    double best = measure(threads, seconds, fma_loop, FLOPS_PER_ITER);
    printf("threads %d\npeak_gflops %.1f\npeak_gflops_per_thread %.1f\n", threads, best,
           best / threads);
    if (__builtin_cpu_supports("avx512bf16"))
        printf("peak_bf16_gflops %.1f\n", measure(threads, seconds, bf16_loop, 2 * FLOPS_PER_ITER));
#else
    printf("not x86-64\npeak_gflops 0\n");
#endif
    return 0;
}
