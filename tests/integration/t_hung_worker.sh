# A worker that hangs (SIGSTOP) while it holds a task loses its lease when
# its heartbeats stop; the task runs on the other worker; when the hung one
# wakes (SIGCONT) its late result is refused as stale, and the dataset ends
# with every clip done once.
. "$(dirname "$0")/lib.sh"

migr up --workers 2 >/dev/null || fail "migr up"
db="$MIGR_HOME/migr.db"
migr dataset synth d --clips 12 --seed 4 >/dev/null || fail "synth"
kill -STOP "$(pid_of worker-0)" || fail "could not stop worker 0"
soon_for "the stopped worker to hold a lease" 30 sh -c \
    "[ \$(sqlite3 '$db' \"SELECT COUNT(*) FROM tasks WHERE state = 'leased' AND worker = 'local-0'\") -ge 1 ]"
held=$(sqlite3 "$db" "SELECT id FROM tasks WHERE state = 'leased' AND worker = 'local-0' LIMIT 1")
wait_for "the hung worker to be declared dead" 20 sh -c \
    "migr workers --json | jq -e 'all(.[]; .id != \"local-0\")'"
wait_for "its task to run elsewhere" 60 sh -c \
    "[ \"\$(sqlite3 '$db' \"SELECT state || ' ' || worker FROM tasks WHERE id = $held\")\" = 'done local-1' ]"
kill -CONT "$(pid_of worker-0)" || fail "could not wake worker 0"
wait_for "the late result to be refused" 30 sh -c \
    "[ \$(sqlite3 '$db' \"SELECT COUNT(*) FROM events WHERE kind = 'task.stale' AND task_id = $held\") -ge 1 ]"
# migrd had dropped the worker, yet the event names it
expect_eq "who sent the stale result" local-0 \
    "$(sqlite3 "$db" "SELECT IFNULL(detail, '(none)') FROM events WHERE kind = 'task.stale' AND task_id = $held LIMIT 1")"
wait_for "the dataset" 120 dataset_done d
expect_eq "clips featurized" 12 "$(jqr .featurized dataset show d)"
expect_eq "completions of the hung worker's task" 1 \
    "$(sqlite3 "$db" "SELECT COUNT(*) FROM events WHERE kind = 'task.done' AND task_id = $held")"
finish
