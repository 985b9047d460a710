/* test_sha256.c: mn_sha256_decompressed_file against known SHA-256 vectors (raw and gzipped,
 * one and several gzip members), its rejection of damaged gzip data, the MNIST file table, and
 * mn_mnist_verify / mn_mnist_fetch on local files only (no network: file:// and a closed port). */
#include "check.h"
#include "internal.h"

#include <unistd.h>
#include <zlib.h>

static const char *SHA_EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
static const char *SHA_ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
/* one million 'a' (FIPS 180-2 test vector) */
static const char *SHA_MILLION_A = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

static char g_dir[1024];

static const char *tmp_path(const char *name)
{
    static char path[4][1200];
    static int next;
    char *p = path[next++ & 3];
    snprintf(p, sizeof path[0], "%s/%s", g_dir, name);
    return p;
}

static void write_bytes(const char *path, const void *data, size_t size)
{
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(data, 1, size, fp) != size || fclose(fp) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
}

/* Gzips `data` into memory with zlib (one member). Returns the size; buffer malloc'ed. */
static size_t gzip_bytes(const void *data, size_t size, uint8_t **out)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        exit(2);
    size_t cap = deflateBound(&zs, (uLong)size) + 64;
    *out = malloc(cap);
    if (!*out)
        exit(2);
    zs.next_in = (Bytef *)data;
    zs.avail_in = (uInt)size;
    zs.next_out = *out;
    zs.avail_out = (uInt)cap;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
        exit(2);
    size_t n = cap - zs.avail_out;
    deflateEnd(&zs);
    return n;
}

static void write_gz(const char *path, const void *data, size_t size)
{
    uint8_t *gz;
    size_t n = gzip_bytes(data, size, &gz);
    write_bytes(path, gz, n);
    free(gz);
}

static void check_hash(const char *path, const char *want, const char *what)
{
    char hex[65] = "";
    mn_status st = mn_sha256_decompressed_file(path, hex);
    CHECK(st == MN_OK, "%s: %s", what, mn_error_message());
    CHECK(!strcmp(hex, want), "%s: got %s want %s", what, hex, want);
}

static void test_vectors(void)
{
    write_bytes(tmp_path("empty"), "", 0);
    check_hash(tmp_path("empty"), SHA_EMPTY, "empty file");
    write_bytes(tmp_path("abc"), "abc", 3);
    check_hash(tmp_path("abc"), SHA_ABC, "raw abc");
    write_gz(tmp_path("abc.gz"), "abc", 3);
    check_hash(tmp_path("abc.gz"), SHA_ABC, "gzipped abc");
    write_gz(tmp_path("empty.gz"), "", 0);
    check_hash(tmp_path("empty.gz"), SHA_EMPTY, "gzipped empty");

    /* A file starting with only one byte of the gzip magic is hashed as it is. */
    write_bytes(tmp_path("one"), "\x1f", 1);
    check_hash(tmp_path("one"), "ffe679bb831c95b67dc17819c63c5090d221aac6f4c7bf530f594ab43d21fa1e",
               "one byte 0x1f");

    /* Larger than the read and inflate buffers: one million 'a', raw and gzipped. */
    size_t n = 1000000;
    char *a = malloc(n);
    if (!a)
        exit(2);
    memset(a, 'a', n);
    write_bytes(tmp_path("million"), a, n);
    check_hash(tmp_path("million"), SHA_MILLION_A, "raw million a");
    write_gz(tmp_path("million.gz"), a, n);
    check_hash(tmp_path("million.gz"), SHA_MILLION_A, "gzipped million a");

    /* Two gzip members ("ab" + "c") are one stream, as gzip -d sees them. */
    uint8_t *g1, *g2;
    size_t n1 = gzip_bytes("ab", 2, &g1), n2 = gzip_bytes("c", 1, &g2);
    uint8_t *both = malloc(n1 + n2);
    if (!both)
        exit(2);
    memcpy(both, g1, n1);
    memcpy(both + n1, g2, n2);
    write_bytes(tmp_path("two.gz"), both, n1 + n2);
    check_hash(tmp_path("two.gz"), SHA_ABC, "two gzip members");
    free(both);
    free(g1);
    free(g2);
    free(a);
}

