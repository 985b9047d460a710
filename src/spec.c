/* spec.c: turns a spec string ("conv:32:5,relu,pool:2,dense:10") or a preset name into the
 * model's layer list, with shapes, tensor names and parameter offsets. Errors point at the token. */
#include "model_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SPEC_SOFTMAX "dense:10"
#define SPEC_CNN "conv:32:5,relu,pool:2,conv:64:5,relu,pool:2,dense:1024,relu,dropout:0.5,dense:10"
/* The `best` preset: four 3x3 convolutions with batch normalisation, pooled after each pair,
 * and a 256-wide hidden layer; README gives the reasons. It used to be the tutorial's layers
 * with bn after each convolution, conv:32:5,bn,relu,pool:2,conv:64:5,bn,relu,pool:2,
 * dense:1024,relu,dropout:0.5,dense:10 (files saved then load as that spec). */
#define SPEC_BEST "conv:32:3,bn,relu,conv:32:3,bn,relu,pool:2,conv:64:3,bn,relu,conv:64:3,bn,relu," \
                  "pool:2,dense:256,bn,relu,dropout:0.3,dense:10"

/* Limits that keep every size computation far from overflow. */
#define MAX_SIDE 4096
#define MAX_CHANNELS 65536
#define MAX_PARAMS ((size_t)1 << 30)
#define MAX_ACTIVATION ((size_t)1 << 26) /* values per image per layer */

static mn_status bad(const char *spec, int index, const char *token, const char *why)
{
    return mn_fail(MN_ERR_ARG, "model spec \"%s\": layer %d \"%s\": %s", mn_quote(spec).text,
                   index + 1, mn_quote(token).text, why);
}

