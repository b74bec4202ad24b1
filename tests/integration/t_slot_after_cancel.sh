# A worker's slot comes back when the result of a cancelled run's task
# arrives after the cancel: one worker, an SFT run cancelled while the
# worker holds one of its tasks, then another run on the same worker
# succeeds.  (migrd used to drop the stale result before freeing the slot,
# and the next run stayed queued forever.)
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)
db="$MIGR_HOME/migr.db"

migr up --workers 1 >/dev/null || fail "migr up"
migr dataset synth s --clips 24 --seed 3 --wait >/dev/null || fail "synth"
# Tasks of the default model on 16 sequences each, about 350 ms under the
# sanitizers: long enough that the test, polling every 10 ms, acts while a
# worker still holds one.
sft() {
    migr run submit "$here/examples/sft.yaml" --set dataset=s --set train.batch_size=32 \
        --set train.shards=2 --set train.warmup=1 "$@"
}
first=$(sft --set train.steps=200) || fail "submit the first run"
wait_for "the first run's step 1" 120 sh -c "[ \$(migr run show $first --json | jq .step) -ge 1 ]"
# Cancel while the worker holds one of its tasks.
held() { [ "$(sqlite3 "$db" "SELECT COUNT(*) FROM tasks WHERE owner = 'run' AND owner_id = $first AND state = 'leased'")" -ge 1 ]; }
soon_for "a task of the first run on the worker" 60 held
migr run cancel "$first" >/dev/null || fail "run cancel"
wait_for "the cancel" 30 sh -c "[ \"\$(migr run show $first --json | jq -r .state)\" = cancelled ]"
# The worker finishes the task it held and its result comes back stale:
# that is the case under test, so make sure it happened.
stale() { [ "$(sqlite3 "$db" "SELECT COUNT(*) FROM events e JOIN tasks t ON t.id = e.task_id WHERE e.kind = 'task.stale' AND t.owner_id = $first")" -ge 1 ]; }
wait_for "the cancelled task's result to come back stale" 120 stale
second=$(sft --set train.steps=3) || fail "submit the second run"
timeout 120 migr run watch "$second" >"$MIGR_HOME/watch.out" ||
    fail "the second run did not succeed after a cancel (state $(jqr .state run show "$second")); migrd log: $(tail -5 "$MIGR_HOME/logs/migrd.log")"
expect_eq "second run state" succeeded "$(jqr .state run show "$second")"
expect_eq "second run step" 3 "$(jqr .step run show "$second")"
finish
