/* fuzz_spec.c: libFuzzer target for the model spec parser. The input is the spec text (up to its
 * first NUL), parsed for 1x28x28, 1x8x8 and 3x5x7 inputs. A spec that parses must give the same
 * model when its canonical form is parsed again; a cheap one is built, runs a forward pass and
 * (if cheaper still) two training steps on four images, so every shape the parser accepts is one
 * the layers can run. Costly valid specs (up to 2^30 parameters) are only parsed.
 * Build and run with scripts/fuzz.sh (tests/fuzz/corpus/spec). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void run_model(mn_model *m)
{
    uint32_t c, h, w;
    mn_model_input_shape(m, &c, &h, &w);
    const size_t in = (size_t)c * h * w;
    const uint32_t classes = mn_model_num_classes(m);
    uint8_t *px = malloc(4 * in);
    uint8_t labels[4];
    float *probs = malloc(sizeof(float) * 4 * classes);
    if (!px || !probs)
        abort();
    for (size_t i = 0; i < 4 * in; i++)
        px[i] = (uint8_t)(i * 37 + i / 5);
    for (int i = 0; i < 4; i++)
        labels[i] = (uint8_t)(i % 2);
    if (mn_model_predict(m, px, 2, probs, 1) != MN_OK)
        abort();
    for (uint32_t k = 0; k < 2 * classes; k++)
        if (!(probs[k] >= 0.0f && probs[k] <= 1.0f))
            abort(); /* softmax of finite logits */
    if (c == 1 && fuzz_model_is_cheap(m, 256)) {
        mn_dataset set = {.count = 4, .rows = h, .cols = w, .num_classes = 2, .pixels = px,
                          .labels = labels};
        mn_train_params p = mn_train_default_params();
        p.steps = 2;
        p.batch = 2;
        p.threads = 1;
        p.optimizer = MN_OPT_ADAM;
        p.lr = 1e-3f;
        if (mn_model_train(m, &set, NULL, &p) != MN_OK)
            abort();
    }
    free(px);
    free(probs);
}

static void try_shape(const char *spec, uint32_t c, uint32_t h, uint32_t w)
{
    mn_model *probe = calloc(1, sizeof *probe);
    if (!probe)
        abort();
    probe->in_c = (int)c, probe->in_h = (int)h, probe->in_w = (int)w;
    mn_status st = mn_spec_parse(probe, spec);
    bool cheap = st == MN_OK && fuzz_model_is_cheap(probe, 2);
    size_t params = probe->num_params;
    free(probe->spec);
    free(probe);
    if (st != MN_OK) {
        if (st != MN_ERR_ARG)
            abort();
        fuzz_check_message(NULL);
        return;
    }
    if (!cheap)
        return;
    mn_model *m;
    if (mn_model_create(&m, spec, c, h, w, MN_INIT_HE, 1) != MN_OK)
        abort();
    if (mn_model_param_count(m) != params)
        abort();
    mn_model *again;
    char *canonical = strdup(mn_model_spec(m));
    if (!canonical || mn_model_create(&again, canonical, c, h, w, MN_INIT_HE, 1) != MN_OK)
        abort();
    if (strcmp(mn_model_spec(again), canonical) != 0 || mn_model_param_count(again) != params)
        abort();
    free(canonical);
    mn_model_free(again);
    char buf[256];
    size_t want = mn_model_describe(m, buf, sizeof buf);
    if (want > 0 && strlen(buf) != (want < sizeof buf ? want : sizeof buf - 1))
        abort();
    run_model(m);
    mn_model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    char *spec = malloc(size + 1);
    if (!spec)
        abort();
    memcpy(spec, data, size);
    spec[size] = '\0';
    try_shape(spec, 1, 28, 28);
    try_shape(spec, 1, 8, 8);
    try_shape(spec, 3, 5, 7);
    free(spec);
    return 0;
}
