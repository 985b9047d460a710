/* test_safetensors.c: the .safetensors writer and reader: round trips, byte-exact determinism,
 * atomic writes, the writer's argument checks, and one hand-made corrupt file per reader check. */
#include "safetensors.h"

#include "check.h"
#include "internal.h"

#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <unistd.h>

static const char *g_dir;

static const char *path_in(const char *name)
{
    static char buf[4][1200];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

static uint8_t *slurp(const char *path, size_t *size)
{
    uint8_t *data = NULL;
    if (mn_read_file(path, (uint64_t)1 << 30, &data, size) != MN_OK)
        return NULL;
    return data;
}

/* Number of directory entries other than . and .. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* Writes a raw file: the 8-byte little-endian `header_len`, `header` bytes, then `data`. */
static void write_raw_len(const char *path, uint64_t header_len, const char *header, size_t hlen,
                          const void *data, size_t dlen)
{
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    uint8_t prefix[8];
    for (int i = 0; i < 8; i++)
        prefix[i] = (uint8_t)(header_len >> (8 * i));
    int ok = fwrite(prefix, 1, 8, fp) == 8 && fwrite(header, 1, hlen, fp) == hlen &&
             (dlen == 0 || fwrite(data, 1, dlen, fp) == dlen);
    if (fclose(fp) != 0 || !ok) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
}

static void write_raw(const char *path, const char *header, const void *data, size_t dlen)
{
    write_raw_len(path, strlen(header), header, strlen(header), data, dlen);
}

/* Reads `path`, expecting failure `want` with a one-line message naming the file and holding
 * `needle`; also checks that the output struct is left untouched. */
static void expect_fail(const char *path, mn_status want, const char *needle)
{
    mn_st_file f;
    memset(&f, 0xAB, sizeof f);
    mn_st_file before = f;
    mn_status s = mn_st_read(path, &f);
    const char *m = mn_error_message();
    CHECK(s == want, "%s: status %s, want %s (%s)", path, mn_status_name(s), mn_status_name(want),
          m);
    CHECK(strstr(m, path) != NULL, "%s: message \"%s\" does not name the file", path, m);
    CHECK(strstr(m, needle) != NULL, "%s: message \"%s\" lacks \"%s\"", path, m, needle);
    CHECK(strchr(m, '\n') == NULL, "%s: message \"%s\" is not one line", path, m);
    CHECK(memcmp(&f, &before, sizeof f) == 0, "%s: output written on failure", path);
    if (s == MN_OK)
        mn_st_free(&f);
}

static void expect_bad_header(const char *name, const char *header, size_t dlen,
                              const char *needle)
{
    static const uint8_t zeros[256];
    const char *path = path_in(name);
    write_raw(path, header, zeros, dlen);
    expect_fail(path, MN_ERR_FORMAT, needle);
}

static uint32_t bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

static void test_round_trip(void)
{
    float w[2 * 1 * 3 * 3], b[2] = {0.5f, -0.0f}, s = 3.25f, fc[3 * 4];
    for (int i = 0; i < 18; i++)
        w[i] = (float)i * 0.1f - 0.7f;
    for (int i = 0; i < 12; i++)
        fc[i] = (float)(i * i) / 7.0f;
    fc[5] = INFINITY;
    fc[6] = -INFINITY;
    fc[7] = NAN;
    fc[8] = 1e-40f; /* subnormal */

    mn_st_tensor t[6];
    memset(t, 0, sizeof t);
    strcpy(t[0].name, "conv1.weight");
    t[0].ndim = 4;
    t[0].shape[0] = 2, t[0].shape[1] = 1, t[0].shape[2] = 3, t[0].shape[3] = 3;
    t[0].count = 18;
    t[0].data = w;
    strcpy(t[1].name, "conv1.bias");
    t[1].ndim = 1, t[1].shape[0] = 2, t[1].count = 2, t[1].data = b;
    strcpy(t[2].name, "scalar"); /* 0-d */
    t[2].ndim = 0, t[2].count = 1, t[2].data = &s;
    strcpy(t[3].name, "empty"); /* zero elements, no data */
    t[3].ndim = 2, t[3].shape[0] = 0, t[3].shape[1] = 5, t[3].count = 0, t[3].data = NULL;
    strcpy(t[4].name, "fc.weight");
    t[4].ndim = 2, t[4].shape[0] = 3, t[4].shape[1] = 4, t[4].count = 12, t[4].data = fc;
    strcpy(t[5].name, "one"); /* 1-element 1-d, shares its value with the scalar */
    t[5].ndim = 1, t[5].shape[0] = 1, t[5].count = 1, t[5].data = &s;

    mn_st_meta meta[] = {
        {"format_version", "1"},
        {"spec", "conv:32:5,relu,pool:2,dense:10"},
        {"classes", "z\xc3\xa9ro,\"one\",\\two\nthree"},
        {"empty", ""},
    };
    const char *path = path_in("round.safetensors");
    mn_status st = mn_st_write(path, t, 6, meta, 4);
    CHECK(st == MN_OK, "write: %s", mn_error_message());

    /* The layout: padded header, data at a multiple of 8, tensors back to back in order. */
    size_t size = 0;
    uint8_t *raw = slurp(path, &size);
    CHECK(raw != NULL, "cannot read back %s", path);
    if (raw) {
        uint64_t n = 0;
        for (int i = 0; i < 8; i++)
            n |= (uint64_t)raw[i] << (8 * i);
        CHECK(n % 8 == 0, "header length %llu not a multiple of 8", (unsigned long long)n);
        CHECK(size == 8 + n + 4 * (18 + 2 + 1 + 0 + 12 + 1), "size %zu, header %llu", size,
              (unsigned long long)n);
        CHECK(raw[8] == '{', "header starts with %c", raw[8]);
        const uint8_t *d = raw + 8 + n;
        CHECK(d[0] == 0x33 && d[1] == 0x33 && d[2] == 0x33 && d[3] == 0xbf,
              "first float is not -0.7f little-endian: %02x %02x %02x %02x", d[0], d[1], d[2],
              d[3]);
        /* The JSON holds exactly what we wrote and no more. */
        CHECK(strstr((const char *)raw + 8,
                     "\"conv1.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[72,80]}") !=
                  NULL,
              "header: %.*s", (int)n, raw + 8);
        CHECK(strstr((const char *)raw + 8, "\"scalar\":{\"dtype\":\"F32\",\"shape\":[],") != NULL,
              "0-d shape not written as []");
        free(raw);
    }

    mn_st_file f;
    st = mn_st_read(path, &f);
    CHECK(st == MN_OK, "read: %s", mn_error_message());
    if (st != MN_OK)
        return;
    CHECK(f.num_tensors == 6, "num_tensors %d", f.num_tensors);
    CHECK(f.num_meta == 4, "num_meta %d", f.num_meta);
    for (int i = 0; i < 6 && i < f.num_tensors; i++) {
        const mn_st_tensor *r = &f.tensors[i];
        CHECK(strcmp(r->name, t[i].name) == 0, "tensor %d is %s, want %s", i, r->name, t[i].name);
        CHECK(r->ndim == t[i].ndim, "%s: ndim %d", r->name, r->ndim);
        CHECK(r->count == t[i].count, "%s: count %llu", r->name, (unsigned long long)r->count);
        for (int d = 0; d < r->ndim; d++)
            CHECK(r->shape[d] == t[i].shape[d], "%s: dim %d is %lld", r->name, d,
                  (long long)r->shape[d]);
        CHECK(r->data != NULL && (uintptr_t)r->data % 64 == 0, "%s: data %p not 64-byte aligned",
              r->name, (void *)r->data);
        int same = 1;
        for (uint64_t k = 0; k < r->count && r->data; k++)
            same &= bits(r->data[k]) == bits(t[i].data[k]);
        CHECK(same, "%s: values differ", r->name);
    }
    const mn_st_tensor *fw = mn_st_find(&f, "fc.weight");
    CHECK(fw && isnan(fw->data[7]) && isinf(fw->data[5]) && fw->data[8] == 1e-40f,
          "fc.weight special values lost");
    CHECK(mn_st_find(&f, "conv1.bias") && signbit(mn_st_find(&f, "conv1.bias")->data[1]),
          "-0.0 lost");
    CHECK(mn_st_find(&f, "nope") == NULL, "found a missing tensor");
    CHECK(mn_st_find(&f, NULL) == NULL && mn_st_find(NULL, "x") == NULL, "NULL lookups");
    for (int i = 0; i < 4; i++) {
        const char *v = mn_st_meta_get(&f, meta[i].key);
        CHECK(v && strcmp(v, meta[i].value) == 0, "meta %s = %s", meta[i].key, v ? v : "(null)");
    }
    CHECK(mn_st_meta_get(&f, "missing") == NULL, "found a missing metadata key");
    mn_st_free(&f);
    CHECK(f.tensors == NULL && f.num_tensors == 0 && f.buffer == NULL, "free did not reset");
    mn_st_free(&f); /* twice is harmless */
    mn_st_free(NULL);
}

static void test_empty_and_meta_only(void)
{
    const char *path = path_in("nothing.safetensors");
    mn_status st = mn_st_write(path, NULL, 0, NULL, 0);
    CHECK(st == MN_OK, "empty write: %s", mn_error_message());
    size_t size = 0;
    uint8_t *raw = slurp(path, &size);
    CHECK(raw && size == 16 && memcmp(raw + 8, "{}      ", 8) == 0, "empty file is %zu bytes",
          size);
    free(raw);
    mn_st_file f;
    st = mn_st_read(path, &f);
    CHECK(st == MN_OK && f.num_tensors == 0 && f.num_meta == 0, "empty read: %s",
          mn_error_message());
    if (st == MN_OK)
        mn_st_free(&f);

    mn_st_meta meta[] = {{"k", "v"}};
    path = path_in("meta_only.safetensors");
    st = mn_st_write(path, NULL, 0, meta, 1);
    CHECK(st == MN_OK, "meta-only write: %s", mn_error_message());
    st = mn_st_read(path, &f);
    CHECK(st == MN_OK && f.num_tensors == 0 && f.num_meta == 1, "meta-only read: %s",
          mn_error_message());
    if (st == MN_OK) {
        CHECK(strcmp(mn_st_meta_get(&f, "k"), "v") == 0, "meta-only value");
        mn_st_free(&f);
    }
}

static void test_determinism_and_atomicity(void)
{
    float a[5] = {1, 2, 3, 4, 5}, b[3] = {-1, -2, -3};
    mn_st_tensor t[2];
    memset(t, 0, sizeof t);
    strcpy(t[0].name, "b.second_in_name_order");
    t[0].ndim = 1, t[0].shape[0] = 5, t[0].count = 5, t[0].data = a;
    strcpy(t[1].name, "a.first_in_name_order");
    t[1].ndim = 2, t[1].shape[0] = 3, t[1].shape[1] = 1, t[1].count = 3, t[1].data = b;
    mn_st_meta meta[] = {{"zz", "last"}, {"aa", "first"}};

    const char *dir = path_in("det");
    mkdir(dir, 0755);
    char p1[1300], p2[1300];
    snprintf(p1, sizeof p1, "%s/one.safetensors", dir);
    snprintf(p2, sizeof p2, "%s/two.safetensors", dir);
    CHECK(mn_st_write(p1, t, 2, meta, 2) == MN_OK, "write 1: %s", mn_error_message());
    CHECK(mn_st_write(p2, t, 2, meta, 2) == MN_OK, "write 2: %s", mn_error_message());
    size_t s1 = 0, s2 = 0;
    uint8_t *d1 = slurp(p1, &s1), *d2 = slurp(p2, &s2);
    CHECK(d1 && d2 && s1 == s2 && memcmp(d1, d2, s1) == 0, "two writes differ (%zu vs %zu)", s1,
          s2);
    /* Overwriting in place gives the same bytes again and leaves no temporary file behind. */
    CHECK(mn_st_write(p1, t, 2, meta, 2) == MN_OK, "rewrite: %s", mn_error_message());
    size_t s3 = 0;
    uint8_t *d3 = slurp(p1, &s3);
    CHECK(d1 && d3 && s3 == s1 && memcmp(d1, d3, s1) == 0, "rewrite differs");
    CHECK(count_entries(dir) == 2, "%d entries in %s, want 2", count_entries(dir), dir);
    free(d1);
    free(d2);
    free(d3);

    /* Given order is file order, even against name order. */
    mn_st_file f;
    if (mn_st_read(p1, &f) == MN_OK) {
        CHECK(f.num_tensors == 2 && strcmp(f.tensors[0].name, "b.second_in_name_order") == 0,
              "order not kept");
        mn_st_free(&f);
    } else {
        CHECK(0, "read back: %s", mn_error_message());
    }

    /* A write into a directory that does not exist fails and creates nothing. */
    char bad[1300];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x.safetensors", dir);
    CHECK_ERR(mn_st_write(bad, t, 2, meta, 2), MN_ERR_IO, "x.safetensors");
    CHECK(access(bad, F_OK) != 0, "%s exists after a failed write", bad);
    CHECK(count_entries(dir) == 2, "failed write left %d entries", count_entries(dir));

    /* A refused write (bad argument) leaves the old file as it was and adds nothing. */
    t[1].count = 4;
    CHECK_ERR(mn_st_write(p1, t, 2, meta, 2), MN_ERR_ARG, "does not match its shape");
    t[1].count = 3;
    d3 = slurp(p1, &s3);
    d1 = slurp(p2, &s1);
    CHECK(d1 && d3 && s1 == s3 && memcmp(d1, d3, s1) == 0, "refused write changed the file");
    CHECK(count_entries(dir) == 2, "refused write left %d entries", count_entries(dir));
    free(d1);
    free(d3);
}

static void test_write_errors(void)
{
    float x[4] = {0};
    mn_st_tensor t[2];
    memset(t, 0, sizeof t);
    for (int i = 0; i < 2; i++) {
        snprintf(t[i].name, sizeof t[i].name, "t%d", i);
        t[i].ndim = 1, t[i].shape[0] = 4, t[i].count = 4, t[i].data = x;
    }
    const char *path = path_in("werr.safetensors");

    strcpy(t[1].name, "t0");
    CHECK_ERR(mn_st_write(path, t, 2, NULL, 0), MN_ERR_ARG, "duplicate");
    strcpy(t[1].name, "__metadata__");
    CHECK_ERR(mn_st_write(path, t, 2, NULL, 0), MN_ERR_ARG, "reserved");
    t[1].name[0] = '\0';
    CHECK_ERR(mn_st_write(path, t, 2, NULL, 0), MN_ERR_ARG, "empty name");
    memset(t[1].name, 'n', sizeof t[1].name); /* no terminator within MN_ST_MAX_NAME */
    CHECK_ERR(mn_st_write(path, t, 2, NULL, 0), MN_ERR_ARG, "longer than 127");
    strcpy(t[1].name, "bad\xff utf8");
    CHECK_ERR(mn_st_write(path, t, 2, NULL, 0), MN_ERR_ARG, "not valid UTF-8");
    strcpy(t[1].name, "t1");

    t[1].ndim = MN_ST_MAX_DIMS + 1;
    CHECK_ERR(mn_st_write(path, t, 2, NULL, 0), MN_ERR_ARG, "dimensions");
    t[1].ndim = -1;
    CHECK_ERR(mn_st_write(path, t, 2, NULL, 0), MN_ERR_ARG, "dimensions");
    t[1].ndim = 1;
    t[1].shape[0] = -4;
    CHECK_ERR(mn_st_write(path, t, 2, NULL, 0), MN_ERR_ARG, "negative");
    t[1].ndim = 3, t[1].shape[0] = t[1].shape[1] = t[1].shape[2] = INT64_MAX;
    CHECK_ERR(mn_st_write(path, t, 2, NULL, 0), MN_ERR_ARG, "too large");
    t[1].ndim = 1, t[1].shape[0] = 4;
    t[1].data = NULL;
    CHECK_ERR(mn_st_write(path, t, 2, NULL, 0), MN_ERR_ARG, "no data");
    t[1].data = x;
    CHECK_ERR(mn_st_write(path, t, -1, NULL, 0), MN_ERR_ARG, "bad tensor");
    CHECK_ERR(mn_st_write(path, NULL, 2, NULL, 0), MN_ERR_ARG, "bad tensor");

    mn_st_meta dup[] = {{"k", "1"}, {"k", "2"}};
    CHECK_ERR(mn_st_write(path, t, 2, dup, 2), MN_ERR_ARG, "duplicate metadata key");
    mn_st_meta nul[] = {{"k", NULL}};
    CHECK_ERR(mn_st_write(path, t, 2, nul, 1), MN_ERR_ARG, "NULL");
    mn_st_meta bad_utf8[] = {{"k", "\xc3("}};
    CHECK_ERR(mn_st_write(path, t, 2, bad_utf8, 1), MN_ERR_ARG, "UTF-8");

    /* A header over MN_ST_MAX_HEADER would not read back: refused. */
    size_t big = (size_t)MN_ST_MAX_HEADER + 1;
    char *huge = malloc(big + 1);
    if (huge) {
        memset(huge, 'x', big);
        huge[big] = '\0';
        mn_st_meta m[] = {{"huge", huge}};
        CHECK_ERR(mn_st_write(path, t, 2, m, 1), MN_ERR_LIMIT, "over the limit");
        free(huge);
    }
    CHECK(access(path, F_OK) != 0, "a refused write created %s", path);
}

static void test_read_errors(void)
{
    static const uint8_t zeros[64];
    char header[2048];

    /* Sizes and the header length. */
    const char *p = path_in("missing.safetensors");
    expect_fail(p, MN_ERR_IO, "cannot open");
    p = path_in("empty.safetensors");
    FILE *fp = fopen(p, "wb");
    if (fp)
        fclose(fp);
    expect_fail(p, MN_ERR_FORMAT, "too short");
    p = path_in("short.safetensors");
    fp = fopen(p, "wb");
    if (fp) {
        fwrite("\x02\0\0\0\0", 1, 5, fp);
        fclose(fp);
    }
    expect_fail(p, MN_ERR_FORMAT, "too short");
    p = path_in("beyond.safetensors");
    write_raw_len(p, 100, "{}", 2, NULL, 0);
    expect_fail(p, MN_ERR_FORMAT, "beyond the end of the file");
    p = path_in("beyond_huge.safetensors");
    write_raw_len(p, UINT64_MAX, "{}", 2, NULL, 0);
    expect_fail(p, MN_ERR_FORMAT, "beyond the end of the file");
    p = path_in("zero_header.safetensors");
    write_raw_len(p, 0, "", 0, NULL, 0);
    expect_fail(p, MN_ERR_FORMAT, "not valid JSON");

    /* A header length over the limit, in a file big enough to hold it. */
    p = path_in("huge_header.safetensors");
    size_t hn = (size_t)MN_ST_MAX_HEADER + 1;
    char *hh = malloc(hn);
    if (hh) {
        memset(hh, ' ', hn);
        hh[0] = '{';
        hh[hn - 1] = '}';
        write_raw_len(p, hn, hh, hn, NULL, 0);
        free(hh);
        expect_fail(p, MN_ERR_LIMIT, "over the limit");
        unlink(p);
    }

    /* JSON syntax and structure. */
    expect_bad_header("syntax.safetensors", "{\"a\": ", 0, "not valid JSON");
    expect_bad_header("syntax2.safetensors", "{\n\"a\": {\"dtype\": F32}}", 0, "line 2");
    expect_bad_header("trailing.safetensors", "{} x", 0, "not valid JSON");
    expect_bad_header("utf8.safetensors", "{\"\xc3(\": {}}", 0, "not valid JSON");
    expect_bad_header("nul_key.safetensors", "{\"a\\u0000b\": {}}", 0, "not valid JSON");
    expect_bad_header("array.safetensors", "[]", 0, "not a JSON object");
    expect_bad_header("dup.safetensors",
                      "{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
                      "\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}",
                      4, "duplicate");
    expect_bad_header("dup_meta.safetensors", "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0,
                      "duplicate");
    expect_bad_header("entry.safetensors", "{\"a\": 5}", 0, "tensor \"a\": entry is not an object");

    /* dtype. */
    expect_bad_header("f16.safetensors",
                      "{\"w\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
                      "tensor \"w\": dtype \"F16\" is not supported");
    expect_bad_header("no_dtype.safetensors", "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                      "tensor \"w\": no dtype");
    expect_bad_header("num_dtype.safetensors",
                      "{\"w\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                      "dtype is not a string");
    expect_bad_header("extra.safetensors",
                      "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}",
                      4, "unexpected key \"x\"");

    /* shape. */
    expect_bad_header("no_shape.safetensors", "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}",
                      4, "no shape");
    expect_bad_header("shape_obj.safetensors",
                      "{\"w\":{\"dtype\":\"F32\",\"shape\":{},\"data_offsets\":[0,4]}}", 4,
                      "shape is not an array");
    expect_bad_header("shape_neg.safetensors",
                      "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
                      "non-negative integers");
    expect_bad_header("shape_real.safetensors",
                      "{\"w\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", 4,
                      "non-negative integers");
    expect_bad_header("shape_str.safetensors",
                      "{\"w\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4,
                      "non-negative integers");
    expect_bad_header("shape_dims.safetensors",
                      "{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],"
                      "\"data_offsets\":[0,4]}}",
                      4, "9 dimensions");
    expect_bad_header("shape_overflow.safetensors",
                      "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],"
                      "\"data_offsets\":[0,4]}}",
                      4, "overflows");
    expect_bad_header("shape_overflow4.safetensors",
                      "{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],"
                      "\"data_offsets\":[0,0]}}",
                      0, "overflows");
    expect_bad_header("shape_bigint.safetensors",
                      "{\"w\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],"
                      "\"data_offsets\":[0,4]}}",
                      4, "not valid JSON");

    /* data_offsets. */
    expect_bad_header("no_offsets.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4,
                      "no data_offsets");
    expect_bad_header("offsets_one.safetensors",
                      "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]}}", 4,
                      "two non-negative integers");
    expect_bad_header("offsets_three.safetensors",
                      "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8,
                      "two non-negative integers");
    expect_bad_header("offsets_str.safetensors",
                      "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,\"4\"]}}", 4,
                      "two non-negative integers");
    expect_bad_header("offsets_neg.safetensors",
                      "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4,
                      "two non-negative integers");
    expect_bad_header("offsets_rev.safetensors",
                      "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8,
                      "begin 8 is after end 4");
    expect_bad_header("offsets_beyond.safetensors",
                      "{\"w\":{\"dtype\":\"F32\",\"shape\":[100],\"data_offsets\":[0,400]}}", 4,
                      "beyond the data area");
    expect_bad_header("offsets_size.safetensors",
                      "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
                      "span 4 bytes but the shape needs 8");
    expect_bad_header("overlap.safetensors",
                      "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                      12, "tensor \"b\" overlaps");
    expect_bad_header("same.safetensors",
                      "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                      "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                      4, "overlaps");
    expect_bad_header("gap.safetensors",
                      "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                      "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
                      12, "gap in the data area before tensor \"b\"");
    expect_bad_header("gap_first.safetensors",
                      "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
                      "gap");
    expect_bad_header("trailing_data.safetensors",
                      "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8,
                      "not covered exactly");
    expect_bad_header("data_no_tensors.safetensors", "{}", 4, "not covered exactly");

    /* Metadata and names. */
    expect_bad_header("meta_array.safetensors", "{\"__metadata__\":[]}", 0,
                      "\"__metadata__\" is not an object");
    expect_bad_header("meta_num.safetensors", "{\"__metadata__\":{\"epochs\":5}}", 0,
                      "metadata \"epochs\" is not a string");
    expect_bad_header("meta_null.safetensors", "{\"__metadata__\":{\"k\":null}}", 0,
                      "is not a string");
    expect_bad_header("empty_name.safetensors",
                      "{\"\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                      "empty name");
    char longname[MN_ST_MAX_NAME + 1];
    memset(longname, 'n', MN_ST_MAX_NAME);
    longname[MN_ST_MAX_NAME] = '\0';
    snprintf(header, sizeof header,
             "{\"%s\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", longname);
    expect_bad_header("long_name.safetensors", header, 4, "too long (128 bytes");
    /* A hostile name does not break the message onto two lines, and is cut short. */
    expect_bad_header("ctrl_name.safetensors",
                      "{\"a\\nb\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                      "tensor \"a\\x0ab\"");
    snprintf(header, sizeof header,
             "{\"w\":{\"dtype\":\"%s\",\"shape\":[1],\"data_offsets\":[0,4]}}", longname);
    expect_bad_header("long_dtype.safetensors", header, 4, "nnn...\" is not supported");

    /* The longest allowed name reads, and so does a file from another writer: unpadded header,
     * keys in another order than the data, zero-sized tensors sharing an offset. */
    longname[MN_ST_MAX_NAME - 1] = '\0';
    snprintf(header, sizeof header,
             "{\"%s\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
             "\"z0\":{\"shape\":[0],\"dtype\":\"F32\",\"data_offsets\":[4,4]},"
             "\"a\":{\"data_offsets\":[0,4],\"dtype\":\"F32\",\"shape\":[]},"
             "\"z1\":{\"dtype\":\"F32\",\"shape\":[3,0],\"data_offsets\":[4,4]},"
             "\"__metadata__\":{}}",
             longname);
    p = path_in("other_writer.safetensors");
    float vals[2] = {1.5f, -2.5f};
    write_raw(p, header, vals, 8);
    mn_st_file f;
    mn_status st = mn_st_read(p, &f);
    CHECK(st == MN_OK, "other writer: %s", mn_error_message());
    if (st == MN_OK) {
        const mn_st_tensor *a = mn_st_find(&f, "a"), *l = mn_st_find(&f, longname);
        CHECK(f.num_tensors == 4 && a && l && a->ndim == 0 && a->count == 1 &&
                  a->data[0] == 1.5f && l->data[0] == -2.5f,
              "other writer: wrong tensors");
        CHECK(mn_st_find(&f, "z1") && mn_st_find(&f, "z1")->count == 0, "zero-sized tensor");
        for (int i = 0; i < f.num_tensors; i++)
            CHECK((uintptr_t)f.tensors[i].data % 64 == 0, "%s not aligned", f.tensors[i].name);
        mn_st_free(&f);
    }

    /* From memory: a NULL name still gives a message. */
    memset(&f, 0, sizeof f);
    CHECK_ERR(mn_st_parse(zeros, 3, NULL, &f), MN_ERR_FORMAT, "<memory>: file is too short");
    CHECK_ERR(mn_st_parse(zeros, 8, "buf", &f), MN_ERR_FORMAT, "buf: header is not valid JSON");
}

int main(void)
{
    g_dir = check_tmp_dir("safetensors");
    test_round_trip();
    test_empty_and_meta_only();
    test_determinism_and_atomicity();
    test_write_errors();
    test_read_errors();
    return check_summary();
}
