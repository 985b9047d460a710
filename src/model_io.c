/* model_io.c: models as .safetensors files. Tensor names and layouts are PyTorch's state_dict
 * (conv1.weight [out,in,kh,kw], fc1.weight [out,in], bn1.weight/bias/running_mean/running_var
 * [C]; bn's num_batches_tracked, an int64 PyTorch does not need with a fixed momentum, is left
 * out); the metadata holds what is needed to rebuild the model (spec, input shape,
 * normalisation) and the format version. */
#include "model_internal.h"

#include "safetensors.h"

#include <stdlib.h>
#include <string.h>

#define KEY_FORMAT "format_version"

static const char *const g_parts[4] = {"weight", "bias", "running_mean", "running_var"};

int mn_model_tensors(const mn_model *m, mn_st_tensor *tensors)
{
    int nt = 0;
    for (int i = 0; i < m->num_layers; i++) {
        const mn_layer *L = &m->layers[i];
        if (!L->w_count)
            continue;
        if (L->kind == MN_LAYER_BN) {
            for (int part = 0; part < 4; part++) {
                mn_st_tensor *t = &tensors[nt++];
                memset(t, 0, sizeof *t);
                snprintf(t->name, sizeof t->name, "%s.%s", L->name, g_parts[part]);
                t->ndim = 1;
                t->shape[0] = (int64_t)L->w_count;
                t->count = L->w_count;
                t->data = part == 0   ? m->params + L->w_off
                          : part == 1 ? m->params + L->b_off
                                      : m->buffers + L->r_off + (part - 2) * L->w_count;
            }
            continue;
        }
        mn_st_tensor *w = &tensors[nt++], *b = &tensors[nt++];
        memset(w, 0, sizeof *w);
        memset(b, 0, sizeof *b);
        snprintf(w->name, sizeof w->name, "%s.weight", L->name);
        snprintf(b->name, sizeof b->name, "%s.bias", L->name);
        if (L->kind == MN_LAYER_CONV) {
            w->ndim = 4;
            w->shape[0] = L->out_c, w->shape[1] = L->in_c, w->shape[2] = L->k, w->shape[3] = L->k;
        } else {
            w->ndim = 2;
            w->shape[0] = L->out_c, w->shape[1] = L->in_c;
        }
        w->count = L->w_count;
        w->data = m->params + L->w_off;
        b->ndim = 1;
        b->shape[0] = (int64_t)L->b_count;
        b->count = L->b_count;
        b->data = m->params + L->b_off;
    }
    return nt;
}

mn_status mn_model_meta_build(const mn_model *m, mn_model_meta *b)
{
    memset(b, 0, sizeof *b);
    snprintf(b->fmt, sizeof b->fmt, "%d", MN_FORMAT_VERSION);
    snprintf(b->shape, sizeof b->shape, "[%d,%d,%d]", m->in_c, m->in_h, m->in_w);
    snprintf(b->mean, sizeof b->mean, "%.9g", m->norm_mean);
    snprintf(b->std, sizeof b->std, "%.9g", m->norm_std);
    snprintf(b->classes, sizeof b->classes, "%d", m->num_classes);
    b->names = malloc((size_t)m->num_classes * 4 + 1);
    if (!b->names)
        return mn_fail(MN_ERR_NOMEM, "out of memory");
    b->names[0] = '\0';
    for (int k = 0; k < m->num_classes; k++)
        sprintf(b->names + strlen(b->names), k ? ",%d" : "%d", k);
    int nm = 0;
    b->meta[nm++] = (mn_st_meta){KEY_FORMAT, b->fmt};
    b->meta[nm++] = (mn_st_meta){"producer", "mnist.c " MN_VERSION};
    b->meta[nm++] = (mn_st_meta){"spec", m->spec};
    b->meta[nm++] = (mn_st_meta){"preset", (char *)m->preset};
    b->meta[nm++] = (mn_st_meta){"input_shape", b->shape};
    b->meta[nm++] = (mn_st_meta){"normalisation_mean", b->mean};
    b->meta[nm++] = (mn_st_meta){"normalisation_std", b->std};
    b->meta[nm++] = (mn_st_meta){"num_classes", b->classes};
    b->meta[nm++] = (mn_st_meta){"class_names", b->names};
    if (m->preprocess.kind != MN_PREPROCESS_NONE) /* absent for none: files as before */
        b->meta[nm++] = (mn_st_meta){"preprocess", (char *)m->preprocess.name};
    for (int i = 0; i < m->num_meta; i++) {
        bool reserved = false;
        for (int j = 0; j < nm && !reserved; j++)
            reserved = !strcmp(b->meta[j].key, m->meta_key[i]);
        if (!reserved)
            b->meta[nm++] = (mn_st_meta){m->meta_key[i], m->meta_value[i]};
    }
    b->count = nm;
    return MN_OK;
}

void mn_model_meta_free(mn_model_meta *b)
{
    free(b->names);
    b->names = NULL;
}

