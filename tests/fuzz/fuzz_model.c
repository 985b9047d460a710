/* fuzz_model.c: libFuzzer target for model files as the program opens them. Each input is put in
 * an in-memory file (memfd) and loaded by path with mn_model_load, and as a checkpoint with
 * mn_trainer_load, so the whole path (reading, safetensors header, metadata, spec, shapes) is
 * covered. A loaded model must describe itself and, when cheap, predict two images. Every
 * failure must be one line naming the file. Build and run with scripts/fuzz.sh
 * (tests/fuzz/corpus/model). */
#include "fuzz_common.h"

#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int g_fd = -1;
static char g_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    g_fd = memfd_create("fuzz_model", 0);
    if (g_fd < 0)
        abort();
    snprintf(g_path, sizeof g_path, "/proc/self/fd/%d", g_fd);
    return 0;
}

static void check_model(mn_model *m)
{
    char buf[8192];
    mn_model_describe(m, buf, sizeof buf);
    uint32_t c, h, w;
    mn_model_input_shape(m, &c, &h, &w);
    const uint32_t classes = mn_model_num_classes(m);
    if (classes < 2 || classes > MN_MAX_CLASSES || c < 1 || h < 1 || w < 1)
        abort();
    if (!fuzz_model_is_cheap(m, 2))
        return;
    size_t in = (size_t)c * h * w;
    uint8_t *px = calloc(2, in);
    float *probs = malloc(sizeof(float) * 2 * classes);
    if (!px || !probs)
        abort();
    px[in - 1] = 255;
    if (mn_model_predict(m, px, 2, probs, 1) != MN_OK)
        abort();
    volatile float sink = 0;
    for (uint32_t k = 0; k < 2 * classes; k++)
        sink += probs[k]; /* NaN is possible: the weights are arbitrary floats */
    (void)sink;
    free(px);
    free(probs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (ftruncate(g_fd, 0) != 0 || pwrite(g_fd, data, size, 0) != (ssize_t)size)
        abort();
    mn_model *m = NULL;
    if (mn_model_load(&m, g_path) == MN_OK) {
        check_model(m);
        mn_model_free(m);
    } else {
        fuzz_check_message(g_path);
    }
    mn_trainer *t = NULL;
    m = NULL;
    if (mn_trainer_load(&t, &m, g_path) == MN_OK) {
        if (mn_trainer_params(t)->batch < 1)
            abort();
        check_model(m);
        mn_trainer_free(t);
        mn_model_free(m);
    } else {
        fuzz_check_message(g_path);
    }
    return 0;
}