/* Parses field `f` of a token as an integer in [lo, hi]. */
static bool field_int(const char *f, long lo, long hi, int *out)
{
    if (!f || !*f)
        return false;
    char *end;
    errno = 0;
    long v = strtol(f, &end, 10);
    if (*end || errno || v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

mn_status mn_spec_parse(mn_model *m, const char *spec_in)
{
    const char *spec = spec_in;
    m->preset[0] = '\0';
    if (!strcmp(spec_in, "softmax")) {
        spec = SPEC_SOFTMAX;
        strcpy(m->preset, "softmax");
    } else if (!strcmp(spec_in, "cnn")) {
        spec = SPEC_CNN;
        strcpy(m->preset, "cnn");
    } else if (!strcmp(spec_in, "best")) {
        spec = SPEC_BEST;
        strcpy(m->preset, "best");
    }
    if (!*spec)
        return mn_fail(MN_ERR_ARG, "model spec is empty (use a preset such as softmax or cnn, "
                                   "or layers such as conv:32:5,relu,pool:2,dense:10)");
    if (strlen(spec) > 4096)
        return mn_fail(MN_ERR_ARG, "model spec is longer than 4096 characters");

    size_t len = strlen(spec);
    if (spec[0] == ',' || spec[len - 1] == ',' || strstr(spec, ",,"))
        return mn_fail(MN_ERR_ARG, "model spec \"%s\": empty layer (two commas, or a comma at "
                                   "an end)", mn_quote(spec).text);
    char *copy = strdup(spec);
    if (!copy)
        return mn_fail(MN_ERR_NOMEM, "out of memory");
    mn_status st = MN_OK;
    int c = m->in_c, h = m->in_h, w = m->in_w;
    int n = 0, convs = 0, denses = 0, bns = 0;
    size_t buffers = 0;
    if ((size_t)c * h * w > MAX_ACTIVATION) { /* each side may be 4096: the product overflows int */
        st = mn_fail(MN_ERR_ARG, "model input %dx%dx%d is too large (at most 2^26 values)", c, h,
                     w);
        goto done;
    }
    size_t offset = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save), n++) {
        if (n >= MN_MAX_LAYERS) {
            st = mn_fail(MN_ERR_ARG, "model spec \"%s\": more than %d layers", mn_quote(spec).text,
                         MN_MAX_LAYERS);
            goto done;
        }
        char token[128];
        snprintf(token, sizeof token, "%s", tok);
        char *fields[6] = {0};
        int nf = 0;
        char *fsave = NULL;
        for (char *f = strtok_r(tok, ":", &fsave); f && nf < 6; f = strtok_r(NULL, ":", &fsave))
            fields[nf++] = f;
        mn_layer *L = &m->layers[n];
        memset(L, 0, sizeof *L);
        L->in_c = c, L->in_h = h, L->in_w = w;
        const char *kind = fields[0] ? fields[0] : "";
        if (!strcmp(kind, "conv")) {
            int oc, k, s = 1, p;
            if (nf < 3 || nf > 5) {
                st = bad(spec, n, token, "expected conv:OUT:K[:STRIDE[:PAD]]");
                goto done;
            }
            if (denses > 0) {
                st = bad(spec, n, token, "a convolution cannot follow a dense layer");
                goto done;
            }
            if (!field_int(fields[1], 1, MAX_CHANNELS, &oc)) {
                st = bad(spec, n, token, "output channels must be a whole number from 1 to 65536");
                goto done;
            }
            if (!field_int(fields[2], 1, 64, &k)) {
                st = bad(spec, n, token, "kernel size must be a whole number from 1 to 64");
                goto done;
            }
            if (nf >= 4 && !field_int(fields[3], 1, 64, &s)) {
                st = bad(spec, n, token, "stride must be a whole number from 1 to 64");
                goto done;
            }
            p = k / 2;
            if (nf == 5) {
                if (!strcmp(fields[4], "same"))
                    p = k / 2;
                else if (!strcmp(fields[4], "valid"))
                    p = 0;
                else if (!field_int(fields[4], 0, 64, &p)) {
                    st = bad(spec, n, token, "padding must be same, valid or a whole number 0..64");
                    goto done;
                }
            }
            if (h + 2 * p < k || w + 2 * p < k) {
                st = bad(spec, n, token, "the kernel is larger than its (padded) input");
                goto done;
            }
            L->kind = MN_LAYER_CONV;
            L->k = k, L->stride = s, L->pad = p;
            L->out_c = oc;
            L->out_h = (h + 2 * p - k) / s + 1;
            L->out_w = (w + 2 * p - k) / s + 1;
            L->w_count = (size_t)oc * c * k * k;
            L->b_count = (size_t)oc;
            convs++;
        } else if (!strcmp(kind, "pool")) {
            int k, s;
            if (nf < 2 || nf > 3) {
                st = bad(spec, n, token, "expected pool:K[:STRIDE]");
                goto done;
            }
            if (denses > 0) {
                st = bad(spec, n, token, "pooling cannot follow a dense layer");
                goto done;
            }
            if (!field_int(fields[1], 1, 64, &k)) {
                st = bad(spec, n, token, "pool size must be a whole number from 1 to 64");
                goto done;
            }
            s = k;
            if (nf == 3 && !field_int(fields[2], 1, 64, &s)) {
                st = bad(spec, n, token, "stride must be a whole number from 1 to 64");
                goto done;
            }
            if (h < k || w < k) {
                st = bad(spec, n, token, "the pool window is larger than its input");
                goto done;
            }
            L->kind = MN_LAYER_POOL;
            L->k = k, L->stride = s;
            L->out_c = c, L->out_h = (h - k) / s + 1, L->out_w = (w - k) / s + 1;
        } else if (!strcmp(kind, "dense")) {
            int out;
            if (nf != 2 || !field_int(fields[1], 1, 1 << 20, &out)) {
                st = bad(spec, n, token, "expected dense:OUT with OUT a whole number from 1 to 1048576");
                goto done;
            }
            L->kind = MN_LAYER_DENSE;
            L->in_c = c * h * w, L->in_h = L->in_w = 1;
            L->out_c = out, L->out_h = L->out_w = 1;
            L->w_count = (size_t)out * c * h * w;
            L->b_count = (size_t)out;
            denses++;
        } else if (!strcmp(kind, "relu") || !strcmp(kind, "flatten")) {
            if (nf != 1) {
                st = bad(spec, n, token, "takes no arguments");
                goto done;
            }
            L->kind = !strcmp(kind, "relu") ? MN_LAYER_RELU : MN_LAYER_FLATTEN;
            L->out_c = c, L->out_h = h, L->out_w = w;
            if (L->kind == MN_LAYER_FLATTEN)
                L->out_c = c * h * w, L->out_h = L->out_w = 1;
        } else if (!strcmp(kind, "bn")) {
            if (nf != 1) {
                st = bad(spec, n, token, "takes no arguments");
                goto done;
            }
            /* per channel over N, H, W (BatchNorm2d); after a dense layer H = W = 1, per
             * feature (BatchNorm1d) */
            L->kind = MN_LAYER_BN;
            L->out_c = c, L->out_h = h, L->out_w = w;
            L->w_count = L->b_count = (size_t)c;
            L->r_off = buffers;
            buffers += 2 * (size_t)c;
            bns++;
        } else if (!strcmp(kind, "dropout")) {
            char *end;
            double p = nf == 2 ? strtod(fields[1], &end) : -1.0;
            if (nf != 2 || *end || !(p >= 0.0 && p < 1.0)) {
                st = bad(spec, n, token, "expected dropout:P with 0 <= P < 1");
                goto done;
            }
            L->kind = MN_LAYER_DROPOUT;
            L->p = (float)p;
            L->out_c = c, L->out_h = h, L->out_w = w;
        } else {
            st = bad(spec, n, token, "unknown layer (expected conv, pool, dense, relu, bn, dropout or flatten)");
            goto done;
        }
        if ((size_t)L->out_c * L->out_h * L->out_w > MAX_ACTIVATION) {
            st = bad(spec, n, token, "the layer's output is too large");
            goto done;
        }
        L->w_off = offset;
        L->b_off = offset + L->w_count;
        offset += L->w_count + L->b_count;
        if (offset > MAX_PARAMS) {
            st = bad(spec, n, token, "the model has more than 2^30 parameters");
            goto done;
        }
        c = L->out_c, h = L->out_h, w = L->out_w;
    }
    if (n == 0) {
        st = mn_fail(MN_ERR_ARG, "model spec \"%s\" has no layers", mn_quote(spec).text);
        goto done;
    }
    if (m->layers[n - 1].kind != MN_LAYER_DENSE) {
        st = mn_fail(MN_ERR_ARG, "model spec \"%s\": the last layer must be dense:CLASSES",
                     mn_quote(spec).text);
        goto done;
    }
    if (m->layers[n - 1].out_c < 2 || m->layers[n - 1].out_c > MN_MAX_CLASSES) {
        st = mn_fail(MN_ERR_ARG, "model spec \"%s\": the last layer must have 2 to %d outputs",
                     mn_quote(spec).text, MN_MAX_CLASSES);
        goto done;
    }
    /* Names follow PyTorch modules: conv1, conv2, fc1, fc2, bn1, bn2 (a lone one: conv, fc, bn). */
    int ci = 0, di = 0, bi = 0;
    for (int i = 0; i < n; i++) {
        mn_layer *L = &m->layers[i];
        if (L->kind == MN_LAYER_CONV)
            convs == 1 ? snprintf(L->name, sizeof L->name, "conv")
                       : snprintf(L->name, sizeof L->name, "conv%d", ++ci);
        else if (L->kind == MN_LAYER_DENSE)
            denses == 1 ? snprintf(L->name, sizeof L->name, "fc")
                        : snprintf(L->name, sizeof L->name, "fc%d", ++di);
        else if (L->kind == MN_LAYER_BN)
            bns == 1 ? snprintf(L->name, sizeof L->name, "bn")
                     : snprintf(L->name, sizeof L->name, "bn%d", ++bi);
    }
    m->num_layers = n;
    m->num_params = offset;
    m->num_buffers = buffers;
    m->num_classes = m->layers[n - 1].out_c;
    free(m->spec);
    m->spec = strdup(spec);
    if (!m->spec)
        st = mn_fail(MN_ERR_NOMEM, "out of memory");
done:
    free(copy);
    return st;
}