mn_status mn_model_save(const mn_model *m, const char *path)
{
    mn_st_tensor tensors[MN_MAX_TENSORS];
    int nt = mn_model_tensors(m, tensors);
    mn_model_meta meta;
    mn_status st = mn_model_meta_build(m, &meta);
    if (st == MN_OK)
        st = mn_st_write(path, tensors, nt, meta.meta, meta.count);
    mn_model_meta_free(&meta);
    return st;
}

static bool parse_float(const char *s, float *out)
{
    char *end;
    if (!s || !*s)
        return false;
    double v = strtod(s, &end);
    if (*end)
        return false;
    *out = (float)v;
    return true;
}

/* Parses `spec` for a c x h x w input into a bare model: layers, spec string and preset name,
 * nothing else allocated. *parsed says whether it parsed; NULL when out of memory. */
static mn_model *probe_parse(const char *spec, unsigned c, unsigned h, unsigned w,
                             mn_status *parsed)
{
    mn_model *probe = calloc(1, sizeof *probe);
    if (!probe)
        return NULL;
    probe->in_c = (int)c, probe->in_h = (int)h, probe->in_w = (int)w;
    *parsed = mn_spec_parse(probe, spec);
    return probe;
}

static void probe_free(mn_model *probe)
{
    if (probe)
        free(probe->spec);
    free(probe);
}

/* A spec may ask for up to 2^30 parameters (8 GB with their gradients): before the model is
 * allocated, its parameter count (bn running statistics included) must fit in the values the
 * file holds, so a small file never costs more memory than twice its size. Specs that do not
 * parse are left to mn_model_create. */
static mn_status check_size(const mn_st_file *f, const char *path, const char *spec, unsigned c,
                            unsigned h, unsigned w)
{
    if (c < 1 || c > 4096 || h < 1 || h > 4096 || w < 1 || w > 4096)
        return MN_OK;
    mn_status parsed, st = MN_OK;
    mn_model *probe = probe_parse(spec, c, h, w, &parsed);
    if (!probe)
        return mn_fail(MN_ERR_NOMEM, "%s: out of memory", path);
    uint64_t have = 0;
    for (int i = 0; i < f->num_tensors; i++)
        have += f->tensors[i].count;
    if (parsed == MN_OK && probe->num_params + probe->num_buffers > have)
        st = mn_fail(MN_ERR_FORMAT, "%s: spec \"%s\" needs %zu parameters but the file holds only "
                     "%llu values", path, mn_quote(spec).text,
                     probe->num_params + probe->num_buffers, (unsigned long long)have);
    probe_free(probe);
    return st;
}

/* Whether `name` is a preset whose layers are `spec` for this input shape. */
static bool preset_is(const char *name, const char *spec, unsigned c, unsigned h, unsigned w)
{
    mn_status parsed;
    mn_model *probe = probe_parse(name, c, h, w, &parsed);
    bool same = probe && parsed == MN_OK && *probe->preset && !strcmp(probe->spec, spec);
    probe_free(probe);
    return same;
}

static const char *const g_reserved[] = {KEY_FORMAT, "producer", "spec", "preset", "input_shape",
                                         "normalisation_mean", "normalisation_std",
                                         "num_classes", "class_names", "preprocess"};

