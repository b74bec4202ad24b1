/* clipplan.c -- see clipplan.h. */
#include "coordinator/clipplan.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/csv.h"
#include "common/emotion.h"
#include "common/fs.h"
#include "common/log.h"
#include "coordinator/coord.h"
#include "coordinator/datasets.h"
#include "coordinator/db.h"
#include "coordinator/slices.h"

/* A synthetic clip's annotation line.  "think_first" holds, by block tag,
 * the reasoning of a describer who starts from a misleading block and
 * drifts with it (synth_clip.think_first); the trainer uses it when that
 * block comes first, "think" otherwise.  "clip" is the manifest's path. */
static char *synth_annotation(const synth_clip *p, const char *clip)
{
    static const char *const tag[MODALITY_COUNT] = {"vis", "aud", "txt"};
    json_t *cues = json_object(), *drifted = json_object();
    for (int m = 0; m < MODALITY_COUNT; m++) {
        json_object_set_new(cues, modality_name(m),
                            json_pack("{s:s, s:f}", "emotion", emotion_name(p->cue[m].emotion),
                                      "strength", p->cue[m].strength));
        if (p->drifted & (1u << m))
            json_object_set_new(drifted, tag[m], json_string(p->think_first[m]));
    }
    json_t *a = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o}", "clip", clip,
                          "vis", p->clue[MOD_VISUAL], "aud", p->clue[MOD_AUDIO],
                          "txt", p->clue[MOD_TEXT], "think", p->think,
                          "dominant", modality_name(p->dominant), "cues", cues,
                          "think_first", drifted);
    char *s = a ? json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(a);
    return s;
}

/* Synthetic clip j->next's row (pending) and its synth task. */
static int synth_row(coord *c, clip_job *j, migr_err *err)
{
    synth_clip p;
    char path[PATH_MAX], rel[128];
    synth_plan(&j->cfg, j->seed, (int)j->next, &p);
    snprintf(rel, sizeof rel, "media/%s", p.file);
    if (fs_join(path, sizeof path, j->dir, rel) < 0)
        return migr_errf(err, "path too long under %s", j->dir);
    char *ann = synth_annotation(&p, p.file);
    if (!ann)
        return migr_errf(err, "out of memory");
    int rc = db_cache_run(&c->sql, err,
                          "INSERT INTO clips (dataset_id, idx, path, label, subtitle, annotation, state) "
                          "VALUES (?, ?, ?, ?, ?, ?, 'pending')",
                          "iissss", j->dataset_id, j->next, path, emotion_name(p.label), p.subtitle, ann);
    free(ann);
    if (rc < 0)
        return -1;
    int64_t clip_id = sqlite3_last_insert_rowid(c->db);
    json_t *params = json_pack("{s:I, s:I, s:s, s:s*}", "index", (json_int_t)j->next, "seed", (json_int_t)j->seed,
                               "path", path, "config", j->config[0] ? j->config : NULL);
    char *text = params ? json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(params);
    if (!text)
        return migr_errf(err, "out of memory");
    rc = db_cache_run(&c->sql, err,
                      "INSERT INTO tasks (owner, owner_id, kind, subject, params, state, max_attempts) "
                      "VALUES ('dataset', ?, 'synth', ?, ?, 'queued', ?)",
                      "iisi", j->dataset_id, clip_id, text, (int64_t)c->cfg.max_attempts);
    free(text);
    return rc;
}

/* Clip j->next's manifest and annotations lines. */
static int write_lines(clip_job *j, migr_err *err)
{
    synth_clip p;
    char rel[128];
    synth_plan(&j->cfg, j->seed, (int)j->next, &p);
    snprintf(rel, sizeof rel, "media/%s", p.file);
    char *ann = synth_annotation(&p, rel);
    if (!ann)
        return migr_errf(err, "out of memory");
    csv_write_field(j->csv, rel);
    fprintf(j->csv, ",%s,", emotion_name(p.label));
    csv_write_field(j->csv, p.subtitle);
    fputc('\n', j->csv);
    fputs(ann, j->jsonl);
    fputc('\n', j->jsonl);
    free(ann);
    if (ferror(j->csv) || ferror(j->jsonl))
        return migr_errf(err, "writing the manifest of %s: %s", j->dir, strerror(errno));
    return 0;
}

