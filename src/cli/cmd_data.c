/* cmd_data.c: `mnist data fetch` downloads the four MNIST files and `mnist data verify` checks
 * them; both are thin wrappers over mn_mnist_fetch and mn_mnist_verify. */
#include "cli.h"

#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mnist data fetch [--dir DIR] [--mirror URL]\n"
            "       mnist data verify [--dir DIR]\n"
            "\n"
            "  fetch    download the MNIST files that are missing or damaged in DIR; each download\n"
            "           is checked (SHA-256 of its decompressed bytes) before it is moved into\n"
            "           place, and a bad one is deleted and the next mirror tried\n"
            "  verify   check the four files in DIR, one line per file; exit status 1 if any is bad\n"
            "\n"
            "options:\n"
            "  --dir DIR     the data directory (also --data; default: $MNIST_DATA, else\n"
            "                ./data/mnist; created if needed)\n"
            "  --mirror URL  a base URL to try first (http://, https:// or file://), e.g.\n"
            "                file:///path/to/copy/ for a local copy of the files\n"
            "\n"
            "environment:\n"
            "  MNIST_DATA     the default data directory\n"
            "  MNIST_MIRRORS  base URLs, separated by commas, that replace the built-in mirrors:\n");
    size_t n = 0;
    const char *const *mirrors = mn_mnist_default_mirrors(&n);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "                 %s\n", mirrors[i]);
    fprintf(out, "\nfiles (SHA-256 of the decompressed bytes):\n");
    const mn_mnist_file *files = mn_mnist_files(&n);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "  %-28s %s\n", files[i].name, files[i].sha256);
}

static void on_fetch(void *user, const char *file, const char *url, mn_status status)
{
    (void)user;
    if (status == MN_OK && !url)
        fprintf(stderr, "have  %s (verified)\n", file);
    else if (status == MN_OK)
        fprintf(stderr, "got   %s from %s (verified)\n", file, url);
    else
        fprintf(stderr, "fail  %s: %s\n", file, mn_error_message());
}

static void on_verify(void *user, const char *file, const char *path, mn_status status)
{
    (void)user;
    /* The file checked: NAME.gz, or the uncompressed NAME when only that one is there. */
    const char *shown = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    if (status == MN_OK) {
        const char *sha = "";
        size_t n = 0;
        const mn_mnist_file *files = mn_mnist_files(&n);
        for (size_t i = 0; i < n; i++)
            if (!strcmp(files[i].name, file))
                sha = files[i].sha256;
        printf("ok  %s  sha256 %s\n", shown, sha);
    } else {
        /* The message starts with the path checked; print the file name and the reason. */
        const char *why = mn_error_message();
        size_t len = strlen(path);
        if (!strncmp(why, path, len) && !strncmp(why + len, ": ", 2))
            why += len + 2;
        printf("BAD %s  %s\n", shown, why);
    }
    fflush(stdout);
}

/* Reads "--opt VALUE" or "--opt=VALUE" at argv[*i]; true when argv[*i] is that option. */
static bool take_opt(int argc, char **argv, int *i, const char *opt, const char **value,
                     bool *bad)
{
    size_t len = strlen(opt);
    if (strncmp(argv[*i], opt, len) != 0)
        return false;
    if (argv[*i][len] == '=') {
        *value = argv[*i] + len + 1;
        return true;
    }
    if (argv[*i][len] != '\0')
        return false;
    if (*i + 1 >= argc) {
        cli_error("%s needs a value", opt);
        *bad = true;
        return true;
    }
    *value = argv[++*i];
    return true;
}

int cmd_data(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
        usage(stdout);
        return 0;
    }
    bool fetch = !strcmp(sub, "fetch");
    if (!fetch && strcmp(sub, "verify") != 0) {
        cli_error("data: unknown subcommand '%s' (want fetch or verify; see mnist data --help)",
                  sub);
        return 2;
    }
    const char *dir = NULL, *mirror = NULL;
    for (int i = 2; i < argc; i++) {
        bool bad = false;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if (take_opt(argc, argv, &i, "--dir", &dir, &bad) ||
            take_opt(argc, argv, &i, "--data", &dir, &bad) ||
            (fetch && take_opt(argc, argv, &i, "--mirror", &mirror, &bad))) {
            if (bad)
                return 2;
            continue;
        }
        cli_error("data %s: unknown option '%s' (see mnist data --help)", sub, argv[i]);
        return 2;
    }
    dir = cli_data_dir(dir);
    if (!*dir)
        return cli_error("data %s: --dir is empty", sub);

    if (fetch) {
        fprintf(stderr, "fetching MNIST into %s\n", dir);
        if (mn_mnist_fetch(dir, mirror, on_fetch, NULL) != MN_OK)
            return cli_lib_error();
        printf("%s: all 4 MNIST files present and verified\n", dir);
        return 0;
    }
    if (mn_mnist_verify(dir, on_verify, NULL) != MN_OK) {
        cli_error("data verify: %s", mn_error_message());
        return 1;
    }
    return 0;
}
