/* http.c -- see http.h.
 *
 * One libmicrohttpd daemon with one internal thread.  Every request is
 * answered from that thread, so the read-only SQLite connection is used by it
 * alone and needs no lock.  Each GET runs its queries inside one read
 * transaction, so a page shows one consistent snapshot, and the whole body is
 * built in memory before the transaction ends. */
#include "coordinator/http.h"

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <microhttpd.h>
#include <sodium.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "common/fs.h"
#include "common/log.h"
#include "coordinator/dashboard.h"
#include "coordinator/db.h"
#include "coordinator/prom.h"
#include "coordinator/schedules.h"
#include "coordinator/views.h"

#define CONNECTION_LIMIT   64
#define CONNECTION_TIMEOUT 30 /* seconds */
#define MAX_PATH_LEN       512
#define MAX_HEADER_BYTES   (16 * 1024)
/* Room for a request far over both limits above, so that MHD hands it to
 * us and the client gets our JSON 414 or 431, not MHD's HTML page (which
 * only a request over this still gets). */
#define CONNECTION_MEMORY  (256 * 1024)
#define HTTP_TOKEN_BYTES   32

struct http_server {
    struct MHD_Daemon *daemon;
    sqlite3 *db;              /* read-only; used only from MHD's thread */
    char addr_path[PATH_MAX]; /* run/http.addr, removed on stop */
    char start_error[256];    /* MHD's last log line; read only when start failed */
    char token[2 * HTTP_TOKEN_BYTES + 1]; /* hex; "" when none is needed (loopback) */
    char token_path[PATH_MAX + 16];
    char *tls_cert, *tls_key; /* PEM, owned; NULL without TLS */
};

/* ---- Response bodies ------------------------------------------------------ */

/* A response owning body (malloc'd; consumed, also on failure) with the given
 * Content-Type; NULL when out of memory. */
static struct MHD_Response *owned_response(char *body, size_t len, const char *type)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return NULL;
    }
    if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type) != MHD_YES ||
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES) {
        MHD_destroy_response(r);
        return NULL;
    }
    return r;
}

/* v as compact JSON plus a newline, with an ETag of its bytes (the first
 * 16 bytes of their SHA-256, in hex), so that a poller can ask
 * If-None-Match and get 304 while nothing changed.  Consumes v; NULL when
 * out of memory. */
static struct MHD_Response *json_response(json_t *v)
{
    size_t len = v ? json_dumpb(v, NULL, 0, JSON_COMPACT) : 0;
    char *body = len ? malloc(len + 1) : NULL;
    unsigned char sum[crypto_hash_sha256_BYTES];
    char tag[2 * 16 + 3];

    if (!body || json_dumpb(v, body, len, JSON_COMPACT) != len) {
        free(body);
        json_decref(v);
        return NULL;
    }
    json_decref(v);
    body[len] = '\n';
    crypto_hash_sha256(sum, (const unsigned char *)body, len + 1);
    tag[0] = '"';
    for (int i = 0; i < 16; i++)
        snprintf(tag + 1 + 2 * i, 3, "%02x", sum[i]);
    snprintf(tag + 33, 2, "\"");
    struct MHD_Response *r = owned_response(body, len + 1, "application/json");
    if (r && MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, tag) != MHD_YES) {
        MHD_destroy_response(r);
        return NULL;
    }
    return r;
}

/* The length of the UTF-8 sequence at s (as JSON strings must be: no
 * overlong forms, surrogates or code points above U+10FFFF), 0 if none. */
static size_t utf8_sequence(const unsigned char *s)
{
    unsigned char c = s[0];
    size_t n = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
             : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    unsigned char lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
    unsigned char hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;

    if (n > 1 && (s[1] < lo || s[1] > hi))
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return n;
}

/* {"error": "<message>"} with *status set to code.  Messages quote the
 * client's path and query, which may be any bytes, and may be cut short:
 * each byte that is not part of a whole UTF-8 sequence becomes '?', so the
 * message is a JSON string and the client gets its answer. */
