/* fetch.c: downloading the four MNIST files from public mirrors and verifying them by the SHA-256
 * of their decompressed bytes (the mirrors' .gz wrappers differ; the contents do not). Downloads
 * go to a temporary file that is renamed into place only after it verifies. Leaves out resuming
 * partial downloads and parallel transfers: the files are small. */
#include "internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <zlib.h>

/* Limit on one downloaded file; the largest MNIST file, uncompressed, is 47 MB. */
#define FETCH_MAX_BYTES ((uint64_t)64 << 20)
#define FETCH_MAX_MIRRORS 16
#define FETCH_CONNECT_TIMEOUT_S 20L
/* Give up on a transfer slower than this many bytes per second for this many seconds. */
#define FETCH_LOW_SPEED_BYTES 1024L
#define FETCH_LOW_SPEED_TIME_S 60L
#define READ_CHUNK (1 << 16)

static const mn_mnist_file g_files[] = {
    {"train-images-idx3-ubyte.gz",
     "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", 47040016},
    {"train-labels-idx1-ubyte.gz",
     "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", 60008},
    {"t10k-images-idx3-ubyte.gz",
     "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", 7840016},
    {"t10k-labels-idx1-ubyte.gz",
     "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", 10008},
};
#define NUM_FILES (sizeof g_files / sizeof g_files[0])

static const char *const g_mirrors[] = {
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
};

const mn_mnist_file *mn_mnist_files(size_t *count)
{
    if (count)
        *count = NUM_FILES;
    return g_files;
}

const char *const *mn_mnist_default_mirrors(size_t *count)
{
    if (count)
        *count = sizeof g_mirrors / sizeof g_mirrors[0];
    return g_mirrors;
}

/* ------------------------------------------------------------------------------------------ */
/* Hashing                                                                                     */

static void to_hex(const unsigned char *digest, unsigned len, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < len; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[2 * len] = '\0';
}

/* Hashes the bytes of `path` after gunzip (as they are if they do not start with the gzip
 * magic). Concatenated gzip members are one stream, as gzip -d treats them; anything else after
 * the last member is an error. Stops with MN_ERR_LIMIT once more than `max_out` bytes came out
 * (the bytes hashed so far are in *out_size). */