/* ---- manifests ---- */

/* clip path -> annotation object, from JSON lines keyed by "clip". */
static json_t *load_annotations(const char *path, const uint8_t *text, migr_err *err)
{
    json_t *by_clip = json_object();
    if (!by_clip) {
        migr_errf(err, "out of memory");
        return NULL;
    }
    int line = 0;
    for (const char *s = (const char *)text, *end; s && *s; s = *end ? end + 1 : NULL) {
        json_error_t jerr;
        end = s + strcspn(s, "\n");
        line++;
        if (end == s || (*s == '\r' && end == s + 1))
            continue;
        json_t *obj = json_loadb(s, (size_t)(end - s), 0, &jerr);
        const char *clip = obj ? json_string_value(json_object_get(obj, "clip")) : NULL;
        if (!clip) {
            migr_errf(err, "%s line %d: expected a JSON object with a \"clip\" string (%s)", path, line,
                      obj ? "no clip key" : jerr.text);
            json_decref(obj);
            json_decref(by_clip);
            return NULL;
        }
        json_object_set_new(by_clip, clip, obj);
    }
    return by_clip;
}

/* Read a file whole, NUL-terminated, with its SHA-256. */
static uint8_t *read_hashed(const char *path, char sha[STORE_SHA_HEX], migr_err *err)
{
    uint8_t *text;
    size_t len;
    if (fs_read_file(path, &text, &len, err) < 0)
        return NULL;
    sha256_hex(text, len, sha);
    return text;
}

/* The next row of the manifest that is a clip (not its header): 1, 0 at
 * the end, -1 with err. */
static int next_row(csv_reader *r, int at_start, migr_err *err)
{
    int rc;
    while ((rc = csv_next(r, err)) == 1) {
        if (r->nfields < 2)
            return migr_errf(err, "line %d: expected \"clip path,label[,subtitle]\", got %d field(s)", r->line,
                             r->nfields);
        if (!(at_start && r->line == 1 && strcasecmp(r->field[1], "label") == 0))
            return 1;
    }
    return rc;
}

int64_t clipplan_check_manifest(const char *manifest, const char *annotations_path,
                                char manifest_sha[STORE_SHA_HEX], char annotations_sha[STORE_SHA_HEX],
                                migr_err *err)
{
    uint8_t *text = read_hashed(manifest, manifest_sha, err), *atext = NULL;
    json_t *ann = NULL, *seen = json_object(); /* clip path -> the line that listed it */
    int64_t n = -1;
    csv_reader r;
    int rc;

    annotations_sha[0] = '\0';
    if (!text)
        goto end;
    if (!seen) {
        migr_errf(err, "out of memory");
        goto end;
    }
    if (annotations_path && *annotations_path) {
        if (!(atext = read_hashed(annotations_path, annotations_sha, err))) {
            migr_err_wrap(err, "reading annotations");
            goto end;
        }
        if (!(ann = load_annotations(annotations_path, atext, err)))
            goto end;
    }
    csv_init(&r, (const char *)text);
    n = 0;
    while ((rc = next_row(&r, 1, err)) == 1) {
        const char *rel = r.field[0], *label = r.field[1];
        json_t *first = json_object_get(seen, rel);
        if (!*rel)
            rc = migr_errf(err, "line %d: the clip path is empty", r.line);
        else if (emotion_parse(label) < 0)
            rc = migr_errf(err, "line %d: unknown label \"%s\" (expected one of happy, sad, neutral, angry, "
                           "surprise, disgust, fear)", r.line, label);
        else if (first)
            rc = migr_errf(err, "line %d lists clip \"%s\" again (first on line %lld); list each clip once",
                           r.line, rel, (long long)json_integer_value(first));
        else if (strlen(manifest) + strlen(rel) + 2 > PATH_MAX)
            rc = migr_errf(err, "line %d: path too long", r.line);
        else if (json_object_set_new(seen, rel, json_integer(r.line)) < 0)
            rc = migr_errf(err, "out of memory");
        if (rc < 0)
            break;
        n++;
    }
    csv_free(&r);
    if (rc < 0) {
        n = migr_err_wrap(err, "manifest %s", manifest);
        goto end;
    }
    if (n == 0) {
        n = migr_errf(err, "manifest %s lists no clips", manifest);
        goto end;
    }
    /* An annotation of a clip the manifest does not list would be dropped
     * without a word: most likely its paths are written differently. */
    const char *clip;
    json_t *unused;
    json_object_foreach(ann, clip, unused) {
        if (!json_object_get(seen, clip)) {
            n = migr_errf(err, "%s annotates clip \"%s\", which the manifest %s does not list; annotations name "
                          "clips exactly as the manifest's first column does", annotations_path, clip, manifest);
            break;
        }
    }
end:
    json_decref(seen);
    json_decref(ann);
    free(atext);
    free(text);
    return n;
}