static struct MHD_Response *error_response(unsigned *status, unsigned code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static struct MHD_Response *error_response(unsigned *status, unsigned code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (unsigned char *p = (unsigned char *)msg; *p;) {
        size_t n = utf8_sequence(p);
        if (n == 0)
            *p++ = '?';
        else
            p += n;
    }
    *status = code;
    return json_response(json_pack("{s:s}", "error", msg));
}

/* The answer to a view: the JSON (200), or 404 when the thing is missing, or
 * 500 when the database failed.  Consumes v. */
static struct MHD_Response *view_response(json_t *v, int missing, const migr_err *err,
                                          unsigned *status)
{
    if (v) {
        *status = MHD_HTTP_OK;
        return json_response(v);
    }
    if (missing)
        return error_response(status, MHD_HTTP_NOT_FOUND, "%s", err->msg);
    log_warn("http: %s", err->msg);
    return error_response(status, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", err->msg);
}

static struct MHD_Response *metrics_response(http_server *srv, unsigned *status)
{
    char *text;
    size_t len;
    migr_err err;

    if (prom_page(srv->db, &text, &len, &err) < 0) {
        log_warn("http: %s", err.msg);
        return error_response(status, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", err.msg);
    }
    *status = MHD_HTTP_OK;
    return owned_response(text, len, "text/plain; version=0.0.4; charset=utf-8");
}

/* ---- / : the dashboard (coordinator/dashboard/, embedded) ---------------- */

/* The dashboard file at path, or NULL when there is none. */
static const dashboard_file *dashboard_find(const char *path)
{
    for (int i = 0; i < dashboard_file_count; i++)
        if (!strcmp(dashboard_files[i].path, path))
            return &dashboard_files[i];
    return NULL;
}

static struct MHD_Response *dashboard_response(const dashboard_file *f, unsigned *status)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(f->len, (void *)f->data, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return NULL;
    if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, f->type) != MHD_YES) {
        MHD_destroy_response(r);
        return NULL;
    }
    *status = MHD_HTTP_OK;
    return r;
}

/* ---- /api/v1 -------------------------------------------------------------- */

/* A run id: an optional '-' and decimal digits that fit in int64_t.  0 or -1. */
static int parse_run_id(const char *s, int64_t *id)
{
    const char *d = *s == '-' ? s + 1 : s;
    char *end;

    if (*d < '0' || *d > '9')
        return -1;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno == ERANGE || *end != '\0')
        return -1;
    *id = v;
    return 0;
}

/* A request's query arguments, checked against what its path takes. */
typedef struct query {
    struct MHD_Connection *conn;
    const char *const *allowed;   /* NULL-terminated */
    const char *unknown;          /* the first argument not allowed */
} query;

static enum MHD_Result check_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    query *q = cls;
    (void)kind, (void)value;
    for (int i = 0; q->allowed[i]; i++)
        if (!strcmp(key, q->allowed[i]))
            return MHD_YES;
    q->unknown = key;
    return MHD_NO;
}

/* NULL if every query argument is one of allowed; else the 400 naming it. */
static struct MHD_Response *refuse_args(struct MHD_Connection *conn, const char *const *allowed, const char *path,
                                        unsigned *status)
{
    query q = {conn, allowed, NULL};
    char list[256] = "";
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, check_arg, &q);
    if (!q.unknown)
        return NULL;
    for (int i = 0; allowed[i]; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", allowed[i]);
    return error_response(status, MHD_HTTP_BAD_REQUEST, "query parameter \"%.100s\" is not one %s takes (%s)",
                          q.unknown, path, list[0] ? list : "it takes none");
}

/* A query argument as a count >= 0 into *out (untouched when absent); -1 when it is not one. */
static int arg_count(struct MHD_Connection *conn, const char *key, int64_t *out)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, key);
    char *end;
    if (!v)
        return 0;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (*v < '0' || *v > '9' || *end || errno == ERANGE)
        return -1;
    *out = n;
    return 0;
}

