/* test_gemm.c: mn_gemm (every instruction set this CPU has) against the double-precision
 * reference mn_gemm_ref, over all transpose combinations, odd sizes, alpha/beta variants,
 * padded leading dimensions (padding filled with NaN, which must neither be read nor written)
 * and beta == 0 over a NaN-filled C; and mn_gemm_mt bitwise equal for 1, 2 and 3 threads. */
#include "check.h"
#include "internal.h"
#include "kernels.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

static mn_rng g_rng;

/* A rows x cols matrix with row stride ld, valid entries uniform in [-1,1), padding NaN. */
static float *make_matrix(int rows, int cols, int ld)
{
    float *m = mn_alloc_aligned((size_t)rows * ld + 1, sizeof(float));
    if (!m) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < ld; j++)
            m[(size_t)i * ld + j] = j < cols ? 2.0f * mn_rng_uniform(&g_rng) - 1.0f : NAN;
    m[(size_t)rows * ld] = NAN;
    return m;
}

static double g_worst; /* the largest error seen, relative to its tolerance */

/* Runs one case with the current instruction set and compares with the reference. */
static void check_case(int ta, int tb, int M, int N, int K, float alpha, float beta, int pad)
{
    int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    float *A = make_matrix(ta ? K : M, ta ? M : K, lda);
    float *B = make_matrix(tb ? N : K, tb ? K : N, ldb);
    float *C = make_matrix(M, N, ldc);
    float *R = make_matrix(M, N, ldc);
    if (beta == 0.0f) /* C must not be read: fill it with NaN */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                C[(size_t)i * ldc + j] = NAN;
    else
        memcpy(R, C, ((size_t)M * ldc + 1) * sizeof(float));
    mn_gemm_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, R, ldc);
    mn_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);

    double worst = 0.0;
    int bad_i = -1, bad_j = -1, pad_written = 0;
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < ldc; j++) {
            float c = C[(size_t)i * ldc + j];
            if (j >= N) {
                pad_written |= !isnan(c);
                continue;
            }
            /* Scale: the sum of magnitudes that went into the element. */
            double scale = 0.0;
            for (int k = 0; k < K; k++) {
                float a = ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                float b = tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                scale += fabs((double)a * b);
            }
            scale = fabs(alpha) * scale + 1e-30;
            if (beta != 0.0f)
                scale += fabs(beta * R[(size_t)i * ldc + j]);
            double tol = 2e-6 * (1.0 + sqrt((double)K)) * scale + 1e-30;
            double err = fabs((double)c - R[(size_t)i * ldc + j]) / tol;
            if (!(err <= worst)) { /* also catches NaN */
                worst = isnan(err) ? INFINITY : err;
                bad_i = i;
                bad_j = j;
            }
        }
    }
    pad_written |= !isnan(C[(size_t)M * ldc]);
    if (worst > g_worst)
        g_worst = worst;
    CHECK(worst <= 1.0, "%s ta=%d tb=%d %dx%dx%d alpha=%g beta=%g pad=%d: error %.3g x tolerance "
          "at (%d,%d): got %.9g want %.9g", mn_kernels_isa(), ta, tb, M, N, K, alpha, beta, pad,
          worst, bad_i, bad_j, C[(size_t)bad_i * ldc + bad_j], R[(size_t)bad_i * ldc + bad_j]);
    CHECK(!pad_written, "%s ta=%d tb=%d %dx%dx%d: wrote outside C", mn_kernels_isa(), ta, tb, M,
          N, K);
    mn_free_aligned(A);
    mn_free_aligned(B);
    mn_free_aligned(C);
    mn_free_aligned(R);
}

static const int g_shapes[][3] = {
    {1, 1, 1},     {1, 37, 1},    {1, 1, 300},   {3, 1, 7},     {17, 33, 5},  {63, 65, 129},
    {200, 3, 700}, {5, 200, 3},   {14, 32, 256}, {15, 33, 257}, {29, 47, 513}, {31, 17, 64},
    {50, 100, 25}, {13, 16, 800}, {28, 48, 50},  {7, 31, 196},
};

static void check_isa(int quick)
{
    static const float ab[][2] = {{1.0f, 0.0f}, {-0.5f, 1.0f}, {2.0f, -0.25f}, {0.0f, 0.5f}};
    int n = (int)(sizeof g_shapes / sizeof g_shapes[0]);
    for (int s = 0; s < n; s++) {
        const int *sh = g_shapes[s];
        for (int t = 0; t < 4; t++) {
            for (int v = 0; v < 4; v++) {
                if (quick && v % 2 != t % 2) /* half the alpha/beta pairs per combination */
                    continue;
                check_case(t >> 1, t & 1, sh[0], sh[1], sh[2], ab[v][0], ab[v][1], (s + v) % 3 * 3);
            }
        }
    }
    /* Several M, N and K blocks (over mc, nc and kc of every implementation). */
    for (int t = 0; t < 4; t++)
        check_case(t >> 1, t & 1, 173, quick ? 1030 : 1100, 9, 1.5f, t & 1 ? 0.0f : 1.0f, 1);
    check_case(0, 1, 21, 40, 1100, 1.0f, 0.0f, 2);
    check_case(1, 0, 21, 40, 600, 1.0f, 1.0f, 0);
    /* Many rows: an untransposed B is packed too. */
    for (int t = 0; t < 4; t++)
        check_case(t >> 1, t & 1, 260, 53, quick ? 40 : 300, 0.5f, t & 1 ? 1.0f : 0.0f, 3);
}