/* Read the manifest and its annotations into the job, checking that they
 * are the bytes the request checked. */
static int load_manifest(clip_job *j, const char *manifest, const char *manifest_sha, const char *annotations,
                         const char *annotations_sha, migr_err *err)
{
    char sha[STORE_SHA_HEX], copy[PATH_MAX];
    if (!(j->text = (char *)read_hashed(manifest, sha, err)))
        return -1;
    if (strcmp(sha, manifest_sha) != 0)
        return migr_errf(err, "the manifest %s changed after `migr dataset add` checked it", manifest);
    if (annotations && *annotations) {
        uint8_t *atext = read_hashed(annotations, sha, err);
        if (!atext)
            return migr_err_wrap(err, "reading annotations");
        j->annotations = strcmp(sha, annotations_sha) == 0 ? load_annotations(annotations, atext, err) : NULL;
        free(atext);
        if (!j->annotations)
            return strcmp(sha, annotations_sha) == 0
                       ? -1
                       : migr_errf(err, "the annotations %s changed after `migr dataset add` checked them",
                                   annotations);
    }
    snprintf(copy, sizeof copy, "%s", manifest);
    snprintf(j->dir, sizeof j->dir, "%s", dirname(copy));
    return 0;
}

/* The manifest's next clip row and its featurize task. */
static int manifest_row(coord *c, clip_job *j, migr_err *err)
{
    csv_reader r;
    char path[PATH_MAX];
    csv_init(&r, j->text + j->offset);
    int rc = next_row(&r, j->offset == 0, err);
    if (rc <= 0) {
        csv_free(&r);
        return rc < 0 ? -1 : migr_errf(err, "the manifest ended after %lld of its %lld clips", (long long)j->next,
                                       (long long)j->clips);
    }
    const char *rel = r.field[0];
    const char *subtitle = r.nfields > 2 && *r.field[2] ? r.field[2] : NULL;
    json_t *ann = json_object_get(j->annotations, rel);
    char *ann_text = ann ? json_dumps(ann, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (fs_join(path, sizeof path, j->dir, rel) < 0)
        rc = migr_errf(err, "a path under %s is too long", j->dir);
    else
        rc = db_cache_run(&c->sql, err,
                          "INSERT INTO clips (dataset_id, idx, path, label, subtitle, annotation, state) "
                          "VALUES (?, ?, ?, ?, ?, ?, 'pending')",
                          "iissss", j->dataset_id, j->next, path, emotion_name(emotion_parse(r.field[1])),
                          subtitle, ann_text);
    free(ann_text);
    j->offset = (size_t)(r.p - j->text);
    csv_free(&r);
    if (rc < 0)
        return -1;
    return datasets_add_featurize(c, j->dataset_id, j->name, sqlite3_last_insert_rowid(c->db), j->next, path, err);
}

/* ---- the job ---- */

static void discard_temp(FILE **f, const char *path)
{
    if (!*f)
        return;
    fclose(*f);
    *f = NULL;
    unlink(path);
}

void clipplan_close(clip_job *j)
{
    discard_temp(&j->csv, j->csv_tmp);
    discard_temp(&j->jsonl, j->jsonl_tmp);
    free(j->text);
    json_decref(j->annotations);
    j->text = NULL;
    j->annotations = NULL;
    j->dataset_id = 0;
    j->writing = 0;
}

void clipplan_wake(coord *c)
{
    c->plan.look = 1;
}

/* Open a temp file beside dir/name for the job's writing phase, after
 * removing any a crash left. */
static FILE *open_temp(const clip_job *j, const char *name, char *tmp, size_t cap, migr_err *err)
{
    char path[PATH_MAX];
    if (fs_join(path, sizeof path, j->dir, name) < 0) {
        migr_errf(err, "path too long under %s", j->dir);
        return NULL;
    }
    if (fs_remove_temps(path, err) < 0)
        return NULL;
    int fd = fs_temp_beside(path, tmp, cap, err);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        migr_errf(err, "opening %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
    }
    return f;
}

/* Load the next dataset waiting for its plan into the job: 1, or 0 when
 * none is waiting (then look no more until woken). */
static int load_job(coord *c, migr_err *err)
{
    clip_job *j = &c->plan;
    if (!j->look)
        return 0;
    sqlite3_stmt *st = db_prepare(c->db, err,
        "SELECT id, name, source, synth_seed, plan_clips, planned, synth_config, manifest, annotations, "
        "manifest_sha256, annotations_sha256, plan_offset FROM datasets WHERE planned IS NOT NULL ORDER BY id "
        "LIMIT 1", NULL);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        if (rc == SQLITE_DONE)
            j->look = 0;
        return rc == SQLITE_DONE ? 0 : migr_errf(err, "finding a dataset to plan: %s", sqlite3_errmsg(c->db));
    }
    *j = (clip_job){.look = 1, .dataset_id = sqlite3_column_int64(st, 0)};
    snprintf(j->name, sizeof j->name, "%s", db_text(st, 1));
    j->manifest = strcmp(db_text(st, 2), "manifest") == 0;
    j->seed = (uint64_t)sqlite3_column_int64(st, 3);
    j->clips = sqlite3_column_int64(st, 4);
    j->next = sqlite3_column_int64(st, 5);
    if (j->manifest) {
        j->offset = (size_t)sqlite3_column_int64(st, 11);
        rc = load_manifest(j, db_text(st, 7), db_text(st, 9), db_text(st, 8), db_text(st, 10), err);
        sqlite3_finalize(st);
        return rc < 0 ? -1 : 1;
    }
    snprintf(j->config, sizeof j->config, "%s", db_text(st, 6));
    int bad = snprintf(j->dir, sizeof j->dir, "%s/datasets/%s", c->st.root, j->name) >= (int)sizeof j->dir;
    sqlite3_finalize(st);
    if (bad)
        return migr_errf(err, "the store path %s is too long", c->st.root);
    synth_config_default(&j->cfg);
    if (j->config[0] && synth_config_load(j->config, &j->cfg, err) < 0)
        return -1;
    if (j->next >= j->clips) /* the rows are in: (re)write the files from the first clip */
        j->next = 0, j->writing = 1;
    return 1;
}

