/* cmd_sample.c: `mnist sample MODEL`: the tutorial's last step: predict random test images and
 * show each beside its true label, the prediction and its probability. */
#include "cli.h"
#include "internal.h"

#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *out)
{
    fputs("usage: mnist sample MODEL [options]\n"
          "  -n N           how many random test images (default 10)\n"
          "  --seed S       which ones (default: a new choice each run, printed)\n"
          "  --png FILE     also write them as one labelled picture (true>predicted probability)\n"
          "  --data DIR     MNIST directory (default $MNIST_DATA or ./data/mnist)\n"
          "  --json         one JSON object per image: index, label, digit, probability\n",
          out);
}

/* splitmix64: a tiny seeded generator for picking images; the library's RNG is internal. */
static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

int cmd_sample(int argc, char **argv)
{
    static const struct option opts[] = {{"seed", required_argument, 0, 's'},
                                         {"png", required_argument, 0, 'p'},
                                         {"data", required_argument, 0, 'd'},
                                         {"json", no_argument, 0, 'j'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    long long n = 10, seed = -1;
    const char *png = NULL, *data = NULL;
    bool json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
        switch (c) {
        case 'n': if (!cli_parse_int("-n", optarg, 1, 1000, &n)) return 2; break;
        case 's': if (!cli_parse_int("--seed", optarg, 0, INT64_MAX, &seed)) return 2; break;
        case 'p': png = optarg; break;
        case 'd': data = optarg; break;
        case 'j': json = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (argc - optind != 1)
        return cli_error("sample: give one model file (usage: mnist sample MODEL [-n N])"), 2;
    if (seed < 0)
        seed = (long long)(time(NULL) & 0xffffff);
    mn_model *model = NULL;
    mn_dataset *test = NULL;
    int rc = 1;
    uint8_t **imgs = NULL;
    char **caps = NULL;
    bool *wrong = NULL;
    if (mn_model_load(&model, argv[optind]) != MN_OK ||
        mn_dataset_load_dir(&test, cli_data_dir(data), MN_SPLIT_TEST, NULL) != MN_OK) {
        cli_lib_error();
        goto out;
    }
    uint32_t mc, mh, mw;
    mn_model_input_shape(model, &mc, &mh, &mw);
    if (mc != 1 || mh != test->rows || mw != test->cols) {
        cli_error("%s takes %ux%ux%u images but the test set holds %ux%u", argv[optind], mc, mh,
                  mw, test->rows, test->cols);
        goto out;
    }
    const uint32_t K = mn_model_num_classes(model);
    const size_t img = (size_t)test->rows * test->cols;
    imgs = calloc((size_t)n, sizeof *imgs);
    caps = calloc((size_t)n, sizeof *caps);
    wrong = calloc((size_t)n, sizeof *wrong);
    float *probs = malloc(sizeof(float) * K);
    if (!imgs || !caps || !wrong || !probs) {
        free(probs);
        cli_error("out of memory");
        goto out;
    }
    uint64_t state = (uint64_t)seed;
    int correct = 0;
    if (!json)
        printf("%lld random test images (seed %lld)\n", n, seed);
    for (int i = 0; i < n; i++) {
        uint32_t idx = (uint32_t)(next(&state) % test->count);
        const uint8_t *px = test->pixels + idx * img;
        if (mn_model_predict(model, px, 1, probs, 1) != MN_OK) {
            free(probs);
            cli_lib_error();
            goto out;
        }
        uint32_t best = mn_argmax(probs, K);
        unsigned label = test->labels[idx];
        correct += best == label;
        imgs[i] = (uint8_t *)px;
        wrong[i] = best != label;
        caps[i] = malloc(32);
        if (caps[i])
            snprintf(caps[i], 32, "%u>%u %d%%", label, best, (int)(100 * probs[best] + 0.5f));
        if (json) {
            printf("{\"index\":%u,\"label\":%u,\"digit\":%u,\"probability\":%.6f}\n", idx, label,
                   best, probs[best]);
        } else {
            cli_draw_image(stdout, px, (int)test->rows, (int)test->cols, cli_stdout_is_tty());
            printf("test image %u: true %u, predicted %u (%.1f%%)%s\n\n", idx, label, best,
                   100.0 * probs[best], best == label ? "" : "   <-- wrong");
        }
    }
    free(probs);
    if (!json)
        printf("%d of %lld correct\n", correct, n);
    if (png) {
        if (cli_write_grid_png(png, (const uint8_t *const *)imgs, (int)n, (int)test->rows,
                               (int)test->cols, (const char *const *)caps, wrong, 10, 4) != MN_OK) {
            cli_lib_error();
            goto out;
        }
        if (!json)
            printf("wrote %s\n", png);
    }
    rc = 0;
out:
    for (int i = 0; caps && i < n; i++)
        free(caps[i]);
    free(caps);
    free(imgs);
    free(wrong);
    mn_model_free(model);
    mn_dataset_free(test);
    return rc;
}