/* /api/v1/runs?state=&kind=&tag=&name=&limit=&before= */
static struct MHD_Response *runs_response(http_server *srv, struct MHD_Connection *conn, unsigned *status)
{
    static const char *const allowed[] = {"state", "kind", "tag", "name", "limit", "before", NULL};
    struct MHD_Response *r = refuse_args(conn, allowed, "/api/v1/runs", status);
    run_filter f = {0};
    migr_err err;
    if (r)
        return r;
    f.state = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "state");
    f.kind = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "kind");
    f.tag = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "tag");
    f.name = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "name");
    f.limit = -1;
    if (arg_count(conn, "limit", &f.limit) < 0 || arg_count(conn, "before", &f.before) < 0 || f.limit == 0)
        return error_response(status, MHD_HTTP_BAD_REQUEST, "limit is a whole number >= 1 and before one >= 0");
    if (f.limit < 0)
        f.limit = 0;  /* absent: every run */
    if (run_filter_check(&f, &err) < 0)
        return error_response(status, MHD_HTTP_BAD_REQUEST, "%s", err.msg);
    return view_response(view_runs(srv->db, &f, &err), 0, &err, status);
}

/* /api/v1/runs/{id} and /api/v1/runs/{id}/metrics[?since=STEP]; rest is
 * "{id}[/...]" and is modified. */
static struct MHD_Response *run_response(http_server *srv, struct MHD_Connection *conn, char *rest,
                                         unsigned *status)
{
    static const char *const none[] = {NULL}, *const since[] = {"since", NULL};
    char *tail = strchr(rest, '/');
    int64_t id;
    int missing = 0;
    migr_err err;

    if (tail)
        *tail++ = '\0';
    if (tail && strcmp(tail, "metrics") != 0)
        return error_response(status, MHD_HTTP_NOT_FOUND, "no such path /api/v1/runs/%s/%s",
                              rest, tail);
    if (parse_run_id(rest, &id) < 0)
        return error_response(status, MHD_HTTP_BAD_REQUEST, "run id \"%s\" is not an integer",
                              rest);
    struct MHD_Response *r = refuse_args(conn, tail ? since : none, tail ? "/api/v1/runs/{id}/metrics"
                                                                        : "/api/v1/runs/{id}", status);
    int64_t from = 0;
    if (r)
        return r;
    if (arg_count(conn, "since", &from) < 0)
        return error_response(status, MHD_HTTP_BAD_REQUEST, "since is a step number >= 0");
    json_t *run = view_run(srv->db, id, &missing, &err);
    if (!run || !tail)
        return view_response(run, missing, &err, status);
    json_decref(run);
    return view_response(view_run_metrics(srv->db, id, from, &err), 0, &err, status);
}

/* Everything under /api/v1/; rest is the part after it and is modified. */
static struct MHD_Response *api_response(http_server *srv, struct MHD_Connection *conn, char *rest,
                                         unsigned *status)
{
    static const char *const none[] = {NULL};
    int missing = 0;
    migr_err err;

    if (!strcmp(rest, "runs"))
        return runs_response(srv, conn, status);
    if (!strncmp(rest, "runs/", 5))
        return run_response(srv, conn, rest + 5, status);
    struct MHD_Response *r = refuse_args(conn, none, rest, status);
    if (r)
        return r;
    if (!strcmp(rest, "schedules"))
        return view_response(schedule_view_all(srv->db, &err), 0, &err, status);
    if (!strncmp(rest, "schedules/", 10) && !strchr(rest + 10, '/')) {
        json_t *s = schedule_view(srv->db, rest + 10, 1, &missing, &err);
        return view_response(s, missing, &err, status);
    }
    if (!strcmp(rest, "datasets"))
        return view_response(view_datasets(srv->db, &err), 0, &err, status);
    if (!strncmp(rest, "datasets/", 9) && !strchr(rest + 9, '/')) {
        /* Two statements: missing is read only after view_dataset() set it. */
        json_t *dataset = view_dataset(srv->db, rest + 9, &missing, &err);
        return view_response(dataset, missing, &err, status);
    }
    if (!strcmp(rest, "workers"))
        return view_response(view_workers(srv->db, &err), 0, &err, status);
    return error_response(status, MHD_HTTP_NOT_FOUND, "no such path /api/v1/%s", rest);
}

/* The response to GET url (one trailing slash ignored), with *status set;
 * NULL when out of memory. */
