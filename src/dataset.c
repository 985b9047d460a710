/* dataset.c: loads an image file and a label file into one in-memory data set, finds MNIST's
 * standard file names in a directory, and splits off a validation tail. Batching, shuffling and
 * augmentation live elsewhere; this file only owns the bytes. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Reads and decodes one file. A gzip file is never larger than what it holds (beyond a few bytes
 * of framing), so the decompressed limit bounds the file size too. */
static mn_status load_file(const char *path, const mn_load_params *p, int labels, uint8_t **out,
                           uint32_t dims[3])
{
    uint8_t *data;
    size_t size;
    mn_status st = mn_read_file(path, p->max_bytes, &data, &size);
    if (st)
        return st;
    if (labels)
        st = mn_idx_decode_labels(data, size, path, p, out, &dims[0]);
    else
        st = mn_idx_decode_images(data, size, path, p, out, &dims[0], &dims[1], &dims[2]);
    free(data);
    return st;
}

mn_status mn_dataset_load_idx(mn_dataset **out, const char *images_path, const char *labels_path,
                              const mn_load_params *params)
{
    mn_load_params p = params ? *params : mn_load_default_params();
    if (!out || !images_path || !labels_path)
        return mn_fail(MN_ERR_ARG, "mn_dataset_load_idx: NULL argument");
    uint32_t idims[3], ldims[3];
    uint8_t *pixels = NULL, *labels = NULL;
    mn_status st = load_file(images_path, &p, 0, &pixels, idims);
    if (st)
        return st;
    st = load_file(labels_path, &p, 1, &labels, ldims);
    if (st) {
        free(pixels);
        return st;
    }
    if (idims[0] != ldims[0]) {
        free(pixels);
        free(labels);
        return mn_fail(MN_ERR_FORMAT, "%s has %u images but %s has %u labels", images_path,
                       idims[0], labels_path, ldims[0]);
    }
    mn_dataset *set = calloc(1, sizeof *set);
    if (!set) {
        free(pixels);
        free(labels);
        return mn_fail(MN_ERR_NOMEM, "%s: out of memory", images_path);
    }
    uint32_t max_label = 0;
    for (uint32_t i = 0; i < ldims[0]; i++)
        if (labels[i] > max_label)
            max_label = labels[i];
    set->count = idims[0];
    set->rows = idims[1];
    set->cols = idims[2];
    set->num_classes = max_label + 1 < 2 ? 2 : max_label + 1;
    set->pixels = pixels;
    set->labels = labels;
    *out = set;
    return MN_OK;
}

/* dir + "/" + name + suffix, malloc'ed. */
static char *join(const char *dir, const char *name, const char *suffix)
{
    size_t n = strlen(dir), len = n + strlen(name) + strlen(suffix) + 2;
    char *p = malloc(len);
    if (p)
        snprintf(p, len, "%s%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", name, suffix);
    return p;
}

/* Finds dir/NAME.gz, else dir/NAME; *path is malloc'ed. */
static mn_status find_file(const char *dir, const char *name, char **path)
{
    static const char *const suffixes[] = {".gz", ""};
    for (int i = 0; i < 2; i++) {
        char *p = join(dir, name, suffixes[i]);
        if (!p)
            return mn_fail(MN_ERR_NOMEM, "%s: out of memory", dir);
        struct stat st;
        if (stat(p, &st) == 0) {
            *path = p;
            return MN_OK;
        }
        free(p);
    }
    return mn_fail(MN_ERR_IO, "%s: no %s[.gz] in this directory (run `mnist data fetch` to "
                   "download MNIST)", dir, name);
}

mn_status mn_dataset_load_dir(mn_dataset **out, const char *dir, mn_split split,
                              const mn_load_params *params)
{
    if (!out || !dir)
        return mn_fail(MN_ERR_ARG, "mn_dataset_load_dir: NULL argument");
    if (split != MN_SPLIT_TRAIN && split != MN_SPLIT_TEST)
        return mn_fail(MN_ERR_ARG, "%s: unknown split %d", dir, (int)split);
    struct stat st;
    if (stat(dir, &st) != 0)
        return mn_fail(MN_ERR_IO, "%s: cannot open data directory: %s (run `mnist data fetch` "
                       "to download MNIST)", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return mn_fail(MN_ERR_IO, "%s: not a directory", dir);
    int test = split == MN_SPLIT_TEST;
    char *images = NULL, *labels = NULL;
    mn_status s = find_file(dir, test ? "t10k-images-idx3-ubyte" : "train-images-idx3-ubyte",
                            &images);
    if (!s)
        s = find_file(dir, test ? "t10k-labels-idx1-ubyte" : "train-labels-idx1-ubyte", &labels);
    if (!s)
        s = mn_dataset_load_idx(out, images, labels, params);
    free(images);
    free(labels);
    return s;
}

mn_status mn_dataset_split_tail(mn_dataset *set, uint32_t n, mn_dataset **tail)
{
    if (!set || !tail)
        return mn_fail(MN_ERR_ARG, "mn_dataset_split_tail: NULL argument");
    if (n == 0 || n >= set->count)
        return mn_fail(MN_ERR_ARG, "cannot split %u images off a data set of %u (need 1 to %u)",
                       n, set->count, set->count ? set->count - 1 : 0);
    size_t image = (size_t)set->rows * set->cols, keep = set->count - n;
    mn_dataset *t = calloc(1, sizeof *t);
    uint8_t *pixels = malloc(image * n), *labels = malloc(n);
    if (!t || !pixels || !labels) {
        free(t);
        free(pixels);
        free(labels);
        return mn_fail(MN_ERR_NOMEM, "out of memory splitting off %u images", n);
    }
    memcpy(pixels, set->pixels + keep * image, image * n);
    memcpy(labels, set->labels + keep, n);
    /* Both halves keep the whole set's class count, so a model sized for one fits the other. */
    *t = *set;
    t->count = n;
    t->pixels = pixels;
    t->labels = labels;
    set->count = (uint32_t)keep;
    uint8_t *p = realloc(set->pixels, image * keep); /* shrinking; keep the old block on failure */
    if (p)
        set->pixels = p;
    uint8_t *l = realloc(set->labels, keep);
    if (l)
        set->labels = l;
    *tail = t;
    return MN_OK;
}

void mn_dataset_free(mn_dataset *set)
{
    if (!set)
        return;
    free(set->pixels);
    free(set->labels);
    free(set);
}

const char *mn_default_data_dir(void)
{
    const char *d = getenv("MNIST_DATA");
    return d && *d ? d : "./data/mnist";
}
