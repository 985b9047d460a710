/* fileio.c: reading whole files under a size limit, and writing files atomically (temporary
 * file, fsync, rename) so that no reader ever sees half a file. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

mn_status mn_read_file(const char *path, uint64_t max_bytes, uint8_t **data, size_t *size)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return mn_fail(MN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) != 0) {
        int e = errno;
        fclose(fp);
        return mn_fail(MN_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        fclose(fp);
        return mn_fail(MN_ERR_IO, "%s: is a directory, not a file", path);
    }
    if (!S_ISREG(st.st_mode)) {
        fclose(fp);
        return mn_fail(MN_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > max_bytes) {
        fclose(fp);
        return mn_fail(MN_ERR_LIMIT, "%s: file is %lld bytes, over the limit of %llu bytes", path,
                       (long long)st.st_size, (unsigned long long)max_bytes);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n + 1);
    if (!buf) {
        fclose(fp);
        return mn_fail(MN_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, n);
    }
    size_t got = n ? fread(buf, 1, n, fp) : 0;
    int err = ferror(fp);
    fclose(fp);
    if (got != n || err) {
        free(buf);
        return mn_fail(MN_ERR_IO, "%s: short read (%zu of %zu bytes)", path, got, n);
    }
    buf[n] = 0;
    *data = buf;
    *size = n;
    return MN_OK;
}

mn_status mn_atomic_open(mn_atomic_file *af, const char *path)
{
    memset(af, 0, sizeof *af);
    /* The rename would replace whatever `path` is: never a device (/dev/null), pipe or directory. */
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return mn_fail(MN_ERR_IO, "%s: exists and is not a regular file (give a file name)",
                       path);
    size_t len = strlen(path) + 32;
    af->tmp_path = malloc(len);
    af->path = strdup(path);
    if (!af->tmp_path || !af->path) {
        free(af->tmp_path);
        free(af->path);
        return mn_fail(MN_ERR_NOMEM, "%s: out of memory", path);
    }
    snprintf(af->tmp_path, len, "%s.tmp.%ld", path, (long)getpid());
    af->fp = fopen(af->tmp_path, "wb");
    if (!af->fp) {
        mn_status s = mn_fail(MN_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        free(af->tmp_path);
        free(af->path);
        af->tmp_path = af->path = NULL;
        return s;
    }
    return MN_OK;
}

void mn_atomic_abort(mn_atomic_file *af)
{
    if (af->fp)
        fclose(af->fp);
    if (af->tmp_path)
        unlink(af->tmp_path);
    free(af->tmp_path);
    free(af->path);
    memset(af, 0, sizeof *af);
}

mn_status mn_atomic_commit(mn_atomic_file *af)
{
    int ok = fflush(af->fp) == 0 && !ferror(af->fp);
    int e = errno;
    if (ok && fsync(fileno(af->fp)) != 0) {
        ok = 0;
        e = errno;
    }
    if (fclose(af->fp) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    af->fp = NULL;
    if (!ok) {
        mn_status s = mn_fail(MN_ERR_IO, "%s: write failed: %s", af->path, strerror(e));
        mn_atomic_abort(af);
        return s;
    }
    if (rename(af->tmp_path, af->path) != 0) {
        mn_status s = mn_fail(MN_ERR_IO, "%s: cannot rename into place: %s", af->path,
                              strerror(errno));
        mn_atomic_abort(af);
        return s;
    }
    free(af->tmp_path);
    free(af->path);
    memset(af, 0, sizeof *af);
    return MN_OK;
}
