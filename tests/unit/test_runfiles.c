/* test_runfiles.c -- what a training task reads of a clip's annotation. */
#include "check.h"

#include "common/emotion.h"
#include "worker/runfiles.h"

/* A drifted clip's think for an explanation that starts from the misleading
 * block; its own think for any other first block; nothing without one. */
TEST(runfiles_think_follows_the_first_block_only_where_the_annotation_drifted)
{
    json_t *clip = json_loads("{\"annotation\": {\"think\": \"dominant first\", "
                              "\"think_first\": {\"vis\": \"the smile misleads\"}}}", 0, NULL);
    json_t *plain = json_loads("{\"annotation\": {\"think\": \"dominant first\"}}", 0, NULL);
    json_t *bare = json_loads("{\"label\": \"sad\"}", 0, NULL);
    CHECK(clip && plain && bare);
    const char *vis = runfiles_think(clip, MOD_VISUAL), *aud = runfiles_think(clip, MOD_AUDIO);
    const char *txt = runfiles_think(clip, MOD_TEXT), *pvis = runfiles_think(plain, MOD_VISUAL);
    const char *none = runfiles_think(bare, MOD_VISUAL);
    int ok = vis && !strcmp(vis, "the smile misleads") && aud && !strcmp(aud, "dominant first") && txt &&
             !strcmp(txt, "dominant first") && pvis && !strcmp(pvis, "dominant first") && !none;
    char got[512];
    snprintf(got, sizeof got, "vis \"%s\", aud \"%s\", txt \"%s\", plain vis \"%s\", bare %s",
             vis ? vis : "(null)", aud ? aud : "(null)", txt ? txt : "(null)", pvis ? pvis : "(null)",
             none ? none : "NULL");
    json_decref(clip);
    json_decref(plain);
    json_decref(bare);
    CHECK_MSG(ok, "got %s", got);
}