static struct MHD_Response *route(http_server *srv, struct MHD_Connection *conn, const char *url, unsigned *status)
{
    static const char *const none[] = {NULL};
    char path[MAX_PATH_LEN];
    size_t n = strlen(url);

    if (n >= sizeof path)
        return error_response(status, MHD_HTTP_URI_TOO_LONG,
                              "the path is %zu bytes long; no path here is over %d", n, MAX_PATH_LEN - 1);
    memcpy(path, url, n + 1);
    if (n > 1 && path[n - 1] == '/')
        path[n - 1] = '\0';
    if (!strncmp(path, "/api/v1/", 8))
        return api_response(srv, conn, path + 8, status);
    struct MHD_Response *r = refuse_args(conn, none, path, status);
    if (r)
        return r;
    const dashboard_file *page = dashboard_find(path);
    if (page)
        return dashboard_response(page, status);
    if (!strcmp(path, "/metrics"))
        return metrics_response(srv, status);
    return error_response(status, MHD_HTTP_NOT_FOUND,
                          "no such path %s; see /api/v1/runs, /api/v1/datasets, /api/v1/workers, "
                          "/api/v1/schedules, /metrics or /",
                          path);
}

/* route() inside one read transaction, so that the queries of a page see one
 * snapshot of the database. */
