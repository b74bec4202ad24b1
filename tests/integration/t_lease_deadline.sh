# Leases end: a worker that lives on (heartbeating, listing its tasks) but
# never answers -- a hung task -- keeps a task only until its lease deadline
# (migrd --task-timeout 2 here); the task is retried on another worker and
# the dataset completes; the hoarder's late result is refused as stale.
. "$(dirname "$0")/lib.sh"

mkdir -p "$MIGR_HOME/logs" "$MIGR_HOME/run"
setsid migrd --task-timeout 2 >>"$MIGR_HOME/logs/migrd.log" 2>&1 </dev/null &
echo $! >"$MIGR_HOME/run/migrd.pid"
wait_for "migrd to answer" 20 migr workers
ep="ipc://$MIGR_HOME/migrd.sock"
poke "$ep" hoard >"$MIGR_HOME/hoard.out" 2>"$MIGR_HOME/logs/poke.log" &
hoarder=$!
wait_for "the hoarder to connect" 10 sh -c "migr workers --json | jq -e 'any(.[]; .id == \"poke-hoard\")'"
migr dataset synth d --clips 3 --seed 1 >/dev/null || fail "synth"
soon_for "the hoarder to hold a lease" 10 sh -c \
    "[ \$(sqlite3 '$MIGR_HOME/migr.db' \"SELECT COUNT(*) FROM tasks WHERE state = 'leased' AND worker = 'poke-hoard'\") -ge 1 ]"
setsid migr-worker --id real >>"$MIGR_HOME/logs/worker-0.log" 2>&1 </dev/null &
echo $! >"$MIGR_HOME/run/worker-0.pid"
wait_for "the dataset to complete beside the hoarder" 60 dataset_done d
kill -0 $hoarder || fail "the hoarder left before the dataset completed; the test proves nothing"
grep -q "its lease ended: worker poke-hoard held it for 2 s" "$MIGR_HOME/logs/migrd.log" ||
    fail "migrd did not say the hoarded lease ended"
wait $hoarder || fail "poke hoard: $(cat "$MIGR_HOME/logs/poke.log")"
task=$(cat "$MIGR_HOME/hoard.out")
wait_for "the late result to be refused" 10 sh -c \
    "[ \$(sqlite3 '$MIGR_HOME/migr.db' \"SELECT COUNT(*) FROM events WHERE kind = 'task.stale' AND task_id = $task\") -ge 1 ]"
expect_eq "the hoarded task's worker" real \
    "$(sqlite3 "$MIGR_HOME/migr.db" "SELECT worker FROM tasks WHERE id = $task")"
finish
