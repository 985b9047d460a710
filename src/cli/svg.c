/* svg.c: the pictures `mnist` draws as SVG, written by hand as plain SVG 1.1 text: training
 * curves (loss on a log scale above, accuracy in % below, one step axis with epochs along the
 * top) and a confusion-matrix heat map. Two fixed layouts, not a plotting library; no scripts,
 * no external fonts or files. Files are written atomically (temporary file, then rename). */
#include "cli.h"
#include "internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define FONT "DejaVu Sans, Helvetica, Arial, sans-serif"
#define MAX_LINE_POINTS 1500 /* longer series are averaged into this many buckets */

/* ---- writing ---- */

/* Length of the valid UTF-8 sequence at p that XML allows, or 0. */
static int utf8_len(const unsigned char *p)
{
    unsigned c = p[0];
    if (c >= 0xc2 && c <= 0xdf)
        return (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
            return 0;
        if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0)) /* overlong, surrogate */
            return 0;
        if (c == 0xef && p[1] == 0xbf && p[2] >= 0xbe) /* U+FFFE, U+FFFF */
            return 0;
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
            return 0;
        if ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] >= 0x90))
            return 0;
        return 4;
    }
    return 0;
}

/* Writes s as XML character data: markup characters escaped, control characters and invalid
 * UTF-8 (file names may hold any bytes) replaced by '?'. */
static void put_escaped(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        int n = 1;
        if (c == '&')
            fputs("&amp;", f);
        else if (c == '<')
            fputs("&lt;", f);
        else if (c == '>')
            fputs("&gt;", f);
        else if (c == '"')
            fputs("&quot;", f);
        else if (c == '\'')
            fputs("&#39;", f);
        else if (c < 0x20)
            fputc(c == '\t' ? ' ' : '?', f);
        else if (c < 0x80)
            fputc((int)c, f);
        else if ((n = utf8_len(p)) > 0)
            fwrite(p, 1, (size_t)n, f);
        else
            fputc('?', f), n = 1;
        p += n;
    }
}

/* <text> at (x, y) with text-anchor `anchor` and extra attributes `attrs`; printf-style text. */
static void text(FILE *f, double x, double y, const char *anchor, const char *attrs,
                 const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void text(FILE *f, double x, double y, const char *anchor, const char *attrs,
                 const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\"%s%s>", x, y, anchor,
            attrs && *attrs ? " " : "", attrs ? attrs : "");
    put_escaped(f, buf);
    fputs("</text>\n", f);
}

/* A rough width of s in pixels at font size `size` (for legend boxes and fitting numbers). */
static double text_width(const char *s, double size)
{
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        chars += (*p & 0xc0) != 0x80;
    return (double)chars * size * 0.6;
}

static mn_status svg_begin(mn_atomic_file *af, const char *path, int width, int height)
{
    mn_status st = mn_atomic_open(af, path);
    if (st != MN_OK)
        return st;
    fprintf(af->fp,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"%s\" font-size=\"12\" fill=\"#222\">\n"
            "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n",
            width, height, width, height, FONT, width, height);
    return MN_OK;
}

static mn_status svg_end(mn_atomic_file *af)
{
    fputs("</svg>\n", af->fp);
    return mn_atomic_commit(af);
}

/* ---- axes ---- */

typedef struct axis {
    double lo, hi;  /* data range */
    double p0, p1;  /* pixels for lo and hi */
    bool log;
} axis;

static double ax_map(const axis *a, double v)
{
    double t = a->log ? (log10(v) - log10(a->lo)) / (log10(a->hi) - log10(a->lo))
                      : (v - a->lo) / (a->hi - a->lo);
    return a->p0 + t * (a->p1 - a->p0);
}

