/* test_preprocess.c: a model's fixed preprocessing (mn_model_set_preprocess). Parsing and its
 * errors; deskew straightens a slanted bar (mixed moment zero, centroid centred, ink kept) and
 * leaves an upright symmetric shape alone; width:N makes the ink N pixels wide; blank images
 * stay blank. A model predicts through its preprocessing exactly as a plain copy predicts the
 * preprocessed pixels (mn_model_preprocess_image shows them), keeps it through save, load and
 * bn folding, and a file naming an unknown preprocessing is refused with its name in the
 * message. Training distorts the preprocessed images: it gives the same weights as a plain
 * model trained on images preprocessed beforehand. */
#include "check.h"
#include "model_internal.h"
#include "preprocess.h"

#include <math.h>

enum { H = 28, W = 28 };

/* ink mass, centroid and the slope of x against y (mu11 / mu02) */
static void moments(const float *p, double *mass, double *cy, double *cx, double *slope)
{
    double m = 0, y1 = 0, x1 = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            m += p[y * W + x], y1 += y * p[y * W + x], x1 += x * p[y * W + x];
    *mass = m, *cy = y1 / m, *cx = x1 / m;
    double yy = 0, xy = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            yy += (y - *cy) * (y - *cy) * p[y * W + x], xy += (x - *cx) * (y - *cy) * p[y * W + x];
    *slope = xy / yy;
}

/* columns holding any ink (> 1 of 255, above bilinear's faint edges) */
static int ink_width(const float *p)
{
    int x0 = W, x1 = -1;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            if (p[y * W + x] > 1.0f)
                x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1;
    return x1 < 0 ? 0 : x1 - x0 + 1;
}

static void parsing(void)
{
    mn_preprocess p;
    CHECK(mn_preprocess_parse(NULL, W, &p) == MN_OK && p.kind == MN_PREPROCESS_NONE, "NULL");
    CHECK(mn_preprocess_parse("none", W, &p) == MN_OK && p.kind == MN_PREPROCESS_NONE, "none");
    CHECK(mn_preprocess_parse("deskew", W, &p) == MN_OK && p.kind == MN_PREPROCESS_DESKEW,
          "deskew");
    CHECK(!strcmp(p.name, "deskew"), "name %s", p.name);
    CHECK(mn_preprocess_parse("width:16", W, &p) == MN_OK && p.kind == MN_PREPROCESS_WIDTH &&
              p.width == 16, "width:16");
    CHECK(!strcmp(p.name, "width:16"), "name %s", p.name);
    CHECK(mn_preprocess_parse("width:28", W, &p) == MN_OK, "the full width is allowed");
    const char *bad[] = {"width:0", "width:29", "width:", "width:x", "width:16x", "width:-3",
                         "width: 5", "Deskew", "deskew,width:3"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_ERR(mn_preprocess_parse(bad[i], W, &p), MN_ERR_ARG, "preprocessing \"");
    CHECK_ERR(mn_preprocess_parse("width:40", W, &p), MN_ERR_ARG, "from 1 to 28");
    CHECK_ERR(mn_preprocess_parse("blur", W, &p), MN_ERR_ARG, "expected none, deskew or width:N");
}

static void transforms(void)
{
    mn_preprocess deskew, wide;
    mn_preprocess_parse("deskew", W, &deskew);
    mn_preprocess_parse("width:12", W, &wide);
    float bar[H * W] = {0}, ring[H * W] = {0}, box[H * W] = {0}, out[H * W], again[H * W];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double along = 12.0 + 0.4 * (y - 13.5); /* a bar slanting 0.4 px per row */
            if (y >= 4 && y <= 23 && fabs(x - along) <= 1.5)
                bar[y * W + x] = 255;
            double r = hypot(x - 13.5, y - 13.5);
            ring[y * W + x] = r > 5 && r < 8.5 ? 200 : 0;
            box[y * W + x] = y >= 6 && y <= 21 && x >= 11 && x <= 16 ? 255 : 0; /* 6 wide */
        }
    double m0, cy0, cx0, s0, m1, cy1, cx1, s1;
    moments(bar, &m0, &cy0, &cx0, &s0);
    CHECK(fabs(s0 - 0.4) < 0.05, "the bar slants by %.3f", s0);
    mn_preprocess_apply(&deskew, out, bar, 1, H, W);
    moments(out, &m1, &cy1, &cx1, &s1);
    CHECK(fabs(s1) < 0.02, "deskewed, the bar slants by %.4f", s1);
    CHECK(fabs(cy1 - 13.5) < 0.05 && fabs(cx1 - 13.5) < 0.05, "centroid moved to the centre: "
          "(%.3f, %.3f)", cy1, cx1);
    CHECK(fabs(m1 / m0 - 1) < 0.01, "ink kept: %.4f of it", m1 / m0);
    mn_preprocess_apply(&deskew, again, bar, 1, H, W);
    CHECK(!memcmp(out, again, sizeof out), "the same bits again");

    mn_preprocess_apply(&deskew, out, ring, 1, H, W);
    float most = 0;
    for (int i = 0; i < H * W; i++)
        most = fmaxf(most, fabsf(out[i] - ring[i]));
    CHECK(most < 0.01f, "an upright centred ring is left alone (max change %g)", most);

    CHECK(ink_width(box) == 6, "the box is 6 wide");
    mn_preprocess_apply(&wide, out, box, 1, H, W);
    moments(out, &m1, &cy1, &cx1, &s1);
    /* N columns, and a partly covered one at each side from the interpolation */
    CHECK(ink_width(out) >= 12 && ink_width(out) <= 14, "width:12 makes it %d wide",
          ink_width(out));
    CHECK(fabs(m1 / (2 * 255.0 * 6 * 16) - 1) < 0.05, "twice as wide, twice the ink (%g)", m1);
    CHECK(fabs(cx1 - 13.5) < 0.05 && fabs(cy1 - 13.5) < 0.05, "still centred (%.3f, %.3f)", cy1,
          cx1);
    mn_preprocess_parse("width:3", W, &wide);
    mn_preprocess_apply(&wide, out, box, 1, H, W);
    CHECK(ink_width(out) >= 3 && ink_width(out) <= 5, "width:3 squeezes it to %d",
          ink_width(out));

    float blank[H * W] = {0};
    mn_preprocess_apply(&deskew, out, blank, 1, H, W);
    CHECK(!memcmp(out, blank, sizeof out), "deskew: a blank image stays blank");
    mn_preprocess_apply(&wide, out, blank, 1, H, W);
    CHECK(!memcmp(out, blank, sizeof out), "width: a blank image stays blank");
}

