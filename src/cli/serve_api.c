/* serve_api.c: what `mnist serve` answers, apart from the sockets: a request body in, a status
 * and JSON text out. A body is hostile until proven otherwise: it is sniffed (JSON or an image
 * file), every field is checked, and any flaw becomes a 400 with a one-line reason. The image
 * then goes through the same preprocessing as `mnist predict`, so the 28x28 in the reply is
 * exactly what the model saw. Left out: several digits per request, other image sizes. */
#include "serve.h"
#include "internal.h"

#include <jansson.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void reply_json(serve_reply *r, unsigned status, json_t *o)
{
    r->status = status;
    r->body = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    r->size = r->body ? strlen(r->body) : 0;
    json_decref(o);
    if (!r->body)
        r->status = 500;
}

void serve_api_error(serve_reply *r, unsigned status, const char *message)
{
    /* Messages may quote bytes of the request: keep them printable ASCII (valid JSON text). */
    char clean[SERVE_ERROR_SIZE];
    size_t n = 0;
    for (; message[n] && n + 1 < sizeof clean; n++)
        clean[n] = message[n] >= 0x20 && message[n] < 0x7f ? message[n] : '?';
    clean[n] = '\0';
    reply_json(r, status, json_pack("{s:s}", "error", clean));
}

/* A JSON field that must be a whole number in [min, max]; absent gives `def`. */
static bool json_field_int(const json_t *o, const char *key, long long min, long long max,
                           long long def, long long *out, char *err, size_t err_size)
{
    const json_t *v = json_object_get(o, key);
    if (!v) {
        *out = def;
        return true;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        snprintf(err, err_size, "\"%s\" must be a whole number from %lld to %lld", key, min, max);
        return false;
    }
    *out = json_integer_value(v);
    return true;
}

/* JSON {"pixels": [...], "width": W, "height": H} -> a grey image. false with err on any flaw. */
static bool parse_json_image(const uint8_t *body, size_t size, mn_image *img, char *err,
                             size_t err_size)
{
    json_error_t je;
    json_t *o = json_loadb((const char *)body, size, JSON_REJECT_DUPLICATES, &je);
    if (!o) {
        snprintf(err, err_size, "malformed JSON at line %d, column %d: %s", je.line, je.column,
                 je.text);
        return false;
    }
    bool ok = false;
    long long w = 28, h = 28;
    const json_t *pixels = json_object_get(o, "pixels");
    if (!json_is_object(o)) {
        snprintf(err, err_size, "the JSON body must be an object {\"pixels\": [...]}");
        goto out;
    }
    if (!json_field_int(o, "width", 1, MN_IMAGE_MAX_SIDE, 28, &w, err, err_size) ||
        !json_field_int(o, "height", 1, MN_IMAGE_MAX_SIDE, 28, &h, err, err_size))
        goto out;
    if (!json_is_array(pixels)) {
        snprintf(err, err_size, "\"pixels\" must be an array of %lld numbers from 0 to 255 "
                 "(%lld x %lld, row by row)", w * h, w, h);
        goto out;
    }
    size_t n = json_array_size(pixels);
    if (n != (size_t)(w * h)) {
        snprintf(err, err_size, "\"pixels\" has %zu numbers; a %lld x %lld image needs %lld", n,
                 w, h, w * h);
        goto out;
    }
    if (!(img->pixels = malloc(n))) {
        snprintf(err, err_size, "out of memory for a %lld x %lld image", w, h);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(pixels, i);
        double x = json_is_number(v) ? json_number_value(v) : NAN;
        if (!(x >= 0.0 && x <= 255.0)) {
            snprintf(err, err_size, "pixels[%zu] is not a number from 0 to 255", i);
            free(img->pixels);
            img->pixels = NULL;
            goto out;
        }
        img->pixels[i] = (uint8_t)lround(x);
    }
    img->width = (uint32_t)w;
    img->height = (uint32_t)h;
    ok = true;
out:
    json_decref(o);
    return ok;
}

/* The 200 reply, written by hand: it holds only numbers, and at thousands of replies a second
 * building ~800 jansson nodes per reply costs more than the rest of the request outside the
 * model. Floats as %.6g (as jansson's JSON_REAL_PRECISION(6) would); non-finite ones as 0. */
