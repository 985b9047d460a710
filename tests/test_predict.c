/* test_predict.c: predicting new images end to end. MNIST test digits scaled up 10x, inverted
 * (dark ink on white paper), placed off-centre on a large canvas and saved as PNG files must be
 * predicted the same as the original 28x28 digits; blank and non-image files fail clearly. */
#include "check.h"
#include "internal.h"

int main(void)
{
    const char *dir = check_data_dir();
    if (!dir) {
        printf("SKIP: no MNIST data (set MNIST_DATA)\n");
        return check_summary();
    }
    mn_dataset *train = NULL, *test = NULL;
    CHECK(mn_dataset_load_dir(&train, dir, MN_SPLIT_TRAIN, NULL) == MN_OK, "%s", mn_error_message());
    CHECK(mn_dataset_load_dir(&test, dir, MN_SPLIT_TEST, NULL) == MN_OK, "%s", mn_error_message());
    if (!train || !test)
        return check_summary();
    /* A small CNN trained for a few hundred steps: accurate enough that a digit's prediction is
     * stable, so a changed prediction means the preprocessing lost the digit. */
    mn_model *m;
    CHECK(mn_model_create(&m, "conv:16:5,relu,pool:2,conv:32:5,relu,pool:2,dense:64,relu,dense:10",
                          1, 28, 28, MN_INIT_DEFAULT, 1) == MN_OK, "%s", mn_error_message());
    mn_model_set_normalisation(m, 0.1307f, 0.3081f);
    mn_train_params p = mn_train_default_params();
    p.optimizer = MN_OPT_ADAM;
    p.lr = 2e-3f;
    p.batch = 64;
    p.steps = check_quick() ? 150 : 300;
    p.threads = 2;
    CHECK(mn_model_train(m, train, NULL, &p) == MN_OK, "%s", mn_error_message());

    const char *tmp = check_tmp_dir("test_predict");
    const int n = check_quick() ? 10 : 50, scale = 10;
    int same = 0;
    for (int i = 0; i < n; i++) {
        const uint8_t *digit = test->pixels + (size_t)i * 784;
        float p0[10], p1[10];
        mn_model_predict(m, digit, 1, p0, 1);
        /* 10x nearest-neighbour, inverted, at an off-centre spot of a 500x400 white page */
        mn_image page = {500, 400, malloc(500 * 400)};
        memset(page.pixels, 255, 500 * 400);
        int ox = 37 + (i * 53) % 180, oy = 11 + (i * 29) % 100;
        for (int y = 0; y < 28 * scale; y++)
            for (int x = 0; x < 28 * scale; x++)
                page.pixels[(size_t)(oy + y) * 500 + ox + x] = 255 - digit[(y / scale) * 28 + x / scale];
        char path[1200];
        snprintf(path, sizeof path, "%s/digit%d.png", tmp, i);
        CHECK(mn_image_save_png(path, &page) == MN_OK, "%s", mn_error_message());
        free(page.pixels);
        mn_image loaded;
        uint8_t pre[784];
        CHECK(mn_image_load(path, &loaded) == MN_OK, "%s", mn_error_message());
        CHECK(mn_image_to_mnist(&loaded, pre) == MN_OK, "%s", mn_error_message());
        mn_image_free(&loaded);
        mn_model_predict(m, pre, 1, p1, 1);
        same += mn_argmax(p0, 10) == mn_argmax(p1, 10);
    }
    printf("%d of %d scaled, inverted, off-centre digits predicted as their originals\n", same, n);
    CHECK(same >= n - (n + 24) / 25, "only %d of %d predicted the same", same, n);

    /* A blank page and a file that is not an image. */
    char path[1200];
    snprintf(path, sizeof path, "%s/blank.png", tmp);
    mn_image blank = {64, 64, malloc(64 * 64)};
    memset(blank.pixels, 255, 64 * 64);
    CHECK(mn_image_save_png(path, &blank) == MN_OK, "%s", mn_error_message());
    free(blank.pixels);
    mn_image img;
    uint8_t pre[784];
    CHECK(mn_image_load(path, &img) == MN_OK, "%s", mn_error_message());
    CHECK_ERR(mn_image_to_mnist(&img, pre), MN_ERR_FORMAT, "no ink");
    mn_image_free(&img);
    snprintf(path, sizeof path, "%s/notes.txt", tmp);
    FILE *f = fopen(path, "w");
    fputs("this is not a picture\n", f);
    fclose(f);
    CHECK_ERR(mn_image_load(path, &img), MN_ERR_FORMAT, "notes.txt");

    mn_model_free(m);
    mn_dataset_free(train);
    mn_dataset_free(test);
    return check_summary();
}