/* A model with the preprocessing predicts as a plain copy of it on preprocessed pixels (a
 * convolution first, or a dense layer, which sees the image as one row of 784). */
static void through_model(const char *name, const char *spec, const char *dir)
{
    mn_model *m, *plain;
    CHECK(mn_model_create(&m, spec, 1, H, W, MN_INIT_HE, 3) == MN_OK, "create");
    CHECK(mn_model_create(&plain, spec, 1, H, W, MN_INIT_HE, 3) == MN_OK, "create");
    mn_model_set_normalisation(m, 0.1307f, 0.3081f);
    mn_model_set_normalisation(plain, 0.1307f, 0.3081f);
    CHECK(!strcmp(mn_model_preprocess(m), "none"), "none by default");
    CHECK(mn_model_set_preprocess(m, name) == MN_OK, "set %s", name);
    CHECK(!strcmp(mn_model_preprocess(m), name), "reads back %s", mn_model_preprocess(m));
    for (size_t i = 0; i < m->num_buffers; i++) /* bn statistics that are not the identity */
        m->buffers[i] = plain->buffers[i] = i % 2 ? 0.5f + 0.01f * (float)i : 0.02f * (float)i;

    enum { N = 5 };
    uint8_t px[N * H * W];
    float fx[N * H * W], pre[N * H * W], a[N * 10], b[N * 10], c[N * 10];
    for (int n = 0; n < N; n++) {
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) { /* slanted strokes of different widths */
                double along = 13.5 + (0.1 * n - 0.2) * (y - 13.5);
                px[(n * H + y) * W + x] = y > 3 && y < 24 && fabs(x - along) < 1 + n ? 255 : 0;
            }
        for (int k = 0; k < H * W; k++)
            fx[n * H * W + k] = px[n * H * W + k];
        mn_preprocess p;
        mn_preprocess_parse(name, W, &p);
        mn_preprocess_apply(&p, pre + n * H * W, fx + n * H * W, 1, H, W);
    }
    CHECK(mn_model_predict(m, px, N, a, 1) == MN_OK, "predict");
    CHECK(mn_model_predict_float(plain, pre, N, b, 1) == MN_OK, "predict");
    CHECK(!memcmp(a, b, sizeof a), "%s: the model's preprocessing is that of mn_preprocess_apply",
          name);
    CHECK(mn_model_predict_float(plain, fx, N, c, 1) == MN_OK, "predict");
    CHECK(memcmp(a, c, sizeof a), "%s: and it changes the prediction", name);
    uint8_t seen[H * W];
    CHECK(mn_model_preprocess_image(m, px + H * W, seen) == MN_OK, "preprocess_image");
    int off = 0;
    for (int k = 0; k < H * W; k++)
        off += fabsf(seen[k] - pre[H * W + k]) > 0.5f;
    CHECK(!off, "%s: mn_model_preprocess_image shows what the model sees, rounded", name);
    CHECK(mn_model_preprocess_image(plain, px + H * W, seen) == MN_OK &&
              !memcmp(seen, px + H * W, sizeof seen), "without preprocessing: a copy");

    char path[1100];
    snprintf(path, sizeof path, "%s/%s-%c.safetensors", dir, name[0] == 'd' ? "deskew" : "width",
             spec[0]);
    CHECK(mn_model_save(m, path) == MN_OK, "save");
    mn_model *back = NULL, *folded = NULL;
    CHECK(mn_model_load(&back, path) == MN_OK, "load: %s", mn_error_message());
    if (back) {
        CHECK(!strcmp(mn_model_preprocess(back), name), "loaded: %s", mn_model_preprocess(back));
        CHECK(mn_model_predict(back, px, N, c, 1) == MN_OK && !memcmp(a, c, sizeof a),
              "loaded: the same predictions");
        CHECK(mn_model_fold_batchnorm(back, &folded) == MN_OK, "fold");
        CHECK(folded && !strcmp(mn_model_preprocess(folded), name), "folded keeps %s", name);
        if (folded)
            CHECK(mn_model_predict(folded, px, N, c, 1) == MN_OK &&
                      fabsf(c[0] - a[0]) < 1e-4f, "folded: the same predictions");
    }
    mn_model_free(folded);
    mn_model_free(back);

    /* a file whose preprocessing this version does not know */
    CHECK(mn_model_set_meta(plain, "preprocess", "sharpen") == MN_OK, "meta");
    snprintf(path, sizeof path, "%s/unknown.safetensors", dir);
    CHECK(mn_model_save(plain, path) == MN_OK, "save");
    back = NULL;
    CHECK_ERR(mn_model_load(&back, path), MN_ERR_FORMAT, "unknown.safetensors: preprocessing "
              "\"sharpen\" is not known");
    CHECK(!back, "nothing loaded");
    mn_model_free(m);
    mn_model_free(plain);
}

