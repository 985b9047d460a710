/* cmd_plot.c: `mnist plot LOG.csv -o FILE.svg`: draws the loss and accuracy curves of a
 * `mnist train --log` file. Columns are found by name in the header (step and loss are required;
 * epoch, accuracy and eval_loss are used when present, others ignored), so older and newer logs
 * both work. Quoted CSV fields are not supported: the logs never write them. */
#include "cli.h"
#include "internal.h"

#include <ctype.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_LOG_BYTES (1ull << 30)
#define MAX_COLUMNS 64

static void usage(FILE *out)
{
    fputs("usage: mnist plot LOG.csv [-o FILE.svg] [--title TEXT]\n"
          "  draws training loss (log scale) and accuracy (%) per step, with epochs along the\n"
          "  top, from a log written by mnist train --log (its columns: step,epoch,loss,accuracy,\n"
          "  images_per_second,lr; accuracy is empty where training did not evaluate)\n"
          "  -o, --out FILE.svg  picture to write (default: LOG with .svg for .csv)\n"
          "  --title TEXT        title above the curves (default: Training curves)\n",
          out);
}

enum { COL_STEP, COL_EPOCH, COL_LOSS, COL_ACCURACY, COL_EVAL_LOSS, NCOLS };
static const char *const g_names[NCOLS] = {"step", "epoch", "loss", "accuracy", "eval_loss"};

/* Splits line (NUL-terminated, modified in place) at commas into trimmed fields. */
static size_t split(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *p = line;
    for (;;) {
        char *end = strchr(p, ',');
        if (end)
            *end = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        size_t len = strlen(p);
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            p[--len] = '\0';
        if (n < max)
            fields[n] = p;
        n++;
        if (!end)
            return n;
        p = end + 1;
    }
}

/* Parses a field as a finite number in [lo, hi]; empty is NAN when `optional`. */
static mn_status number(const char *path, size_t line, const char *col, const char *field,
                        bool optional, double lo, double hi, double *out)
{
    if (!*field) {
        if (optional) {
            *out = NAN;
            return MN_OK;
        }
        return mn_fail(MN_ERR_FORMAT, "%s:%zu: the %s column is empty", path, line, col);
    }
    char *end;
    double v = strtod(field, &end);
    if (*end || !isfinite(v))
        return mn_fail(MN_ERR_FORMAT, "%s:%zu: %s '%.40s' is not a number", path, line, col,
                       field);
    if (v < lo || v > hi)
        return mn_fail(MN_ERR_FORMAT, "%s:%zu: %s %g is out of range (%g to %g)", path, line, col,
                       v, lo, hi);
    *out = v;
    return MN_OK;
}

/* Reads a training log into *c. A step that goes back (a run resumed from an earlier
 * checkpoint appends to the same log) replaces the rows from that step on. */