/* mn_gemm_mt with 1, 2 and 3 threads (and mn_gemm) give the same bits. */
static void check_threads(int ta, int tb, int M, int N, int K, float beta)
{
    int lda = ta ? M : K, ldb = tb ? K : N, ldc = N;
    float *A = make_matrix(ta ? K : M, ta ? M : K, lda);
    float *B = make_matrix(tb ? N : K, tb ? K : N, ldb);
    float *C0 = make_matrix(M, N, ldc);
    float *C = mn_alloc_aligned((size_t)M * ldc + 1, sizeof(float));
    float *first = mn_alloc_aligned((size_t)M * ldc + 1, sizeof(float));
    if (!C || !first)
        exit(2);
    size_t bytes = (size_t)M * ldc * sizeof(float);
    memcpy(first, C0, bytes);
    mn_gemm(ta, tb, M, N, K, 0.75f, A, lda, B, ldb, beta, first, ldc);
    for (int threads = 1; threads <= 3; threads++) {
        memcpy(C, C0, bytes);
        mn_gemm_mt(ta, tb, M, N, K, 0.75f, A, lda, B, ldb, beta, C, ldc, threads);
        CHECK(memcmp(C, first, bytes) == 0, "%s ta=%d tb=%d %dx%dx%d: %d threads differ from one",
              mn_kernels_isa(), ta, tb, M, N, K, threads);
    }
    mn_free_aligned(A);
    mn_free_aligned(B);
    mn_free_aligned(C0);
    mn_free_aligned(C);
    mn_free_aligned(first);
}

int main(void)
{
    int quick = check_quick();
    mn_rng_seed(&g_rng, 12345);

    const char *isa = mn_kernels_isa();
    CHECK(strcmp(isa, "avx512") == 0 || strcmp(isa, "avx2") == 0 || strcmp(isa, "portable") == 0,
          "mn_kernels_isa: %s", isa);
    CHECK(mn_kernels_set_isa("sse9") == -1, "unknown set accepted");
    CHECK(strcmp(mn_kernels_isa(), isa) == 0, "a refused set changed the choice");

    static const char *const sets[] = {"avx512", "avx2", "portable"};
    for (int i = 0; i < 3; i++) {
        if (mn_kernels_set_isa(sets[i]) != 0) {
            printf("%s: not on this CPU, skipped\n", sets[i]);
            continue;
        }
        CHECK(strcmp(mn_kernels_isa(), sets[i]) == 0, "set %s, got %s", sets[i], mn_kernels_isa());
        g_worst = 0.0;
        check_isa(quick);
        for (int t = 0; t < 4; t++) {
            check_threads(t >> 1, t & 1, 64, 196, 300, t & 1 ? 0.0f : 1.0f);
            check_threads(t >> 1, t & 1, 50, 170, 600, 0.0f);
            check_threads(t >> 1, t & 1, 203, 37, 50, 1.0f);
            check_threads(t >> 1, t & 1, 300, 70, 40, 0.0f);
        }
        printf("%s: largest error %.3f of tolerance\n", sets[i], g_worst);
    }
    /* MNIST_ISA caps the automatic choice; an unknown value is ignored. */
    char saved[64] = "";
    const char *env = getenv("MNIST_ISA");
    if (env)
        snprintf(saved, sizeof saved, "%s", env);
    unsetenv("MNIST_ISA");
    CHECK(mn_kernels_set_isa(NULL) == 0, "automatic");
    const char *best = mn_kernels_isa();
    setenv("MNIST_ISA", "portable", 1);
    CHECK(mn_kernels_set_isa(NULL) == 0 && strcmp(mn_kernels_isa(), "portable") == 0,
          "MNIST_ISA=portable gave %s", mn_kernels_isa());
    setenv("MNIST_ISA", "sse9", 1);
    CHECK(mn_kernels_set_isa(NULL) == 0 && strcmp(mn_kernels_isa(), best) == 0,
          "MNIST_ISA=sse9 gave %s, want %s", mn_kernels_isa(), best);
    if (env)
        setenv("MNIST_ISA", saved, 1);
    else
        unsetenv("MNIST_ISA");
    CHECK(mn_kernels_set_isa(NULL) == 0, "back to automatic");
    CHECK(strcmp(mn_kernels_isa(), isa) == 0, "automatic choice changed: %s", mn_kernels_isa());

    /* The training shapes once each, with the automatic choice (conv2 forward, fc1 forward). */
    if (!quick) {
        g_worst = 0.0;
        check_case(0, 0, 64, 196, 800, 1.0f, 0.0f, 0);
        check_case(0, 1, 50, 1024, 3136, 1.0f, 0.0f, 0);
        check_case(1, 0, 1024, 300, 50, 1.0f, 1.0f, 0);
        printf("training shapes: largest error %.3f of tolerance\n", g_worst);
    }
    return check_summary();
}
