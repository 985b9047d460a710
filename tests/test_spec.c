/* test_spec.c: spec strings and presets build the right layers and shapes; bad specs fail with
 * a message that points at the bad token. */
#include "check.h"
#include "model_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct valid_case {
    const char *spec;
    int in;             /* square input side */
    uint64_t params;
    const char *layers; /* describe() must contain this */
} valid_case;

typedef struct invalid_case {
    const char *spec;
    const char *needle;
} invalid_case;

/* Saves a model built from `spec` whose preset field says `preset`, loads it back and checks
 * the spec and preset name it comes back with. */
static void round_trip(const char *spec, const char *preset, const char *want_preset)
{
    const char *dir = getenv("MNIST_TMP") ? getenv("MNIST_TMP") : "/tmp";
    char path[1100];
    snprintf(path, sizeof path, "%s/test_spec_%d.safetensors", dir, (int)getpid());
    mn_model *m, *back = NULL;
    if (mn_model_create(&m, spec, 1, 28, 28, MN_INIT_HE, 1) != MN_OK) {
        CHECK(false, "create %s: %s", spec, mn_error_message());
        return;
    }
    snprintf(m->preset, sizeof m->preset, "%s", preset);
    CHECK(mn_model_save(m, path) == MN_OK, "save: %s", mn_error_message());
    CHECK(mn_model_load(&back, path) == MN_OK, "load %s (preset \"%s\"): %s", spec, preset,
          mn_error_message());
    if (back) {
        CHECK(!strcmp(back->spec, m->spec) && !strcmp(mn_model_preset(back), want_preset) &&
                  back->num_params == m->num_params &&
                  !memcmp(back->params, m->params, m->num_params * sizeof(float)),
              "%s saved as preset \"%s\": loads as %s, preset \"%s\" (want \"%s\")", spec,
              preset, back->spec, mn_model_preset(back), want_preset);
        mn_model_free(back);
    }
    mn_model_free(m);
    remove(path);
}

/* A preset name in a file is a label: the stored spec builds the model, and the name is kept
 * only while the preset still expands to that spec. A file saved when `best` had the tutorial's
 * layers with bn loads as those layers. */
static void test_preset_files(void)
{
    mn_model *b;
    if (mn_model_create(&b, "best", 1, 28, 28, MN_INIT_HE, 1) != MN_OK) {
        CHECK(false, "best: %s", mn_error_message());
        return;
    }
    char *best = strdup(b->spec);
    mn_model_free(b);
    round_trip(best, "best", "best");
    round_trip("cnn", "cnn", "cnn");
    round_trip("conv:32:5,bn,relu,pool:2,conv:64:5,bn,relu,pool:2,dense:1024,relu,dropout:0.5,"
               "dense:10", "best", "");
    round_trip("dense:10", "cnn", "");
    round_trip("dense:10", "nonsense", "");
    free(best);
}

