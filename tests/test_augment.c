/* test_augment.c: training-time distortions: no-op when off, the same bits for the same seed,
 * ink kept (mass and centre of mass) under small shifts/rotations/scalings, elastic distortion
 * changes the shape but keeps the digit, and what one image costs. The batcher, which makes
 * batches on its own thread, gives exactly what mn_augment_image gives for each image's seed,
 * and leaves the previous batch alone while it makes the next. */
#include "augment.h"
#include "batcher.h"
#include "check.h"

#include <math.h>
#include <time.h>

static void moments(const uint8_t *px, double *mass, double *cx, double *cy)
{
    double m = 0, x = 0, y = 0;
    for (int i = 0; i < 28; i++)
        for (int j = 0; j < 28; j++) {
            m += px[i * 28 + j];
            x += (double)j * px[i * 28 + j];
            y += (double)i * px[i * 28 + j];
        }
    *mass = m, *cx = x / m, *cy = y / m;
}

static double correlation(const uint8_t *a, const uint8_t *b)
{
    double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
    for (int i = 0; i < 784; i++)
        ma += a[i], mb += b[i];
    ma /= 784, mb /= 784;
    for (int i = 0; i < 784; i++) {
        sab += (a[i] - ma) * (b[i] - mb);
        saa += (a[i] - ma) * (a[i] - ma);
        sbb += (b[i] - mb) * (b[i] - mb);
    }
    return sab / sqrt(saa * sbb);
}

int main(void)
{
    /* A synthetic digit: a thick ring, so nothing depends on the data being present. */
    uint8_t src[784], a[784], b[784];
    for (int y = 0; y < 28; y++)
        for (int x = 0; x < 28; x++) {
            double r = hypot(x - 13.5, (y - 13.5) * 0.8);
            src[y * 28 + x] = (r > 5 && r < 8.5) ? 255 : 0;
        }
    float scratch[5 * 784];
    CHECK(mn_augment_scratch_floats(28, 28) == 5 * 784, "scratch size");
    mn_train_params p = mn_train_default_params();
    CHECK(!mn_augment_enabled(&p), "augmentation is off by default");
    mn_augment_image(a, src, 28, 28, &p, 1, scratch);
    CHECK(!memcmp(a, src, 784), "all strengths zero: the image is unchanged");

    p.aug_shift = 2, p.aug_rotate = 10, p.aug_scale = 0.1f, p.aug_elastic = 0;
    CHECK(mn_augment_enabled(&p), "enabled");
    double m0, x0, y0;
    moments(src, &m0, &x0, &y0);
    int differ = 0;
    for (uint64_t seed = 1; seed <= 200; seed++) {
        mn_augment_image(a, src, 28, 28, &p, seed, scratch);
        mn_augment_image(b, src, 28, 28, &p, seed, scratch);
        CHECK(!memcmp(a, b, 784), "seed %llu: the same seed gives the same image", (unsigned long long)seed);
        differ += memcmp(a, src, 784) != 0;
        double m, x, y;
        moments(a, &m, &x, &y);
        /* scaling by up to 10% changes the area by up to ~21%; the centre moves by the shift */
        CHECK(m > 0.75 * m0 && m < 1.25 * m0, "seed %llu: ink mass %.0f vs %.0f", (unsigned long long)seed, m, m0);
        CHECK(fabs(x - x0) <= 2.1 && fabs(y - y0) <= 2.1, "seed %llu: centre moved by (%.2f, %.2f)",
              (unsigned long long)seed, x - x0, y - y0);
    }
    CHECK(differ == 200, "every seed distorts the image (%d of 200)", differ);

    p.aug_shift = p.aug_rotate = p.aug_scale = 0;
    p.aug_elastic = 8;
    double worst = 1;
    for (uint64_t seed = 1; seed <= 50; seed++) {
        mn_augment_image(a, src, 28, 28, &p, seed, scratch);
        double c = correlation(a, src);
        worst = c < worst ? c : worst;
        CHECK(memcmp(a, src, 784) != 0, "elastic seed %llu changes the image", (unsigned long long)seed);
    }
    printf("elastic (alpha 8, sigma 4): lowest correlation with the original %.3f\n", worst);
    CHECK(worst > 0.5 && worst < 0.999, "elastic distortion keeps the shape recognisable: %.3f", worst);

    for (int elastic = 0; elastic < 2; elastic++) { /* what one image costs (not asserted) */
        p.aug_shift = 2, p.aug_rotate = 10, p.aug_scale = 0.1f, p.aug_elastic = elastic ? 8 : 0;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (uint64_t seed = 0; seed < 2000; seed++)
            mn_augment_image(a, src, 28, 28, &p, seed, scratch);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        printf("shift, rotate, scale%s: %.1f us per 28x28 image (one thread)\n",
               elastic ? " and elastic" : "",
               ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / 2000 / 1e3);
    }

    /* The batcher: 40 images, batches of 16 (with repeats), submitted ahead as the trainer does. */
    enum { COUNT = 40, BATCH = 16, ROUNDS = 50 };
    static uint8_t pixels[COUNT * 784], labels[COUNT], want[BATCH * 784];
    for (int i = 0; i < COUNT; i++) {
        labels[i] = (uint8_t)(i % 10);
        for (int k = 0; k < 784; k++)
            pixels[i * 784 + k] = (uint8_t)(src[(k + 29 * i) % 784] ^ (i * 7));
    }
    mn_dataset set = {.count = COUNT, .rows = 28, .cols = 28, .num_classes = 10,
                      .pixels = pixels, .labels = labels};
    for (int mode = 0; mode < 2; mode++) { /* distorted (a thread), then plain copies */
        if (mode == 1)
            p.aug_shift = p.aug_rotate = p.aug_scale = p.aug_elastic = 0;
        mn_batcher *bt;
        CHECK(mn_batcher_create(&bt, &set, &p, BATCH) == MN_OK, "batcher created");
        uint32_t idx[2][BATCH];
        int wrong_px = 0, wrong_lab = 0, clobbered = 0;
        for (int r = 0; r < ROUNDS; r++) {
            uint32_t *in = mn_batcher_indices(bt);
            for (int j = 0; j < BATCH; j++)
                in[j] = idx[r & 1][j] = (uint32_t)((r * 13 + j * 5) % COUNT);
            mn_batcher_submit(bt, 1000u * (uint64_t)r);
            const uint8_t *lab, *px = mn_batcher_wait(bt, &lab);
            for (int j = 0; j < BATCH; j++) {
                uint32_t i = idx[r & 1][j];
                mn_augment_image(want + j * 784, pixels + i * 784, 28, 28, &p,
                                 1000u * (uint64_t)r + (uint64_t)j, scratch);
                wrong_lab += lab[j] != labels[i];
            }
            wrong_px += memcmp(px, want, sizeof want) != 0;
            /* the next batch is made while this one is still read */
            uint32_t *next = mn_batcher_indices(bt);
            for (int j = 0; j < BATCH; j++)
                next[j] = (uint32_t)(COUNT - 1 - j);
            mn_batcher_submit(bt, 7);
            clobbered += memcmp(px, want, sizeof want) != 0;
            mn_batcher_wait(bt, &lab);
        }
        CHECK(wrong_px == 0 && wrong_lab == 0, "mode %d: %d batches with wrong pixels, %d wrong "
              "labels", mode, wrong_px, wrong_lab);
        CHECK(clobbered == 0, "mode %d: %d batches overwritten while the next was made", mode,
              clobbered);
        mn_batcher_free(bt);
    }
    return check_summary();
}