/* 1, 2 or 5 times a power of ten, giving about `target` intervals over span. */
static double nice_step(double span, int target)
{
    double raw = span / target, mag = pow(10, floor(log10(raw))), r = raw / mag;
    return (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
}

enum { MAX_TICKS = 64 };

static int linear_ticks(double lo, double hi, int target, double min_step, double *ticks,
                        double *step_out)
{
    double step = fmax(nice_step(hi - lo, target), min_step);
    int n = 0;
    for (double k = ceil(lo / step - 1e-9); n < MAX_TICKS && k * step <= hi + step * 1e-9; k++)
        ticks[n++] = k * step;
    *step_out = step;
    return n;
}

/* Ticks for a log axis: decades, else 1-2-5, else 1..9 per decade: the first that gives 4. */
static int log_ticks(double lo, double hi, double *ticks)
{
    static const double sets[3][9] = {{1}, {1, 2, 5}, {1, 2, 3, 4, 5, 6, 7, 8, 9}};
    static const int sizes[3] = {1, 3, 9};
    int n = 0;
    for (int s = 0; s < 3; s++) {
        n = 0;
        for (int e = (int)floor(log10(lo)); e <= (int)ceil(log10(hi)) && n < MAX_TICKS; e++)
            for (int m = 0; m < sizes[s] && n < MAX_TICKS; m++) {
                double v = sets[s][m] * pow(10, e);
                if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9))
                    ticks[n++] = v;
            }
        if (n >= 4)
            break;
    }
    return n;
}

/* A tick label: thousands as "20k", else as few decimals as the step needs. */
static void tick_label(char *buf, size_t size, double v, double step)
{
    if (fabs(v) < step * 1e-6)
        snprintf(buf, size, "0");
    else if (step >= 1000 && fmod(v, 1000) == 0)
        snprintf(buf, size, "%.0fk", v / 1000);
    else {
        int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
        snprintf(buf, size, "%.*f", dec, v);
    }
}

/* ---- training curves ---- */

bool cli_curves_append(cli_curves *c, const cli_curve_point *p)
{
    if (c->failed)
        return false;
    if (c->count == c->capacity) {
        size_t cap = c->capacity ? c->capacity * 2 : 256;
        cli_curve_point *np = cap > SIZE_MAX / sizeof *np ? NULL
                                                            : realloc(c->points, cap * sizeof *np);
        if (!np) {
            c->failed = true;
            return false;
        }
        c->points = np;
        c->capacity = cap;
    }
    c->points[c->count++] = *p;
    return true;
}

void cli_curves_free(cli_curves *c)
{
    free(c->points);
    memset(c, 0, sizeof *c);
}

typedef struct series {
    double *x, *y;
    size_t n;
} series;

/* The points of one field (finite values only; log axes need values > 0, clamped at `floor`),
 * averaged into buckets of equal step width when there are more than MAX_LINE_POINTS. */
static mn_status get_series(const cli_curves *c, size_t offset, double floor_value, series *s)
{
    memset(s, 0, sizeof *s);
    size_t n = 0;
    for (size_t i = 0; i < c->count; i++)
        n += isfinite(*(const double *)((const char *)&c->points[i] + offset)) &&
             isfinite(c->points[i].step);
    if (n == 0)
        return MN_OK;
    s->x = malloc(n * sizeof(double));
    s->y = malloc(n * sizeof(double));
    if (!s->x || !s->y) {
        free(s->x), free(s->y);
        memset(s, 0, sizeof *s);
        return mn_fail(MN_ERR_NOMEM, "out of memory for %zu plot points", n);
    }
    for (size_t i = 0; i < c->count; i++) {
        double v = *(const double *)((const char *)&c->points[i] + offset);
        if (isfinite(v) && isfinite(c->points[i].step)) {
            s->x[s->n] = c->points[i].step;
            s->y[s->n++] = v < floor_value ? floor_value : v;
        }
    }
    if (s->n > MAX_LINE_POINTS) {
        double x0 = s->x[0], x1 = s->x[s->n - 1], w = (x1 - x0) / (MAX_LINE_POINTS / 2);
        size_t out = 0, i = 0;
        while (i < s->n) {
            double bucket = w > 0 ? floor((s->x[i] - x0) / w) : 0, sx = 0, sy = 0;
            size_t k = 0;
            for (; i < s->n && (w <= 0 || floor((s->x[i] - x0) / w) == bucket); i++, k++)
                sx += s->x[i], sy += s->y[i];
            s->x[out] = sx / k;
            s->y[out++] = sy / k;
        }
        s->n = out;
    }
    return MN_OK;
}