int main(void)
{
    const valid_case valid[] = {
        {"softmax", 28, 7850, "fc     dense 784->10"},
        {"cnn", 28, 3274634, "conv2  conv 5x5 32->64 stride 1 pad 2"},
        {"conv:32:5,relu,pool:2,conv:64:5,relu,pool:2,dense:1024,relu,dropout:0.5,dense:10", 28,
         3274634, "fc1    dense 3136->1024"},
        {"dense:10", 28, 7850, "fc "},
        {"conv:8:3:2,relu,dense:10", 28, 8 * 9 + 8 + 8 * 14 * 14 * 10 + 10, "14x14"},
        {"conv:4:3:1:valid,pool:2,flatten,dense:3", 8, 4 * 9 + 4 + 4 * 3 * 3 * 3 + 3, "3x3"},
        {"conv:4:4:2:0,pool:3:1,dense:2", 10, 4 * 16 + 4 + 4 * 2 * 2 * 2 + 2, "maxpool 3x3 stride 1"},
        {"dense:100,relu,dropout:0,dense:2", 5, 25 * 100 + 100 + 100 * 2 + 2, "dropout 0"},
    };
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        mn_model *m = NULL;
        mn_status st = mn_model_create(&m, valid[i].spec, 1, valid[i].in, valid[i].in,
                                       MN_INIT_DEFAULT, 1);
        CHECK(st == MN_OK, "%s: %s", valid[i].spec, mn_error_message());
        if (st != MN_OK)
            continue;
        char buf[4096];
        mn_model_describe(m, buf, sizeof buf);
        CHECK(mn_model_param_count(m) == valid[i].params, "%s: %llu parameters, want %llu",
              valid[i].spec, (unsigned long long)mn_model_param_count(m),
              (unsigned long long)valid[i].params);
        CHECK(strstr(buf, valid[i].layers) != NULL, "%s: description lacks \"%s\":\n%s",
              valid[i].spec, valid[i].layers, buf);
        mn_model_free(m);
    }

    /* Preset tensor names and the tutorial's initialisations. */
    mn_model *m;
    CHECK(mn_model_create(&m, "cnn", 1, 28, 28, MN_INIT_DEFAULT, 3) == MN_OK, "cnn");
    CHECK(!strcmp(m->layers[0].name, "conv1") && !strcmp(m->layers[3].name, "conv2") &&
              !strcmp(m->layers[6].name, "fc1") && !strcmp(m->layers[9].name, "fc2"),
          "cnn tensor names");
    CHECK(m->params[m->layers[0].b_off] == 0.1f, "cnn biases start at 0.1");
    float wmax = 0;
    for (size_t i = 0; i < m->layers[0].w_count; i++)
        wmax = fmaxf(wmax, fabsf(m->params[m->layers[0].w_off + i]));
    CHECK(wmax > 0.1f && wmax <= 0.2f, "cnn weights truncated at 2 std (0.2): max %g", wmax);
    CHECK(!strcmp(mn_model_preset(m), "cnn"), "preset name kept");
    mn_model_free(m);
    CHECK(mn_model_create(&m, "softmax", 1, 28, 28, MN_INIT_DEFAULT, 3) == MN_OK, "softmax");
    bool zero = true;
    for (size_t i = 0; i < m->num_params; i++)
        zero = zero && m->params[i] == 0.0f;
    CHECK(zero && !strcmp(m->layers[0].name, "fc"), "softmax: zero-initialised, tensor fc");
    mn_model_free(m);

    const invalid_case invalid[] = {
        {"", "empty"},
        {"conv:32:5,relu", "the last layer must be dense"},
        {"conv:32:x,relu,dense:10", "layer 1 \"conv:32:x\": kernel size"},
        {"conv:32:5,rleu,dense:10", "layer 2 \"rleu\": unknown layer"},
        {"conv:0:5,dense:10", "output channels"},
        {"dense:10,conv:3:3,dense:10", "cannot follow a dense layer"},
        {"pool:2:0,dense:10", "stride"},
        {"pool:64,dense:10", "larger than its input"},
        {"conv:4:40:1:0,dense:10", "larger than its (padded) input"},
        {"dropout:1,dense:10", "0 <= P < 1"},
        {"dropout:abc,dense:10", "dropout:P"},
        {"relu:3,dense:10", "takes no arguments"},
        {"dense:1", "2 to 256 outputs"},
        {"dense:10,,dense:10", "empty layer"},
        {"dense:10,", "empty layer"},
        {"dense:99999999999", "dense:OUT"},
        {"conv:65536:64,conv:65536:64,dense:10", "more than 2^30 parameters"},
        {"conv:65536:1:1:30,dense:10", "output is too large"},
    };
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        mn_model *bad = NULL;
        CHECK_ERR(mn_model_create(&bad, invalid[i].spec, 1, 28, 28, MN_INIT_DEFAULT, 1),
                  MN_ERR_ARG, invalid[i].needle);
        CHECK(bad == NULL, "no model on failure");
    }
    /* Found by fuzzing: messages stay one line and short whatever the spec holds, and an input
     * whose sides are each in range but whose product is not is refused before any arithmetic. */
    mn_model *bad = NULL;
    CHECK_ERR(mn_model_create(&bad, "c\xee" "dropoun\n", 1, 28, 28, MN_INIT_DEFAULT, 1), MN_ERR_ARG,
              "\\x0a\": unknown layer");
    CHECK(!strchr(mn_error_message(), '\n'), "one line: %s", mn_error_message());
    char long_spec[4000];
    memset(long_spec, 'x', sizeof long_spec - 1);
    long_spec[sizeof long_spec - 1] = '\0';
    CHECK_ERR(mn_model_create(&bad, long_spec, 1, 28, 28, MN_INIT_DEFAULT, 1), MN_ERR_ARG,
              "...\": unknown layer");
    CHECK_ERR(mn_model_create(&bad, "dense:10", 4096, 4096, 4096, MN_INIT_DEFAULT, 1), MN_ERR_ARG,
              "model input 4096x4096x4096 is too large");
    CHECK(bad == NULL, "no model on failure");
    test_preset_files();
    return check_summary();
}
