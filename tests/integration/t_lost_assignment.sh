# A task whose assignment a live worker lost (here: poke drop) comes back to the queue at the
# worker's next heartbeat, which no longer lists it, without the worker
# dying; a real worker then finishes the dataset.
. "$(dirname "$0")/lib.sh"
db="$MIGR_HOME/migr.db"

migr up --workers 0 >/dev/null || fail "migr up"
migr dataset synth s --clips 2 --seed 3 >/dev/null || fail "synth"
task=$(poke "ipc://$MIGR_HOME/migrd.sock" drop) || fail "poke drop"
echo "poke-drop lost task $task"
reason=$(sqlite3 "$db" "SELECT detail FROM events WHERE kind = 'task.retry' AND task_id = $task LIMIT 1")
case "$reason" in
    *"worker poke-drop no longer holds it"*) ;;
    *) fail "task $task was not requeued for the lost assignment (retry reason: '$reason')" ;;
esac
setsid migr-worker --id real >>"$MIGR_HOME/logs/worker-real.log" 2>&1 </dev/null &
echo $! >"$MIGR_HOME/run/worker-real.pid"
wait_for "the dataset" 120 dataset_done s
expect_eq "failed clips" 0 "$(jqr .failed dataset show s)"
finish