static mn_status sha256_stream(const char *path, uint64_t max_out, char hex[65],
                               uint64_t *out_size)
{
    mn_status st = MN_OK;
    unsigned char *in = NULL, *out = NULL;
    EVP_MD_CTX *md = NULL;
    z_stream zs;
    bool zs_live = false;
    uint64_t total = 0;
    struct stat sb;

    FILE *fp = fopen(path, "rb");
    if (!fp)
        return mn_fail(MN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = mn_fail(MN_ERR_IO, "%s: not a regular file", path);
        goto done;
    }
    in = malloc(READ_CHUNK);
    out = malloc(READ_CHUNK);
    md = EVP_MD_CTX_new();
    if (!in || !out || !md) {
        st = mn_fail(MN_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        st = mn_fail(MN_ERR_NOMEM, "%s: cannot start SHA-256", path);
        goto done;
    }

    size_t n = fread(in, 1, READ_CHUNK, fp);
    if (ferror(fp)) {
        st = mn_fail(MN_ERR_IO, "%s: read error: %s", path, strerror(errno));
        goto done;
    }
    bool gzipped = n >= 2 && in[0] == 0x1f && in[1] == 0x8b;

    if (!gzipped) {
        while (n > 0) {
            total += n;
            if (total > max_out) {
                st = mn_fail(MN_ERR_LIMIT, "%s: more than %llu bytes", path,
                             (unsigned long long)max_out);
                goto done;
            }
            if (EVP_DigestUpdate(md, in, n) != 1) {
                st = mn_fail(MN_ERR_NOMEM, "%s: SHA-256 update failed", path);
                goto done;
            }
            n = fread(in, 1, READ_CHUNK, fp);
            if (ferror(fp)) {
                st = mn_fail(MN_ERR_IO, "%s: read error: %s", path, strerror(errno));
                goto done;
            }
        }
    } else {
        memset(&zs, 0, sizeof zs);
        if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
            st = mn_fail(MN_ERR_NOMEM, "%s: cannot start gzip decoder", path);
            goto done;
        }
        zs_live = true;
        zs.next_in = in;
        zs.avail_in = (uInt)n;
        bool in_member = true;  /* inside a gzip member (not just after one's end) */
        int members = 0;        /* members finished */
        uint64_t member_out = 0; /* bytes out of the current member */
        for (;;) {
            if (zs.avail_in == 0) {
                n = fread(in, 1, READ_CHUNK, fp);
                if (ferror(fp)) {
                    st = mn_fail(MN_ERR_IO, "%s: read error: %s", path, strerror(errno));
                    goto done;
                }
                if (n == 0)
                    break;
                zs.next_in = in;
                zs.avail_in = (uInt)n;
            }
            if (!in_member) { /* more bytes after a member's end: the next member must follow */
                if (inflateReset(&zs) != Z_OK) {
                    st = mn_fail(MN_ERR_FORMAT, "%s: gzip decoder reset failed", path);
                    goto done;
                }
                in_member = true;
                member_out = 0;
            }
            int ret;
            do {
                zs.next_out = out;
                zs.avail_out = READ_CHUNK;
                ret = inflate(&zs, Z_NO_FLUSH);
                if (ret != Z_OK && ret != Z_STREAM_END && ret != Z_BUF_ERROR) {
                    if (ret == Z_MEM_ERROR)
                        st = mn_fail(MN_ERR_NOMEM, "%s: out of memory in gzip decoder", path);
                    else if (members > 0 && member_out == 0)
                        st = mn_fail(MN_ERR_FORMAT, "%s: unexpected bytes after the gzip data",
                                     path);
                    else
                        st = mn_fail(MN_ERR_FORMAT, "%s: bad gzip data: %s", path,
                                     zs.msg ? zs.msg : "inflate failed");
                    goto done;
                }
                size_t got = READ_CHUNK - zs.avail_out;
                total += got;
                member_out += got;
                if (total > max_out) {
                    st = mn_fail(MN_ERR_LIMIT, "%s: decompresses to more than %llu bytes", path,
                                 (unsigned long long)max_out);
                    goto done;
                }
                if (got && EVP_DigestUpdate(md, out, got) != 1) {
                    st = mn_fail(MN_ERR_NOMEM, "%s: SHA-256 update failed", path);
                    goto done;
                }
                if (ret == Z_STREAM_END) {
                    in_member = false;
                    members++;
                    break;
                }
            } while (zs.avail_out == 0);
        }
        if (in_member) {
            st = mn_fail(MN_ERR_FORMAT, "%s: truncated gzip data (ends after %llu bytes out)",
                         path, (unsigned long long)total);
            goto done;
        }
    }

    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (EVP_DigestFinal_ex(md, digest, &len) != 1 || len != 32) {
        st = mn_fail(MN_ERR_NOMEM, "%s: SHA-256 final failed", path);
        goto done;
    }
    to_hex(digest, len, hex);

done:
    if (out_size)
        *out_size = total;
    if (zs_live)
        inflateEnd(&zs);
    EVP_MD_CTX_free(md);
    free(in);
    free(out);
    fclose(fp);
    return st;
}

mn_status mn_sha256_decompressed_file(const char *path, char hex_out[65])
{
    if (!path || !hex_out)
        return mn_fail(MN_ERR_ARG, "mn_sha256_decompressed_file: NULL argument");
    char hex[65];
    mn_status st = sha256_stream(path, UINT64_MAX, hex, NULL);
    if (st == MN_OK)
        memcpy(hex_out, hex, sizeof hex);
    return st;
}

/* Checks `path` against `f`. On failure the message starts with `path`; `why` (may be NULL)
 * receives the reason without the path, short enough to list several in one line. */
static mn_status check_file(const char *path, const mn_mnist_file *f, char *why, size_t why_size)
{
    char hex[65];
    uint64_t size = 0;
    mn_status st = sha256_stream(path, f->decompressed_size, hex, &size);
    if (st == MN_ERR_LIMIT) {
        if (why)
            snprintf(why, why_size, "checksum mismatch: more than the expected %llu bytes",
                     (unsigned long long)f->decompressed_size);
        return mn_fail(MN_ERR_CHECKSUM,
                       "%s: checksum mismatch: decompresses to more than the expected %llu bytes",
                       path, (unsigned long long)f->decompressed_size);
    }
    if (st != MN_OK) {
        if (why) {
            const char *msg = mn_error_message();
            size_t plen = strlen(path);
            if (!strncmp(msg, path, plen) && !strncmp(msg + plen, ": ", 2))
                msg += plen + 2;
            snprintf(why, why_size, "%s", msg);
        }
        return st;
    }
    if (size != f->decompressed_size) {
        if (why)
            snprintf(why, why_size, "checksum mismatch: %llu bytes, expected %llu",
                     (unsigned long long)size, (unsigned long long)f->decompressed_size);
        return mn_fail(MN_ERR_CHECKSUM,
                       "%s: checksum mismatch: decompresses to %llu bytes, expected %llu", path,
                       (unsigned long long)size, (unsigned long long)f->decompressed_size);
    }
    if (strcmp(hex, f->sha256) != 0) {
        if (why)
            snprintf(why, why_size, "checksum mismatch: sha256 %.12s..., expected %.12s...", hex,
                     f->sha256);
        return mn_fail(MN_ERR_CHECKSUM, "%s: checksum mismatch: sha256 %s, expected %s", path,
                       hex, f->sha256);
    }
    return MN_OK;
}