mn_status mn_model_from_st(mn_model **out, const mn_st_file *fp, const char *path,
                           const char *extra_prefix)
{
    const mn_st_file f = *fp;
    mn_status st;
    mn_model *m = NULL;
    const char *fmt = mn_st_meta_get(&f, KEY_FORMAT);
    const char *spec = mn_st_meta_get(&f, "spec");
    const char *preset = mn_st_meta_get(&f, "preset");
    const char *shape = mn_st_meta_get(&f, "input_shape");
    unsigned c, h, w;
    char tail;
    float mean = 0.0f, std = 1.0f;
    if (!fmt || !spec || !shape) {
        st = mn_fail(MN_ERR_FORMAT, "%s: not an mnist.c model (metadata lacks %s)", path,
                     !fmt ? KEY_FORMAT : !spec ? "spec" : "input_shape");
        goto fail;
    }
    if (strcmp(fmt, "1") != 0) {
        st = mn_fail(MN_ERR_FORMAT, "%s: model format version %s is not supported (this is "
                                    "version %d)", path, mn_quote(fmt).text, MN_FORMAT_VERSION);
        goto fail;
    }
    if (sscanf(shape, "[%u,%u,%u]%c", &c, &h, &w, &tail) != 3) {
        st = mn_fail(MN_ERR_FORMAT, "%s: input_shape \"%s\" is not [C,H,W]", path,
                     mn_quote(shape).text);
        goto fail;
    }
    if (!parse_float(mn_st_meta_get(&f, "normalisation_mean"), &mean) ||
        !parse_float(mn_st_meta_get(&f, "normalisation_std"), &std) || !(std > 0.0f)) {
        st = mn_fail(MN_ERR_FORMAT, "%s: normalisation_mean/_std are missing or not numbers", path);
        goto fail;
    }
    /* The spec builds the model; the preset name is kept where the preset still expands to that
     * spec (a file saved before a preset's layers changed loads as the layers it holds). */
    if ((st = check_size(&f, path, spec, c, h, w)) != MN_OK)
        goto fail;
    st = mn_model_create(&m, spec, c, h, w, MN_INIT_ZERO, 0);
    if (st == MN_OK && preset && *preset && preset_is(preset, m->spec, c, h, w))
        snprintf(m->preset, sizeof m->preset, "%s", preset);
    if (st != MN_OK) {
        st = mn_fail_prefix(st == MN_ERR_NOMEM ? st : MN_ERR_FORMAT, path);
        goto fail;
    }
    mn_model_set_normalisation(m, mean, std);
    const char *pre = mn_st_meta_get(&f, "preprocess");
    if (pre && mn_model_set_preprocess(m, pre) != MN_OK) {
        st = mn_fail_prefix(MN_ERR_FORMAT, path);
        goto fail;
    }
    int expected = 0;
    for (int i = 0; i < m->num_layers; i++) {
        const mn_layer *L = &m->layers[i];
        if (!L->w_count)
            continue;
        const bool bn = L->kind == MN_LAYER_BN;
        for (int part = 0; part < (bn ? 4 : 2); part++) {
            char name[64];
            snprintf(name, sizeof name, "%s.%s", L->name, g_parts[part]);
            expected++;
            const mn_st_tensor *t = mn_st_find(&f, name);
            size_t want = part ? L->b_count : L->w_count;
            if (!t) {
                st = mn_fail(MN_ERR_FORMAT, "%s: tensor %s is missing", path, name);
                goto fail;
            }
            int64_t dims[4] = {L->out_c, part ? 0 : L->in_c, L->k, L->k};
            int ndim = part || bn ? 1 : L->kind == MN_LAYER_CONV ? 4 : 2;
            bool same = t->ndim == ndim && t->count == want;
            for (int d = 0; d < ndim && same; d++)
                same = t->shape[d] == dims[d];
            if (!same) {
                char have[96] = "", need[96] = "";
                for (int d = 0; d < t->ndim; d++)
                    snprintf(have + strlen(have), sizeof have - strlen(have), "%s%lld",
                             d ? "," : "", (long long)t->shape[d]);
                for (int d = 0; d < ndim; d++)
                    snprintf(need + strlen(need), sizeof need - strlen(need), "%s%lld",
                             d ? "," : "", (long long)(part || bn ? (int64_t)want : dims[d]));
                st = mn_fail(MN_ERR_FORMAT, "%s: tensor %s has shape [%s] but spec \"%s\" needs "
                             "[%s]", path, name, have, mn_quote(spec).text, need);
                goto fail;
            }
            float *dst = part == 0   ? m->params + L->w_off
                         : part == 1 ? m->params + L->b_off
                                     : m->buffers + L->r_off + (part - 2) * want;
            for (size_t k = 0; part == 3 && k < want; k++)
                if (!(t->data[k] >= 0.0f)) { /* sqrt(var + eps) must be a number */
                    st = mn_fail(MN_ERR_FORMAT, "%s: tensor %s holds %g at %zu (a variance must "
                                 "be a number >= 0)", path, name, (double)t->data[k], k);
                    goto fail;
                }
            memcpy(dst, t->data, want * sizeof(float));
        }
    }
    for (int i = 0; extra_prefix && i < f.num_tensors; i++)
        if (!strncmp(f.tensors[i].name, extra_prefix, strlen(extra_prefix)))
            expected++;
    if (f.num_tensors != expected) {
        st = mn_fail(MN_ERR_FORMAT, "%s: holds %d tensors, the spec needs %d", path,
                     f.num_tensors, expected);
        goto fail;
    }
    for (int i = 0; i < f.num_meta; i++) {
        bool reserved = false;
        for (size_t j = 0; j < sizeof g_reserved / sizeof g_reserved[0]; j++)
            reserved = reserved || !strcmp(f.meta[i].key, g_reserved[j]);
        if (extra_prefix && !strncmp(f.meta[i].key, extra_prefix, strlen(extra_prefix)))
            reserved = true;
        if (!reserved && (st = mn_model_set_meta(m, f.meta[i].key, f.meta[i].value)) != MN_OK)
            goto fail;
    }
    *out = m;
    return MN_OK;
fail:
    mn_model_free(m);
    return st;
}

mn_status mn_model_load(mn_model **out, const char *path)
{
    mn_st_file f;
    mn_status st = mn_st_read(path, &f);
    if (st != MN_OK)
        return st;
    st = mn_model_from_st(out, &f, path, "train."); /* a checkpoint loads as its model */
    mn_st_free(&f);
    return st;
}
