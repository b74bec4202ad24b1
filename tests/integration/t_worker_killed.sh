# A worker killed by SIGKILL in the middle of a 200-clip synth: its tasks go
# back to the queue, all 200 clips end featurized, none completed twice.
. "$(dirname "$0")/lib.sh"

migr up --workers 2 || fail "migr up"
migr dataset synth k200 --clips 200 --seed 5 >/dev/null || fail "synth"
featurized() { jqr .featurized dataset show k200; }
wait_for "some progress" 120 sh -c "[ \$(migr dataset show k200 --json | jq .featurized) -ge 40 ]"
victim=$(pid_of worker-0)
kill -KILL "$victim" || fail "could not kill worker $victim"
echo "killed worker-0 (pid $victim) at $(featurized) featurized"
wait_for "the dataset to finish" 300 dataset_done k200
expect_eq "featurized" 200 "$(featurized)"
expect_eq "failed" 0 "$(jqr .failed dataset show k200)"
expect_eq "workers alive" 1 "$(jqr length workers)"
dead=$(sqlite3 "$MIGR_HOME/migr.db" "SELECT COUNT(*) FROM events WHERE kind='worker.dead'")
expect_eq "worker.dead events" 1 "$dead"
check_no_double_completion
finish
