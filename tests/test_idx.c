/* test_idx.c: the IDX reader and data sets: good raw and gzip files of any shape, every malformed
 * case the reader refuses (with its status and message), directory loading, splitting, and the
 * real MNIST files when MNIST_DATA points at them. */
#include "check.h"
#include "internal.h"

#include <zlib.h>

/* A growable byte buffer for building files. */
typedef struct buf {
    uint8_t *p;
    size_t n;
} buf;

static void put(buf *b, const void *data, size_t n)
{
    b->p = realloc(b->p, b->n + n + 1);
    if (!b->p)
        abort();
    memcpy(b->p + b->n, data, n);
    b->n += n;
}

static void put32(buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put(b, x, 4);
}

static uint8_t pixel(uint32_t i, uint32_t r, uint32_t c) { return (uint8_t)(i * 31 + r * 7 + c * 3 + 1); }

/* An IDX image file: count images of rows x cols with pixel(i, r, c). */
static buf images(uint32_t count, uint32_t rows, uint32_t cols)
{
    buf b = {0};
    put32(&b, 0x803);
    put32(&b, count);
    put32(&b, rows);
    put32(&b, cols);
    for (uint32_t i = 0; i < count; i++)
        for (uint32_t r = 0; r < rows; r++)
            for (uint32_t c = 0; c < cols; c++) {
                uint8_t v = pixel(i, r, c);
                put(&b, &v, 1);
            }
    return b;
}

static buf labels(uint32_t count, const uint8_t *values)
{
    buf b = {0};
    put32(&b, 0x801);
    put32(&b, count);
    put(&b, values, count);
    return b;
}

/* A header only: magic and dims. */
static buf header(uint32_t magic, int ndims, uint32_t d0, uint32_t d1, uint32_t d2)
{
    buf b = {0};
    uint32_t d[3] = {d0, d1, d2};
    put32(&b, magic);
    for (int i = 0; i < ndims; i++)
        put32(&b, d[i]);
    return b;
}

/* gzip-compresses in memory (deflate with the gzip wrapper). */
static buf gzip(const buf *in)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        abort();
    buf out = {0};
    out.p = malloc(deflateBound(&zs, in->n) + 64);
    zs.next_in = in->p;
    zs.avail_in = (uInt)in->n;
    zs.next_out = out.p;
    zs.avail_out = (uInt)(deflateBound(&zs, in->n) + 64);
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
        abort();
    out.n = zs.total_out;
    deflateEnd(&zs);
    return out;
}