static void reply_prediction(serve_reply *r, uint32_t best, const float *probs, uint32_t classes,
                             const uint8_t px[784])
{
    size_t cap = 96 + (size_t)classes * 16 + 784 * 4;
    char *b = malloc(cap), *w = b;
    if (!b) {
        *r = (serve_reply){500, NULL, 0};
        return;
    }
    double top = isfinite(probs[best]) ? probs[best] : 0.0;
    w += snprintf(w, 64, "{\"digit\":%u,\"probability\":%.6g,\"probabilities\":[", best, top);
    for (uint32_t k = 0; k < classes; k++)
        w += snprintf(w, 16, "%s%.6g", k ? "," : "", isfinite(probs[k]) ? (double)probs[k] : 0.0);
    memcpy(w, "],\"preprocessed\":[", 18);
    w += 18;
    for (int k = 0; k < 784; k++) {
        unsigned v = px[k];
        if (k)
            *w++ = ',';
        if (v >= 100)
            *w++ = (char)('0' + v / 100);
        if (v >= 10)
            *w++ = (char)('0' + v / 10 % 10);
        *w++ = (char)('0' + v % 10);
    }
    memcpy(w, "]}", 3);
    w += 2;
    *r = (serve_reply){200, b, (size_t)(w - b)};
}

void serve_api_predict(serve_pool *pool, const uint8_t *body, size_t size, serve_reply *reply)
{
    char err[SERVE_ERROR_SIZE];
    size_t i = 0;
    while (i < size && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
        i++;
    if (i == size) {
        serve_api_error(reply, 400, "empty body: send a PNG image or JSON {\"pixels\": [784 "
                                    "numbers from 0 to 255]}");
        return;
    }
    mn_image img = {0};
    uint8_t px[784];
    serve_pool_enter_prep(pool);
    bool ok;
    if (body[i] == '{' || body[i] == '[')
        ok = parse_json_image(body, size, &img, err, sizeof err);
    else if (!(ok = mn_image_decode(body, size, "request body", &img) == MN_OK))
        snprintf(err, sizeof err, "%s", mn_error_message());
    if (ok && !(ok = mn_image_to_mnist(&img, px) == MN_OK))
        snprintf(err, sizeof err, "%s", mn_error_message());
    mn_image_free(&img);
    serve_pool_leave_prep(pool);
    if (!ok) {
        serve_api_error(reply, 400, err);
        return;
    }

    const uint32_t classes = mn_model_num_classes(serve_pool_model(pool));
    float probs[MN_MAX_CLASSES];
    if (serve_pool_predict(pool, px, probs, err) != MN_OK) {
        serve_api_error(reply, 500, err);
        return;
    }
    reply_prediction(reply, mn_argmax(probs, classes), probs, classes, px);
}

void serve_api_model(serve_pool *pool, const char *path, serve_reply *reply)
{
    uint64_t images, batches;
    serve_pool_stats(pool, &images, &batches);
    const mn_model *m = serve_pool_model(pool);
    uint32_t c, h, w;
    float mean, std;
    mn_model_input_shape(m, &c, &h, &w);
    mn_model_get_normalisation(m, &mean, &std);
    char *copy = strdup(path);
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:[i,i,i], s:i, s:f, s:f, s:s, s:i, s:i, s:I, "
                          "s:I, s:I}",
                          "file", copy ? basename(copy) : path, "spec", mn_model_spec(m),
                          "preset", mn_model_preset(m), "parameters",
                          (json_int_t)mn_model_param_count(m), "input_shape", (int)c, (int)h,
                          (int)w, "num_classes", (int)mn_model_num_classes(m),
                          "normalisation_mean", (double)mean, "normalisation_std", (double)std,
                          "version", MN_VERSION, "copies", serve_pool_copies(pool),
                          "max_batch", SERVE_MAX_BATCH, "max_body_bytes",
                          (json_int_t)SERVE_MAX_BODY, "images_predicted", (json_int_t)images,
                          "batches_run", (json_int_t)batches);
    free(copy);
    static const char *keys[] = {"seed", "recipe", "test_accuracy"};
    for (size_t i = 0; o && i < sizeof keys / sizeof keys[0]; i++)
        if (mn_model_get_meta(m, keys[i]))
            json_object_set_new(o, keys[i], json_string(mn_model_get_meta(m, keys[i])));
    reply_json(reply, 200, o);
}
