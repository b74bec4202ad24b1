/* fuzz_http.c -- request targets (paths and query strings) as migrd's HTTP
 * API takes them (coordinator/http.c).
 *
 * http.c's routing is static and reads the query through libmicrohttpd's
 * connection (MHD_lookup_connection_value, its own unescape callback), so
 * there is no string-in, response-out function to call without writing a
 * second copy of that parsing.  Instead the harness starts the real server
 * in-process, once: http_start on 127.0.0.1 port 0 over a SQLite database
 * made by db_open in its scratch directory and filled with a few datasets,
 * clips, runs (metrics, checkpoints, an evaluation, tags), a schedule,
 * workers and tasks.  Each input becomes the request target of one
 * "GET <target> HTTP/1.1" on a new loopback connection (bytes that would end
 * the request line -- controls, space, DEL -- sent as %XX, a leading '/'
 * added when missing); the harness reads the whole answer.
 *
 * Every GET must be answered with a status line (a request migrd drops
 * without one is a failure), and every answer that says it is JSON must
 * parse as JSON. */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "common/fs.h"
#include "common/log.h"
#include "coordinator/db.h"
#include "coordinator/http.h"
#include "tests/fuzz/fuzz_util.h"

static http_server *srv;
static int port;

static const char fixture[] =
    "INSERT INTO datasets (id, name, source, manifest, annotations, state, error, synth_seed, "
    "  created_ms, finished_ms, mi_tau) VALUES "
    " (1, 'demo-200', 'synth', '/data/demo/manifest.csv', '/data/demo/annotations.jsonl', 'ready', "
    "  NULL, 7, 1767225600000, 1767225660000, 0.1),"
    " (2, 'raw.set_2', 'manifest', '/data/raw/manifest.csv', NULL, 'featurizing', NULL, NULL, "
    "  1767225700000, NULL, NULL),"
    " (3, 'broken', 'manifest', '/data/b/m.csv', NULL, 'failed', 'line 3: unknown label', NULL, "
    "  1767225800000, 1767225801000, NULL);"
    "INSERT INTO clips (id, dataset_id, idx, path, label, subtitle, annotation, state, error, "
    "  features, sha256, has_audio, mi_visual, mi_audio, mi_text, mi_dominant) VALUES "
    " (1, 1, 0, '/data/demo/media/clip_000000.mp4', 'happy', 'We won!', "
    "  '{\"clip\":\"media/clip_000000.mp4\",\"dominant\":\"visual\",\"think\":\"She smiles.\"}', "
    "  'featurized', NULL, 'datasets/demo-200/features/000000.feat', 'ab', 1, 0.8, 0.1, 0.1, 'visual'),"
    " (2, 1, 1, '/data/demo/media/clip_000001.mp4', 'sad', NULL, "
    "  '{\"clip\":\"media/clip_000001.mp4\",\"dominant\":\"audio\"}', 'featurized', NULL, "
    "  'datasets/demo-200/features/000001.feat', 'cd', 0, 0.3, 0.35, 0.35, 'multimodal'),"
    " (3, 1, 2, '/data/demo/media/clip_000002.mp4', 'fear', NULL, NULL, 'failed', "
    "  'no video stream', NULL, NULL, NULL, NULL, NULL, NULL, NULL),"
    " (4, 2, 0, '/data/raw/a.mp4', 'neutral', 'Hello, there.', NULL, 'pending', NULL, NULL, NULL, "
    "  NULL, NULL, NULL, NULL, NULL);"
    "INSERT INTO schedules (id, name, cron, tz, policy, deadline_s, config, paused, next_ms, "
    "  last_ms, fired, missed, skipped, last_error, created_ms) VALUES "
    " (1, 'nightly', '0 2 * * *', 'Europe/Berlin', 'forbid', 600, "
    "  '{\"name\":\"nightly-sft\",\"kind\":\"sft\",\"dataset\":\"demo-200\"}', 0, 1767315600000, "
    "  1767229200000, 1, 0, 0, NULL, 1767225600000),"
    " (2, 'paused-one', '@hourly', 'UTC', 'allow', NULL, '{}', 1, NULL, NULL, 0, 2, 1, "
    "  'dataset x is not ready', 1767225600000);"
    "INSERT INTO runs (id, name, kind, state, step, steps, config, error, created_ms, finished_ms, "
    "  dataset_id, seed, started_ms, schedule_id, scheduled_ms, tags) VALUES "
    " (1, 'sft-baseline', 'sft', 'succeeded', 3, 3, "
    "  '{\"name\":\"sft-baseline\",\"kind\":\"sft\",\"dataset\":\"demo-200\",\"seed\":1,"
    "\"train\":{\"steps\":3,\"lr\":0.003}}', NULL, 1767225600000, 1767225900000, 1, 1, "
    "  1767225601000, NULL, NULL, '[\"nightly\",\"base\"]'),"
    " (2, 'grpo-a', 'grpo', 'running', 1, 10, '{\"kind\":\"grpo\"}', NULL, 1767226000000, NULL, 1, "
    "  2, 1767226001000, NULL, NULL, '[]'),"
    " (3, 'eval-1', 'eval', 'succeeded', 1, 1, '{\"kind\":\"eval\"}', NULL, 1767227000000, "
    "  1767227100000, 1, 3, 1767227001000, NULL, NULL, '{\"not\": \"a list\"}'),"
    " (4, 'nightly-sft', 'sft', 'queued', 0, 200, 'null', NULL, 1767229200000, NULL, 1, 4, NULL, 1, "
    "  1767229200000, '[\"nightly\"]'),"
    " (5, 'failed-run', 'sft', 'failed', 0, 200, '{}', 'dataset demo-200 has no clips', "
    "  1767229300000, 1767229301000, NULL, 5, NULL, NULL, NULL, '[1, 2]');"
    "INSERT INTO run_clips (run_id, clip_id, split, ord) VALUES (1, 1, 'train', 0), "
    "  (1, 2, 'holdout', 0);"
    "INSERT INTO metrics (run_id, step, name, value) VALUES (1, 1, 'loss', 2.5), "
    "  (1, 1, 'lr', 0.001), (1, 2, 'loss', 2.1), (1, 2, 'grad_norm', 0.9), (1, 3, 'loss', 1.7), "
    "  (1, 3, 'tokens_per_s', 1234.5), (2, 1, 'reward', 0.25);"
    "INSERT INTO checkpoints (run_id, step, path, sha256, created_ms) VALUES "
    "  (1, 3, 'runs/1/ckpt/000003.ckpt', 'aa', 1767225900000);"
    "INSERT INTO evals (run_id, source_run, ckpt_step, ckpt_path, ckpt_sha256, dataset_id, clips, "
    "  metrics, created_ms) VALUES (3, 1, 3, 'runs/1/ckpt/000003.ckpt', 'aa', 1, 2, "
    "  '{\"war\":0.5,\"uar\":0.5}', 1767227000000);"
    "INSERT INTO workers (id, host, pid, concurrency, state, first_ms, last_ms) VALUES "
    "  ('host-a.1', 'host-a', 101, 2, 'alive', 1767225600000, 1767229300000), "
    "  ('host-b.7', 'host-b', 7, 1, 'dead', 1767225600000, 1767225700000);"
    "INSERT INTO tasks (id, owner, owner_id, kind, subject, params, state, attempts, max_attempts, "
    "  lease, worker, leased_ms, error, output) VALUES "
    "  (1, 'run', 2, 'rollout', 0, '{}', 'leased', 1, 3, 77, 'host-a.1', 1767229300000, NULL, NULL), "
    "  (2, 'dataset', 1, 'instruments', 0, '{}', 'done', 1, 3, NULL, NULL, NULL, NULL, "
    "   '{\"judge_accuracy\":0.1,\"verifier_accuracy\":0.9}'), "
    "  (3, 'dataset', 2, 'featurize', 4, '{}', 'queued', 0, 3, NULL, NULL, NULL, NULL, NULL);"
    "INSERT INTO events (at_ms, kind, owner, owner_id, task_id, detail) VALUES "
    "  (1767226100000, 'grpo.sample', 'run', 2, 1, '<think>The voice trembles.</think>'), "
    "  (1767226200000, 'run.warning', 'run', 2, NULL, 'no gradient');";

