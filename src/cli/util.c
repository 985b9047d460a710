/* util.c: option parsing, error printing and tty checks shared by the commands. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

int cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("mnist: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int cli_lib_error(void) { return cli_error("%s", mn_error_message()); }

bool cli_parse_int(const char *opt, const char *text, long long min, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text ? text : "", &end, 10);
    if (!text || !*text || *end || errno || v < min || v > max) {
        cli_error("%s: '%s' is not a whole number from %lld to %lld", opt, text ? text : "", min,
                  max);
        return false;
    }
    *out = v;
    return true;
}

bool cli_parse_float(const char *opt, const char *text, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text ? text : "", &end);
    if (!text || !*text || *end || errno || !isfinite(v) || v < min || v > max) {
        cli_error("%s: '%s' is not a number from %g to %g", opt, text ? text : "", min, max);
        return false;
    }
    *out = v;
    return true;
}

const char *cli_data_dir(const char *opt_value) { return opt_value ? opt_value : mn_default_data_dir(); }

bool cli_stderr_is_tty(void) { return isatty(2); }
bool cli_stdout_is_tty(void) { return isatty(1); }