/* Training with preprocessing and augmentation preprocesses each image first, then distorts it:
 * the same weights, to the bit, as a plain model trained with the same augmentation on images
 * preprocessed beforehand (mn_model_preprocess_image). */
static void training_order(const char *name, const char *spec)
{
    enum { N = 64 };
    static uint8_t px[N * H * W], pre[N * H * W], labels[N];
    mn_model *m, *plain;
    CHECK(mn_model_create(&m, spec, 1, H, W, MN_INIT_HE, 5) == MN_OK, "create");
    CHECK(mn_model_create(&plain, spec, 1, H, W, MN_INIT_HE, 5) == MN_OK, "create");
    CHECK(mn_model_set_preprocess(m, name) == MN_OK, "set %s", name);
    bool ok = true;
    for (int n = 0; n < N; n++) { /* slanted strokes: width, slope and place vary */
        labels[n] = (uint8_t)(n % 10);
        double slope = 0.05 * (n % 9) - 0.2, half = 1 + n % 4, x0 = 10 + n % 7;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                px[(n * H + y) * W + x] =
                    y > 3 + n % 3 && y < 24 && fabs(x - x0 - slope * (y - 13.5)) < half ? 250 : 0;
        ok = ok && mn_model_preprocess_image(m, px + n * H * W, pre + n * H * W) == MN_OK;
    }
    CHECK(ok, "preprocess_image");
    mn_dataset raw = {.count = N, .rows = H, .cols = W, .num_classes = 10, .pixels = px,
                      .labels = labels};
    mn_dataset done = raw;
    done.pixels = pre;
    mn_train_params p = mn_train_default_params();
    p.optimizer = MN_OPT_ADAM, p.lr = 1e-3f, p.batch = 16, p.steps = 12, p.threads = 2;
    p.aug_shift = 2, p.aug_rotate = 10, p.aug_scale = 0.1f;
    CHECK(mn_model_train(m, &raw, NULL, &p) == MN_OK, "%s", mn_error_message());
    CHECK(mn_model_train(plain, &done, NULL, &p) == MN_OK, "%s", mn_error_message());
    CHECK(!memcmp(m->params, plain->params, m->num_params * sizeof *m->params),
          "%s, %s: training preprocesses, then distorts", name, spec);
    mn_model_free(m);
    mn_model_free(plain);
}

int main(void)
{
    parsing();
    transforms();
    const char *dir = check_tmp_dir("test_preprocess");
    through_model("deskew", "conv:4:3,bn,relu,pool:2,dense:10", dir);
    through_model("width:16", "conv:4:3,bn,relu,pool:2,dense:10", dir);
    through_model("deskew", "dense:10", dir);
    through_model("width:16", "dense:10", dir);
    training_order("deskew", "conv:4:3,bn,relu,pool:2,dense:10");
    training_order("width:12", "dense:10");
    return check_summary();
}
