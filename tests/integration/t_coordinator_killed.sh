# migrd killed by SIGKILL in the middle of a 200-clip synth and started
# again: it resumes from SQLite, all 200 clips end featurized, and migrd
# accepted one completion per task.
. "$(dirname "$0")/lib.sh"

migr up --workers 2 || fail "migr up"
migr dataset synth c200 --clips 200 --seed 9 >/dev/null || fail "synth"
wait_for "some progress" 120 sh -c "[ \$(migr dataset show c200 --json | jq .featurized) -ge 40 ]"
kill -KILL "$(pid_of migrd)" || fail "could not kill migrd"
sleep 1
start_migrd
wait_for "the workers to reconnect" 30 sh -c "[ \$(migr workers --json | jq length) -eq 2 ]"
wait_for "the dataset to finish" 300 dataset_done c200
expect_eq "featurized" 200 "$(jqr .featurized dataset show c200)"
expect_eq "failed" 0 "$(jqr .failed dataset show c200)"
starts=$(sqlite3 "$MIGR_HOME/migr.db" "SELECT COUNT(*) FROM events WHERE kind='coord.start'")
expect_eq "coordinator starts" 2 "$starts"
check_migrd_completed_once
finish