static struct MHD_Response *route_snapshot(http_server *srv, struct MHD_Connection *conn, const char *url,
                                           unsigned *status)
{
    if (sqlite3_exec(srv->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        log_warn("http: cannot begin a read transaction: %s", sqlite3_errmsg(srv->db));
        return error_response(status, MHD_HTTP_INTERNAL_SERVER_ERROR,
                              "cannot read the database: %s", sqlite3_errmsg(srv->db));
    }
    struct MHD_Response *r = route(srv, conn, url, status);
    /* Reads only: ending the transaction cannot lose anything, and a failure
     * leaves autocommit mode, which the next BEGIN would report. */
    if (sqlite3_exec(srv->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        db_rollback(srv->db);
    return r;
}

/* MHD's unescaper for paths and query strings: %XX becomes its byte only
 * when that is printable ASCII, so a path never holds a NUL that would cut
 * it short (/api/v1/datasets/%00 is not /api/v1/datasets) nor bytes that
 * are not text.  Returns the new length. */
static size_t unescape_printable(void *cls, struct MHD_Connection *conn, char *s)
{
    char *out = s;
    (void)cls, (void)conn;
    for (const char *in = s; *in; in++) {
        unsigned byte;
        if (in[0] == '%' && isxdigit((unsigned char)in[1]) && isxdigit((unsigned char)in[2]) &&
            sscanf(in + 1, "%2x", &byte) == 1 && byte >= 0x20 && byte < 0x7f) {
            *out++ = (char)byte;
            in += 2;
        } else {
            *out++ = *in;
        }
    }
    *out = '\0';
    return (size_t)(out - s);
}

/* A request's headers, summed up by MHD's iterator. */
typedef struct request_extras {
    size_t header_bytes;
} request_extras;

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    request_extras *x = cls;
    (void)kind;
    x->header_bytes += strlen(key) + (value ? strlen(value) : 0) + 4;
    return MHD_YES;
}

/* Refuse a GET whose headers are too large: 1 with *r the JSON refusal
 * (NULL when out of memory), 0 when it may be routed. */
static int refuse_extras(struct MHD_Connection *conn, struct MHD_Response **r, unsigned *status)
{
    request_extras x = {0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, count_header, &x);
    if (x.header_bytes > MAX_HEADER_BYTES) {
        *r = error_response(status, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE,
                            "the request's headers take %zu bytes; send at most %d",
                            x.header_bytes, MAX_HEADER_BYTES);
        return 1;
    }
    return 0;
}

/* Beyond loopback every path but the dashboard's static files needs
 * "Authorization: Bearer TOKEN": 1 with *r the 401 when it is missing or
 * wrong (compared in constant time), 0 when the request may go on. */
static int refuse_unauthorized(http_server *srv, struct MHD_Connection *conn, const char *url,
                               struct MHD_Response **r, unsigned *status)
{
    if (!srv->token[0] || dashboard_find(url))
        return 0;
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    size_t n = strlen(srv->token);
    if (auth && !strncmp(auth, "Bearer ", 7) && strlen(auth + 7) == n && sodium_memcmp(auth + 7, srv->token, n) == 0)
        return 0;
    *r = error_response(status, MHD_HTTP_UNAUTHORIZED,
                        "%s: send \"Authorization: Bearer TOKEN\" with the token in %s on migrd's host",
                        auth ? "the bearer token is wrong" : "this address needs a bearer token",
                        srv->token_path);
    if (*r && MHD_add_response_header(*r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"migr\"") != MHD_YES) {
        MHD_destroy_response(*r);
        *r = NULL;
    }
    return 1;
}

/* r (consumed) or, when it is a 200 whose ETag the request's If-None-Match
 * names, an empty 304 with that ETag. */
static struct MHD_Response *not_modified(struct MHD_Connection *conn, struct MHD_Response *r, unsigned *status)
{
    const char *tag = r && *status == MHD_HTTP_OK ? MHD_get_response_header(r, MHD_HTTP_HEADER_ETAG) : NULL;
    const char *asked = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    if (!tag || !asked || (strcmp(asked, tag) != 0 && strcmp(asked, "*") != 0))
        return r;
    struct MHD_Response *empty = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (empty && MHD_add_response_header(empty, MHD_HTTP_HEADER_ETAG, tag) != MHD_YES) {
        MHD_destroy_response(empty);
        empty = NULL;
    }
    MHD_destroy_response(r);
    if (empty)
        *status = MHD_HTTP_NOT_MODIFIED;
    return empty;
}

/* MHD's access handler: GET and HEAD are routed, anything else is 405.  A
 * GET is answered on the second call, once the whole request is read, so
 * the connection can be kept alive; another method is refused at once,
 * without reading its body (MHD then closes the connection). */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    static int headers_seen; /* an address that marks a request's first call */
    http_server *srv = cls;
    struct MHD_Response *r;
    unsigned status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    int get = !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);

    (void)version, (void)upload_data;
    if (get && *req_cls == NULL) {
        *req_cls = &headers_seen;
        return MHD_YES;
    }
    if (get && *upload_data_size != 0) {
        *upload_data_size = 0; /* a GET body means nothing here; skip it */
        return MHD_YES;
    }
    if (get) {
        if (!refuse_extras(conn, &r, &status) && !refuse_unauthorized(srv, conn, url, &r, &status))
            r = route_snapshot(srv, conn, url, &status);
        r = not_modified(conn, r, &status);
    } else {
        r = error_response(&status, MHD_HTTP_METHOD_NOT_ALLOWED,
                           "method %s not allowed; the HTTP API is read-only (GET)", method);
        if (r && MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") != MHD_YES) {
            MHD_destroy_response(r);
            r = NULL;
        }
    }
    if (!r) {
        log_warn("http: out of memory answering %s %s", method, url);
        return MHD_NO; /* MHD closes the connection */
    }
    log_debug("http: %s %s -> %u", method, url, status);
    enum MHD_Result ok = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ok;
}

/* ---- Start and stop ------------------------------------------------------- */

/* MHD's own messages go to our log; the last one also explains a failed start. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    http_server *srv = cls;
    char line[sizeof srv->start_error];

    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    memcpy(srv->start_error, line, sizeof line);
    log_warn("http: %s", line);
}

/* "HOST:PORT" with an IPv4 HOST and a PORT in 0..65535 into sa.  0 or -1. */
static int parse_addr(const char *spec, struct sockaddr_in *sa, migr_err *err)
{
    const char *colon = strrchr(spec, ':');
    char host[INET_ADDRSTRLEN];
    long port = 0;

    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    if (!colon || colon == spec || (size_t)(colon - spec) >= sizeof host || colon[1] == '\0' ||
        strlen(colon + 1) > 5 || strspn(colon + 1, "0123456789") != strlen(colon + 1))
        goto bad;
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = '\0';
    port = strtol(colon + 1, NULL, 10);
    if (port > 65535 || inet_pton(AF_INET, host, &sa->sin_addr) != 1)
        goto bad;
    sa->sin_port = htons((uint16_t)port);
    return 0;
bad:
    return migr_errf(err,
                     "MIGR_HTTP=\"%s\" is not HOST:PORT with an IPv4 HOST and a PORT from 0 to "
                     "65535 (e.g. 127.0.0.1:7870; port 0 picks a free one), nor \"off\"",
                     spec);
}

