/* bench_train.c: how fast this library trains and runs a network, for bench/run.sh and by hand.
 * Modes (one per run, results as "key value" lines):
 *   train    images/s of mn_model_train (the real loop: batches, forward, loss, backward, Adam)
 *   infer    images/s of mn_model_predict on --batch images at a time
 *   latency  median milliseconds of mn_model_predict on one image
 *   layers   milliseconds per training step of each fused operation, and its GFLOP/s (a
 *            large dense layer's backward includes its fused parameter update)
 * Usage: bench_train MODE [--data DIR] [--model cnn|SPEC] [--batch N] [--threads N]
 *                        [--steps N] [--reps N] [--cpu 1] [--augment none|best|elastic]
 * (--cpu 1: layers measures the process's CPU time, which a busy machine distorts less.
 *  --augment: train distorts each image as the best preset does (shift 2, rotate 10, scale
 *  0.1), or that plus elastic:8; its cost is train's images/s with and without.)
 * The data are MNIST's training images (--data, else $MNIST_DATA, else data/mnist). */
#include "internal.h"
#include "kernels.h"
#include "layers.h"
#include "model_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool cpu; /* layers: CPU time of the process rather than wall time (--cpu 1) */

static double now(void)
{
    struct timespec t;
    clock_gettime(cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Multiply-adds of one image's forward pass, and of its training step (forward, input and
 * weight gradients; the first layer has no input gradient). */
static void count_macs(const mn_model *m, double *fwd, double *step)
{
    *fwd = *step = 0.0;
    for (int i = 0; i < m->num_layers; i++) {
        const mn_layer *L = &m->layers[i];
        double macs = 0.0;
        if (L->kind == MN_LAYER_CONV)
            macs = (double)L->out_h * L->out_w * L->out_c * L->in_c * L->k * L->k;
        else if (L->kind == MN_LAYER_DENSE)
            macs = (double)L->in_c * L->out_c;
        *fwd += macs;
        *step += macs * (i == 0 ? 2.0 : 3.0);
    }
}

static void fail(const char *what)
{
    fprintf(stderr, "bench_train: %s: %s\n", what, mn_error_message());
    exit(1);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "", *data = getenv("MNIST_DATA"), *spec = "cnn";
    const char *augment = "none";
    int batch = 50, threads = 2, steps = 200, reps = 5;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--data"))
            data = argv[i + 1];
        else if (!strcmp(argv[i], "--model"))
            spec = argv[i + 1];
        else if (!strcmp(argv[i], "--batch"))
            batch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads"))
            threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--steps"))
            steps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps"))
            reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--augment"))
            augment = argv[i + 1];
        else if (!strcmp(argv[i], "--cpu"))
            cpu = atoi(argv[i + 1]) != 0;
        else {
            fprintf(stderr, "bench_train: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (strcmp(mode, "train") && strcmp(mode, "infer") && strcmp(mode, "latency") &&
        strcmp(mode, "layers")) {
        fprintf(stderr, "usage: bench_train train|infer|latency|layers [--data DIR] [--model "
                        "SPEC] [--batch N] [--threads N] [--steps N] [--reps N] [--cpu 1] "
                        "[--augment none|best|elastic]\n");
        return 2;
    }
    if (strcmp(augment, "none") && strcmp(augment, "best") && strcmp(augment, "elastic")) {
        fprintf(stderr, "bench_train: --augment is none, best or elastic\n");
        return 2;
    }
    if (batch < 1 || threads < 1 || steps < 1 || reps < 1) {
        fprintf(stderr, "bench_train: sizes must be positive\n");
        return 2;
    }
    mn_dataset *train;
    if (mn_dataset_load_dir(&train, data ? data : "data/mnist", MN_SPLIT_TRAIN, NULL) != MN_OK)
        fail("loading the training set");
    mn_model *m;
    if (mn_model_create(&m, spec, 1, train->rows, train->cols, MN_INIT_HE, 1) != MN_OK)
        fail("creating the model");
    mn_model_set_normalisation(m, 0.1307f, 0.3081f);
    double fwd_macs, step_macs;
    count_macs(m, &fwd_macs, &step_macs);
    printf("model %s\nthreads %d\nbatch %d\nisa %s\n", spec, threads, batch, mn_kernels_isa());
    printf("mflop_forward %.2f\nmflop_train_step %.2f\n", 2e-6 * fwd_macs, 2e-6 * step_macs);

    mn_train_params p = mn_train_default_params();
    p.optimizer = MN_OPT_ADAM;
    p.lr = 1e-4f;
    p.batch = (uint32_t)batch;
    p.threads = threads;
    p.report_every = 1000000;
    if (strcmp(augment, "none")) {
        p.aug_shift = 2.0f, p.aug_rotate = 10.0f, p.aug_scale = 0.1f;
        p.aug_elastic = strcmp(augment, "elastic") ? 0.0f : 8.0f;
    }

    if (!strcmp(mode, "train")) {
        /* a warm-up run, then `reps` timed runs of `steps` steps: the median */
        p.steps = 10;
        if (mn_model_train(m, train, NULL, &p) != MN_OK)
            fail("training");
        double *ips = calloc((size_t)reps, sizeof(double));
        p.steps = steps;
        for (int r = 0; r < reps; r++) {
            double t = now();
            if (mn_model_train(m, train, NULL, &p) != MN_OK)
                fail("training");
            ips[r] = (double)steps * batch / (now() - t);
        }
        qsort(ips, (size_t)reps, sizeof(double), cmp_double);
        printf("train_images_per_s %.1f\n", ips[reps / 2]);
        printf("train_gflops %.1f\n", ips[reps / 2] * 2.0 * step_macs * 1e-9);
        free(ips);
    } else if (!strcmp(mode, "infer") || !strcmp(mode, "latency")) {
        int n = !strcmp(mode, "latency") ? 1 : batch;
        if ((uint32_t)n > train->count)
            n = (int)train->count;
        float *probs = malloc(sizeof(float) * (size_t)n * 10);
        int calls = !strcmp(mode, "latency") ? steps * 5 : steps;
        double *t = calloc((size_t)calls, sizeof(double));
        for (int r = 0; r < calls + 3; r++) {
            double t0 = now();
            if (mn_model_predict(m, train->pixels, (uint32_t)n, probs, threads) != MN_OK)
                fail("predicting");
            if (r >= 3)
                t[r - 3] = now() - t0;
        }
        qsort(t, (size_t)calls, sizeof(double), cmp_double);
        if (n == 1) {
            printf("latency_ms %.4f\n", 1e3 * t[calls / 2]);
        } else {
            printf("infer_images_per_s %.1f\n", n / t[calls / 2]);
            printf("infer_gflops %.1f\n", n / t[calls / 2] * 2.0 * fwd_macs * 1e-9);
        }
        free(t);
        free(probs);
    } else { /* layers */
        if (mn_model_reserve(m, batch, threads) != MN_OK)
            fail("reserving");
        /* per step: each operation's time, the loss, the backward pass's rest; the minimum over
         * steps of each (the least disturbed) and the mean */
        char names[MN_MAX_LAYERS][48];
        enum { SLOTS = 2 * MN_MAX_LAYERS + 2 };
        double cur[SLOTS], best[SLOTS], sum[SLOTS] = {0};
        int ops = mn_model_ops(m, names, NULL, false);
        const int LOSS = 2 * ops, REST = 2 * ops + 1;
        for (int k = 0; k < SLOTS; k++)
            best[k] = 1e30;
        float *m1 = mn_alloc_aligned(m->num_params, sizeof(float));
        float *m2 = mn_alloc_aligned(m->num_params, sizeof(float));
        mn_rng rng;
        mn_rng_seed(&rng, 1);
        for (int s = 0; s < steps + 5; s++) {
            memset(cur, 0, sizeof cur);
            mn_model_ops(m, NULL, cur, cpu);
            size_t off = (size_t)(s * batch) % (train->count - (uint32_t)batch);
            mn_model_load_input_u8(m, train->pixels + off * 784, batch);
            mn_model_forward(m, batch, true, &rng, threads);
            double t0 = now();
            mn_softmax_xent(m->grad_a, NULL, m->act[m->num_layers], train->labels + off, batch,
                            m->num_classes);
            double t1 = now(), before = 0.0, after = 0.0;
            for (int k = 0; k < 2 * ops; k++)
                before += cur[k];
            mn_model_backward_update(m, batch, threads, &p, 1e-4f, s + 1, m1, m2);
            double t2 = now();
            for (int k = 0; k < 2 * ops; k++)
                after += cur[k];
            cur[LOSS] = t1 - t0;
            cur[REST] = (t2 - t1) - (after - before); /* the small layers' updates */
            if (s < 5)
                continue;
            for (int k = 0; k < SLOTS; k++) {
                best[k] = cur[k] < best[k] ? cur[k] : best[k];
                sum[k] += cur[k];
            }
        }
        mn_model_ops(m, NULL, NULL, false);
        printf("%-22s %8s %8s %8s %8s  %s\n", "operation (ms/step)", "forward", "backward",
               "fwd GF/s", "bwd GF/s", "(minimum over steps; mean fwd/bwd)");
        double tbest = best[LOSS] + best[REST], tmean = (sum[LOSS] + sum[REST]) / steps;
        int li = 0;
        for (int k = 0; k < ops; k++) {
            double f = best[2 * k], b = best[2 * k + 1], macs = 0.0;
            /* the layers this operation covers: its own, and a fused ReLU and pool */
            int span = 1 + (strstr(names[k], "+relu") != NULL) + (strstr(names[k], "+pool") != NULL);
            for (int e = li + span; li < e && li < m->num_layers; li++) {
                const mn_layer *L = &m->layers[li];
                if (L->kind == MN_LAYER_CONV)
                    macs += (double)L->out_h * L->out_w * L->out_c * L->in_c * L->k * L->k;
                else if (L->kind == MN_LAYER_DENSE)
                    macs += (double)L->in_c * L->out_c;
            }
            double bm = macs * (k == 0 ? 1.0 : 2.0) * batch;
            printf("%-22s %8.3f %8.3f %8.1f %8.1f  (%.3f %.3f)\n", names[k], 1e3 * f, 1e3 * b,
                   f > 0 ? 2.0 * macs * batch / f * 1e-9 : 0.0, b > 0 ? 2.0 * bm / b * 1e-9 : 0.0,
                   1e3 * sum[2 * k] / steps, 1e3 * sum[2 * k + 1] / steps);
            tbest += f + b;
            tmean += (sum[2 * k] + sum[2 * k + 1]) / steps;
        }
        printf("%-22s %8.3f\n%-22s %8.3f\n", "softmax+loss", 1e3 * best[LOSS],
               "other updates", 1e3 * best[REST]);
        printf("%-22s %8.3f  (%.0f images/s, %.1f GFLOP/s; mean %.3f ms)\n", "total", 1e3 * tbest,
               batch / tbest, batch * 2.0 * step_macs / tbest * 1e-9, 1e3 * tmean);
        mn_free_aligned(m1);
        mn_free_aligned(m2);
    }
    mn_model_free(m);
    mn_dataset_free(train);
    return 0;
}
