/* check.h: the tests' tiny harness. CHECK counts and reports; each test program ends with
 * `return check_summary();`, which prints "N passed, N failed" and sets the exit status. */
#ifndef MN_CHECK_H
#define MN_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int g_check_pass, g_check_fail;

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (cond) {                                                                        \
            g_check_pass++;                                                                \
        } else {                                                                           \
            g_check_fail++;                                                                \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
        }                                                                                  \
    } while (0)

/* Checks that `status` is `want` and that the error message contains `needle`. */
#define CHECK_ERR(status, want, needle)                                                    \
    do {                                                                                   \
        mn_status s_ = (status);                                                           \
        const char *m_ = mn_error_message();                                               \
        CHECK(s_ == (want) && strstr(m_, (needle)) != NULL,                                \
              "got status %s message \"%s\", want %s containing \"%s\"", mn_status_name(s_), \
              m_, mn_status_name(want), (needle));                                         \
    } while (0)

static inline int check_summary(void)
{
    printf("%d passed, %d failed\n", g_check_pass, g_check_fail);
    return g_check_fail ? 1 : 0;
}

/* The MNIST directory for tests, or NULL (the test then says it skips). */
static inline const char *check_data_dir(void)
{
    const char *d = getenv("MNIST_DATA");
    struct stat st;
    if (d && stat(d, &st) == 0)
        return d;
    return NULL;
}

/* A scratch directory for this test program: $MNIST_TMP/<name>, created fresh. */
static inline const char *check_tmp_dir(const char *name)
{
    static char path[1024];
    const char *base = getenv("MNIST_TMP");
    if (!base)
        base = "/tmp/mnist-tests";
    snprintf(path, sizeof path, "%s/%s", base, name);
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", path, path);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot create %s\n", path);
        exit(2);
    }
    return path;
}

/* True when the sanitizer build asks for shorter runs. */
static inline int check_quick(void) { return getenv("MN_TEST_QUICK") != NULL; }

#endif