/* A synthetic plan: publish the two files and mark the plan complete. */
static int finish_synth(coord *c, migr_err *err)
{
    clip_job *j = &c->plan;
    char csv[PATH_MAX], jsonl[PATH_MAX];
    int bad = fflush(j->csv) != 0 || fflush(j->jsonl) != 0;
    bad = fclose(j->csv) != 0 || bad;
    bad = fclose(j->jsonl) != 0 || bad;
    j->csv = j->jsonl = NULL;
    if (bad)
        return migr_errf(err, "writing the manifest of %s: %s", j->dir, strerror(errno));
    if (fs_join(csv, sizeof csv, j->dir, "manifest.csv") < 0 || fs_join(jsonl, sizeof jsonl, j->dir, "annotations.jsonl") < 0)
        return migr_errf(err, "path too long under %s", j->dir);
    if (fs_publish(j->csv_tmp, csv, err) < 0 || fs_publish(j->jsonl_tmp, jsonl, err) < 0)
        return -1;
    if (db_run(c->db, err, "UPDATE datasets SET planned = NULL, annotations = ? WHERE id = ?", "si", jsonl,
               j->dataset_id) < 0)
        return -1;
    log_info("dataset %lld: all %lld clips planned; manifest %s", (long long)j->dataset_id, (long long)j->clips, csv);
    return datasets_planned(c, j->dataset_id, err);
}

