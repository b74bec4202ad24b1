/* fuzz_annotations.c -- a dataset's annotations.jsonl on any bytes, read
 * the way migrd reads it (coordinator/clipplan.c, load_annotations, static).
 *
 * Its nearest public entry is migrd's request handler, so the harness runs
 * a coordinator in-process, made once: coord_open on a SQLite database and a
 * store in its scratch directory, on an inproc:// endpoint.  Per input it
 * writes the bytes as the annotations file of a fixed three-clip manifest
 * and sends "dataset.add" through api_handle, as `migr dataset add
 * --annotations` does.  A refused file must say why and leave no dataset
 * behind; a taken one's clips are inserted by the loop's planner
 * (clipplan_step, run here until it has nothing left), and then
 * "dataset.clip" shows each clip with no annotation or the one listed for it
 * (its "clip" is that clip).  Each input's rows are deleted after it. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "coordinator/clipplan.h"
#include "coordinator/coord.h"
#include "coordinator/db.h"
#include "tests/fuzz/fuzz_util.h"

static coord c;
static int opened;
static char manifest[600], annotations[600];
static const char *const clips[] = {"media/clip_000000.mp4", "a.mp4", "dir/b c.mp4"};
enum { NCLIPS = 3 };

static void close_coord(void)
{
    if (opened)
        coord_close(&c);
    opened = 0;
}

static void open_coord(void)
{
    migr_home h = {0};
    coord_config cfg;
    migr_err err = {{0}};
    const char *dir = fuzz_tmpdir();

    log_init("fuzz_annotations", "error");
    coord_config_default(&cfg);
    snprintf(h.home, sizeof h.home, "%s", dir);
    snprintf(h.db, sizeof h.db, "%s/migr.db", dir);
    snprintf(h.store, sizeof h.store, "%s/store", dir);
    snprintf(h.logs, sizeof h.logs, "%s", dir);
    snprintf(h.run, sizeof h.run, "%s", dir);
    snprintf(h.keys, sizeof h.keys, "%s/keys", dir);
    /* In-process: no socket file, whatever the length of the path. */
    snprintf(h.endpoint, sizeof h.endpoint, "inproc://migrd-fuzz-annotations");
    snprintf(h.http, sizeof h.http, "off");
    if (coord_open(&c, &cfg, &h, &err) < 0) {
        fprintf(stderr, "fuzz_annotations: %s\n", err.msg);
        abort();
    }
    opened = 1;
    atexit(close_coord);
    /* The harness's own database: no need to outlive a power cut. */
    sqlite3_exec(c.db, "PRAGMA synchronous=OFF", NULL, NULL, NULL);
    static const char text[] = "path,label,subtitle\n"
                               "media/clip_000000.mp4,happy,\"Well, hello there.\"\n"
                               "a.mp4,sad,\n"
                               "dir/b c.mp4,neutral,The train leaves at nine.\n";
    fuzz_write_file(fuzz_path(manifest, sizeof manifest, "manifest.csv"), text, sizeof text - 1);
    fuzz_path(annotations, sizeof annotations, "annotations.jsonl");
}

static int64_t count(const char *sql)
{
    int64_t n = -1;
    migr_err err;
    if (db_int(c.db, &err, &n, 0, sql, NULL) < 0)
        abort();
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    migr_err err = {{0}};
    int status = -1;

    if (!opened)
        open_coord();
    fuzz_write_file(annotations, data, size);
    json_t *args = json_pack("{s:s, s:s, s:s}", "name", "ds", "manifest", manifest, "annotations",
                             annotations);
    char *a = json_dumps(args, JSON_COMPACT);
    char *body = api_handle(&c, "dataset.add", a, &status, &err);
    free(a);
    json_decref(args);
    if (status != 0) {
        if (body || !err.msg[0] || count("SELECT COUNT(*) FROM datasets") != 0 ||
            count("SELECT COUNT(*) FROM clips") != 0 || count("SELECT COUNT(*) FROM tasks") != 0) {
            fprintf(stderr, "fuzz_annotations: a refused add left rows or said nothing: %s\n",
                    err.msg);
            abort();
        }
        return 0;
    }
    if (!body)
        abort();
    free(body);
    for (int steps = 0; clipplan_step(&c, 1000000) == 1; steps++)
        if (steps > NCLIPS)
            abort(); /* a plan that never ends */
    if (count("SELECT COUNT(*) FROM clips") != NCLIPS || count("SELECT COUNT(*) FROM datasets WHERE planned IS NULL "
                                                              "AND state != 'failed'") != 1) {
        fprintf(stderr, "fuzz_annotations: the planner did not insert the %d clips of a taken add\n", NCLIPS);
        abort();
    }

    /* What a trainer is shown of each clip, annotation included. */
    if (db_run(c.db, &err, "UPDATE clips SET state = 'featurized', features = 'f', has_audio = 1",
               NULL) < 0)
        abort();
    for (int i = 0; i < NCLIPS; i++) {
        char q[64];
        snprintf(q, sizeof q, "{\"name\": \"ds\", \"clip\": %d}", i);
        body = api_handle(&c, "dataset.clip", q, &status, &err);
        json_t *reply = body ? json_loads(body, 0, NULL) : NULL;
        if (status != 0 || !json_is_object(reply)) {
            fprintf(stderr, "fuzz_annotations: dataset.clip %d: %s\n", i, err.msg);
            abort();
        }
        /* A clip's annotation is the object listed for it, or none. */
        json_t *ann = json_object_get(reply, "annotation");
        const char *of = json_string_value(json_object_get(ann, "clip"));
        if (!json_is_null(ann) && (!of || strcmp(of, clips[i]) != 0)) {
            fprintf(stderr, "fuzz_annotations: clip %s shows another clip's annotation\n",
                    clips[i]);
            abort();
        }
        json_decref(reply);
        free(body);
    }
    if (db_run(c.db, &err, "DELETE FROM tasks", NULL) < 0 ||
        db_run(c.db, &err, "DELETE FROM clips", NULL) < 0 ||
        db_run(c.db, &err, "DELETE FROM datasets", NULL) < 0 ||
        db_run(c.db, &err, "DELETE FROM events", NULL) < 0) {
        fprintf(stderr, "fuzz_annotations: cleaning up: %s\n", err.msg);
        abort();
    }
    return 0;
}
