/* cmd_eval.c: `mnist eval MODEL... `: test accuracy, loss, per-class precision and recall and the
 * confusion matrix. Several models are an ensemble: their probabilities are averaged, and each
 * model's own accuracy and how many of the models misclassify each image are reported too. */
#include "cli.h"
#include "internal.h"

#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fputs("usage: mnist eval MODEL [MODEL...] [options]\n"
          "  several models are evaluated as an ensemble (probabilities averaged)\n"
          "  --data DIR      MNIST directory (default $MNIST_DATA or ./data/mnist)\n"
          "  --max-bytes N   refuse a data file over N bytes once gunzipped (default 2^28)\n"
          "  --split NAME    test (default), train, or val:N (the last N training images: the\n"
          "                  ones `mnist train --val N` held out, for choosing without the test set)\n"
          "  --threads N     threads (default: all cores)\n"
          "  --json          one JSON object: accuracy, loss, confusion (rows = true class), ...\n"
          "  --tta           test-time augmentation: average each model over the image and its\n"
          "                  copies shifted by one pixel up, down, left and right\n"
          "  --errors FILE.png     draw the misclassified images, most confident mistakes first,\n"
          "                        captioned true>predicted (an ensemble: its averaged prediction)\n"
          "  --errors-max N        at most N images in --errors (default 100, 10 to a row)\n"
          "  --confusion FILE.svg  draw the confusion matrix as a heat map\n",
          out);
}

typedef struct mistake {
    uint32_t index;
    float confidence; /* probability of the wrong prediction */
} mistake;

static int by_confidence(const void *a, const void *b)
{
    const mistake *x = a, *y = b;
    if (x->confidence != y->confidence)
        return x->confidence > y->confidence ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* --errors: a grid of the misclassified images of `set` (probabilities `p`, n x K). */
static int write_errors(const char *path, const mn_dataset *set, const float *p, uint32_t K,
                        long long max)
{
    const uint32_t n = set->count;
    mistake *m = malloc(sizeof *m * (n ? n : 1));
    if (!m)
        return cli_error("out of memory");
    uint32_t count = 0;
    for (uint32_t i = 0; i < n; i++) {
        const float *q = p + (size_t)i * K;
        uint32_t best = mn_argmax(q, K);
        if (best != set->labels[i])
            m[count++] = (mistake){i, q[best]};
    }
    if (count == 0) {
        free(m);
        fprintf(stderr, "no misclassified images: %s not written\n", path);
        return 0;
    }
    qsort(m, count, sizeof *m, by_confidence);
    int shown = count < max ? (int)count : (int)max;
    const uint8_t **images = malloc(sizeof *images * (size_t)shown);
    char(*text)[16] = malloc(sizeof *text * (size_t)shown);
    const char **captions = malloc(sizeof *captions * (size_t)shown);
    int rc = 0;
    if (!images || !text || !captions) {
        rc = cli_error("out of memory");
    } else {
        const size_t img = (size_t)set->rows * set->cols;
        for (int i = 0; i < shown; i++) {
            uint32_t best = mn_argmax(p + (size_t)m[i].index * K, K);
            images[i] = set->pixels + m[i].index * img;
            snprintf(text[i], sizeof text[i], "%u>%u", set->labels[m[i].index], best);
            captions[i] = text[i];
        }
        if (cli_write_grid_png(path, images, shown, (int)set->rows, (int)set->cols, captions,
                               NULL, 10, 2) != MN_OK)
            rc = cli_lib_error();
        else
            fprintf(stderr, "wrote %s: %d of %u misclassified images (true>predicted)\n", path,
                    shown, count);
    }
    free(images);
    free(text);
    free(captions);
    free(m);
    return rc;
}

static uint32_t count_wrong_by(const uint32_t *wrong_by, uint32_t n, int k)
{
    uint32_t count = 0;
    for (uint32_t i = 0; i < n; i++)
        count += wrong_by[i] == (uint32_t)k;
    return count;
}

/* Fails early (before the slow part) when `path` cannot be written. */
static bool writable(const char *path)
{
    mn_atomic_file probe;
    if (mn_atomic_open(&probe, path) != MN_OK)
        return !cli_lib_error();
    mn_atomic_abort(&probe);
    return true;
}

/* out = each image moved by (dx, dy) pixels, with zeros shifted in. */
static void shift_images(uint8_t *out, const uint8_t *in, uint32_t n, int rows, int cols, int dx,
                         int dy)
{
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *src = in + (size_t)i * rows * cols;
        uint8_t *dst = out + (size_t)i * rows * cols;
        for (int y = 0; y < rows; y++)
            for (int x = 0; x < cols; x++) {
                int sx = x - dx, sy = y - dy;
                dst[y * cols + x] = sx >= 0 && sx < cols && sy >= 0 && sy < rows ? src[sy * cols + sx] : 0;
            }
    }
}

