/* test_fuzz_regressions.c -- one test per finding of the libFuzzer harnesses
 * in tests/fuzz/, each on the input (or the smallest form of it) that found
 * it.  See tests/fuzz/fuzz.mk. */
#include "check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/csv.h"
#include "common/fs.h"
#include "coordinator/db.h"
#include "coordinator/http.h"

/* ---- coordinator/http.c ---- */

/* migrd's HTTP API on 127.0.0.1, a free port, over an empty database in the
 * test's scratch directory; its port in *port. */
static int start_http(http_server **srv, int *port, migr_err *err)
{
    migr_home h = {0};
    sqlite3 *db;
    char addr[600];
    uint8_t *text;
    size_t len;

    snprintf(h.home, sizeof h.home, "%s", check_tmpdir());
    snprintf(h.db, sizeof h.db, "%s/migr.db", check_tmpdir());
    snprintf(h.run, sizeof h.run, "%s", check_tmpdir());
    snprintf(h.keys, sizeof h.keys, "%s/keys", check_tmpdir());
    snprintf(h.http, sizeof h.http, "127.0.0.1:0");
    if (db_open(&db, h.db, err) < 0)
        return -1;
    db_close(&db);
    if (http_start(srv, &h, err) < 0)
        return -1;
    snprintf(addr, sizeof addr, "%s/http.addr", check_tmpdir());
    if (fs_read_file(addr, &text, &len, err) < 0) {
        http_stop(srv);
        return -1;
    }
    *port = atoi(strrchr((char *)text, ':') + 1);
    free(text);
    return 0;
}

/* "GET target" (raw bytes); the answer's status (0 when the server closed
 * without one) and its body, parsed, when it is JSON. */
static unsigned http_get(int port, const char *target, json_t **body)
{
    char req[1024], resp[8192];
    size_t n = 0;
    unsigned status = 0;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {.tv_sec = 10};

    *body = NULL;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
        connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    int len = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                       target);
    if (send(fd, req, (size_t)len, MSG_NOSIGNAL) != len) {
        close(fd);
        return 0;
    }
    for (ssize_t r; n < sizeof resp - 1 && (r = recv(fd, resp + n, sizeof resp - 1 - n, 0)) != 0;) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    resp[n] = '\0';
    if (sscanf(resp, "HTTP/1.1 %3u", &status) != 1)
        return 0;
    const char *text = strstr(resp, "\r\n\r\n");
    if (text)
        *body = json_loads(text + 4, 0, NULL);
    return status;
}

/* Found by fuzz_http: an error message that quotes bytes of the path or
 * query that are not UTF-8 (raw, or a character cut by "%.100s") could not
 * become JSON, so migrd dropped the connection without an answer (logging
 * "out of memory"), and an unknown query parameter named so was served as
 * if it were allowed. */
TEST(http_answers_errors_about_paths_and_queries_that_are_not_utf8)
{
    /* 99 letters and an e-acute: "%.100s" cuts the acute in half */
    char cut[160];
    snprintf(cut, sizeof cut, "/api/v1/runs?%.99s\xc3\xa9=1",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    const char *const target[] = {
        "/api/v1/runs/9999%00\x9e\x8b" "E99",  /* the fuzzer's input, shortened */
        "/api/v1/datasets/\xff",
        "/api/v1/schedules/caf\xc3",
        "/api/v1/nope\xed\xa0\x80",            /* a surrogate, not UTF-8 */
        cut,
    };
    static const unsigned want[] = {400, 404, 404, 404, 400};
    enum { N = sizeof target / sizeof target[0] };
    unsigned got[N];
    json_t *body[N];
    http_server *srv = NULL;
    int port;
    migr_err err;

    CHECK_MSG(start_http(&srv, &port, &err) == 0, "%s", err.msg);
    for (int i = 0; i < N; i++)
        got[i] = http_get(port, target[i], &body[i]);
    http_stop(&srv);
    int bad = -1;
    for (int i = 0; i < N; i++) {
        const char *msg = json_string_value(json_object_get(body[i], "error"));
        if (bad < 0 && !(got[i] == want[i] && msg && strchr(msg, '?')))
            bad = i;
        json_decref(body[i]);
    }
    CHECK_MSG(bad < 0, "GET %s: status %u, expected %u with an error showing the bad bytes as '?'",
              target[bad], got[bad], want[bad]);
}

/* ---- common/csv.c ---- */

/* Found by fuzz_csv timing out (-timeout=10) on a 10 MB manifest: every row
 * sized its storage with strlen() of the whole rest of the text, so reading
 * a manifest took time quadratic in its rows (300,000 rows: minutes, with
 * migrd's one thread blocked).  The storage now grows with the row: after a
 * 200,000-row text it holds about one row, where it held the whole text
 * (checked by size, not by the clock, so a busy machine cannot fail it). */
TEST(csv_row_storage_grows_with_the_row_not_the_rest_of_the_text)
{
    enum { ROWS = 200000 };
    size_t cap = (size_t)ROWS * 48 + 64, o = 0;
    char *text = malloc(cap);
    csv_reader r;
    migr_err err;
    int rows = 0, rc;

    CHECK(text);
    o += (size_t)snprintf(text, cap, "path,label,subtitle\n");
    for (int i = 0; i < ROWS; i++)
        o += (size_t)snprintf(text + o, cap - o, "media/clip_%06d.mp4,happy,\"Hi, there\"\n", i);
    csv_init(&r, text);
    while ((rc = csv_next(&r, &err)) == 1)
        rows += r.nfields == 3 && !strcmp(r.field[2], "Hi, there");
    size_t storage = r.cap;
    csv_free(&r);
    free(text);
    CHECK_MSG(rc == 0, "%s", err.msg);
    CHECK_INT(ROWS + 1, rows + 1);  /* the header has no "Hi, there" */
    CHECK_MSG(storage < 4096, "the row storage is %zu bytes after rows of under 64 (the text is %zu)", storage, o);
}