/* Start MHD on sa; on failure the error says why, with MHD's own reason. */
static int start_daemon(http_server *srv, const struct sockaddr_in *sa, const char *spec,
                        migr_err *err)
{
    /* The logger comes first: MHD uses its default logger for anything it
     * reports while parsing the options before it. */
    struct MHD_OptionItem tls[] = {
        {srv->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, srv->tls_cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls_key},
        {MHD_OPTION_END, 0, NULL},
    };
    srv->daemon = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG | (srv->tls_cert ? MHD_USE_TLS : 0),
        ntohs(sa->sin_port), NULL, NULL,
        on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv, MHD_OPTION_ARRAY, tls, MHD_OPTION_SOCK_ADDR,
        (const struct sockaddr *)sa, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)CONNECTION_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)CONNECTION_TIMEOUT, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)CONNECTION_MEMORY, MHD_OPTION_UNESCAPE_CALLBACK, unescape_printable, NULL,
        MHD_OPTION_END);
    if (!srv->daemon)
        return migr_errf(err, "cannot serve the HTTP API on %s (MIGR_HTTP): %s; choose another "
                              "address, or MIGR_HTTP=off",
                         spec, srv->start_error[0] ? srv->start_error : "libmicrohttpd failed");
    return 0;
}

/* Write "HOST:PORT\n" of the running daemon to run/http.addr and log it. */
static int publish_addr(http_server *srv, const migr_home *home, const struct sockaddr_in *sa,
                        migr_err *err)
{
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    char host[INET_ADDRSTRLEN], line[INET_ADDRSTRLEN + 8];

    if (!info || info->port == 0)
        return migr_errf(err, "the HTTP API started but its port is unknown");
    if (!inet_ntop(AF_INET, &sa->sin_addr, host, sizeof host))
        return migr_errf(err, "cannot format the HTTP address: %s", strerror(errno));
    snprintf(line, sizeof line, "%s:%u\n", host, (unsigned)info->port);
    if (fs_join(srv->addr_path, sizeof srv->addr_path, home->run, "http.addr") < 0)
        return migr_errf(err, "path too long: %s/http.addr", home->run);
    const void *bufs[] = {line};
    const size_t lens[] = {strlen(line)};
    if (fs_write_atomic(srv->addr_path, bufs, lens, 1, err) < 0) {
        srv->addr_path[0] = '\0';
        return migr_err_wrap(err, "publishing the HTTP address");
    }
    line[strlen(line) - 1] = '\0';
    log_info("HTTP API on %s://%s/%s", srv->tls_cert ? "https" : "http", line,
             srv->token[0] ? " (bearer token required)" : "");
    return 0;
}

/* The bearer token of a non-loopback address: read from token_path, or
 * made there (32 random bytes in hex, mode 0600) on first use. */
