/* idx.c: decodes IDX image and label files (raw or gzip) held in memory. Every size in the header
 * is checked against the limit and, for raw bytes, against the real length before anything is
 * allocated; gzip output is inflated into a buffer that grows only as data actually arrives, so a
 * tiny file that claims a huge body never costs more memory than it can fill. Only the unsigned
 * byte type (0x08) is supported: it is all that image/label data sets use. */
#include "internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

mn_load_params mn_load_default_params(void)
{
    mn_load_params p;
    p.max_bytes = MN_DEFAULT_MAX_BYTES;
    p.max_classes = MN_MAX_CLASSES;
    return p;
}

/* What one decoder expects: images are [count, rows, cols], labels are [count]. */
typedef struct idx_kind {
    uint32_t magic, other_magic;
    uint32_t ndims;
    const char *a_what;     /* "an image", "a label": for "not an image file" */
    const char *other_what; /* the kind that other_magic belongs to */
} idx_kind;

static const idx_kind k_images = {0x00000803u, 0x00000801u, 3, "an image", "label"};
static const idx_kind k_labels = {0x00000801u, 0x00000803u, 1, "a label", "image"};

#define GROW_START ((size_t)1 << 20) /* first gzip output buffer; doubles up to the body size */

/* A byte source: the bytes as they are, or the output of inflating them (gzip, any number of
 * concatenated members). `produced` counts the bytes handed out so far. */
typedef struct source {
    const char *name;
    const uint8_t *data;
    size_t size, pos; /* pos: raw read position, or how much input was given to zlib */
    int gz, zinit, ended;
    z_stream zs;
    uint64_t produced;
} source;

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static mn_status source_open(source *s, const uint8_t *data, size_t size, const char *name)
{
    memset(s, 0, sizeof *s);
    s->name = name;
    s->data = data;
    s->size = size;
    s->gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    if (!s->gz)
        return MN_OK;
    int r = inflateInit2(&s->zs, 16 + MAX_WBITS); /* 16: gzip wrapper only */
    if (r != Z_OK)
        return mn_fail(r == Z_MEM_ERROR ? MN_ERR_NOMEM : MN_ERR_FORMAT,
                       "%s: cannot start gzip decoder (zlib error %d)", name, r);
    s->zinit = 1;
    return MN_OK;
}

static void source_close(source *s)
{
    if (s->zinit)
        inflateEnd(&s->zs);
    s->zinit = 0;
}

/* Reads up to n bytes into buf. *got < n only at the end of the data. */
static mn_status source_read(source *s, uint8_t *buf, size_t n, size_t *got)
{
    size_t done = 0;
    if (!s->gz) {
        size_t left = s->size - s->pos;
        done = n < left ? n : left;
        if (done)
            memcpy(buf, s->data + s->pos, done);
        s->pos += done;
        s->produced += done;
        *got = done;
        return MN_OK;
    }
    while (done < n && !s->ended) {
        if (s->zs.avail_in == 0 && s->pos < s->size) {
            size_t chunk = s->size - s->pos;
            if (chunk > UINT_MAX)
                chunk = UINT_MAX;
            s->zs.next_in = (Bytef *)(uintptr_t)(s->data + s->pos); /* zlib does not write it */
            s->zs.avail_in = (uInt)chunk;
            s->pos += chunk;
        }
        size_t want = n - done;
        if (want > UINT_MAX)
            want = UINT_MAX;
        s->zs.next_out = buf + done;
        s->zs.avail_out = (uInt)want;
        int r = inflate(&s->zs, Z_NO_FLUSH);
        size_t out = want - s->zs.avail_out;
        done += out;
        s->produced += out;
        if (r == Z_STREAM_END) {
            size_t rest = s->zs.avail_in + (s->size - s->pos);
            if (rest == 0) {
                s->ended = 1;
                break;
            }
            /* Another gzip member may follow (as `cat a.gz b.gz` makes); anything else is junk. */
            const uint8_t *next = s->data + (s->size - rest);
            if (rest < 2 || next[0] != 0x1f || next[1] != 0x8b)
                return mn_fail(MN_ERR_FORMAT, "%s: %zu bytes of junk after the gzip data",
                               s->name, rest);
            if (inflateReset(&s->zs) != Z_OK)
                return mn_fail(MN_ERR_FORMAT, "%s: cannot restart gzip decoder", s->name);
            continue;
        }
        if (r == Z_OK)
            continue;
        if (r == Z_BUF_ERROR && s->zs.avail_in == 0 && s->pos == s->size)
            return mn_fail(MN_ERR_FORMAT,
                           "%s: truncated gzip data (it ends after %llu decompressed bytes)",
                           s->name, (unsigned long long)s->produced);
        if (r == Z_MEM_ERROR)
            return mn_fail(MN_ERR_NOMEM, "%s: out of memory inflating gzip data", s->name);
        return mn_fail(MN_ERR_FORMAT, "%s: corrupt gzip data (%s)", s->name,
                       s->zs.msg ? s->zs.msg : "zlib error");
    }
    *got = done;
    return MN_OK;
}