static void test_bad_gzip(void)
{
    char hex[65] = "untouched";
    uint8_t *gz;
    char *text = malloc(200000);
    if (!text)
        exit(2);
    for (size_t i = 0; i < 200000; i++)
        text[i] = (char)('a' + (i * 7919 % 26));
    size_t n = gzip_bytes(text, 200000, &gz);

    /* truncated: every cut of the stream fails (a few positions, including inside the header) */
    size_t cuts[] = {2, 5, 10, n / 2, n - 8, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        write_bytes(tmp_path("cut.gz"), gz, cuts[i]);
        CHECK_ERR(mn_sha256_decompressed_file(tmp_path("cut.gz"), hex), MN_ERR_FORMAT, "cut.gz");
        CHECK(!strcmp(hex, "untouched"), "output written on failure (cut %zu)", cuts[i]);
    }
    write_bytes(tmp_path("cut.gz"), gz, n - 1);
    CHECK_ERR(mn_sha256_decompressed_file(tmp_path("cut.gz"), hex), MN_ERR_FORMAT, "truncated");

    /* a flipped byte in the compressed data or in the CRC trailer */
    uint8_t *bad = malloc(n + 16);
    if (!bad)
        exit(2);
    memcpy(bad, gz, n);
    bad[n / 2] ^= 0x55;
    write_bytes(tmp_path("flip.gz"), bad, n);
    CHECK_ERR(mn_sha256_decompressed_file(tmp_path("flip.gz"), hex), MN_ERR_FORMAT, "flip.gz");
    memcpy(bad, gz, n);
    bad[n - 6] ^= 1; /* CRC-32 */
    write_bytes(tmp_path("crc.gz"), bad, n);
    CHECK_ERR(mn_sha256_decompressed_file(tmp_path("crc.gz"), hex), MN_ERR_FORMAT, "crc.gz");
    memcpy(bad, gz, n);
    bad[n - 2] ^= 1; /* ISIZE */
    write_bytes(tmp_path("isize.gz"), bad, n);
    CHECK_ERR(mn_sha256_decompressed_file(tmp_path("isize.gz"), hex), MN_ERR_FORMAT, "isize.gz");

    /* trailing garbage after the last member */
    memcpy(bad, gz, n);
    memcpy(bad + n, "garbage!", 8);
    write_bytes(tmp_path("trail.gz"), bad, n + 8);
    CHECK_ERR(mn_sha256_decompressed_file(tmp_path("trail.gz"), hex), MN_ERR_FORMAT,
              "after the gzip data");
    /* the magic alone */
    write_bytes(tmp_path("magic.gz"), "\x1f\x8b", 2);
    CHECK_ERR(mn_sha256_decompressed_file(tmp_path("magic.gz"), hex), MN_ERR_FORMAT, "magic.gz");
    CHECK(!strcmp(hex, "untouched"), "output written on failure");

    /* missing file, directory, NULL */
    CHECK_ERR(mn_sha256_decompressed_file(tmp_path("nope"), hex), MN_ERR_IO, "nope");
    CHECK_ERR(mn_sha256_decompressed_file(g_dir, hex), MN_ERR_IO, "not a regular file");
    CHECK_ERR(mn_sha256_decompressed_file(NULL, hex), MN_ERR_ARG, "NULL");
    free(bad);
    free(gz);
    free(text);
}

static bool is_hex64(const char *s)
{
    if (strlen(s) != 64)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

static void test_tables(void)
{
    size_t n = 0;
    const mn_mnist_file *files = mn_mnist_files(&n);
    CHECK(n == 4, "%zu files", n);
    const char *names[] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                           "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};
    const uint64_t sizes[] = {16 + 60000ull * 784, 8 + 60000, 16 + 10000ull * 784, 8 + 10000};
    for (size_t i = 0; i < n && i < 4; i++) {
        CHECK(!strcmp(files[i].name, names[i]), "file %zu is %s", i, files[i].name);
        CHECK(is_hex64(files[i].sha256), "%s sha %s", files[i].name, files[i].sha256);
        CHECK(files[i].decompressed_size == sizes[i], "%s size %llu", files[i].name,
              (unsigned long long)files[i].decompressed_size);
    }
    const char *const *mirrors = mn_mnist_default_mirrors(&n);
    CHECK(n >= 2, "%zu mirrors", n);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(mirrors[i]);
        CHECK(len > 0 && mirrors[i][len - 1] == '/', "mirror %s ends in /", mirrors[i]);
        CHECK(!strncmp(mirrors[i], "http", 4), "mirror %s is http(s)", mirrors[i]);
    }
}

/* The real data, if any: $MNIST_DATA, else $MNIST_SOURCE/../shared/data/mnist. */
static const char *real_data_dir(void)
{
    static char path[1024];
    const char *cands[2] = {getenv("MNIST_DATA"), NULL};
    const char *src = getenv("MNIST_SOURCE");
    if (src) {
        snprintf(path, sizeof path, "%s/../shared/data/mnist", src);
        cands[1] = path;
    }
    for (int i = 0; i < 2; i++) {
        if (!cands[i])
            continue;
        char probe[1200];
        snprintf(probe, sizeof probe, "%s/train-labels-idx1-ubyte.gz", cands[i]);
        if (access(probe, R_OK) == 0)
            return cands[i];
    }
    return NULL;
}

static int g_reports, g_report_fail;
static void count_report(void *user, const char *file, const char *url, mn_status st)
{
    (void)user;
    (void)url;
    g_reports++;
    if (st != MN_OK) {
        g_report_fail++;
        CHECK(strstr(mn_error_message(), file) != NULL || url != NULL,
              "report message names nothing: %s", mn_error_message());
    }
}