static void stop_server(void)
{
    http_stop(&srv);
}

static void start_server(void)
{
    migr_home h = {0};
    migr_err err = {{0}};
    sqlite3 *db;
    const char *dir = fuzz_tmpdir();
    char addr[600];
    uint8_t *text;
    size_t len;

    log_init("fuzz_http", "error");
    snprintf(h.home, sizeof h.home, "%s", dir);
    snprintf(h.db, sizeof h.db, "%s/migr.db", dir);
    snprintf(h.run, sizeof h.run, "%s", dir);
    snprintf(h.keys, sizeof h.keys, "%s/keys", dir);
    snprintf(h.http, sizeof h.http, "127.0.0.1:0");
    if (db_open(&db, h.db, &err) < 0 ||
        sqlite3_exec(db, fixture, NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "fuzz_http: the fixture: %s %s\n", err.msg, db ? sqlite3_errmsg(db) : "");
        abort();
    }
    db_close(&db);
    if (http_start(&srv, &h, &err) < 0 || !srv) {
        fprintf(stderr, "fuzz_http: %s\n", err.msg);
        abort();
    }
    atexit(stop_server);
    if (fs_read_file(fuzz_path(addr, sizeof addr, "http.addr"), &text, &len, &err) < 0) {
        fprintf(stderr, "fuzz_http: %s\n", err.msg);
        abort();
    }
    const char *colon = strrchr((char *)text, ':');
    port = colon ? atoi(colon + 1) : 0;
    free(text);
    if (port <= 0)
        abort();
}