/* Reads and checks the header; fills dims[0..ndims-1]. */
static mn_status read_header(source *s, const idx_kind *k, uint32_t dims[3])
{
    uint8_t hdr[16];
    size_t need = 4 + 4 * (size_t)k->ndims, got;
    const char *unz = s->gz ? " after gunzip" : "";
    mn_status st = source_read(s, hdr, 4, &got);
    if (st)
        return st;
    if (got < 4)
        return mn_fail(MN_ERR_FORMAT, "%s: truncated header: %zu bytes%s, %s file needs %zu",
                       s->name, got, unz, k->a_what, need);
    uint32_t magic = be32(hdr);
    if (magic != k->magic) {
        uint32_t type = (magic >> 8) & 0xff, nd = magic & 0xff;
        if (magic == k->other_magic)
            return mn_fail(MN_ERR_FORMAT,
                           "%s: this is an IDX %s file (magic 0x%08x), not %s file", s->name,
                           k->other_what, magic, k->a_what);
        if ((magic >> 16) == 0 && type == 0x08)
            return mn_fail(MN_ERR_FORMAT,
                           "%s: IDX file has %u dimensions (magic 0x%08x), %s file has %u",
                           s->name, nd, magic, k->a_what, k->ndims);
        if ((magic >> 16) == 0 && (type == 0x09 || (type >= 0x0b && type <= 0x0e)))
            return mn_fail(MN_ERR_FORMAT,
                           "%s: unsupported IDX data type 0x%02x (only unsigned bytes, 0x08)",
                           s->name, type);
        return mn_fail(MN_ERR_FORMAT, "%s: bad magic 0x%08x (want 0x%08x for %s file)",
                       s->name, magic, k->magic, k->a_what);
    }
    st = source_read(s, hdr + 4, need - 4, &got);
    if (st)
        return st;
    if (got < need - 4)
        return mn_fail(MN_ERR_FORMAT, "%s: truncated header: %zu bytes%s, %s file needs %zu",
                       s->name, got + 4, unz, k->a_what, need);
    for (uint32_t i = 0; i < k->ndims; i++)
        dims[i] = be32(hdr + 4 + 4 * i);
    return MN_OK;
}

/* "3 images of 5x7" or "3 labels", for messages. */
static void describe(char *buf, size_t size, const idx_kind *k, const uint32_t dims[3])
{
    if (k->ndims == 3)
        snprintf(buf, size, "%u images of %ux%u", dims[0], dims[1], dims[2]);
    else
        snprintf(buf, size, "%u labels", dims[0]);
}