static void free_series(series *s)
{
    free(s->x);
    free(s->y);
    memset(s, 0, sizeof *s);
}

/* A centred moving average of s over about a twentieth of its points (noisy per-step losses). */
static mn_status smooth(const series *s, series *out)
{
    memset(out, 0, sizeof *out);
    out->x = malloc(s->n * sizeof(double));
    out->y = malloc(s->n * sizeof(double));
    if (!out->x || !out->y) {
        free(out->x), free(out->y);
        memset(out, 0, sizeof *out);
        return mn_fail(MN_ERR_NOMEM, "out of memory for %zu plot points", s->n);
    }
    size_t h = s->n / 40 > 1 ? s->n / 40 : 1;
    for (size_t i = 0; i < s->n; i++) {
        /* symmetric at the start, so the steep first drop starts at the measured value; cut
         * short at the end, where the curve is flat, so the last value averages the last few */
        size_t w = h < i ? h : i, a = i - w, b = i + w < s->n - 1 ? i + w : s->n - 1;
        double sum = 0;
        for (size_t j = a; j <= b; j++)
            sum += log(s->y[j]); /* average in log space, as drawn */
        out->x[i] = s->x[i];
        out->y[i] = exp(sum / (double)(b - a + 1));
    }
    out->n = s->n;
    return MN_OK;
}

static void series_range(const series *s, double *lo, double *hi)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->y[i] < *lo)
            *lo = s->y[i];
        if (s->y[i] > *hi)
            *hi = s->y[i];
    }
}

static void polyline(FILE *f, const series *s, const axis *ax, const axis *ay, const char *colour,
                     double width, const char *extra)
{
    fprintf(f, "<polyline class=\"curve\" fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\" "
               "stroke-linejoin=\"round\"%s points=\"", colour, width, extra);
    for (size_t i = 0; i < s->n; i++)
        fprintf(f, "%s%.1f,%.1f", i ? " " : "", ax_map(ax, s->x[i]), ax_map(ay, s->y[i]));
    fputs("\"/>\n", f);
}

typedef struct legend_entry {
    const char *colour, *dash;
    bool marker;
    char label[160];
} legend_entry;

/* A legend box inside the panel (x0..x1, y0..y1), in its top-right or bottom-right corner. */
static void legend(FILE *f, const legend_entry *e, int n, double x1, double y0, double y1,
                   bool bottom)
{
    double w = 0;
    for (int i = 0; i < n; i++)
        if (text_width(e[i].label, 12) > w)
            w = text_width(e[i].label, 12);
    w += 44;
    double h = 8 + 18.0 * n, x = x1 - w - 10, y = bottom ? y1 - h - 10 : y0 + 10;
    fprintf(f, "<g class=\"legend\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
               "fill=\"#fff\" fill-opacity=\"0.9\" stroke=\"#ccc\"/>\n", x, y, w, h);
    for (int i = 0; i < n; i++) {
        double ly = y + 4 + 18.0 * i + 9;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                   "stroke-width=\"2\"%s%s%s/>\n", x + 8, ly, x + 32, ly, e[i].colour,
                e[i].dash ? " stroke-dasharray=\"" : "", e[i].dash ? e[i].dash : "",
                e[i].dash ? "\"" : "");
        if (e[i].marker)
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", x + 20, ly,
                    e[i].colour);
        text(f, x + 38, ly + 4, "start", NULL, "%s", e[i].label);
    }
    fputs("</g>\n", f);
}