/* Send one request and read the whole answer (the server closes). */
static char *exchange(const char *req, size_t req_len, size_t *got)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {.tv_sec = 8};
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    int fd;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* libFuzzer's -timeout alarm may interrupt connect(): start over then. */
    for (;;) {
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || !buf || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0) {
            perror("fuzz_http: socket");
            abort();
        }
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
            break;
        if (errno != EINTR) {
            perror("fuzz_http: connecting");
            abort();
        }
        close(fd);
    }
    for (size_t off = 0; off < req_len;) {
        ssize_t w = send(fd, req + off, req_len - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break; /* the server may answer and close before reading it all */
        off += (size_t)w;
    }
    for (;;) {
        if (n == cap && !(buf = realloc(buf, (cap *= 2) + 1)))
            abort();
        ssize_t r = recv(fd, buf + n, cap - n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            fprintf(stderr, "fuzz_http: no answer within %ld s\n", (long)tv.tv_sec);
            abort();
        }
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *got = n;
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char hex[] = "0123456789ABCDEF";
    if (!srv)
        start_server();

    size_t cap = 3 * size + 128, o = 0;
    char *req = malloc(cap);
    if (!req)
        abort();
    o += (size_t)snprintf(req, cap, "GET %s", size && data[0] == '/' ? "" : "/");
    for (size_t i = 0; i < size; i++) {
        uint8_t b = data[i];
        if (b <= 0x20 || b == 0x7f) {
            req[o++] = '%';
            req[o++] = hex[b >> 4];
            req[o++] = hex[b & 15];
        } else {
            req[o++] = (char)b;
        }
    }
    o += (size_t)snprintf(req + o, cap - o,
                          " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");

    size_t n;
    char *resp = exchange(req, o, &n);
    unsigned status = 0;
    if (getenv("FUZZ_HTTP_SHOW"))  /* to see what a reproducer gets */
        fprintf(stderr, "%s\n---\n%s\n", req, resp);
    if (sscanf(resp, "HTTP/1.%*1[01] %3u", &status) != 1 || status < 100 || status > 599) {
        fprintf(stderr, "fuzz_http: %.*s: no status line in the answer (%zu bytes)\n",
                (int)(o < 600 ? o : 600), req, n);
        abort();
    }
    char *body = strstr(resp, "\r\n\r\n");
    if (body) {
        *body = '\0';
        body += 4;
        if (strcasestr(resp, "\r\nContent-Type: application/json") && status != 304) {
            json_error_t jerr;
            json_t *v = json_loads(body, 0, &jerr);
            if (!v) {
                fprintf(stderr, "fuzz_http: %.*s: %u with a JSON body that is not JSON: %s\n",
                        (int)(o < 600 ? o : 600), req, status, jerr.text);
                abort();
            }
            json_decref(v);
        }
    }
    free(resp);
    free(req);
    return 0;
}
