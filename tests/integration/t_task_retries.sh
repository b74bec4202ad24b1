# A task that keeps failing is retried with backoff, then fails its clip
# with the reason; the rest of the dataset is unaffected.
. "$(dirname "$0")/lib.sh"

migr up --workers 2 || fail "migr up"
migr dataset synth src --clips 3 --seed 4 --wait >/dev/null || fail "synth"
# Make clip 1's feature object unwritable for every worker: a directory
# stands where the object would be renamed to.
mkdir -p "$MIGR_HOME/store/datasets/retry/features/000001.feat/blocker"
migr dataset add retry --manifest "$MIGR_HOME/store/datasets/src/manifest.csv" --wait >/dev/null ||
    fail "dataset add --wait"
expect_eq "featurized" 2 "$(jqr .featurized dataset show retry)"
expect_eq "failed" 1 "$(jqr .failed dataset show retry)"
reason=$(jqr '.failures[0].reason' dataset show retry)
echo "reason: $reason"
case "$reason" in
    "featurize task failed 3 times: "*"000001.feat"*) ;;
    *) fail "unexpected failure reason: $reason" ;;
esac
db="$MIGR_HOME/migr.db"
task=$(sqlite3 "$db" "SELECT t.id FROM tasks t JOIN clips c ON c.id = t.subject WHERE t.kind = 'featurize' AND c.path LIKE '%clip_000001.mp4' AND t.owner_id = 2")
expect_eq "retries" 2 "$(sqlite3 "$db" "SELECT COUNT(*) FROM events WHERE kind = 'task.retry' AND task_id = $task")"
expect_eq "final failures" 1 "$(sqlite3 "$db" "SELECT COUNT(*) FROM events WHERE kind = 'task.failed' AND task_id = $task")"
# Backoff doubles: the second attempt comes at least 1 s after the first
# failed, the third at least 2 s after the second (a constant backoff of
# 1 s would give about 1 s twice).
gaps=$(sqlite3 "$db" "SELECT at_ms FROM events WHERE task_id = $task AND kind IN ('task.retry', 'task.failed')
    ORDER BY id" | awk 'NR > 1 { printf "%d ", $1 - prev } { prev = $1 }')
echo "gaps between failures: $gaps ms"
set -- $gaps
[ $# -eq 2 ] || fail "expected 3 failures, got the gaps '$gaps'"
[ "$1" -ge 1000 ] || fail "the second attempt came $1 ms after the first failed, under the 1 s backoff"
[ "$2" -ge 2000 ] || fail "the third attempt came $2 ms after the second failed: the backoff did not double"
finish
