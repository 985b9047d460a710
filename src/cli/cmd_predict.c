/* cmd_predict.c: `mnist predict MODEL IMAGE...`: reads each picture, turns it into an MNIST-like
 * 28x28 the way MNIST was made, and prints the digit with its probability. */
#include "cli.h"

#include <getopt.h>
#include <jansson.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void usage(FILE *out)
{
    fputs("usage: mnist predict MODEL IMAGE... [options]\n"
          "  IMAGE is a PNG, JPEG or PGM/PPM file of one digit: any size, colour or grey,\n"
          "  dark ink on light paper or the reverse\n"
          "  --top K                    also list the K most likely classes (default 1)\n"
          "  --show                     draw the 28x28 the model saw in the terminal (after\n"
          "                             its own --preprocess, if it was trained with one)\n"
          "  --json                     one JSON object per image: file, digit, probability, probabilities\n"
          "  --save-preprocessed DIR    write each 28x28 as DIR/NAME.28x28.png\n"
          "  --threads N                threads (default: all cores)\n",
          out);
}

/* Indices of probs sorted by decreasing probability (k of them). */
static void top_k(const float *probs, int n, int *idx, int k)
{
    for (int i = 0; i < k; i++) {
        int best = -1;
        for (int j = 0; j < n; j++) {
            bool used = false;
            for (int u = 0; u < i; u++)
                used = used || idx[u] == j;
            if (!used && (best < 0 || probs[j] > probs[best]))
                best = j;
        }
        idx[i] = best;
    }
}

int cmd_predict(int argc, char **argv)
{
    static const struct option opts[] = {{"top", required_argument, 0, 'k'},
                                         {"show", no_argument, 0, 's'},
                                         {"json", no_argument, 0, 'j'},
                                         {"save-preprocessed", required_argument, 0, 'p'},
                                         {"threads", required_argument, 0, 't'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    long long k = 1, threads = 0;
    bool show = false, json = false;
    const char *save_dir = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'k': if (!cli_parse_int("--top", optarg, 1, MN_MAX_CLASSES, &k)) return 2; break;
        case 's': show = true; break;
        case 'j': json = true; break;
        case 'p': save_dir = optarg; break;
        case 't': if (!cli_parse_int("--threads", optarg, 0, 256, &threads)) return 2; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (argc - optind < 2)
        return cli_error("predict: give a model and at least one image (usage: mnist predict "
                         "MODEL IMAGE...)"), 2;
    mn_model *model;
    if (mn_model_load(&model, argv[optind]) != MN_OK)
        return cli_lib_error();
    uint32_t mc, mh, mw;
    mn_model_input_shape(model, &mc, &mh, &mw);
    if (mc != 1 || mh != 28 || mw != 28) {
        mn_model_free(model);
        return cli_error("%s takes %ux%ux%u inputs; predict makes 28x28 grey images",
                         argv[optind], mc, mh, mw);
    }
    if (save_dir && mkdir(save_dir, 0777) != 0) {
        struct stat st;
        if (stat(save_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            mn_model_free(model);
            return cli_error("%s: cannot create the directory", save_dir);
        }
    }
    const int K = (int)mn_model_num_classes(model);
    if (k > K)
        k = K;
    int failures = 0;
    float *probs = malloc(sizeof(float) * K);
    int *idx = malloc(sizeof(int) * K);
    if (!probs || !idx) {
        free(probs);
        free(idx);
        mn_model_free(model);
        return cli_error("out of memory");
    }
    for (int a = optind + 1; a < argc; a++) {
        const char *path = argv[a];
        mn_image img = {0};
        uint8_t px[784];
        mn_status st = mn_image_load(path, &img);
        bool named = st != MN_OK; /* the later steps' messages do not know the file's name */
        if (st == MN_OK)
            st = mn_image_to_mnist(&img, px);
        if (st == MN_OK)
            st = mn_model_predict(model, px, 1, probs, (int)threads);
        if (st != MN_OK) {
            named ? cli_lib_error() : cli_error("%s: %s", path, mn_error_message());
            mn_image_free(&img);
            failures++;
            continue;
        }
        mn_image_free(&img);
        top_k(probs, K, idx, (int)k);
        if (save_dir) {
            char *copy = strdup(path), out[4096];
            snprintf(out, sizeof out, "%s/%s.28x28.png", save_dir, copy ? basename(copy) : "image");
            free(copy);
            mn_image pre = {28, 28, px};
            if (mn_image_save_png(out, &pre) != MN_OK) {
                cli_lib_error();
                failures++;
            }
        }
        if (json) {
            json_t *o = json_object(), *arr = json_array(), *pre = json_array();
            for (int j = 0; j < K; j++)
                json_array_append_new(arr, json_real(probs[j]));
            for (int j = 0; j < 784; j++)
                json_array_append_new(pre, json_integer(px[j]));
            json_object_set_new(o, "file", json_string(path));
            json_object_set_new(o, "digit", json_integer(idx[0]));
            json_object_set_new(o, "probability", json_real(probs[idx[0]]));
            json_object_set_new(o, "probabilities", arr);
            json_object_set_new(o, "preprocessed", pre);
            char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
            if (s)
                puts(s);
            free(s);
            json_decref(o);
        } else {
            if (show) { /* what the model saw: after its own preprocessing, if it has one */
                uint8_t seen[784];
                if (mn_model_preprocess_image(model, px, seen) != MN_OK)
                    memcpy(seen, px, sizeof seen);
                cli_draw_image(stdout, seen, 28, 28, cli_stdout_is_tty());
            }
            printf("%s: %d (%.1f%%)", path, idx[0], 100.0 * probs[idx[0]]);
            if (k > 1) {
                printf("   top %lld:", k);
                for (int j = 0; j < k; j++)
                    printf(" %d %.1f%%", idx[j], 100.0 * probs[idx[j]]);
            }
            putchar('\n');
        }
        fflush(stdout);
    }
    free(probs);
    free(idx);
    mn_model_free(model);
    return failures ? 1 : 0;
}