/* Frame, grid and y ticks of one panel; x grid lines at the x ticks. */
static void panel(FILE *f, const axis *ax, const axis *ay, const double *xt, int nxt,
                  const char *ytitle)
{
    double yt[MAX_TICKS], ystep = 1;
    int nyt = ay->log ? log_ticks(ay->lo, ay->hi, yt) : linear_ticks(ay->lo, ay->hi, 5, 0, yt, &ystep);
    fputs("<g class=\"grid\" stroke=\"#e6e6e6\" stroke-width=\"1\">\n", f);
    for (int i = 0; i < nxt; i++)
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", ax_map(ax, xt[i]),
                ay->p0, ax_map(ax, xt[i]), ay->p1);
    for (int i = 0; i < nyt; i++)
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", ax->p0,
                ax_map(ay, yt[i]), ax->p1, ax_map(ay, yt[i]));
    fputs("</g>\n", f);
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
               "stroke=\"#888\"/>\n", ax->p0, ay->p1, ax->p1 - ax->p0, ay->p0 - ay->p1);
    /* labels that would overlap are left out: 1, 2 and 5 times a power of ten first */
    bool label[MAX_TICKS] = {false};
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < nyt; i++) {
            double m = yt[i] / pow(10, floor(log10(yt[i]) + 1e-9));
            bool major = !ay->log || fabs(m - 1) < 1e-6 || fabs(m - 2) < 1e-6 ||
                         fabs(m - 5) < 1e-6;
            if (label[i] || major != (pass == 0))
                continue;
            label[i] = true;
            for (int j = 0; j < nyt; j++)
                if (j != i && label[j] && fabs(ax_map(ay, yt[i]) - ax_map(ay, yt[j])) < 14)
                    label[i] = false;
        }
    for (int i = 0; i < nyt; i++) {
        char buf[32];
        double y = ax_map(ay, yt[i]);
        if (ay->log)
            snprintf(buf, sizeof buf, "%g", yt[i]);
        else
            tick_label(buf, sizeof buf, yt[i], ystep);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\"/>\n",
                ax->p0 - 4, y, ax->p0, y);
        if (label[i])
            text(f, ax->p0 - 7, y + 4, "end", NULL, "%s", buf);
    }
    double cy = (ay->p0 + ay->p1) / 2, cx = ax->p0 - 54;
    char attrs[96];
    snprintf(attrs, sizeof attrs, "font-size=\"13\" transform=\"rotate(-90 %.1f %.1f)\"", cx, cy);
    text(f, cx, cy, "middle", attrs, "%s", ytitle);
}