/* "dir/name" in a new string, or NULL (message set). `strip` characters are cut off the name's
 * end (to name the uncompressed file "x" for "x.gz"). */
static char *join_path(const char *dir, const char *name, size_t strip)
{
    size_t dl = strlen(dir), nl = strlen(name) - strip;
    bool slash = dl > 0 && dir[dl - 1] != '/';
    char *p = malloc(dl + slash + nl + 1);
    if (!p) {
        mn_fail(MN_ERR_NOMEM, "%s/%s: out of memory", dir, name);
        return NULL;
    }
    memcpy(p, dir, dl);
    if (slash)
        p[dl] = '/';
    memcpy(p + dl + slash, name, nl);
    p[dl + slash + nl] = '\0';
    return p;
}

static bool is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* The file to check for `f` in `dir`: NAME.gz if it exists, else the uncompressed NAME if that
 * exists, else NAME.gz (missing). NULL on allocation failure. */
static char *existing_path(const char *dir, const mn_mnist_file *f)
{
    char *gz = join_path(dir, f->name, 0);
    if (!gz || is_file(gz))
        return gz;
    size_t len = strlen(f->name);
    if (len > 3 && !strcmp(f->name + len - 3, ".gz")) {
        char *raw = join_path(dir, f->name, 3);
        if (!raw) {
            free(gz);
            return NULL;
        }
        if (is_file(raw)) {
            free(gz);
            return raw;
        }
        free(raw);
    }
    return gz;
}

mn_status mn_mnist_verify(const char *dir, mn_fetch_progress_fn report, void *user)
{
    if (!dir)
        return mn_fail(MN_ERR_ARG, "mn_mnist_verify: no directory given");
    mn_status first = MN_OK;
    char first_msg[512] = "";
    for (size_t i = 0; i < NUM_FILES; i++) {
        char *path = existing_path(dir, &g_files[i]);
        if (!path)
            return MN_ERR_NOMEM;
        mn_status st;
        if (!is_file(path))
            st = mn_fail(MN_ERR_IO, "%s: missing (mnist data fetch downloads it)", path);
        else
            st = check_file(path, &g_files[i], NULL, 0);
        if (report)
            report(user, g_files[i].name, path, st);
        if (st != MN_OK && first == MN_OK) {
            first = st;
            snprintf(first_msg, sizeof first_msg, "%s", mn_error_message());
        }
        free(path);
    }
    if (first != MN_OK)
        return mn_fail(first, "%s", first_msg);
    return MN_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Downloading                                                                                 */

/* mkdir -p. */
static mn_status make_dirs(const char *dir)
{
    size_t len = strlen(dir);
    if (len == 0)
        return mn_fail(MN_ERR_ARG, "data directory name is empty");
    char *p = strdup(dir);
    if (!p)
        return mn_fail(MN_ERR_NOMEM, "%s: out of memory", dir);
    for (size_t i = 1; i <= len; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            mn_status st = mn_fail(MN_ERR_IO, "%s: cannot create directory: %s", p,
                                   strerror(errno));
            free(p);
            return st;
        }
        p[i] = c;
    }
    free(p);
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return mn_fail(MN_ERR_IO, "%s: not a directory", dir);
    return MN_OK;
}

static bool has_scheme(const char *url)
{
    return !strncasecmp(url, "http://", 7) || !strncasecmp(url, "https://", 8) ||
           !strncasecmp(url, "file://", 7);
}

/* The mirrors to try, in order: `first`, then $MNIST_MIRRORS (comma- or space-separated) if set
 * and not empty, else the built-in list. The strings live in *storage (free it). */