/* Plan until the budget is spent or the job is done. */
static int plan_slice(coord *c, int64_t until_us, migr_err *err)
{
    clip_job *j = &c->plan;
    if (j->writing && !j->csv) {
        if (!(j->csv = open_temp(j, "manifest.csv", j->csv_tmp, sizeof j->csv_tmp, err)))
            return -1;
        if (!(j->jsonl = open_temp(j, "annotations.jsonl", j->jsonl_tmp, sizeof j->jsonl_tmp, err)))
            return -1;
        fputs("path,label,subtitle\n", j->csv);
    }
    do {
        for (int k = 0; k < 16 && j->next < j->clips; k++, j->next++)
            if ((j->writing ? write_lines(j, err) : j->manifest ? manifest_row(c, j, err) : synth_row(c, j, err)) < 0)
                return -1;
    } while (j->next < j->clips && clock_mono_us() < until_us);
    if (j->manifest) {
        int done = j->next == j->clips;
        if (db_cache_run(&c->sql, err, "UPDATE datasets SET planned = NULLIF(?, -1), plan_offset = NULLIF(?, -1) "
                         "WHERE id = ?", "iii", done ? -1 : j->next, done ? -1 : (int64_t)j->offset,
                         j->dataset_id) < 0)
            return -1;
        if (!done)
            return 0;
        log_info("dataset %s: all %lld clips of its manifest in", j->name, (long long)j->clips);
        int rc = datasets_planned(c, j->dataset_id, err);
        clipplan_close(j);
        return rc;
    }
    if (!j->writing) {
        if (db_cache_run(&c->sql, err, "UPDATE datasets SET planned = ? WHERE id = ?", "ii", j->next,
                         j->dataset_id) < 0)
            return -1;
        if (j->next == j->clips)
            j->next = 0, j->writing = 1;
        return 0;
    }
    if (j->next < j->clips)
        return 0;
    int rc = finish_synth(c, err);
    clipplan_close(j);
    return rc;
}

/* The dataset cannot be planned: it fails, its tasks too. */
static void fail_job(coord *c, const char *why)
{
    clip_job *j = &c->plan;
    migr_err err;
    char reason[1200];
    snprintf(reason, sizeof reason, "planning its clips failed: %s; mend that and %s it again under a new name", why,
             j->manifest ? "add" : "synthesize");
    log_error("dataset %lld: %s", (long long)j->dataset_id, reason);
    int mark = coord_begin(c, &err);
    if (mark < 0 ||
        db_run(c->db, &err, "UPDATE datasets SET state = 'failed', error = ?, planned = NULL, finished_ms = ? "
               "WHERE id = ?", "sii", reason, clock_wall_ms(), j->dataset_id) < 0 ||
        queue_cancel_owner(c->db, "dataset", j->dataset_id, reason, clock_wall_ms(), &err) < 0 ||
        coord_commit(c, &err) < 0) {
        if (mark >= 0)
            coord_rollback(c, mark);
        log_error("dataset %lld: recording that it failed: %s", (long long)j->dataset_id, err.msg);
    }
    clipplan_close(j);
}

static int64_t current(coord *c)
{
    return c->plan.dataset_id;
}

static void drop(coord *c)
{
    clipplan_close(&c->plan);
}

int clipplan_step(coord *c, int64_t budget_us)
{
    static const slice_work work = {"planning dataset", current, load_job, plan_slice, fail_job, drop};
    return slices_step(c, &work, budget_us);
}