int cmd_eval(int argc, char **argv)
{
    static const struct option opts[] = {{"data", required_argument, 0, 'd'},
                                         {"split", required_argument, 0, 's'},
                                         {"threads", required_argument, 0, 't'},
                                         {"json", no_argument, 0, 'j'},
                                         {"tta", no_argument, 0, 'T'},
                                         {"errors", required_argument, 0, 'e'},
                                         {"errors-max", required_argument, 0, 'E'},
                                         {"confusion", required_argument, 0, 'C'},
                                         {"max-bytes", required_argument, 0, 'M'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    long long max_bytes = (long long)MN_DEFAULT_MAX_BYTES;
    const char *data = NULL, *split = "test";
    const char *errors_path = NULL, *confusion_path = NULL;
    long long threads = 0, errors_max = 100;
    bool json = false, tta = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': data = optarg; break;
        case 's': split = optarg; break;
        case 't': if (!cli_parse_int("--threads", optarg, 0, 256, &threads)) return 2; break;
        case 'j': json = true; break;
        case 'T': tta = true; break;
        case 'e': errors_path = optarg; break;
        case 'E': if (!cli_parse_int("--errors-max", optarg, 1, 10000, &errors_max)) return 2; break;
        case 'C': confusion_path = optarg; break;
        case 'M': if (!cli_parse_int("--max-bytes", optarg, 16, 1LL << 40, &max_bytes)) return 2; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    int nmodels = argc - optind;
    if (nmodels < 1)
        return cli_error("eval: which model file? (usage: mnist eval MODEL [MODEL...])"), 2;
    long long val = 0;
    if (!strncmp(split, "val:", 4)) {
        if (!cli_parse_int("--split val", split + 4, 1, 100000000, &val))
            return 2;
    } else if (strcmp(split, "test") && strcmp(split, "train")) {
        return cli_error("--split: '%s' is not test, train or val:N", split), 2;
    }
    if ((errors_path && !writable(errors_path)) || (confusion_path && !writable(confusion_path)))
        return 1;

    int rc = 1;
    mn_dataset *set = NULL;
    mn_model **models = calloc((size_t)nmodels, sizeof *models);
    float *sum = NULL, *probs = NULL, *own = NULL;
    uint8_t *shifted = NULL;
    uint32_t *conf = NULL, *member_correct = NULL;
    uint32_t *wrong_by = NULL; /* per image: how many of the models alone misclassify it */
    if (!models)
        return cli_error("out of memory");
    for (int i = 0; i < nmodels; i++)
        if (mn_model_load(&models[i], argv[optind + i]) != MN_OK) {
            cli_lib_error();
            goto out;
        }
    mn_load_params lp = mn_load_default_params();
    lp.max_bytes = (uint64_t)max_bytes;
    mn_status ls = mn_dataset_load_dir(&set, cli_data_dir(data),
                                       !strcmp(split, "test") ? MN_SPLIT_TEST : MN_SPLIT_TRAIN, &lp);
    if (ls != MN_OK) {
        if (ls == MN_ERR_LIMIT)
            cli_error("%s (raise it with --max-bytes N)", mn_error_message());
        else
            cli_lib_error();
        goto out;
    }
    if (val > 0) { /* the held-out tail, as mnist train --val splits it */
        if ((uint64_t)val >= set->count) {
            cli_error("--split val:%lld: the training set has only %u images", val, set->count);
            goto out;
        }
        mn_dataset *tail;
        if (mn_dataset_split_tail(set, (uint32_t)val, &tail) != MN_OK) {
            cli_lib_error();
            goto out;
        }
        mn_dataset_free(set);
        set = tail;
    }
    const uint32_t K = mn_model_num_classes(models[0]);
    for (int i = 1; i < nmodels; i++)
        if (mn_model_num_classes(models[i]) != K) {
            cli_error("%s has %u classes but %s has %u", argv[optind + i],
                      mn_model_num_classes(models[i]), argv[optind], K);
            goto out;
        }
    if (set->num_classes > K) {
        cli_error("%s: the data has %u classes but %s has only %u outputs", cli_data_dir(data),
                  set->num_classes, argv[optind], K);
        goto out;
    }
    const uint32_t n = set->count;
    sum = calloc((size_t)n * K, sizeof(float));
    probs = malloc(sizeof(float) * n * K);
    conf = calloc((size_t)K * K, sizeof(uint32_t));
    if (nmodels > 1) {
        own = malloc(sizeof(float) * n * K);
        member_correct = calloc((size_t)nmodels, sizeof(uint32_t));
        wrong_by = calloc(n ? n : 1, sizeof(uint32_t));
    }
    if (!sum || !probs || !conf || (nmodels > 1 && (!own || !member_correct || !wrong_by))) {
        cli_error("out of memory");
        goto out;
    }
    for (int i = 0; i < nmodels; i++) {
        uint32_t mc, mh, mw;
        mn_model_input_shape(models[i], &mc, &mh, &mw);
        if (mc != 1 || mh != set->rows || mw != set->cols) {
            cli_error("%s takes %ux%ux%u images but the data holds %ux%u", argv[optind + i], mc,
                      mh, mw, set->rows, set->cols);
            goto out;
        }
        const int copies = tta ? 5 : 1;
        for (int c = 0; c < copies; c++) {
            const uint8_t *px = set->pixels;
            if (c > 0) {
                if (!shifted && !(shifted = malloc((size_t)n * set->rows * set->cols))) {
                    cli_error("out of memory");
                    goto out;
                }
                static const int dx[5] = {0, 1, -1, 0, 0}, dy[5] = {0, 0, 0, 1, -1};
                shift_images(shifted, set->pixels, n, (int)set->rows, (int)set->cols, dx[c], dy[c]);
                px = shifted;
            }
            if (mn_model_predict(models[i], px, n, probs, (int)threads) != MN_OK) {
                cli_lib_error();
                goto out;
            }
            for (size_t j = 0; j < (size_t)n * K; j++)
                sum[j] += probs[j] / (nmodels * copies);
            if (own)
                for (size_t j = 0; j < (size_t)n * K; j++)
                    own[j] = (c ? own[j] : 0.0f) + probs[j];
        }
        for (uint32_t j = 0; own && j < n; j++) {
            if (mn_argmax(own + (size_t)j * K, K) == set->labels[j])
                member_correct[i]++;
            else
                wrong_by[j]++;
        }
    }
    uint32_t correct = 0;
    double loss = 0;
    for (uint32_t i = 0; i < n; i++) {
        const float *p = sum + (size_t)i * K;
        uint32_t best = mn_argmax(p, K);
        uint32_t y = set->labels[i];
        conf[y * K + best]++;
        correct += y == best;
        loss -= log(p[y] > 1e-30f ? p[y] : 1e-30f);
    }
    double acc = (double)correct / n;
    loss /= n;
    if (json) {
        json_t *o = json_object(), *cm = json_array(), *prec = json_array(), *rec = json_array();
        for (uint32_t t = 0; t < K; t++) {
            json_t *row = json_array();
            uint32_t row_sum = 0, col_sum = 0;
            for (uint32_t q = 0; q < K; q++) {
                json_array_append_new(row, json_integer(conf[t * K + q]));
                row_sum += conf[t * K + q];
                col_sum += conf[q * K + t];
            }
            json_array_append_new(cm, row);
            json_array_append_new(prec, col_sum ? json_real((double)conf[t * K + t] / col_sum) : json_null());
            json_array_append_new(rec, row_sum ? json_real((double)conf[t * K + t] / row_sum) : json_null());
        }
        json_t *files = json_array();
        for (int i = 0; i < nmodels; i++)
            json_array_append_new(files, json_string(argv[optind + i]));
        json_object_set_new(o, "models", files);
        json_object_set_new(o, "split", json_string(split));
        json_object_set_new(o, "tta", json_boolean(tta));
        json_object_set_new(o, "count", json_integer(n));
        json_object_set_new(o, "correct", json_integer(correct));
        json_object_set_new(o, "accuracy", json_real(acc));
        json_object_set_new(o, "loss", json_real(loss));
        json_object_set_new(o, "precision", prec);
        json_object_set_new(o, "recall", rec);
        json_object_set_new(o, "confusion", cm);
        if (nmodels > 1) {
            json_t *acc_each = json_array(), *hist = json_array();
            for (int i = 0; i < nmodels; i++)
                json_array_append_new(acc_each, json_real((double)member_correct[i] / n));
            for (int k = 0; k <= nmodels; k++)
                json_array_append_new(hist, json_integer(count_wrong_by(wrong_by, n, k)));
            json_object_set_new(o, "model_accuracy", acc_each);
            json_object_set_new(o, "wrong_by", hist);
        }
        char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
        if (s)
            puts(s);
        free(s);
        json_decref(o);
    } else {
        printf("%s set: %u images, %s%d model%s%s\n", split, n, nmodels > 1 ? "ensemble of " : "",
               nmodels, nmodels > 1 ? "s" : "", tta ? ", test-time augmentation (5 shifts)" : "");
        printf("accuracy  %.4f (%u/%u)\nloss      %.4f\n", acc, correct, n, loss);
        if (nmodels > 1) {
            printf("each model alone:");
            for (int i = 0; i < nmodels; i++)
                printf(" %.4f", (double)member_correct[i] / n);
            printf("\nimages that k of the %d models misclassify:", nmodels);
            for (int k = 1; k <= nmodels; k++)
                printf(" %d:%u", k, count_wrong_by(wrong_by, n, k));
            putchar('\n');
        }
        putchar('\n');
        printf("class  precision  recall   count\n");
        for (uint32_t t = 0; t < K; t++) {
            uint32_t row_sum = 0, col_sum = 0;
            for (uint32_t q = 0; q < K; q++) {
                row_sum += conf[t * K + q];
                col_sum += conf[q * K + t];
            }
            if (!row_sum && !col_sum)
                continue;
            printf("%5u  %9.4f  %6.4f  %6u\n", t, col_sum ? (double)conf[t * K + t] / col_sum : 0.0,
                   row_sum ? (double)conf[t * K + t] / row_sum : 0.0, row_sum);
        }
        if (K <= 16) {
            printf("\nconfusion matrix (rows = true class, columns = predicted)\n     ");
            for (uint32_t q = 0; q < K; q++)
                printf("%6u", q);
            putchar('\n');
            for (uint32_t t = 0; t < K; t++) {
                printf("%5u", t);
                for (uint32_t q = 0; q < K; q++)
                    printf("%6u", conf[t * K + q]);
                putchar('\n');
            }
        }
    }
    rc = 0;
    if (errors_path && write_errors(errors_path, set, sum, K, errors_max) != 0)
        rc = 1;
    if (confusion_path) {
        char title[512], sub[256];
        if (nmodels == 1)
            snprintf(title, sizeof title, "Confusion matrix: %s", argv[optind]);
        else
            snprintf(title, sizeof title, "Confusion matrix: ensemble of %d models", nmodels);
        snprintf(sub, sizeof sub, "%s set, %u images, accuracy %.2f%%; rows: true class, columns: "
                 "predicted", split, n, 100 * acc);
        if (cli_write_confusion_svg(confusion_path, conf, K, title, sub) != MN_OK)
            rc = cli_lib_error();
        else
            fprintf(stderr, "wrote %s\n", confusion_path);
    }
out:
    for (int i = 0; i < nmodels; i++)
        mn_model_free(models[i]);
    free(models);
    mn_dataset_free(set);
    free(sum);
    free(probs);
    free(shifted);
    free(conf);
    free(own);
    free(member_correct);
    free(wrong_by);
    return rc;
}
