/* fuzz_http.c: libFuzzer target for the server's request handling below the sockets: each input
 * is the body of POST /api/predict (an image file or JSON pixels), handed to serve_api_predict
 * with a small model. Every reply must be 200 or 400 with a JSON object body ("digit" on 200,
 * "error" on 400). Bodies over SERVE_MAX_BODY never reach it (the HTTP layer answers 413).
 * Build and run with scripts/fuzz.sh (tests/fuzz/corpus/http). */
#include "serve.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static serve_pool *g_pool;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    char dir[] = "/tmp/fuzz_http.XXXXXX", path[64], err[SERVE_ERROR_SIZE];
    mn_model *m;
    if (!mkdtemp(dir) ||
        mn_model_create(&m, "conv:4:5,relu,pool:2,dense:10", 1, 28, 28, MN_INIT_HE, 1) != MN_OK)
        abort();
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (mn_model_save(m, path) != MN_OK || serve_pool_create(&g_pool, path, 1, err) != MN_OK) {
        fprintf(stderr, "fuzz_http: %s %s\n", mn_error_message(), err);
        abort();
    }
    mn_model_free(m);
    unlink(path);
    rmdir(dir);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > SERVE_MAX_BODY)
        return 0;
    serve_reply r = {0};
    serve_api_predict(g_pool, data, size, &r);
    if (!r.body || (r.status != 200 && r.status != 400) || r.size != strlen(r.body))
        abort();
    json_error_t je;
    json_t *o = json_loadb(r.body, r.size, 0, &je);
    if (!o || !json_is_object(o))
        abort();
    if (r.status == 200) {
        json_t *d = json_object_get(o, "digit");
        if (!json_is_integer(d) || json_integer_value(d) < 0 || json_integer_value(d) > 9 ||
            json_array_size(json_object_get(o, "preprocessed")) != 784)
            abort();
    } else if (!json_is_string(json_object_get(o, "error"))) {
        abort();
    }
    json_decref(o);
    free(r.body);
    return 0;
}
