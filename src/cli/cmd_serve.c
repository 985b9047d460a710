/* cmd_serve.c: `mnist serve MODEL`: an HTTP server (libmicrohttpd, one thread per connection)
 * with the drawing page at / and a JSON API: POST /api/predict, GET /api/model, GET /healthz.
 * It listens on loopback unless told otherwise, caps bodies, connections and idle time, and
 * stops cleanly on SIGINT/SIGTERM. Left out: TLS, authentication, HTTP/2, static files. */
#include "cli.h"
#include "serve.h"

#include <errno.h>
#include <getopt.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

extern const unsigned char mn_web_page[];
extern const size_t mn_web_page_size;

#define MAX_CONNECTIONS 256
#define IDLE_TIMEOUT_S 30
#define MAX_DISCARD (16 * SERVE_MAX_BODY) /* an over-limit chunked body is read this far */

typedef struct server {
    serve_pool *pool;
    const char *model_path;
    bool verbose;
} server;

/* One request's state, from its headers to its completion. */
typedef struct request {
    uint8_t *body;
    size_t size, cap, seen; /* seen: bytes received, kept or not */
    bool too_big;
    unsigned status;
    size_t reply_size;
    struct timespec start;
    char line[160]; /* "METHOD /path" for the log, printable */
} request;

