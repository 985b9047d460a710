/* safetensors.c: the .safetensors reader and writer (8-byte little-endian header length N, N bytes
 * of JSON, then the data area). The JSON is handled by jansson, never by string scanning. Only F32
 * tensors exist here; the reader refuses any other dtype, unknown entry keys, gaps and overlaps,
 * so a file it accepts is one that the reference implementation accepts too. */
#include "safetensors.h"

#include "internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* The reader's cap on a whole file (the data is copied once more into the aligned buffer). */
#define MN_ST_MAX_FILE ((uint64_t)1 << 32)
/* Each tensor's data starts on this boundary in the reader's buffer. */
#define MN_ST_ALIGN 64

static int host_is_little_endian(void)
{
    const uint32_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static void put_u64_le(uint8_t out[8], uint64_t v)
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64_le(const uint8_t in[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)in[i] << (8 * i);
    return v;
}

/* Copies `count` little-endian float32 values from `src` into native floats at `dst`. */
static void floats_from_le(float *dst, const uint8_t *src, uint64_t count)
{
    if (host_is_little_endian()) {
        memcpy(dst, src, (size_t)count * 4);
        return;
    }
    for (uint64_t i = 0; i < count; i++) {
        const uint8_t *p = src + 4 * i;
        uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24;
        memcpy(&dst[i], &u, 4);
    }
}

/* A printable, one-line, bounded copy of untrusted text for error messages: control bytes become
 * \xNN and long text is cut (at a UTF-8 character boundary) with "...". */
static const char *printable(char *out, size_t cap, const char *s, size_t len)
{
    const size_t keep = 48;
    size_t o = 0;
    int cut = 0;
    if (len > keep) {
        len = keep;
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
            len--;
        cut = 1;
    }
    for (size_t i = 0; i < len && o + 8 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    if (cut && o + 4 <= cap) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

#define PRINTABLE_CAP 256

/* ------------------------------------------------------------------------------------------ */
/* Writing                                                                                    */

static mn_status check_name(const char *path, const char *what, int index, const char *name)
{
    if (!name)
        return mn_fail(MN_ERR_ARG, "%s: %s %d has no name", path, what, index);
    size_t len = strnlen(name, MN_ST_MAX_NAME);
    if (len == 0)
        return mn_fail(MN_ERR_ARG, "%s: %s %d has an empty name", path, what, index);
    if (len >= MN_ST_MAX_NAME)
        return mn_fail(MN_ERR_ARG, "%s: %s %d: name is longer than %d bytes", path, what, index,
                       MN_ST_MAX_NAME - 1);
    return MN_OK;
}

/* Builds the header object; on success *root is a new reference and *data_bytes the data size. */
static mn_status build_header(const char *path, const mn_st_tensor *tensors, int n,
                              const mn_st_meta *meta, int n_meta, json_t **root,
                              uint64_t *data_bytes)
{
    char pbuf[PRINTABLE_CAP];
    json_t *obj = json_object();
    if (!obj)
        return mn_fail(MN_ERR_NOMEM, "%s: out of memory building the header", path);
    if (n_meta > 0) {
        json_t *m = json_object();
        if (!m || json_object_set_new(obj, "__metadata__", m) != 0)
            goto nomem;
        for (int i = 0; i < n_meta; i++) {
            if (!meta[i].key || !meta[i].value) {
                json_decref(obj);
                return mn_fail(MN_ERR_ARG, "%s: metadata entry %d has a NULL key or value", path,
                               i);
            }
            if (json_object_get(m, meta[i].key)) {
                json_decref(obj);
                return mn_fail(MN_ERR_ARG, "%s: duplicate metadata key \"%s\"", path,
                               printable(pbuf, sizeof pbuf, meta[i].key, strlen(meta[i].key)));
            }
            json_t *v = json_string(meta[i].value);
            if (!v || json_object_set_new(m, meta[i].key, v) != 0) {
                json_decref(obj);
                return mn_fail(MN_ERR_ARG, "%s: metadata \"%s\": key or value is not valid UTF-8",
                               path,
                               printable(pbuf, sizeof pbuf, meta[i].key, strlen(meta[i].key)));
            }
        }
    }
    uint64_t offset = 0;
    for (int i = 0; i < n; i++) {
        const mn_st_tensor *t = &tensors[i];
        mn_status s = check_name(path, "tensor", i, t->name);
        if (s != MN_OK) {
            json_decref(obj);
            return s;
        }
        const char *tn = printable(pbuf, sizeof pbuf, t->name, strlen(t->name));
        if (strcmp(t->name, "__metadata__") == 0 || json_object_get(obj, t->name)) {
            json_decref(obj);
            return mn_fail(MN_ERR_ARG, "%s: duplicate or reserved tensor name \"%s\"", path, tn);
        }
        if (t->ndim < 0 || t->ndim > MN_ST_MAX_DIMS) {
            json_decref(obj);
            return mn_fail(MN_ERR_ARG, "%s: tensor \"%s\" has %d dimensions (0 to %d allowed)",
                           path, tn, t->ndim, MN_ST_MAX_DIMS);
        }
        uint64_t count = 1;
        int overflow = 0;
        for (int d = 0; d < t->ndim; d++) {
            if (t->shape[d] < 0) {
                json_decref(obj);
                return mn_fail(MN_ERR_ARG, "%s: tensor \"%s\" has a negative dimension", path, tn);
            }
            uint64_t dim = (uint64_t)t->shape[d];
            if (dim != 0 && count > UINT64_MAX / dim)
                overflow = 1;
            else
                count *= dim;
        }
        for (int d = 0; d < t->ndim; d++)
            if (t->shape[d] == 0)
                count = 0, overflow = 0;
        if (overflow || count > (uint64_t)INT64_MAX / 4 ||
            offset > (uint64_t)INT64_MAX - count * 4) {
            json_decref(obj);
            return mn_fail(MN_ERR_ARG, "%s: tensor \"%s\" is too large", path, tn);
        }
        if (count != t->count) {
            json_decref(obj);
            return mn_fail(MN_ERR_ARG,
                           "%s: tensor \"%s\": count %llu does not match its shape (%llu)", path,
                           tn, (unsigned long long)t->count, (unsigned long long)count);
        }
        if (count > 0 && !t->data) {
            json_decref(obj);
            return mn_fail(MN_ERR_ARG, "%s: tensor \"%s\" has no data", path, tn);
        }
        /* set_new takes the reference even when it fails, and fails on a NULL value. */
        json_t *e = json_object(), *shape, *offs;
        if (!e)
            goto nomem;
        if (json_object_set_new(obj, t->name, e) != 0) {
            json_decref(obj);
            return mn_fail(MN_ERR_ARG, "%s: tensor name \"%s\" is not valid UTF-8", path, tn);
        }
        if (json_object_set_new(e, "dtype", json_string("F32")) != 0 ||
            json_object_set_new(e, "shape", shape = json_array()) != 0 ||
            json_object_set_new(e, "data_offsets", offs = json_array()) != 0)
            goto nomem;
        for (int d = 0; d < t->ndim; d++)
            if (json_array_append_new(shape, json_integer((json_int_t)t->shape[d])) != 0)
                goto nomem;
        if (json_array_append_new(offs, json_integer((json_int_t)offset)) != 0 ||
            json_array_append_new(offs, json_integer((json_int_t)(offset + count * 4))) != 0)
            goto nomem;
        offset += count * 4;
    }
    *root = obj;
    *data_bytes = offset;
    return MN_OK;
nomem:
    json_decref(obj);
    return mn_fail(MN_ERR_NOMEM, "%s: out of memory building the header", path);
}

/* Writes `count` native floats as little-endian float32. */
static int write_floats_le(FILE *fp, const float *data, uint64_t count)
{
    if (count == 0)
        return 1;
    if (host_is_little_endian())
        return fwrite(data, 4, (size_t)count, fp) == (size_t)count;
    uint8_t buf[4096];
    for (uint64_t i = 0; i < count;) {
        size_t k = 0;
        for (; k < sizeof buf / 4 && i < count; k++, i++) {
            uint32_t u;
            memcpy(&u, &data[i], 4);
            for (int b = 0; b < 4; b++)
                buf[4 * k + (size_t)b] = (uint8_t)(u >> (8 * b));
        }
        if (fwrite(buf, 4, k, fp) != k)
            return 0;
    }
    return 1;
}

mn_status mn_st_write(const char *path, const mn_st_tensor *tensors, int n,
                      const mn_st_meta *meta, int n_meta)
{
    if (!path)
        return mn_fail(MN_ERR_ARG, "safetensors: no output path");
    if (n < 0 || n_meta < 0 || (n > 0 && !tensors) || (n_meta > 0 && !meta))
        return mn_fail(MN_ERR_ARG, "%s: bad tensor or metadata list", path);

    json_t *root = NULL;
    uint64_t data_bytes = 0;
    mn_status s = build_header(path, tensors, n, meta, n_meta, &root, &data_bytes);
    if (s != MN_OK)
        return s;
    /* Insertion order: metadata first, then the tensors in data order. */
    char *json = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!json)
        return mn_fail(MN_ERR_NOMEM, "%s: out of memory serialising the header", path);
    size_t len = strlen(json);
    size_t padded = (len + 7) & ~(size_t)7;
    if ((uint64_t)padded > MN_ST_MAX_HEADER) {
        free(json);
        return mn_fail(MN_ERR_LIMIT, "%s: header would be %zu bytes, over the limit of %llu", path,
                       padded, (unsigned long long)MN_ST_MAX_HEADER);
    }
    uint8_t prefix[8];
    put_u64_le(prefix, (uint64_t)padded);

    mn_atomic_file af;
    s = mn_atomic_open(&af, path);
    if (s != MN_OK) {
        free(json);
        return s;
    }
    static const char spaces[8] = "        ";
    int ok = fwrite(prefix, 1, 8, af.fp) == 8 && fwrite(json, 1, len, af.fp) == len &&
             fwrite(spaces, 1, padded - len, af.fp) == padded - len;
    free(json);
    for (int i = 0; ok && i < n; i++)
        ok = write_floats_le(af.fp, tensors[i].data, tensors[i].count);
    if (!ok) {
        mn_atomic_abort(&af);
        return mn_fail(MN_ERR_IO, "%s: write failed", path);
    }
    return mn_atomic_commit(&af);
}

/* ------------------------------------------------------------------------------------------ */
/* Reading                                                                                    */

/* One tensor while parsing: its place in the file and where it goes in the output. */
typedef struct entry {
    uint64_t begin, end;
    int index; /* position in out->tensors (key order in the header) */
} entry;

static int entry_cmp(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* A JSON integer that is >= 0, as uint64; 0 if it is not one. */
static int get_nonneg_int(const json_t *v, uint64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return 0;
    *out = (uint64_t)json_integer_value(v);
    return 1;
}

static mn_status parse_meta(const char *name, json_t *m, mn_st_file *f)
{
    char pbuf[PRINTABLE_CAP];
    if (!json_is_object(m))
        return mn_fail(MN_ERR_FORMAT, "%s: \"__metadata__\" is not an object", name);
    size_t n = json_object_size(m);
    if (n == 0)
        return MN_OK;
    f->meta = calloc(n, sizeof *f->meta);
    if (!f->meta)
        return mn_fail(MN_ERR_NOMEM, "%s: out of memory for %zu metadata entries", name, n);
    const char *key;
    size_t key_len;
    json_t *v;
    json_object_keylen_foreach(m, key, key_len, v)
    {
        if (!json_is_string(v))
            return mn_fail(MN_ERR_FORMAT, "%s: metadata \"%s\" is not a string", name,
                           printable(pbuf, sizeof pbuf, key, key_len));
        mn_st_meta *e = &f->meta[f->num_meta];
        e->key = strndup(key, key_len);
        e->value = strndup(json_string_value(v), json_string_length(v));
        f->num_meta++;
        if (!e->key || !e->value)
            return mn_fail(MN_ERR_NOMEM, "%s: out of memory for metadata", name);
    }
    return MN_OK;
}

/* Fills tensor `t` (name, shape, count) and `e` (offsets) from one header entry. */
static mn_status parse_entry(const char *name, const char *key, size_t key_len, json_t *v,
                             uint64_t data_size, mn_st_tensor *t, entry *e)
{
    char pbuf[PRINTABLE_CAP], dbuf[PRINTABLE_CAP];
    const char *tn = printable(pbuf, sizeof pbuf, key, key_len);
    if (key_len == 0)
        return mn_fail(MN_ERR_FORMAT, "%s: a tensor has an empty name", name);
    if (key_len >= MN_ST_MAX_NAME)
        return mn_fail(MN_ERR_FORMAT, "%s: tensor name \"%s\" is too long (%zu bytes, at most %d)",
                       name, tn, key_len, MN_ST_MAX_NAME - 1);
    if (!json_is_object(v))
        return mn_fail(MN_ERR_FORMAT, "%s: tensor \"%s\": entry is not an object", name, tn);

    const char *k;
    size_t klen;
    json_t *field;
    json_object_keylen_foreach(v, k, klen, field)
    {
        if (strcmp(k, "dtype") != 0 && strcmp(k, "shape") != 0 && strcmp(k, "data_offsets") != 0)
            return mn_fail(MN_ERR_FORMAT, "%s: tensor \"%s\": unexpected key \"%s\"", name, tn,
                           printable(dbuf, sizeof dbuf, k, klen));
    }

    json_t *dtype = json_object_get(v, "dtype");
    if (!dtype)
        return mn_fail(MN_ERR_FORMAT, "%s: tensor \"%s\": no dtype", name, tn);
    if (!json_is_string(dtype))
        return mn_fail(MN_ERR_FORMAT, "%s: tensor \"%s\": dtype is not a string", name, tn);
    if (strcmp(json_string_value(dtype), "F32") != 0 || json_string_length(dtype) != 3)
        return mn_fail(MN_ERR_FORMAT, "%s: tensor \"%s\": dtype \"%s\" is not supported (only F32)",
                       name, tn,
                       printable(dbuf, sizeof dbuf, json_string_value(dtype),
                                 json_string_length(dtype)));

    json_t *shape = json_object_get(v, "shape");
    if (!shape)
        return mn_fail(MN_ERR_FORMAT, "%s: tensor \"%s\": no shape", name, tn);
    if (!json_is_array(shape))
        return mn_fail(MN_ERR_FORMAT, "%s: tensor \"%s\": shape is not an array", name, tn);
    size_t ndim = json_array_size(shape);
    if (ndim > MN_ST_MAX_DIMS)
        return mn_fail(MN_ERR_FORMAT, "%s: tensor \"%s\": shape has %zu dimensions (at most %d)",
                       name, tn, ndim, MN_ST_MAX_DIMS);
    uint64_t count = 1;
    int overflow = 0, zero = 0;
    for (size_t d = 0; d < ndim; d++) {
        uint64_t dim;
        if (!get_nonneg_int(json_array_get(shape, d), &dim))
            return mn_fail(MN_ERR_FORMAT,
                           "%s: tensor \"%s\": shape is not a list of non-negative integers", name,
                           tn);
        t->shape[d] = (int64_t)dim;
        if (dim == 0)
            zero = 1;
        else if (count > UINT64_MAX / 4 / dim)
            overflow = 1;
        else
            count *= dim;
    }
    if (zero)
        count = 0;
    else if (overflow)
        return mn_fail(MN_ERR_FORMAT, "%s: tensor \"%s\": element count overflows", name, tn);

    json_t *offs = json_object_get(v, "data_offsets");
    uint64_t begin, end;
    if (!offs)
        return mn_fail(MN_ERR_FORMAT, "%s: tensor \"%s\": no data_offsets", name, tn);
    if (!json_is_array(offs) || json_array_size(offs) != 2 ||
        !get_nonneg_int(json_array_get(offs, 0), &begin) ||
        !get_nonneg_int(json_array_get(offs, 1), &end))
        return mn_fail(MN_ERR_FORMAT,
                       "%s: tensor \"%s\": data_offsets is not two non-negative integers", name,
                       tn);
    if (begin > end)
        return mn_fail(MN_ERR_FORMAT,
                       "%s: tensor \"%s\": data_offsets begin %llu is after end %llu", name, tn,
                       (unsigned long long)begin, (unsigned long long)end);
    if (end > data_size)
        return mn_fail(MN_ERR_FORMAT,
                       "%s: tensor \"%s\": data_offsets end %llu is beyond the data area "
                       "(%llu bytes)",
                       name, tn, (unsigned long long)end, (unsigned long long)data_size);
    if (end - begin != count * 4)
        return mn_fail(MN_ERR_FORMAT,
                       "%s: tensor \"%s\": data_offsets span %llu bytes but the shape needs "
                       "%llu (4 bytes x %llu)",
                       name, tn, (unsigned long long)(end - begin),
                       (unsigned long long)(count * 4), (unsigned long long)count);

    memcpy(t->name, key, key_len);
    t->name[key_len] = '\0';
    t->ndim = (int)ndim;
    t->count = count;
    e->begin = begin;
    e->end = end;
    return MN_OK;
}

/* Parses into `f` (zeroed by the caller); on failure the caller frees `f`. */
static mn_status parse(const uint8_t *data, size_t size, const char *name, mn_st_file *f)
{
    char pbuf[PRINTABLE_CAP];
    if (size < 8)
        return mn_fail(MN_ERR_FORMAT,
                       "%s: file is too short (%zu bytes) for the 8-byte header length: the "
                       "file is truncated, or not a .safetensors file", name, size);
    uint64_t n = get_u64_le(data);
    if (n > (uint64_t)size - 8)
        return mn_fail(MN_ERR_FORMAT,
                       "%s: header length %llu is beyond the end of the file (%zu bytes): the "
                       "file is truncated, or not a .safetensors file", name,
                       (unsigned long long)n, size);
    if (n > MN_ST_MAX_HEADER)
        return mn_fail(MN_ERR_LIMIT, "%s: header length %llu is over the limit of %llu bytes", name,
                       (unsigned long long)n, (unsigned long long)MN_ST_MAX_HEADER);
    const uint8_t *data_area = data + 8 + n;
    uint64_t data_size = (uint64_t)size - 8 - n;

    json_error_t jerr;
    json_t *root = json_loadb((const char *)data + 8, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return mn_fail(MN_ERR_FORMAT,
                       "%s: header is not valid JSON: %s (line %d, column %d, byte %d)", name,
                       printable(pbuf, sizeof pbuf, jerr.text, strlen(jerr.text)), jerr.line,
                       jerr.column, jerr.position);

    mn_status s = MN_OK;
    entry *entries = NULL;
    if (!json_is_object(root)) {
        s = mn_fail(MN_ERR_FORMAT, "%s: header is not a JSON object", name);
        goto done;
    }
    json_t *meta = json_object_get(root, "__metadata__");
    if (meta && (s = parse_meta(name, meta, f)) != MN_OK)
        goto done;

    size_t ntensors = json_object_size(root) - (meta ? 1 : 0);
    if (ntensors > 0) {
        f->tensors = calloc(ntensors, sizeof *f->tensors);
        entries = calloc(ntensors, sizeof *entries);
        if (!f->tensors || !entries) {
            s = mn_fail(MN_ERR_NOMEM, "%s: out of memory for %zu tensors", name, ntensors);
            goto done;
        }
    }
    const char *key;
    size_t key_len;
    json_t *v;
    int i = 0;
    json_object_keylen_foreach(root, key, key_len, v)
    {
        if (v == meta)
            continue;
        s = parse_entry(name, key, key_len, v, data_size, &f->tensors[i], &entries[i]);
        if (s != MN_OK)
            goto done;
        entries[i].index = i;
        i++;
    }
    f->num_tensors = i;

    /* In data order, each tensor must start where the previous one ended and the last must end
     * at the end of the file: no overlaps, no gaps, no trailing bytes. */
    if (i > 1)
        qsort(entries, (size_t)i, sizeof *entries, entry_cmp);
    uint64_t pos = 0;
    uint64_t buf_bytes = 0;
    for (int j = 0; j < i; j++) {
        const mn_st_tensor *t = &f->tensors[entries[j].index];
        const char *tn = printable(pbuf, sizeof pbuf, t->name, strlen(t->name));
        if (entries[j].begin < pos) {
            s = mn_fail(MN_ERR_FORMAT, "%s: tensor \"%s\" overlaps the previous tensor (byte %llu)",
                        name, tn, (unsigned long long)entries[j].begin);
            goto done;
        }
        if (entries[j].begin > pos) {
            s = mn_fail(MN_ERR_FORMAT,
                        "%s: gap in the data area before tensor \"%s\" (bytes %llu to %llu)", name,
                        tn, (unsigned long long)pos, (unsigned long long)entries[j].begin);
            goto done;
        }
        pos = entries[j].end;
        /* Bounded by the file size plus 64 bytes per tensor: no overflow. */
        buf_bytes += (entries[j].end - entries[j].begin + MN_ST_ALIGN - 1) &
                     ~(uint64_t)(MN_ST_ALIGN - 1);
    }
    if (pos != data_size) {
        s = mn_fail(MN_ERR_FORMAT,
                    "%s: data area not covered exactly: tensors end at byte %llu but the data "
                    "area has %llu bytes",
                    name, (unsigned long long)pos, (unsigned long long)data_size);
        goto done;
    }

    if (buf_bytes > SIZE_MAX - MN_ST_ALIGN ||
        !(f->buffer = mn_alloc_aligned((size_t)buf_bytes, 1))) {
        s = mn_fail(MN_ERR_NOMEM, "%s: out of memory for %llu bytes of tensor data", name,
                    (unsigned long long)buf_bytes);
        goto done;
    }
    uint8_t *dst = f->buffer;
    for (int j = 0; j < i; j++) {
        mn_st_tensor *t = &f->tensors[entries[j].index];
        t->data = (float *)dst;
        floats_from_le(t->data, data_area + entries[j].begin, t->count);
        dst += (t->count * 4 + MN_ST_ALIGN - 1) & ~(uint64_t)(MN_ST_ALIGN - 1);
    }

done:
    free(entries);
    json_decref(root);
    return s;
}

mn_status mn_st_parse(const uint8_t *data, size_t size, const char *name, mn_st_file *out)
{
    if (!name)
        name = "<memory>";
    if (!out || (!data && size > 0))
        return mn_fail(MN_ERR_ARG, "%s: no input or output", name);
    mn_st_file f;
    memset(&f, 0, sizeof f);
    mn_status s = parse(data, size, name, &f);
    if (s != MN_OK) {
        mn_st_free(&f);
        return s;
    }
    *out = f;
    return MN_OK;
}

mn_status mn_st_read(const char *path, mn_st_file *out)
{
    if (!path || !out)
        return mn_fail(MN_ERR_ARG, "safetensors: no path or output");
    uint8_t *data = NULL;
    size_t size = 0;
    mn_status s = mn_read_file(path, MN_ST_MAX_FILE, &data, &size);
    if (s != MN_OK)
        return s;
    s = mn_st_parse(data, size, path, out);
    free(data);
    return s;
}

void mn_st_free(mn_st_file *file)
{
    if (!file)
        return;
    free(file->tensors);
    for (int i = 0; i < file->num_meta; i++) {
        free(file->meta[i].key);
        free(file->meta[i].value);
    }
    free(file->meta);
    mn_free_aligned(file->buffer);
    memset(file, 0, sizeof *file);
}

const mn_st_tensor *mn_st_find(const mn_st_file *file, const char *name)
{
    if (!file || !name)
        return NULL;
    for (int i = 0; i < file->num_tensors; i++)
        if (strcmp(file->tensors[i].name, name) == 0)
            return &file->tensors[i];
    return NULL;
}

const char *mn_st_meta_get(const mn_st_file *file, const char *key)
{
    if (!file || !key)
        return NULL;
    for (int i = 0; i < file->num_meta; i++)
        if (strcmp(file->meta[i].key, key) == 0)
            return file->meta[i].value;
    return NULL;
}