mn_status cli_write_curves_svg(const char *path, const cli_curves *c, const char *title,
                               const char *subtitle, const char *eval_name)
{
    if (c->count == 0)
        return mn_fail(MN_ERR_ARG, "%s: no training points to plot", path);
    series loss, eval_loss, acc;
    mn_status st = get_series(c, offsetof(cli_curve_point, loss), 1e-6, &loss);
    if (st == MN_OK)
        st = get_series(c, offsetof(cli_curve_point, eval_loss), 1e-6, &eval_loss);
    if (st == MN_OK)
        st = get_series(c, offsetof(cli_curve_point, accuracy), 0, &acc);
    if (st != MN_OK || (loss.n == 0 && eval_loss.n == 0 && acc.n == 0)) {
        free_series(&loss), free_series(&eval_loss), free_series(&acc);
        return st != MN_OK ? st : mn_fail(MN_ERR_ARG, "%s: no finite values to plot", path);
    }
    for (size_t i = 0; i < acc.n; i++)
        acc.y[i] *= 100;
    bool have_loss = loss.n + eval_loss.n > 0, have_acc = acc.n > 0;

    /* layout: title, epoch axis, loss panel, accuracy panel, step axis */
    const int W = 820, left = 84, right = 24, top = 84, bottom = 54, gap = 34, panel_h = 230;
    const int npanels = have_loss + have_acc;
    const int H = top + npanels * panel_h + (npanels - 1) * gap + bottom;

    double xmax = 0, ratio = 0; /* ratio: epochs per step */
    for (size_t i = 0; i < c->count; i++) {
        const cli_curve_point *p = &c->points[i];
        if (isfinite(p->step) && p->step > xmax)
            xmax = p->step;
        if (isfinite(p->epoch) && p->epoch > 0 && isfinite(p->step) && p->step >= xmax)
            ratio = p->epoch / p->step; /* epochs grow with steps: use the last point */
    }
    axis ax = {0, xmax > 0 ? xmax : 1, left, W - right, false};
    double xt[MAX_TICKS], xstep;
    int nxt = linear_ticks(ax.lo, ax.hi, 8, 1, xt, &xstep); /* whole steps */

    mn_atomic_file af;
    if ((st = svg_begin(&af, path, W, H)) != MN_OK) {
        free_series(&loss), free_series(&eval_loss), free_series(&acc);
        return st;
    }
    FILE *f = af.fp;
    text(f, left, 26, "start", "font-size=\"16\" font-weight=\"bold\"", "%s", title);
    if (subtitle && *subtitle)
        text(f, left, 45, "start", "fill=\"#555\"", "%s", subtitle);

    /* epochs along the top of the first panel */
    if (ratio > 0) {
        double et[MAX_TICKS], estep, last_end = -INFINITY;
        int net = linear_ticks(0, ax.hi * ratio, 8, 0, et, &estep);
        for (int i = 0; i < net; i++) {
            double x = ax_map(&ax, et[i] / ratio);
            char buf[32];
            tick_label(buf, sizeof buf, et[i], estep);
            if (x - text_width(buf, 12) / 2 < last_end + 6)
                continue;
            last_end = x + text_width(buf, 12) / 2;
            fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#888\"/>\n", x,
                    top - 4, x, top);
            text(f, x, top - 8, "middle", NULL, "%s", buf);
        }
        text(f, left - 16, top - 8, "end", "fill=\"#555\"", "epoch");
    }

    int y = top;
    if (have_loss) {
        double lo = INFINITY, hi = -INFINITY;
        series_range(&loss, &lo, &hi);
        series_range(&eval_loss, &lo, &hi);
        double pad = fmax((log10(hi) - log10(lo)) * 0.06, log10(1.08));
        axis ay = {pow(10, log10(lo) - pad), pow(10, log10(hi) + pad), y + panel_h, y, true};
        panel(f, &ax, &ay, xt, nxt, "loss (log scale)");
        legend_entry e[3];
        int ne = 0;
        series sm = {0};
        if (loss.n >= 40 && (st = smooth(&loss, &sm)) != MN_OK) {
            mn_atomic_abort(&af);
            free_series(&loss), free_series(&eval_loss), free_series(&acc);
            return st;
        }
        if (sm.n) {
            polyline(f, &loss, &ax, &ay, "#9ecae1", 1, "");
            polyline(f, &sm, &ax, &ay, "#1f77b4", 2, "");
            e[ne] = (legend_entry){"#9ecae1", NULL, false, "training loss, each report"};
            ne++;
            e[ne] = (legend_entry){"#1f77b4", NULL, false, ""};
            snprintf(e[ne++].label, sizeof e[0].label, "training loss, moving average (last %.4f)",
                     sm.y[sm.n - 1]);
            free_series(&sm);
        } else if (loss.n) {
            polyline(f, &loss, &ax, &ay, "#1f77b4", 1.8, "");
            e[ne] = (legend_entry){"#1f77b4", NULL, false, ""};
            snprintf(e[ne++].label, sizeof e[0].label, "training loss (last %.4f)",
                     loss.y[loss.n - 1]);
        }
        if (eval_loss.n) {
            polyline(f, &eval_loss, &ax, &ay, "#ff7f0e", 1.8, " stroke-dasharray=\"6 3\"");
            e[ne] = (legend_entry){"#ff7f0e", "6 3", false, ""};
            snprintf(e[ne++].label, sizeof e[0].label, "%s loss (last %.4f)", eval_name,
                     eval_loss.y[eval_loss.n - 1]);
        }
        legend(f, e, ne, ax.p1, ay.p1, ay.p0, false);
        y += panel_h + gap;
    }
    if (have_acc) {
        double lo = INFINITY, hi = -INFINITY;
        series_range(&acc, &lo, &hi);
        double pad = fmax((hi - lo) * 0.08, 0.25);
        axis ay = {fmax(0, lo - pad), fmin(100, hi + pad), y + panel_h, y, false};
        if (ay.hi - ay.lo < 0.5)
            ay.lo = ay.hi - 0.5;
        panel(f, &ax, &ay, xt, nxt, "accuracy (%)");
        polyline(f, &acc, &ax, &ay, "#2ca02c", 1.8, "");
        if (acc.n <= 80)
            for (size_t i = 0; i < acc.n; i++)
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.6\" fill=\"#2ca02c\"/>\n",
                        ax_map(&ax, acc.x[i]), ax_map(&ay, acc.y[i]));
        size_t best = 0;
        for (size_t i = 1; i < acc.n; i++)
            if (acc.y[i] > acc.y[best])
                best = i;
        legend_entry e = {"#2ca02c", NULL, acc.n <= 80, ""};
        if (acc.y[acc.n - 1] >= acc.y[best])
            snprintf(e.label, sizeof e.label, "%s accuracy (last %.2f%%)", eval_name,
                     acc.y[acc.n - 1]);
        else
            snprintf(e.label, sizeof e.label, "%s accuracy (last %.2f%%, best %.2f%% at step %.0f)",
                     eval_name, acc.y[acc.n - 1], acc.y[best], acc.x[best]);
        legend(f, &e, 1, ax.p1, ay.p1, ay.p0, true);
        y += panel_h + gap;
    }
    /* steps along the bottom */
    y -= gap;
    for (int i = 0; i < nxt; i++) {
        char buf[32];
        tick_label(buf, sizeof buf, xt[i], xstep);
        double x = ax_map(&ax, xt[i]);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#888\"/>\n", x, y,
                x, y + 4);
        text(f, x, y + 18, "middle", NULL, "%s", buf);
    }
    text(f, (ax.p0 + ax.p1) / 2, y + 40, "middle", "font-size=\"13\"", "training step");
    free_series(&loss), free_series(&eval_loss), free_series(&acc);
    return svg_end(&af);
}