static int load_token(http_server *srv, const migr_home *home, migr_err *err)
{
    uint8_t *text = NULL, raw[HTTP_TOKEN_BYTES];
    size_t len;
    const char *env = getenv("MIGR_HTTP_TOKEN_FILE");

    if (env && *env)
        snprintf(srv->token_path, sizeof srv->token_path, "%s", env);
    else if (snprintf(srv->token_path, sizeof srv->token_path, "%s/http.token", home->keys) >=
             (int)sizeof srv->token_path)
        return migr_errf(err, "MIGR_HOME is too long a path");
    if (access(srv->token_path, F_OK) == 0) {
        if (fs_read_file(srv->token_path, &text, &len, err) < 0)
            return migr_err_wrap(err, "reading the HTTP token");
        while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
            text[--len] = '\0';
        int ok = len >= 16 && len < sizeof srv->token && strspn((char *)text, "0123456789abcdefABCDEF") == len;
        if (ok)
            memcpy(srv->token, text, len + 1);
        sodium_memzero(text, len);
        free(text);
        if (!ok)
            return migr_errf(err, "%s does not hold an HTTP token (16 to %d hex digits); remove it and "
                             "migrd makes a new one", srv->token_path, 2 * HTTP_TOKEN_BYTES);
        return 0;
    }
    if (mkdir(home->keys, 0700) < 0 && errno != EEXIST)
        return migr_errf(err, "cannot create %s: %s", home->keys, strerror(errno));
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(srv->token, sizeof srv->token, raw, sizeof raw);
    char line[sizeof srv->token + 1];
    snprintf(line, sizeof line, "%s\n", srv->token);
    int fd = open(srv->token_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    ssize_t w = fd < 0 ? -1 : write(fd, line, strlen(line));
    int ok = fd >= 0 && w == (ssize_t)strlen(line) && fsync(fd) == 0;
    if (fd >= 0 && close(fd) < 0)
        ok = 0;
    if (!ok)
        return migr_errf(err, "cannot write the HTTP token %s: %s", srv->token_path, strerror(errno));
    log_info("made the HTTP bearer token %s", srv->token_path);
    return 0;
}

/* TLS from MIGR_HTTP_CERT and MIGR_HTTP_KEY (PEM files) when both are set;
 * beyond loopback, a bearer token (load_token). */
static int setup_trust(http_server *srv, const migr_home *home, int loopback, migr_err *err)
{
    const char *cert = getenv("MIGR_HTTP_CERT"), *key = getenv("MIGR_HTTP_KEY");
    size_t len;

    if ((cert && *cert) != (key && *key))
        return migr_errf(err, "set both MIGR_HTTP_CERT and MIGR_HTTP_KEY (PEM files) for HTTPS, or neither");
    if (cert && *cert) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
            return migr_errf(err, "this libmicrohttpd has no TLS support; unset MIGR_HTTP_CERT and "
                             "MIGR_HTTP_KEY, or serve HTTPS through a proxy");
        if (fs_read_file(cert, (uint8_t **)&srv->tls_cert, &len, err) < 0 ||
            fs_read_file(key, (uint8_t **)&srv->tls_key, &len, err) < 0)
            return migr_err_wrap(err, "reading the HTTPS certificate and key");
    }
    if (loopback)
        return 0;
    if (load_token(srv, home, err) < 0)
        return -1;
    if (!srv->tls_cert)
        log_warn("HTTP on %s without TLS: the bearer token crosses the network in clear; set "
                 "MIGR_HTTP_CERT and MIGR_HTTP_KEY for HTTPS", home->http);
    return 0;
}

int http_start(http_server **out, const migr_home *home, migr_err *err)
{
    struct sockaddr_in sa;
    http_server *srv;

    assert(out && home);
    *out = NULL;
    if (!strcmp(home->http, "off")) {
        log_info("HTTP API off (MIGR_HTTP=off)");
        return 0;
    }
    if (parse_addr(home->http, &sa, err) < 0)
        return -1;
    srv = calloc(1, sizeof *srv);
    if (!srv)
        return migr_errf(err, "out of memory starting the HTTP API");
    if (db_open_readonly(&srv->db, home->db, err) < 0) {
        migr_err_wrap(err, "starting the HTTP API");
        goto fail;
    }
    if (setup_trust(srv, home, (ntohl(sa.sin_addr.s_addr) >> 24) == 127, err) < 0 ||
        start_daemon(srv, &sa, home->http, err) < 0 || publish_addr(srv, home, &sa, err) < 0)
        goto fail;
    *out = srv;
    return 0;
fail:
    http_stop(&srv);
    return -1;
}

void http_stop(http_server **srv)
{
    if (!srv || !*srv)
        return;
    if ((*srv)->daemon)
        MHD_stop_daemon((*srv)->daemon);
    db_close(&(*srv)->db);
    free((*srv)->tls_cert);
    if ((*srv)->tls_key)
        sodium_memzero((*srv)->tls_key, strlen((*srv)->tls_key));
    free((*srv)->tls_key);
    if ((*srv)->addr_path[0] && unlink((*srv)->addr_path) < 0 && errno != ENOENT)
        log_warn("http: cannot remove %s: %s", (*srv)->addr_path, strerror(errno));
    free(*srv);
    *srv = NULL;
}