static mn_status mirror_list(const char *first, const char **mirrors, size_t *count,
                             char **storage)
{
    size_t n = 0;
    *storage = NULL;
    if (first) {
        if (!has_scheme(first))
            return mn_fail(MN_ERR_ARG,
                           "mirror '%s' is not a http://, https:// or file:// URL", first);
        mirrors[n++] = first;
    }
    const char *env = getenv("MNIST_MIRRORS");
    if (env && env[strspn(env, ", \t\n")] != '\0') {
        char *copy = strdup(env);
        if (!copy)
            return mn_fail(MN_ERR_NOMEM, "MNIST_MIRRORS: out of memory");
        *storage = copy;
        char *save = NULL;
        for (char *tok = strtok_r(copy, ", \t\n", &save); tok;
             tok = strtok_r(NULL, ", \t\n", &save)) {
            if (!has_scheme(tok))
                return mn_fail(MN_ERR_ARG,
                               "MNIST_MIRRORS: '%s' is not a http://, https:// or file:// URL",
                               tok);
            if (n == FETCH_MAX_MIRRORS)
                return mn_fail(MN_ERR_LIMIT, "MNIST_MIRRORS: more than %d mirrors",
                               FETCH_MAX_MIRRORS);
            mirrors[n++] = tok;
        }
    } else {
        for (size_t i = 0; i < sizeof g_mirrors / sizeof g_mirrors[0]; i++)
            mirrors[n++] = g_mirrors[i];
    }
    *count = n;
    return MN_OK;
}

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static CURLcode g_curl_init_result;
static void curl_init_once(void) { g_curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT); }

typedef struct sink {
    FILE *fp;
    uint64_t written;
    bool too_big;
    int write_errno; /* non-zero: writing the local file failed */
} sink;

static size_t on_data(char *data, size_t size, size_t nmemb, void *user)
{
    sink *s = user;
    size_t len = size * nmemb; /* libcurl guarantees size == 1 */
    if (len > FETCH_MAX_BYTES - s->written) {
        s->too_big = true;
        return 0;
    }
    if (len && fwrite(data, 1, len, s->fp) != len) {
        s->write_errno = errno ? errno : EIO;
        return 0;
    }
    s->written += len;
    return len;
}

/* Downloads `url` into af->fp. MN_ERR_NETWORK (with the reason in `why`) for anything the mirror
 * did wrong; MN_ERR_IO (message set) when the local file cannot be written. */
static mn_status download(CURL *curl, const char *url, mn_atomic_file *af, char *why,
                          size_t why_size, bool *unreachable)
{
    *unreachable = false;
    char errbuf[CURL_ERROR_SIZE] = "";
    sink s = {af->fp, 0, false, 0};
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, FETCH_CONNECT_TIMEOUT_S);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, FETCH_LOW_SPEED_BYTES);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, FETCH_LOW_SPEED_TIME_S);
    curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)FETCH_MAX_BYTES);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "mnist.c/" MN_VERSION);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https,file");
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS, CURLPROTO_HTTP | CURLPROTO_HTTPS | CURLPROTO_FILE);
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS, CURLPROTO_HTTP | CURLPROTO_HTTPS);
#endif
    CURLcode rc = curl_easy_perform(curl);
    if (s.write_errno)
        return mn_fail(MN_ERR_IO, "%s: write failed: %s", af->tmp_path, strerror(s.write_errno));
    if (rc == CURLE_OK)
        return MN_OK;
    *unreachable = rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY ||
                   rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT;
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    if (s.too_big || rc == CURLE_FILESIZE_EXCEEDED)
        snprintf(why, why_size, "larger than the limit of %llu bytes",
                 (unsigned long long)FETCH_MAX_BYTES);
    else if (rc == CURLE_HTTP_RETURNED_ERROR && code >= 400)
        snprintf(why, why_size, "HTTP %ld", code);
    else
        snprintf(why, why_size, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
    return MN_ERR_NETWORK;
}

/* Appends to a message buffer, truncating quietly. */
static void append(char *buf, size_t size, const char *fmt, ...) MN_PRINTF(3, 4);
static void append(char *buf, size_t size, const char *fmt, ...)
{
    size_t len = strlen(buf);
    if (len + 1 >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + len, size - len, fmt, ap);
    va_end(ap);
}

/* Gets one file from the mirrors into `dest`. Fails with MN_ERR_IO at once for local problems;
 * otherwise tries each mirror and, if none gives a good copy, fails with MN_ERR_CHECKSUM (if
 * some mirror sent bad bytes) or MN_ERR_NETWORK, naming each mirror and why. */