/* ---- confusion matrix ---- */

/* A white-to-dark-blue ramp (ColorBrewer "Blues"), t in [0, 1]. */
static void blues(double t, char out[8])
{
    static const unsigned char stops[9][3] = {
        {247, 251, 255}, {222, 235, 247}, {198, 219, 239}, {158, 202, 225}, {107, 174, 214},
        {66, 146, 198},  {33, 113, 181},  {8, 81, 156},    {8, 48, 107}};
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    double u = t * 8;
    int i = (int)u < 8 ? (int)u : 7;
    double w = u - i;
    int rgb[3];
    for (int k = 0; k < 3; k++)
        rgb[k] = (int)lround(stops[i][k] * (1 - w) + stops[i + 1][k] * w);
    snprintf(out, 8, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
}

mn_status cli_write_confusion_svg(const char *path, const uint32_t *conf, uint32_t K,
                                  const char *title, const char *subtitle)
{
    if (K < 1 || K > 256)
        return mn_fail(MN_ERR_ARG, "%s: cannot draw a confusion matrix of %u classes", path, K);
    uint32_t max = 0;
    for (size_t i = 0; i < (size_t)K * K; i++)
        if (conf[i] > max)
            max = conf[i];
    const double cell = K <= 10 ? 52 : fmax(8, fmin(52, 560.0 / K));
    const double fs = fmin(13, cell * 0.34); /* numbers in cells */
    const double hfs = fmin(13, fmax(7, cell * 0.6)); /* class labels */
    const double mx = 96, my = 104, side = cell * K;
    const double rx = mx + side + 12;     /* recall column */
    const double bx = rx + 66;            /* colour bar */
    const int W = (int)(bx + 14 + 70), H = (int)(my + side + 64);
    const double lmax = log1p((double)max);

    mn_atomic_file af;
    mn_status st = svg_begin(&af, path, W, H);
    if (st != MN_OK)
        return st;
    FILE *f = af.fp;
    text(f, 20, 26, "start", "font-size=\"16\" font-weight=\"bold\"", "%s", title);
    if (subtitle && *subtitle)
        text(f, 20, 45, "start", "fill=\"#555\"", "%s", subtitle);
    text(f, mx + side / 2, my - 30, "middle", "font-size=\"13\" font-weight=\"bold\"",
         "predicted class");
    char attrs[128];
    snprintf(attrs, sizeof attrs, "font-size=\"13\" font-weight=\"bold\" transform=\"rotate(-90 "
                                  "%.1f %.1f)\"", mx - 40, my + side / 2);
    text(f, mx - 40, my + side / 2, "middle", attrs, "true class");
    snprintf(attrs, sizeof attrs, "font-size=\"%.1f\" fill=\"#444\"", hfs);
    int label_every = hfs * 1.6 > cell ? (int)ceil(hfs * 1.6 / cell) : 1;
    for (uint32_t k = 0; k < K; k += (uint32_t)label_every) {
        text(f, mx + cell * (k + 0.5), my - 8, "middle", attrs, "%u", k);
        text(f, mx - 8, my + cell * (k + 0.5) + hfs * 0.35, "end", attrs, "%u", k);
    }

    fputs("<g class=\"cells\">\n", f);
    for (uint32_t t = 0; t < K; t++)
        for (uint32_t p = 0; p < K; p++) {
            uint32_t v = conf[(size_t)t * K + p];
            double level = lmax > 0 ? log1p((double)v) / lmax : 0, x = mx + cell * p,
                   y = my + cell * t;
            char colour[8];
            blues(level, colour);
            fprintf(f, "<rect class=\"cell\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                       "fill=\"%s\"><title>true %u, predicted %u: %u</title></rect>\n",
                    x, y, cell, cell, colour, t, p, v);
            char num[16];
            snprintf(num, sizeof num, "%u", v);
            if (fs >= 6 && text_width(num, fs) <= cell - 4) {
                snprintf(attrs, sizeof attrs, "font-size=\"%.1f\" fill=\"%s\"%s", fs,
                         v == 0 ? "#b0b0b0" : level > 0.6 ? "#fff" : "#222",
                         t == p ? " font-weight=\"bold\"" : "");
                text(f, x + cell / 2, y + cell / 2 + fs * 0.35, "middle", attrs, "%s", num);
            }
        }
    fputs("</g>\n", f);
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
               "stroke=\"#888\"/>\n", mx, my, side, side);

    /* recall (of each true class, right) and precision (of each predicted class, below) */
    text(f, rx + 26, my - 8, "middle", "fill=\"#555\"", "recall");
    text(f, mx - 8, my + side + 18, "end", "fill=\"#555\"", "precision");
    bool fit = cell >= 34;
    snprintf(attrs, sizeof attrs, "font-size=\"%.1f\" fill=\"#555\"", fmin(11, hfs));
    for (uint32_t k = 0; k < K; k++) {
        uint64_t row = 0, col = 0;
        for (uint32_t q = 0; q < K; q++)
            row += conf[(size_t)k * K + q], col += conf[(size_t)q * K + k];
        uint32_t d = conf[(size_t)k * K + k];
        if ((k % (uint32_t)label_every) == 0)
            text(f, rx + 26, my + cell * (k + 0.5) + 4, "middle", attrs, row ? "%.1f%%" : "-",
                 row ? 100.0 * d / row : 0.0);
        if (fit)
            text(f, mx + cell * (k + 0.5), my + side + 18, "middle", attrs, col ? "%.1f%%" : "-",
                 col ? 100.0 * d / col : 0.0);
    }

    /* colour bar: log scale of the count */
    fputs("<defs><linearGradient id=\"ramp\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">\n", f);
    for (int i = 0; i <= 8; i++) {
        char colour[8];
        blues(i / 8.0, colour);
        fprintf(f, "<stop offset=\"%.3f\" stop-color=\"%s\"/>\n", i / 8.0, colour);
    }
    fputs("</linearGradient></defs>\n", f);
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"%.1f\" fill=\"url(#ramp)\" "
               "stroke=\"#888\"/>\n", bx, my, side);
    text(f, bx + 7, my - 8, "middle", "fill=\"#555\"", "count");
    double last_y = INFINITY;
    for (double v = 0; lmax > 0 && v <= max; v = v == 0 ? 1 : v * 10) {
        double y = my + side - side * log1p(v) / lmax;
        if (last_y - y < 14)
            continue;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\"/>\n",
                bx + 14, y, bx + 18, y);
        text(f, bx + 21, y + 4, "start", NULL, "%.0f", v);
        last_y = y;
    }
    if (lmax > 0 && my + 14 <= last_y) {
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\"/>\n",
                bx + 14, my, bx + 18, my);
        text(f, bx + 21, my + 4, "start", NULL, "%u", max);
    }
    text(f, bx + 7, my + side + 18, "middle", "fill=\"#555\"", "(log)");
    return svg_end(&af);
}