static mn_status load_log(const char *path, cli_curves *c, size_t *evals)
{
    uint8_t *data;
    size_t size;
    mn_status st = mn_read_file(path, MAX_LOG_BYTES, &data, &size);
    if (st != MN_OK)
        return st;
    if (memchr(data, '\0', size)) {
        free(data);
        return mn_fail(MN_ERR_FORMAT, "%s: not a text file (holds NUL bytes)", path);
    }
    char *p = (char *)data;
    if (size >= 3 && !memcmp(p, "\xef\xbb\xbf", 3))
        p += 3; /* a UTF-8 byte-order mark from a spreadsheet */
    int col[NCOLS];
    for (int k = 0; k < NCOLS; k++)
        col[k] = -1;
    size_t ncols = 0, line = 0, rows = 0;
    char *fields[MAX_COLUMNS];
    *evals = 0;
    while (*p && st == MN_OK) {
        char *nl = strchr(p, '\n'), *next = nl ? nl + 1 : p + strlen(p);
        if (nl)
            *nl = '\0';
        line++;
        size_t len = strlen(p);
        if (len && p[len - 1] == '\r')
            p[--len] = '\0';
        size_t blank = strspn(p, " \t");
        if (p[blank] == '\0' && ncols > 0) { /* blank lines between rows are harmless */
            p = next;
            continue;
        }
        size_t n = split(p, fields, MAX_COLUMNS);
        if (ncols == 0) { /* the header */
            if (n > MAX_COLUMNS) {
                st = mn_fail(MN_ERR_FORMAT, "%s:%zu: %zu columns in the header (at most %d)", path,
                             line, n, MAX_COLUMNS);
                break;
            }
            for (size_t i = 0; i < n; i++)
                for (int k = 0; k < NCOLS; k++)
                    if (!strcmp(fields[i], g_names[k])) {
                        if (col[k] >= 0)
                            st = mn_fail(MN_ERR_FORMAT, "%s:%zu: the header names column '%s' "
                                         "twice", path, line, g_names[k]);
                        col[k] = (int)i;
                    }
            if (st == MN_OK && (col[COL_STEP] < 0 || col[COL_LOSS] < 0))
                st = mn_fail(MN_ERR_FORMAT, "%s:%zu: not a training log: the header needs step and "
                             "loss columns (as in step,epoch,loss,accuracy,images_per_second,lr)",
                             path, line);
            ncols = n;
            p = next;
            continue;
        }
        if (n != ncols) {
            st = mn_fail(MN_ERR_FORMAT, "%s:%zu: %zu fields where the header has %zu", path, line,
                         n, ncols);
            break;
        }
        cli_curve_point pt = {NAN, NAN, NAN, NAN, NAN};
        double *dst[NCOLS] = {&pt.step, &pt.epoch, &pt.loss, &pt.accuracy, &pt.eval_loss};
        static const double lo[NCOLS] = {0, 0, 0, 0, 0};
        static const double hi[NCOLS] = {9007199254740992.0, 1e12, 1e30, 1, 1e30};
        for (int k = 0; k < NCOLS && st == MN_OK; k++)
            if (col[k] >= 0)
                st = number(path, line, g_names[k], fields[col[k]], k != COL_STEP && k != COL_LOSS,
                            lo[k], hi[k], dst[k]);
        if (st != MN_OK)
            break;
        if (pt.step != floor(pt.step)) {
            st = mn_fail(MN_ERR_FORMAT, "%s:%zu: step %g is not a whole number", path, line,
                         pt.step);
            break;
        }
        while (c->count && c->points[c->count - 1].step >= pt.step) {
            c->count--; /* rewound by a resumed run */
            *evals -= isfinite(c->points[c->count].accuracy);
        }
        if (!cli_curves_append(c, &pt)) {
            st = mn_fail(MN_ERR_NOMEM, "%s: out of memory at line %zu", path, line);
            break;
        }
        *evals += isfinite(pt.accuracy);
        rows++;
        p = next;
    }
    free(data);
    if (st == MN_OK && ncols == 0)
        st = mn_fail(MN_ERR_FORMAT, "%s: empty file: expected a header line "
                     "step,epoch,loss,accuracy,images_per_second,lr", path);
    else if (st == MN_OK && rows == 0)
        st = mn_fail(MN_ERR_FORMAT, "%s: the log has a header but no rows: nothing to plot", path);
    return st;
}

int cmd_plot(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, 0, 'o'},
                                         {"title", required_argument, 0, 'T'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *out = NULL, *title = "Training curves";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'T': title = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (argc - optind != 1)
        return cli_error(argc - optind < 1 ? "plot: which log? (usage: mnist plot LOG.csv -o "
                                             "FILE.svg)"
                                           : "plot: one log at a time (usage: mnist plot LOG.csv "
                                             "-o FILE.svg)"), 2;
    const char *log = argv[optind];
    char *def = NULL;
    if (!out) {
        size_t len = strlen(log);
        def = malloc(len + 5);
        if (!def)
            return cli_error("out of memory");
        memcpy(def, log, len + 1);
        if (len > 4 && !strcasecmp(def + len - 4, ".csv"))
            def[len - 4] = '\0';
        strcat(def, ".svg");
        out = def;
    }
    cli_curves curves = {0};
    size_t evals = 0;
    int rc = 0;
    if (load_log(log, &curves, &evals) != MN_OK) {
        rc = cli_lib_error();
    } else {
        const char *base = strrchr(log, '/') ? strrchr(log, '/') + 1 : log;
        char sub[512];
        snprintf(sub, sizeof sub, "%s: %zu reports to step %.0f, %zu evaluation%s", base,
                 curves.count, curves.points[curves.count - 1].step, evals, evals == 1 ? "" : "s");
        if (cli_write_curves_svg(out, &curves, title, sub, "eval") != MN_OK)
            rc = cli_lib_error();
        else
            printf("wrote %s\n", out);
    }
    cli_curves_free(&curves);
    free(def);
    return rc;
}