static void usage(FILE *out)
{
    fputs("usage: mnist serve MODEL [options]\n"
          "  serves a page to draw a digit on (GET /) and a JSON API:\n"
          "    POST /api/predict   body: a PNG/JPEG/PGM image, or JSON {\"pixels\": [784 numbers\n"
          "                        0-255]} (or {\"pixels\": [...], \"width\": W, \"height\": H});\n"
          "                        answers {\"digit\", \"probability\", \"probabilities\", \"preprocessed\"}\n"
          "    GET /api/model      the model's spec, parameters and metadata\n"
          "    GET /healthz        ok\n"
          "  --host ADDR      address to listen on (default 127.0.0.1; 0.0.0.0 for all)\n"
          "  --port N         port (default 8080; 0 picks a free one and prints it)\n"
          "  --threads N      model copies predicting at once (default: all cores)\n"
          "  --verbose        log one line per request on stderr\n",
          out);
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Queues a response; `mode` says who owns `data`. Returns MHD_NO if it cannot. */
static enum MHD_Result respond(struct MHD_Connection *c, request *r, unsigned status,
                               const char *type, void *data, size_t size,
                               enum MHD_ResponseMemoryMode mode, const char *allow)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(size, data, mode);
    if (!resp) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(data);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    if (!strcmp(type, "text/html; charset=utf-8"))
        /* The page needs nothing from anywhere but this server. */
        MHD_add_response_header(resp, "Content-Security-Policy",
                                "default-src 'none'; script-src 'unsafe-inline'; style-src "
                                "'unsafe-inline'; img-src data:; connect-src 'self'; "
                                "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    r->status = status;
    r->reply_size = size;
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result respond_reply(struct MHD_Connection *c, request *r, serve_reply *reply,
                                     const char *allow)
{
    if (!reply->body) {
        static char oom[] = "{\"error\":\"out of memory\"}";
        return respond(c, r, 500, "application/json", oom, sizeof oom - 1,
                       MHD_RESPMEM_PERSISTENT, NULL);
    }
    return respond(c, r, reply->status, "application/json", reply->body, reply->size,
                   MHD_RESPMEM_MUST_FREE, allow);
}

static enum MHD_Result respond_error(struct MHD_Connection *c, request *r, unsigned status,
                                     const char *message, const char *allow)
{
    serve_reply reply;
    serve_api_error(&reply, status, message);
    return respond_reply(c, r, &reply, allow);
}

static bool is_get(const char *method)
{
    return !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
}

/* The first call for a request: everything but POST /api/predict is answered here. */
static enum MHD_Result start_request(server *s, struct MHD_Connection *c, request *r,
                                     const char *url, const char *method)
{
    if (!strcmp(url, "/api/predict")) {
        if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
            return respond_error(c, r, 405, "use POST for /api/predict", "POST");
        const char *len = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                      MHD_HTTP_HEADER_CONTENT_LENGTH);
        char *end;
        errno = 0;
        unsigned long long n = len ? strtoull(len, &end, 10) : 0;
        if (len && (errno || *end || n > SERVE_MAX_BODY)) {
            char msg[96];
            snprintf(msg, sizeof msg, "the body is over the limit of %zu bytes", SERVE_MAX_BODY);
            return respond_error(c, r, 413, msg, NULL);
        }
        return MHD_YES; /* the body comes in the next calls */
    }
    bool page = !strcmp(url, "/") || !strcmp(url, "/index.html");
    bool model = !strcmp(url, "/api/model"), health = !strcmp(url, "/healthz");
    if (!page && !model && !health) {
        char msg[SERVE_ERROR_SIZE];
        snprintf(msg, sizeof msg, "no such path: %.*s (try /, /api/predict, /api/model, "
                 "/healthz)", 80, url);
        return respond_error(c, r, 404, msg, NULL);
    }
    if (!is_get(method))
        return respond_error(c, r, 405, "use GET for this path", "GET, HEAD");
    if (page)
        return respond(c, r, 200, "text/html; charset=utf-8", (void *)mn_web_page,
                       mn_web_page_size, MHD_RESPMEM_PERSISTENT, NULL);
    if (health) {
        static char ok[] = "ok\n";
        return respond(c, r, 200, "text/plain; charset=utf-8", ok, sizeof ok - 1,
                       MHD_RESPMEM_PERSISTENT, NULL);
    }
    serve_reply reply;
    serve_api_model(s->pool, s->model_path, &reply);
    return respond_reply(c, r, &reply, NULL);
}

/* Keeps up to SERVE_MAX_BODY bytes of the body; past that, only counts them. */
static bool take_body(request *r, const char *data, size_t n)
{
    r->seen += n;
    if (r->too_big || n > SERVE_MAX_BODY - r->size) {
        r->too_big = true;
        free(r->body);
        r->body = NULL;
        return r->seen <= MAX_DISCARD;
    }
    if (r->size + n > r->cap) {
        size_t cap = r->cap ? r->cap : 16384;
        while (cap < r->size + n)
            cap *= 2;
        cap = cap > SERVE_MAX_BODY ? SERVE_MAX_BODY : cap;
        uint8_t *b = realloc(r->body, cap);
        if (!b)
            return false;
        r->body = b;
        r->cap = cap;
    }
    memcpy(r->body + r->size, data, n);
    r->size += n;
    return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *data_size, void **con_cls)
{
    (void)version;
    server *s = cls;
    request *r = *con_cls;
    if (!r) {
        if (!(r = calloc(1, sizeof *r)))
            return MHD_NO;
        *con_cls = r;
        clock_gettime(CLOCK_MONOTONIC, &r->start);
        snprintf(r->line, sizeof r->line, "%.16s %s", method, url);
        for (char *p = r->line; *p; p++)
            *p = *p >= 0x20 && *p < 0x7f ? *p : '?';
        return start_request(s, c, r, url, method);
    }
    if (*data_size) {
        bool ok = take_body(r, data, *data_size);
        *data_size = 0;
        return ok ? MHD_YES : MHD_NO;
    }
    if (r->too_big) {
        char msg[96];
        snprintf(msg, sizeof msg, "the body is over the limit of %zu bytes", SERVE_MAX_BODY);
        return respond_error(c, r, 413, msg, NULL);
    }
    serve_reply reply;
    serve_api_predict(s->pool, r->body, r->size, &reply);
    return respond_reply(c, r, &reply, NULL);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
    (void)c;
    server *s = cls;
    request *r = *con_cls;
    if (!r)
        return;
    if (s->verbose) {
        if (why == MHD_REQUEST_TERMINATED_COMPLETED_OK)
            fprintf(stderr, "mnist: serve: %s %u %zu bytes %.2f ms\n", r->line, r->status,
                    r->reply_size, ms_since(&r->start));
        else
            fprintf(stderr, "mnist: serve: %s aborted (%s) after %.2f ms\n", r->line,
                    why == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? "timeout"
                    : why == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN ? "shutdown"
                    : why == MHD_REQUEST_TERMINATED_CLIENT_ABORT ? "client closed"
                                                                  : "error",
                    ms_since(&r->start));
    }
    free(r->body);
    free(r);
    *con_cls = NULL;
}

/* Paths are compared as sent: no %-decoding, so "/%00x" is not "/" (no route needs escapes). */
static size_t keep_escapes(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    flockfile(stderr); /* one line, not interleaved with other threads' */
    fputs("mnist: serve: ", stderr);
    vfprintf(stderr, fmt, ap);
    funlockfile(stderr);
}

int cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {{"host", required_argument, 0, 'H'},
                                         {"port", required_argument, 0, 'p'},
                                         {"threads", required_argument, 0, 't'},
                                         {"verbose", no_argument, 0, 'v'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *host = "127.0.0.1";
    long long port = 8080, threads = 0;
    bool verbose = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'H': host = optarg; break;
        case 'p': if (!cli_parse_int("--port", optarg, 0, 65535, &port)) return 2; break;
        case 't': if (!cli_parse_int("--threads", optarg, 0, 256, &threads)) return 2; break;
        case 'v': verbose = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (argc - optind != 1)
        return cli_error("serve: give one model file (usage: mnist serve MODEL [--port N])"), 2;
    const char *path = argv[optind];
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n < 1 ? 1 : n > 64 ? 64 : n;
    }

    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
    int gai = getaddrinfo(host, NULL, &hints, &ai);
    if (gai != 0)
        return cli_error("serve: --host %s: %s", host, gai_strerror(gai)), 2;
    struct sockaddr_storage addr = {0};
    char numeric[NI_MAXHOST];
    memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
    if (getnameinfo(ai->ai_addr, ai->ai_addrlen, numeric, sizeof numeric, NULL, 0,
                    NI_NUMERICHOST) != 0)
        snprintf(numeric, sizeof numeric, "%s", host);
    freeaddrinfo(ai);
    bool v6 = addr.ss_family == AF_INET6;
    if (v6)
        ((struct sockaddr_in6 *)&addr)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)&addr)->sin_port = htons((uint16_t)port);

    server s = {.model_path = path, .verbose = verbose};
    char err[SERVE_ERROR_SIZE];
    if (serve_pool_create(&s.pool, path, (int)threads, err) != MN_OK)
        return cli_error("%s", err);

    /* The signals are taken by sigwait below; the server's threads inherit the mask. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_AUTO | (v6 ? MHD_USE_IPv6 : 0) | (verbose ? MHD_USE_ERROR_LOG : 0);
    errno = 0;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, &s, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, &s, MHD_OPTION_UNESCAPE_CALLBACK,
        keep_escapes, NULL, MHD_OPTION_END);
    if (!d) {
        int e = errno;
        serve_pool_free(s.pool);
        return cli_error("serve: cannot listen on %s port %lld%s%s", host, port,
                         e ? ": " : "", e ? strerror(e) : "");
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned bound = info ? info->port : (unsigned)port;
    printf("serving %s on http://%s%s%s:%u/\n", path, v6 ? "[" : "", numeric, v6 ? "]" : "",
           bound);
    fflush(stdout);

    int sig = 0;
    while (sigwait(&stop, &sig) != 0) {
    }
    fprintf(stderr, "mnist: serve: %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    MHD_stop_daemon(d);
    serve_pool_free(s.pool);
    fprintf(stderr, "mnist: serve: stopped\n");
    return 0;
}
