/* error.c: the thread-local "last error" message behind mn_error_message. */
#include "internal.h"

#include <stdio.h>

static _Thread_local char g_message[512];

mn_status mn_fail(mn_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_message, sizeof g_message, fmt, ap);
    va_end(ap);
    return status;
}

void mn_clear_error(void) { g_message[0] = '\0'; }

const char *mn_error_message(void) { return g_message; }

const char *mn_status_name(mn_status status)
{
    switch (status) {
    case MN_OK: return "ok";
    case MN_ERR_IO: return "io";
    case MN_ERR_FORMAT: return "format";
    case MN_ERR_LIMIT: return "limit";
    case MN_ERR_NOMEM: return "nomem";
    case MN_ERR_ARG: return "arg";
    case MN_ERR_NETWORK: return "network";
    case MN_ERR_CHECKSUM: return "checksum";
    case MN_ERR_INTERRUPTED: return "interrupted";
    }
    return "unknown";
}