static void test_verify_fetch(void)
{
    /* An empty directory: all four missing, the first failure named. */
    const char *empty = tmp_path("emptydir");
    CHECK(mkdir(empty, 0777) == 0, "mkdir %s", empty);
    g_reports = g_report_fail = 0;
    CHECK_ERR(mn_mnist_verify(empty, count_report, NULL), MN_ERR_IO,
              "train-images-idx3-ubyte.gz: missing");
    CHECK(g_reports == 4 && g_report_fail == 4, "%d reports, %d failures", g_reports,
          g_report_fail);

    /* A wrong file under a right name: a checksum failure naming it. */
    const char *wrong = tmp_path("wrongdir");
    CHECK(mkdir(wrong, 0777) == 0, "mkdir %s", wrong);
    char p[1400];
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", wrong);
    write_gz(p, "abc", 3);
    CHECK_ERR(mn_mnist_verify(wrong, NULL, NULL), MN_ERR_CHECKSUM,
              "train-images-idx3-ubyte.gz: checksum mismatch");

    /* Fetching from a closed local port: a network error naming the file and the mirror;
     * the directory is created (with parents) and nothing is left in it. */
    setenv("MNIST_MIRRORS", "http://127.0.0.1:1/a/,http://127.0.0.1:1/b/", 1);
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    const char *nested = tmp_path("new/deeper/dir");
    mn_status st = mn_mnist_fetch(nested, NULL, NULL, NULL);
    const char *msg = mn_error_message();
    CHECK(st == MN_ERR_NETWORK, "status %s: %s", mn_status_name(st), msg);
    CHECK(strstr(msg, "train-images-idx3-ubyte.gz") && strstr(msg, "127.0.0.1:1/a/") &&
              strstr(msg, "127.0.0.1:1/b/"),
          "message: %s", msg);
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "test -d '%s' && test -z \"$(ls -A '%s')\"", nested, nested);
    CHECK(system(cmd) == 0, "%s missing or not empty", nested);

    /* Bad mirror URLs are refused before anything happens. */
    CHECK_ERR(mn_mnist_fetch(nested, "ftp.example/", NULL, NULL), MN_ERR_ARG, "ftp.example/");
    setenv("MNIST_MIRRORS", "notaurl", 1);
    CHECK_ERR(mn_mnist_fetch(nested, NULL, NULL, NULL), MN_ERR_ARG, "MNIST_MIRRORS");
    CHECK_ERR(mn_mnist_fetch(NULL, NULL, NULL, NULL), MN_ERR_ARG, "directory");

    const char *real = real_data_dir();
    if (!real) {
        printf("skip: no MNIST data found ($MNIST_DATA, $MNIST_SOURCE/../shared/data/mnist); "
               "real-sum checks not run\n");
        return;
    }
    g_reports = g_report_fail = 0;
    st = mn_mnist_verify(real, count_report, NULL);
    CHECK(st == MN_OK, "verify %s: %s", real, mn_error_message());
    CHECK(g_reports == 4 && g_report_fail == 0, "%d reports %d failures", g_reports,
          g_report_fail);

    /* Fetch from a file:// mirror (the closed port is tried second, never reached). */
    setenv("MNIST_MIRRORS", "http://127.0.0.1:1/", 1);
    char url[1200];
    snprintf(url, sizeof url, "file://%s/", real);
    const char *dest = tmp_path("fetched");
    g_reports = g_report_fail = 0;
    st = mn_mnist_fetch(dest, url, count_report, NULL);
    CHECK(st == MN_OK, "fetch %s: %s", url, mn_error_message());
    CHECK(g_reports == 4 && g_report_fail == 0, "%d reports %d failures", g_reports,
          g_report_fail);
    CHECK(mn_mnist_verify(dest, NULL, NULL) == MN_OK, "%s", mn_error_message());
    /* A second fetch finds the files present and valid, and needs no mirror at all. */
    g_reports = 0;
    st = mn_mnist_fetch(dest, NULL, count_report, NULL);
    CHECK(st == MN_OK && g_reports == 4, "refetch: %s", mn_error_message());
    /* An uncompressed copy counts as present. */
    const char *rawdir = tmp_path("rawdir");
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s' && for f in '%s'/*.gz; do b=$(basename \"$f\" .gz); "
             "gzip -dc \"$f\" > '%s'/\"$b\"; done",
             rawdir, dest, rawdir);
    if (system(cmd) == 0)
        CHECK(mn_mnist_verify(rawdir, NULL, NULL) == MN_OK, "raw: %s", mn_error_message());
    unsetenv("MNIST_MIRRORS");
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "%s", check_tmp_dir("test_sha256"));
    test_vectors();
    test_bad_gzip();
    test_tables();
    test_verify_fetch();
    return check_summary();
}