static void write_file(const char *path, const buf *b)
{
    FILE *fp = fopen(path, "wb");
    if (!fp || (b->n && fwrite(b->p, 1, b->n, fp) != b->n) || fclose(fp) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
}

/* Writes with zlib's own gzip file writer, as a different producer than gzip() above. */
static void write_gz_file(const char *path, const buf *b)
{
    gzFile gz = gzopen(path, "wb");
    if (!gz || gzwrite(gz, b->p, (unsigned)b->n) != (int)b->n || gzclose(gz) != Z_OK) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
}

static const char *tmp;
static char g_path[8][1200];

/* A path in the scratch directory (a few rotating buffers). */
static const char *path_of(const char *name)
{
    static int k;
    char *p = g_path[k++ % 8];
    snprintf(p, sizeof g_path[0], "%s/%s", tmp, name);
    return p;
}

static int pixels_match(const uint8_t *p, uint32_t first, uint32_t count, uint32_t rows,
                        uint32_t cols)
{
    for (uint32_t i = 0; i < count; i++)
        for (uint32_t r = 0; r < rows; r++)
            for (uint32_t c = 0; c < cols; c++)
                if (*p++ != pixel(first + i, r, c))
                    return 0;
    return 1;
}

/* Decodes images from memory, expecting failure `want` with `needle` in the message. */
static void expect_images_err(const buf *b, const mn_load_params *p, mn_status want,
                              const char *needle)
{
    uint8_t *px = (uint8_t *)"untouched";
    uint32_t n = 77, r = 77, c = 77;
    CHECK_ERR(mn_idx_decode_images(b->p, b->n, "mem.idx", p, &px, &n, &r, &c), want, needle);
    CHECK(strstr(mn_error_message(), "mem.idx") != NULL, "message names the file: %s",
          mn_error_message());
    CHECK(strchr(mn_error_message(), '\n') == NULL, "one line: %s", mn_error_message());
    CHECK(n == 77 && r == 77 && c == 77 && strcmp((char *)px, "untouched") == 0,
          "outputs written on failure");
}

static void expect_labels_err(const buf *b, const mn_load_params *p, mn_status want,
                              const char *needle)
{
    uint8_t *lb = (uint8_t *)"untouched";
    uint32_t n = 77;
    CHECK_ERR(mn_idx_decode_labels(b->p, b->n, "mem.idx", p, &lb, &n), want, needle);
    CHECK(strstr(mn_error_message(), "mem.idx") != NULL, "message names the file: %s",
          mn_error_message());
    CHECK(n == 77 && strcmp((char *)lb, "untouched") == 0, "outputs written on failure");
}

static void test_good_files(void)
{
    uint8_t lv[4] = {1, 0, 1, 1};
    buf im = images(4, 3, 5), lb = labels(4, lv);
    write_file(path_of("img"), &im);
    write_file(path_of("lbl"), &lb);
    write_gz_file(path_of("img.gz"), &im);
    write_gz_file(path_of("lbl.gz"), &lb);

    const char *pairs[3][2] = {{"img", "lbl"}, {"img.gz", "lbl.gz"}, {"img.gz", "lbl"}};
    for (int k = 0; k < 3; k++) {
        mn_dataset *set = NULL;
        mn_status s = mn_dataset_load_idx(&set, path_of(pairs[k][0]), path_of(pairs[k][1]), NULL);
        CHECK(s == MN_OK, "load %s: %s", pairs[k][0], mn_error_message());
        if (s)
            continue;
        CHECK(set->count == 4 && set->rows == 3 && set->cols == 5, "shape %u %u %u", set->count,
              set->rows, set->cols);
        CHECK(set->num_classes == 2, "two classes, got %u", set->num_classes);
        CHECK(pixels_match(set->pixels, 0, 4, 3, 5), "pixels of %s", pairs[k][0]);
        CHECK(memcmp(set->labels, lv, 4) == 0, "labels");
        mn_dataset_free(set);
    }

    /* In memory: raw, gzip and two concatenated gzip members all give the same bytes. */
    buf gz = gzip(&im);
    buf half1 = {0}, half2 = {0};
    put(&half1, im.p, 10);
    put(&half2, im.p + 10, im.n - 10);
    buf g1 = gzip(&half1), g2 = gzip(&half2), multi = {0};
    put(&multi, g1.p, g1.n);
    put(&multi, g2.p, g2.n);
    const buf *forms[3] = {&im, &gz, &multi};
    for (int k = 0; k < 3; k++) {
        uint8_t *px = NULL;
        uint32_t n = 0, r = 0, c = 0;
        mn_status s = mn_idx_decode_images(forms[k]->p, forms[k]->n, "m", NULL, &px, &n, &r, &c);
        CHECK(s == MN_OK && n == 4 && r == 3 && c == 5 && pixels_match(px, 0, 4, 3, 5),
              "form %d: %s", k, mn_error_message());
        free(px);
    }
    free(gz.p);
    free(half1.p);
    free(half2.p);
    free(g1.p);
    free(g2.p);
    free(multi.p);
    free(im.p);
    free(lb.p);

    /* Any H x W and more classes; every label value up to 255 is fine by default. */
    uint8_t lv3[6] = {2, 0, 1, 2, 1, 0};
    buf im57 = images(6, 5, 7), lb3 = labels(6, lv3);
    write_file(path_of("img57"), &im57);
    write_gz_file(path_of("lbl3.gz"), &lb3);
    mn_dataset *set = NULL;
    mn_status s = mn_dataset_load_idx(&set, path_of("img57"), path_of("lbl3.gz"), NULL);
    CHECK(s == MN_OK, "5x7: %s", mn_error_message());
    if (!s) {
        CHECK(set->count == 6 && set->rows == 5 && set->cols == 7 && set->num_classes == 3,
              "5x7 shape %u %u %u classes %u", set->count, set->rows, set->cols,
              set->num_classes);
        CHECK(pixels_match(set->pixels, 0, 6, 5, 7), "5x7 pixels");
        mn_dataset_free(set);
    }
    uint8_t lv255[2] = {255, 3};
    buf im1 = images(2, 1, 1), lb255 = labels(2, lv255);
    write_file(path_of("img11"), &im1);
    write_file(path_of("lbl255"), &lb255);
    s = mn_dataset_load_idx(&set, path_of("img11"), path_of("lbl255"), NULL);
    CHECK(s == MN_OK && set->num_classes == 256 && set->rows == 1, "label 255: %s",
          mn_error_message());
    if (!s)
        mn_dataset_free(set);
    free(im57.p);
    free(lb3.p);
    free(im1.p);
    free(lb255.p);
}

static void test_malformed_headers(void)
{
    buf im = images(2, 3, 4), lb = labels(2, (const uint8_t *)"\1\2");
    buf b = {0};

    /* Empty and truncated headers. */
    expect_images_err(&b, NULL, MN_ERR_FORMAT, "empty");
    expect_labels_err(&b, NULL, MN_ERR_FORMAT, "empty");
    put(&b, im.p, 2);
    expect_images_err(&b, NULL, MN_ERR_FORMAT, "truncated header: 2 bytes");
    b.n = 0;
    put(&b, im.p, 10);
    expect_images_err(&b, NULL, MN_ERR_FORMAT, "truncated header: 10 bytes, an image file needs 16");
    buf gzb = gzip(&b);
    expect_images_err(&gzb, NULL, MN_ERR_FORMAT, "truncated header: 10 bytes after gunzip");
    free(gzb.p);
    b.n = 0;
    put(&b, lb.p, 6);
    expect_labels_err(&b, NULL, MN_ERR_FORMAT, "truncated header: 6 bytes, a label file needs 8");

    /* Wrong magic, swapped kinds, dimension count, data type. */
    buf h = header(0x12345678, 3, 1, 1, 1);
    expect_images_err(&h, NULL, MN_ERR_FORMAT, "bad magic 0x12345678");
    expect_labels_err(&h, NULL, MN_ERR_FORMAT, "bad magic 0x12345678");
    free(h.p);
    expect_images_err(&lb, NULL, MN_ERR_FORMAT, "this is an IDX label file (magic 0x00000801), not an image file");
    expect_labels_err(&im, NULL, MN_ERR_FORMAT, "this is an IDX image file (magic 0x00000803), not a label file");
    h = header(0x802, 2, 1, 1, 0);
    expect_images_err(&h, NULL, MN_ERR_FORMAT, "has 2 dimensions");
    expect_labels_err(&h, NULL, MN_ERR_FORMAT, "has 2 dimensions");
    free(h.p);
    h = header(0x804, 3, 1, 1, 1);
    expect_images_err(&h, NULL, MN_ERR_FORMAT, "has 4 dimensions");
    free(h.p);
    h = header(0xD03, 3, 1, 1, 1);
    expect_images_err(&h, NULL, MN_ERR_FORMAT, "unsupported IDX data type 0x0d");
    free(h.p);
    /* zlib-wrapped (not gzip) bytes are not an IDX file. */
    uLongf zn = compressBound(im.n);
    buf z = {malloc(zn), 0};
    if (compress(z.p, &zn, im.p, im.n) != Z_OK)
        abort();
    z.n = zn;
    expect_images_err(&z, NULL, MN_ERR_FORMAT, "bad magic");
    free(z.p);

    /* Zero sizes. */
    h = header(0x803, 3, 0, 28, 28);
    expect_images_err(&h, NULL, MN_ERR_FORMAT, "0 images");
    free(h.p);
    h = header(0x803, 3, 1, 0, 28);
    expect_images_err(&h, NULL, MN_ERR_FORMAT, "images of 0x28: a side is zero");
    free(h.p);
    h = header(0x803, 3, 1, 28, 0);
    expect_images_err(&h, NULL, MN_ERR_FORMAT, "a side is zero");
    free(h.p);
    h = header(0x801, 1, 0, 0, 0);
    expect_labels_err(&h, NULL, MN_ERR_FORMAT, "0 labels");
    free(h.p);

    /* Sizes that overflow or claim too much: refused from the header alone (the files hold
     * 16 bytes, so a reader that allocated first would fail differently or not at all). */
    h = header(0x803, 3, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu);
    expect_images_err(&h, NULL, MN_ERR_LIMIT, "overflows 64 bits");
    mn_load_params huge = mn_load_default_params();
    huge.max_bytes = UINT64_MAX;
    expect_images_err(&h, &huge, MN_ERR_LIMIT, "overflows 64 bits");
    free(h.p);
    h = header(0x803, 3, 1, 65536, 65536); /* rows*cols overflows 32 bits */
    expect_images_err(&h, NULL, MN_ERR_LIMIT, "1 images of 65536x65536 = 4294967296 bytes, over the limit");
    free(h.p);
    h = header(0x803, 3, 1000000, 28, 28); /* 784 MB */
    expect_images_err(&h, NULL, MN_ERR_LIMIT, "= 784000000 bytes, over the limit of 268435456");
    buf hgz = gzip(&h);
    expect_images_err(&hgz, NULL, MN_ERR_LIMIT, "over the limit");
    free(hgz.p);
    free(h.p);
    h = header(0x801, 1, 0xFFFFFFFFu, 0, 0);
    expect_labels_err(&h, NULL, MN_ERR_LIMIT, "4294967295 labels = 4294967295 bytes, over the limit");
    /* With no limit at all, the size check against the real length still comes first. */
    expect_labels_err(&h, &huge, MN_ERR_FORMAT, "truncated: header says 4294967295 labels");
    free(h.p);
    h = header(0x803, 3, 0xFFFFFFFFu, 0xFFFFFFFFu, 1);
    expect_images_err(&h, &huge, MN_ERR_FORMAT, "truncated");
    free(h.p);
    /* A limit just under the file. */
    mn_load_params small = mn_load_default_params();
    small.max_bytes = im.n - 1;
    expect_images_err(&im, &small, MN_ERR_LIMIT, "over the limit of 39 bytes");
    small.max_bytes = im.n;
    uint8_t *px;
    uint32_t n, r, c;
    CHECK(mn_idx_decode_images(im.p, im.n, "m", &small, &px, &n, &r, &c) == MN_OK,
          "exactly at the limit: %s", mn_error_message());
    free(px);
    small.max_bytes = 3;
    expect_images_err(&im, &small, MN_ERR_LIMIT, "over the limit of 3 bytes");

    free(b.p);
    free(im.p);
    free(lb.p);
}

static void test_malformed_bodies(void)
{
    buf im = images(2, 3, 4), b = {0};

    /* Truncated and over-long bodies, raw and gzip. */
    put(&b, im.p, im.n - 1);
    expect_images_err(&b, NULL, MN_ERR_FORMAT,
                      "truncated: header says 2 images of 3x4 = 24 bytes, file has 23");
    buf g = gzip(&b);
    expect_images_err(&g, NULL, MN_ERR_FORMAT,
                      "truncated: header says 2 images of 3x4 = 24 bytes, file has 23 after gunzip");
    free(g.p);
    b.n = 16;
    expect_images_err(&b, NULL, MN_ERR_FORMAT, "file has 0");
    b.n = 0;
    put(&b, im.p, im.n);
    put(&b, "xyz", 3);
    expect_images_err(&b, NULL, MN_ERR_FORMAT,
                      "trailing data: header says 2 images of 3x4 = 24 bytes, file has 27");
    g = gzip(&b);
    expect_images_err(&g, NULL, MN_ERR_FORMAT, "trailing data: header says 2 images of 3x4 = 24 bytes, file has 3 more after gunzip");
    free(g.p);
    uint8_t lv[3] = {0, 1, 2};
    buf lb = labels(3, lv);
    lb.n--;
    expect_labels_err(&lb, NULL, MN_ERR_FORMAT, "truncated: header says 3 labels = 3 bytes, file has 2");
    lb.n++;

    /* Labels out of range for max_classes; the index of the first bad one is named. */
    mn_load_params p = mn_load_default_params();
    p.max_classes = 2;
    expect_labels_err(&lb, &p, MN_ERR_FORMAT, "label 2 at index 2 is out of range (max_classes is 2)");
    p.max_classes = 0;
    expect_labels_err(&lb, &p, MN_ERR_ARG, "max_classes");
    p.max_classes = 3;
    uint8_t *out;
    uint32_t n;
    CHECK(mn_idx_decode_labels(lb.p, lb.n, "m", &p, &out, &n) == MN_OK && n == 3 && out[2] == 2,
          "max_classes 3: %s", mn_error_message());
    free(out);
    free(lb.p);

    /* Corrupt and truncated gzip. */
    g = gzip(&im);
    buf c = {0};
    put(&c, g.p, g.n);
    c.p[2] = 9; /* compression method 9 does not exist */
    expect_images_err(&c, NULL, MN_ERR_FORMAT, "corrupt gzip data");
    memcpy(c.p, g.p, g.n);
    c.p[c.n - 6] ^= 0x55; /* the CRC */
    expect_images_err(&c, NULL, MN_ERR_FORMAT, "corrupt gzip data");
    memcpy(c.p, g.p, g.n);
    for (size_t i = 10; i < c.n - 8; i++) /* the deflate data itself */
        c.p[i] ^= 0xA5;
    expect_images_err(&c, NULL, MN_ERR_FORMAT, "gzip");
    c.n = g.n / 2;
    memcpy(c.p, g.p, g.n);
    expect_images_err(&c, NULL, MN_ERR_FORMAT, "truncated gzip data");
    c.n = g.n - 4; /* everything but the length in the trailer */
    expect_images_err(&c, NULL, MN_ERR_FORMAT, "truncated gzip data");
    c.n = 2; /* just the magic */
    expect_images_err(&c, NULL, MN_ERR_FORMAT, "truncated gzip data");
    c.n = g.n;
    put(&c, "\0\0", 2);
    expect_images_err(&c, NULL, MN_ERR_FORMAT, "2 bytes of junk after the gzip data");
    free(c.p);
    free(g.p);

    /* A gzip file within the compressed limit but inflating past the decompressed one. */
    buf big = images(100, 28, 28);
    g = gzip(&big);
    p = mn_load_default_params();
    p.max_bytes = 50000;
    expect_images_err(&g, &p, MN_ERR_LIMIT, "over the limit of 50000");
    free(big.p);
    free(g.p);

    /* A gzip file that claims a large body (bigger than the first growth step) but stops early. */
    buf claim = header(0x803, 3, 100000, 28, 28);
    put(&claim, im.p + 16, 24);
    g = gzip(&claim);
    expect_images_err(&g, NULL, MN_ERR_FORMAT, "= 78400000 bytes, file has 24 after gunzip");
    free(g.p);
    free(claim.p);

    free(b.p);
    free(im.p);
}

static void test_files_and_dirs(void)
{
    uint8_t lv[2] = {0, 1}, lv3[3] = {0, 1, 2};
    buf im = images(2, 3, 4), lb = labels(2, lv), lb3 = labels(3, lv3), empty = {0};
    write_file(path_of("a-img"), &im);
    write_file(path_of("a-lbl"), &lb);
    write_file(path_of("a-lbl3"), &lb3);
    write_file(path_of("empty"), &empty);
    mn_dataset *set = (mn_dataset *)&set;

    /* Count mismatch names both files. */
    char both[2600];
    snprintf(both, sizeof both, "%s has 2 images but %s has 3 labels", path_of("a-img"),
             path_of("a-lbl3"));
    CHECK_ERR(mn_dataset_load_idx(&set, path_of("a-img"), path_of("a-lbl3"), NULL), MN_ERR_FORMAT,
              both);
    CHECK(set == (mn_dataset *)&set, "output untouched on failure");
    /* Labels as images and the other way round, through files. */
    CHECK_ERR(mn_dataset_load_idx(&set, path_of("a-lbl"), path_of("a-img"), NULL), MN_ERR_FORMAT,
              "not an image file");
    CHECK_ERR(mn_dataset_load_idx(&set, path_of("a-img"), path_of("a-img"), NULL), MN_ERR_FORMAT,
              "not a label file");
    CHECK_ERR(mn_dataset_load_idx(&set, path_of("empty"), path_of("a-lbl"), NULL), MN_ERR_FORMAT,
              "empty");
    CHECK_ERR(mn_dataset_load_idx(&set, tmp, path_of("a-lbl"), NULL), MN_ERR_IO, "directory");
    CHECK_ERR(mn_dataset_load_idx(&set, path_of("a-img"), path_of("nope"), NULL), MN_ERR_IO,
              path_of("nope"));
    CHECK_ERR(mn_dataset_load_idx(&set, path_of("a-img"), path_of("nope"), NULL), MN_ERR_IO,
              "cannot open");
    mn_load_params p = mn_load_default_params();
    p.max_classes = 1;
    CHECK_ERR(mn_dataset_load_idx(&set, path_of("a-img"), path_of("a-lbl"), &p), MN_ERR_FORMAT,
              "label 1 at index 1");
    p = mn_load_default_params();
    p.max_bytes = 20; /* the file is 40 bytes */
    CHECK_ERR(mn_dataset_load_idx(&set, path_of("a-img"), path_of("a-lbl"), &p), MN_ERR_LIMIT,
              "over the limit");
    CHECK(set == (mn_dataset *)&set, "output untouched on failure");

    /* Loading a directory: missing files, raw names, .gz preferred. */
    char dir[1200], sub[1300];
    snprintf(dir, sizeof dir, "%s/", path_of("dataset")); /* a trailing slash is fine */
    CHECK_ERR(mn_dataset_load_dir(&set, dir, MN_SPLIT_TRAIN, NULL), MN_ERR_IO,
              "mnist data fetch");
    CHECK(strstr(mn_error_message(), "dataset") != NULL, "names the directory: %s",
          mn_error_message());
    snprintf(sub, sizeof sub, "mkdir -p '%s'", dir);
    if (system(sub) != 0)
        exit(2);
    CHECK_ERR(mn_dataset_load_dir(&set, dir, MN_SPLIT_TEST, NULL), MN_ERR_IO,
              "no t10k-images-idx3-ubyte[.gz] in this directory (run `mnist data fetch`");
    CHECK(strstr(mn_error_message(), "dataset") != NULL, "names the directory: %s",
          mn_error_message());
    snprintf(sub, sizeof sub, "%st10k-images-idx3-ubyte", dir);
    write_file(sub, &im);
    CHECK_ERR(mn_dataset_load_dir(&set, dir, MN_SPLIT_TEST, NULL), MN_ERR_IO,
              "no t10k-labels-idx1-ubyte[.gz]");
    snprintf(sub, sizeof sub, "%st10k-labels-idx1-ubyte", dir);
    write_file(sub, &lb);
    mn_status s = mn_dataset_load_dir(&set, dir, MN_SPLIT_TEST, NULL);
    CHECK(s == MN_OK && set->count == 2 && set->rows == 3, "raw dir: %s", mn_error_message());
    if (!s)
        mn_dataset_free(set);
    buf im3 = images(3, 2, 2);
    snprintf(sub, sizeof sub, "%st10k-images-idx3-ubyte.gz", dir);
    write_gz_file(sub, &im3);
    snprintf(sub, sizeof sub, "%st10k-labels-idx1-ubyte.gz", dir);
    write_gz_file(sub, &lb3);
    s = mn_dataset_load_dir(&set, dir, MN_SPLIT_TEST, NULL);
    CHECK(s == MN_OK && set->count == 3 && set->rows == 2 && set->num_classes == 3,
          ".gz preferred: %s", mn_error_message());
    if (!s)
        mn_dataset_free(set);
    CHECK_ERR(mn_dataset_load_dir(&set, dir, MN_SPLIT_TRAIN, NULL), MN_ERR_IO,
              "no train-images-idx3-ubyte[.gz]");
    CHECK_ERR(mn_dataset_load_dir(&set, path_of("a-img"), MN_SPLIT_TRAIN, NULL), MN_ERR_IO,
              "not a directory");
    free(im3.p);

    /* The default directory. */
    const char *old = getenv("MNIST_DATA");
    char *saved = old ? strdup(old) : NULL;
    setenv("MNIST_DATA", "/some/where", 1);
    CHECK(strcmp(mn_default_data_dir(), "/some/where") == 0, "MNIST_DATA");
    setenv("MNIST_DATA", "", 1);
    CHECK(strcmp(mn_default_data_dir(), "./data/mnist") == 0, "empty MNIST_DATA");
    unsetenv("MNIST_DATA");
    CHECK(strcmp(mn_default_data_dir(), "./data/mnist") == 0, "no MNIST_DATA");
    if (saved) {
        setenv("MNIST_DATA", saved, 1);
        free(saved);
    }

    free(im.p);
    free(lb.p);
    free(lb3.p);
}

static void test_split(void)
{
    uint8_t lv[5] = {0, 1, 2, 3, 1};
    buf im = images(5, 2, 3), lb = labels(5, lv);
    write_file(path_of("s-img"), &im);
    write_file(path_of("s-lbl"), &lb);
    mn_dataset *set = NULL, *tail = (mn_dataset *)&tail;
    if (mn_dataset_load_idx(&set, path_of("s-img"), path_of("s-lbl"), NULL) != MN_OK) {
        CHECK(0, "load: %s", mn_error_message());
        return;
    }
    CHECK_ERR(mn_dataset_split_tail(set, 0, &tail), MN_ERR_ARG, "cannot split 0 images");
    CHECK_ERR(mn_dataset_split_tail(set, 5, &tail), MN_ERR_ARG, "off a data set of 5");
    CHECK(tail == (mn_dataset *)&tail && set->count == 5, "untouched on failure");
    mn_status s = mn_dataset_split_tail(set, 2, &tail);
    CHECK(s == MN_OK, "split: %s", mn_error_message());
    if (!s) {
        CHECK(set->count == 3 && tail->count == 2, "counts %u %u", set->count, tail->count);
        CHECK(tail->rows == 2 && tail->cols == 3 && tail->num_classes == 4 &&
                  set->num_classes == 4,
              "shapes and classes kept");
        CHECK(pixels_match(set->pixels, 0, 3, 2, 3) && pixels_match(tail->pixels, 3, 2, 2, 3),
              "pixels split");
        CHECK(memcmp(set->labels, lv, 3) == 0 && memcmp(tail->labels, lv + 3, 2) == 0,
              "labels split");
        mn_dataset_free(tail);
    }
    mn_dataset_free(set);
    mn_dataset_free(NULL);
    free(im.p);
    free(lb.p);
}

static void test_real_mnist(const char *dir)
{
    static const uint8_t train_first[10] = {5, 0, 4, 1, 9, 2, 1, 3, 1, 4};
    static const uint8_t test_first[10] = {7, 2, 1, 0, 4, 1, 4, 9, 5, 9};
    mn_dataset *train = NULL, *test = NULL;
    mn_status s = mn_dataset_load_dir(&train, dir, MN_SPLIT_TRAIN, NULL);
    CHECK(s == MN_OK, "train: %s", mn_error_message());
    if (!s) {
        CHECK(train->count == 60000 && train->rows == 28 && train->cols == 28 &&
                  train->num_classes == 10,
              "train shape %u %ux%u classes %u", train->count, train->rows, train->cols,
              train->num_classes);
        CHECK(memcmp(train->labels, train_first, 10) == 0, "train labels start 5,0,4,1,9,...");
        uint64_t sum = 0, n = (uint64_t)train->count * 784;
        for (uint64_t i = 0; i < n; i++)
            sum += train->pixels[i];
        double mean = (double)sum / (double)n;
        CHECK(mean > 0.1307 * 255 - 0.5 && mean < 0.1307 * 255 + 0.5, "pixel mean %.3f", mean);
        printf("train: %u images, pixel mean %.4f (%.4f of 255)\n", train->count, mean,
               mean / 255);
        mn_dataset_free(train);
    }
    s = mn_dataset_load_dir(&test, dir, MN_SPLIT_TEST, NULL);
    CHECK(s == MN_OK, "test: %s", mn_error_message());
    if (!s) {
        CHECK(test->count == 10000 && test->rows == 28 && test->cols == 28 &&
                  test->num_classes == 10,
              "test shape %u %ux%u classes %u", test->count, test->rows, test->cols,
              test->num_classes);
        CHECK(memcmp(test->labels, test_first, 10) == 0, "test labels start 7,2,1,0,4,...");
        mn_dataset_free(test);
    }
}

int main(void)
{
    tmp = check_tmp_dir("idx");
    test_good_files();
    test_malformed_headers();
    test_malformed_bodies();
    test_files_and_dirs();
    test_split();
    const char *dir = check_data_dir();
    if (dir)
        test_real_mnist(dir);
    else
        printf("skipping the real MNIST checks: MNIST_DATA is not set or missing\n");
    return check_summary();
}