static mn_status fetch_one(CURL *curl, const mn_mnist_file *f, const char *dest,
                           const char **mirrors, size_t num_mirrors, char (*dead)[160],
                           mn_fetch_progress_fn progress, void *user)
{
    char summary[1536] = "";
    bool bad_bytes = false;
    for (size_t m = 0; m < num_mirrors; m++) {
        char why[160] = "";
        const char *base = mirrors[m];
        if (dead[m][0]) {
            append(summary, sizeof summary, "%s%s (%s)", summary[0] ? "; " : "", base, dead[m]);
            continue;
        }
        char *url = join_path(base, f->name, 0);
        if (!url)
            return MN_ERR_NOMEM;
        mn_atomic_file af;
        mn_status st = mn_atomic_open(&af, dest);
        if (st != MN_OK) {
            free(url);
            return st;
        }
        bool gone = false; /* the mirror cannot be reached at all: later files skip it */
        st = download(curl, url, &af, why, sizeof why, &gone);
        if (st == MN_ERR_IO) {
            mn_atomic_abort(&af);
            free(url);
            return st;
        }
        if (st == MN_OK) {
            if (fflush(af.fp) != 0) {
                st = mn_fail(MN_ERR_IO, "%s: write failed: %s", af.tmp_path, strerror(errno));
                mn_atomic_abort(&af);
                free(url);
                return st;
            }
            st = check_file(af.tmp_path, f, why, sizeof why);
            if (st == MN_ERR_NOMEM || st == MN_ERR_IO) {
                mn_atomic_abort(&af);
                free(url);
                return st;
            }
            if (st == MN_OK) {
                st = mn_atomic_commit(&af);
                if (progress && st == MN_OK)
                    progress(user, f->name, url, MN_OK);
                free(url);
                return st;
            }
            bad_bytes = true;
        } else if (gone) {
            snprintf(dead[m], sizeof dead[m], "%s", why);
        }
        mn_atomic_abort(&af);
        mn_fail(st, "%s: %s", url, why);
        if (progress)
            progress(user, f->name, url, st);
        append(summary, sizeof summary, "%s%s (%s)", summary[0] ? "; " : "", base, why);
        free(url);
    }
    return mn_fail(bad_bytes ? MN_ERR_CHECKSUM : MN_ERR_NETWORK,
                   "%s: no good copy from any mirror: %s", dest, summary);
}

mn_status mn_mnist_fetch(const char *dir, const char *mirror, mn_fetch_progress_fn progress,
                         void *user)
{
    if (!dir)
        return mn_fail(MN_ERR_ARG, "mn_mnist_fetch: no directory given");
    const char *mirrors[FETCH_MAX_MIRRORS + 1];
    size_t num_mirrors = 0;
    char *storage = NULL;
    mn_status st = mirror_list(mirror, mirrors, &num_mirrors, &storage);
    if (st == MN_OK)
        st = make_dirs(dir);
    if (st != MN_OK) {
        free(storage);
        return st;
    }
    char dead[FETCH_MAX_MIRRORS + 1][160];
    memset(dead, 0, sizeof dead);
    CURL *curl = NULL;
    for (size_t i = 0; i < NUM_FILES && st == MN_OK; i++) {
        const mn_mnist_file *f = &g_files[i];
        char *have = existing_path(dir, f);
        if (!have) {
            st = MN_ERR_NOMEM;
            break;
        }
        bool good = is_file(have) && check_file(have, f, NULL, 0) == MN_OK;
        free(have);
        if (good) {
            if (progress)
                progress(user, f->name, NULL, MN_OK);
            continue;
        }
        if (!curl) {
            pthread_once(&g_curl_once, curl_init_once);
            if (g_curl_init_result != CURLE_OK) {
                st = mn_fail(MN_ERR_NETWORK, "cannot start libcurl: %s",
                             curl_easy_strerror(g_curl_init_result));
                break;
            }
            curl = curl_easy_init();
            if (!curl) {
                st = mn_fail(MN_ERR_NOMEM, "cannot start libcurl: out of memory");
                break;
            }
        }
        char *dest = join_path(dir, f->name, 0);
        if (!dest) {
            st = MN_ERR_NOMEM;
            break;
        }
        st = fetch_one(curl, f, dest, mirrors, num_mirrors, dead, progress, user);
        free(dest);
    }
    if (curl)
        curl_easy_cleanup(curl);
    free(storage);
    if (st == MN_OK)
        mn_clear_error();
    return st;
}
