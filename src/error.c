/* error.c: the thread-local "last error" message behind mn_error_message. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static _Thread_local char g_message[512];

mn_status mn_fail(mn_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_message, sizeof g_message, fmt, ap);
    va_end(ap);
    return status;
}

mn_status mn_fail_prefix(mn_status status, const char *prefix)
{
    char message[sizeof g_message];
    memcpy(message, g_message, sizeof message);
    return mn_fail(status, "%s: %s", prefix, message);
}

void mn_clear_error(void) { g_message[0] = '\0'; }

mn_quoted mn_quote(const char *s)
{
    mn_quoted out;
    size_t len = s ? strlen(s) : 0, o = 0;
    bool cut = len > 64;
    if (cut)
        for (len = 64; len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80; len--)
            ;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            o += (size_t)snprintf(out.text + o, sizeof out.text - o, "\\x%02x", c);
        else
            out.text[o++] = (char)c;
    }
    strcpy(out.text + o, cut ? "..." : "");
    return out;
}

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
