# A worker's slot comes back when a run fails while that worker still
# computes one of its tasks: two workers, run 1 fails on one of them while
# the other (paused) holds a task of the same step; once resumed, its stale
# result frees its slot and the next run's tasks go to both workers.
# (migrd used to leak the slot, and every later task went to one worker.)
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)
db="$MIGR_HOME/migr.db"

mkdir -p "$MIGR_HOME/logs" "$MIGR_HOME/run"
# A long liveness, so that the paused worker is not declared dead.
setsid migrd --liveness 60 >>"$MIGR_HOME/logs/migrd.log" 2>&1 </dev/null &
echo $! >"$MIGR_HOME/run/migrd.pid"
wait_for "migrd to answer" 20 migr workers
for w in a b; do
    setsid migr-worker --id "w-$w" >>"$MIGR_HOME/logs/worker-$w.log" 2>&1 </dev/null &
    echo $! >"$MIGR_HOME/run/worker-$w.pid"
done
wait_for "two workers" 20 sh -c "[ \$(migr workers --json | jq length) -eq 2 ]"
migr dataset synth s --clips 24 --seed 3 --wait >/dev/null || fail "synth"
# Tasks of the default model on 16 sequences each, about 350 ms under the
# sanitizers: long enough that the test, polling every 10 ms, acts while a
# worker still holds one.
sft() {
    migr run submit "$here/examples/sft.yaml" --set dataset=s --set train.batch_size=32 \
        --set train.shards=2 --set train.warmup=1 "$@"
}
# Step 2's gradients of run 1 cannot be stored: a directory stands where
# each would be renamed to, so every try of a step-2 grad task fails.
run1=$(($(sqlite3 "$db" "SELECT COALESCE(MAX(id), 0) FROM runs") + 1))
for k in 00 01; do
    mkdir -p "$MIGR_HOME/store/runs/$run1/grads/000002-$k.grad/blocker"
done
id=$(sft --set train.steps=5) || fail "submit run 1"
expect_eq "run 1's id" "$run1" "$id"
# Pause w-b as soon as it holds a step-2 task; w-a then fails the step.
on_b() { [ "$(sqlite3 "$db" "SELECT COUNT(*) FROM tasks WHERE owner_id = $run1 AND kind = 'grad' AND subject = 2 AND state = 'leased' AND worker = 'w-b'")" -ge 1 ]; }
soon_for "w-b to hold a step-2 task" 120 on_b
kill -STOP "$(pid_of worker-b)"
wait_for "run 1 to fail" 60 sh -c "[ \"\$(migr run show $run1 --json | jq -r .state)\" = failed ]"
echo "run 1: $(jqr .error run show "$run1")"
kill -CONT "$(pid_of worker-b)"
stale() { [ "$(sqlite3 "$db" "SELECT COUNT(*) FROM events e JOIN tasks t ON t.id = e.task_id WHERE e.kind = 'task.stale' AND t.owner_id = $run1 AND e.detail = 'w-b'")" -ge 1 ]; }
wait_for "w-b's result to come back stale" 60 stale
run2=$(sft --set train.steps=6) || fail "submit run 2"
timeout 120 migr run watch "$run2" >/dev/null || fail "run 2 did not succeed (state $(jqr .state run show "$run2"))"
per_worker=$(sqlite3 "$db" "SELECT worker || ':' || COUNT(*) FROM tasks WHERE owner_id = $run2 GROUP BY worker ORDER BY worker" | tr '\n' ' ')
echo "run 2's tasks per worker: $per_worker"
for w in w-a w-b; do
    n=$(sqlite3 "$db" "SELECT COUNT(*) FROM tasks WHERE owner_id = $run2 AND worker = '$w'")
    [ "$n" -ge 2 ] || fail "run 2 gave $w $n tasks; its tasks should spread over both workers ($per_worker)"
done
finish