/* Decodes one IDX file of kind k into a malloc'ed body of exactly dims[0]*...*dims[n-1] bytes. */
static mn_status decode(const uint8_t *data, size_t size, const char *name,
                        const mn_load_params *params, const idx_kind *k, uint8_t **out,
                        uint32_t dims[3])
{
    mn_load_params defaults = mn_load_default_params();
    if (!params)
        params = &defaults;
    if (!name)
        name = "(memory)";
    if (!data && size)
        return mn_fail(MN_ERR_ARG, "%s: no data", name);
    if (size == 0)
        return mn_fail(MN_ERR_FORMAT, "%s: empty file, not %s IDX file", name, k->a_what);

    source s;
    mn_status st = source_open(&s, data, size, name);
    if (st)
        return st;
    uint8_t *body = NULL;
    st = read_header(&s, k, dims);
    if (st)
        goto done;

    char what[96];
    describe(what, sizeof what, k, dims);
    const char *unz = s.gz ? " after gunzip" : "";
    uint64_t header_len = s.produced;
    if (dims[0] == 0) {
        st = mn_fail(MN_ERR_FORMAT, "%s: header says 0 %ss: the file holds no data", name,
                     k->ndims == 3 ? "image" : "label");
        goto done;
    }
    if (k->ndims == 3 && (dims[1] == 0 || dims[2] == 0)) {
        st = mn_fail(MN_ERR_FORMAT, "%s: header says images of %ux%u: a side is zero", name,
                     dims[1], dims[2]);
        goto done;
    }
    /* rows*cols < 2^64 always; only the product with the count can overflow. */
    uint64_t per = k->ndims == 3 ? (uint64_t)dims[1] * dims[2] : 1;
    if ((uint64_t)dims[0] > UINT64_MAX / per) {
        st = mn_fail(MN_ERR_LIMIT, "%s: header says %s: the size overflows 64 bits", name, what);
        goto done;
    }
    uint64_t total = dims[0] * per;
    if (params->max_bytes < header_len || total > params->max_bytes - header_len ||
        total > SIZE_MAX) {
        st = mn_fail(MN_ERR_LIMIT,
                     "%s: header says %s = %llu bytes, over the limit of %llu bytes", name, what,
                     (unsigned long long)total, (unsigned long long)params->max_bytes);
        goto done;
    }
    if (!s.gz) { /* the real length is known: check it before allocating */
        uint64_t have = size - s.pos;
        if (have != total) {
            st = mn_fail(MN_ERR_FORMAT, "%s: %s: header says %s = %llu bytes, file has %llu",
                         name, have < total ? "truncated" : "trailing data", what,
                         (unsigned long long)total, (unsigned long long)have);
            goto done;
        }
    }

    size_t cap = s.gz && total > GROW_START ? GROW_START : (size_t)total, have = 0;
    body = malloc(cap);
    if (!body) {
        st = mn_fail(MN_ERR_NOMEM, "%s: out of memory for %zu bytes", name, cap);
        goto done;
    }
    for (;;) {
        size_t got;
        st = source_read(&s, body + have, cap - have, &got);
        if (st)
            goto done;
        have += got;
        if (have < cap || cap == total)
            break;
        size_t ncap = cap > (size_t)total / 2 ? (size_t)total : cap * 2;
        uint8_t *nb = realloc(body, ncap);
        if (!nb) {
            st = mn_fail(MN_ERR_NOMEM, "%s: out of memory for %zu bytes", name, ncap);
            goto done;
        }
        body = nb;
        cap = ncap;
    }
    if (have < total) {
        st = mn_fail(MN_ERR_FORMAT, "%s: truncated: header says %s = %llu bytes, file has %zu%s",
                     name, what, (unsigned long long)total, have, unz);
        goto done;
    }
    if (s.gz) { /* inflate to the end: checks the CRC, finds trailing data (counted up to the limit) */
        uint8_t scratch[4096];
        uint64_t extra = 0;
        for (;;) {
            size_t got;
            st = source_read(&s, scratch, sizeof scratch, &got);
            if (st)
                goto done;
            extra += got;
            if (got < sizeof scratch || s.produced > params->max_bytes)
                break;
        }
        if (extra) {
            st = mn_fail(MN_ERR_FORMAT,
                         "%s: trailing data: header says %s = %llu bytes, file has %s%llu more%s",
                         name, what, (unsigned long long)total, s.ended ? "" : "at least ",
                         (unsigned long long)extra, unz);
            goto done;
        }
    }
    *out = body;
    body = NULL;
done:
    free(body);
    source_close(&s);
    return st;
}

mn_status mn_idx_decode_images(const uint8_t *data, size_t size, const char *name,
                               const mn_load_params *params, uint8_t **pixels, uint32_t *count,
                               uint32_t *rows, uint32_t *cols)
{
    uint32_t dims[3];
    uint8_t *body;
    mn_status st = decode(data, size, name, params, &k_images, &body, dims);
    if (st)
        return st;
    *pixels = body;
    *count = dims[0];
    *rows = dims[1];
    *cols = dims[2];
    return MN_OK;
}

mn_status mn_idx_decode_labels(const uint8_t *data, size_t size, const char *name,
                               const mn_load_params *params, uint8_t **labels, uint32_t *count)
{
    mn_load_params defaults = mn_load_default_params();
    if (!params)
        params = &defaults;
    if (!name)
        name = "(memory)";
    if (params->max_classes == 0)
        return mn_fail(MN_ERR_ARG, "%s: max_classes must be at least 1", name);
    uint32_t dims[3];
    uint8_t *body;
    mn_status st = decode(data, size, name, params, &k_labels, &body, dims);
    if (st)
        return st;
    for (uint32_t i = 0; i < dims[0]; i++) {
        if (body[i] >= params->max_classes) {
            st = mn_fail(MN_ERR_FORMAT,
                         "%s: label %u at index %u is out of range (max_classes is %u)", name,
                         body[i], i, params->max_classes);
            free(body);
            return st;
        }
    }
    *labels = body;
    *count = dims[0];
    return MN_OK;
}
