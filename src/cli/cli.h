/* cli.h: what the `mnist` commands share: each command is one file with one entry point, and
 * these helpers for options, errors and terminal output. */
#ifndef MN_CLI_H
#define MN_CLI_H

#include "mnist.h"

#include <stdbool.h>
#include <stdio.h>

/* The commands: each returns the process exit status. argv[0] is the command name. */
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_export(int argc, char **argv);

/* Prints "mnist: <msg>" (printf-style) on stderr; returns 1 (the exit status to use). */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "mnist: " + the library's last error message on stderr; returns 1. */
int cli_lib_error(void);

/* Option value parsers: on a bad value they print an error naming the option and return false. */
bool cli_parse_int(const char *opt, const char *text, long long min, long long max, long long *out);
bool cli_parse_float(const char *opt, const char *text, double min, double max, double *out);

/* The data directory: --data value if given, else mn_default_data_dir(). */
const char *cli_data_dir(const char *opt_value);

/* True when stdout/stderr is a terminal (progress bars, colours). */
bool cli_stderr_is_tty(void);
bool cli_stdout_is_tty(void);

/* Draws a grey image (0 = black background, 255 = ink) in the terminal with Unicode half blocks
 * (two pixel rows per text line) and 24-bit colour when `colour`, else ASCII shades. */
void cli_draw_image(FILE *out, const uint8_t *pixels, int rows, int cols, bool colour);

/* Writes `count` grey images (rows x cols each, 0 = black) as a grid PNG, `per_row` to a row,
 * each scaled by `scale`, with a caption under each (digits and " >%.-?" only); captions whose
 * `highlight` is true are drawn dark on light (mistakes). Atomic (temporary file, rename). */
mn_status cli_write_grid_png(const char *path, const uint8_t *const *images, int count, int rows,
                             int cols, const char *const *captions, const bool *highlight,
                             int per_row, int scale);

/* `mnist plot LOG.csv -o FILE.svg`: training curves from a `train --log` file. */
int cmd_plot(int argc, char **argv);

/* Training curves (svg.c): one point per progress report or log row; NAN where not measured. */
typedef struct cli_curve_point {
    double step, epoch, loss, accuracy, eval_loss; /* accuracy in [0, 1] */
} cli_curve_point;
typedef struct cli_curves {
    cli_curve_point *points;
    size_t count, capacity;
    bool failed; /* an append ran out of memory (later appends are refused) */
} cli_curves;
/* Appends a copy of *p; false when out of memory. Zero-initialise the cli_curves first. */
bool cli_curves_append(cli_curves *c, const cli_curve_point *p);
void cli_curves_free(cli_curves *c);

/* Writes the curves as SVG: training (and eval) loss on a log scale above, eval accuracy in %
 * below (that panel only when there are accuracy points), steps along the bottom and epochs
 * along the top; `eval_name` names the evaluation set in the legend ("test", "validation").
 * Text is escaped (any bytes are safe). Atomic; errors are set with mn_fail and name `path`. */
mn_status cli_write_curves_svg(const char *path, const cli_curves *c, const char *title,
                               const char *subtitle, const char *eval_name);
/* Writes a classes x classes confusion matrix (rows = true class) as an SVG heat map: counts
 * in the cells, colour on a log scale with a colour bar, recall and precision at the sides.
 * Every cell is a <rect class="cell">. Atomic; errors as above. */
mn_status cli_write_confusion_svg(const char *path, const uint32_t *conf, uint32_t classes,
                                  const char *title, const char *subtitle);

#endif
