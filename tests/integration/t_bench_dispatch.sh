# migr bench dispatch: its own migrd and workers, no-op tasks through SQLite,
# the JSON design.md fixes; with migr-worker processes and with simulated
# workers; nothing left running or on disk.
. "$(dirname "$0")/lib.sh"

# Its temporary MIGR_HOMEs go under TMPDIR.
export TMPDIR="$MIGR_HOME/tmp"
mkdir -p "$TMPDIR"
out=$(migr bench dispatch --tasks 3000 --workers 2 --json) || fail "bench dispatch with 2 workers failed"
expect_eq "JSON fields" '["max_ms","p50_ms","p99_ms","seconds","tasks","tasks_per_s","workers"]' \
    "$(echo "$out" | jq -c 'keys')"
expect_eq "tasks" 3000 "$(echo "$out" | jq '.tasks')"
expect_eq "workers" 2 "$(echo "$out" | jq '.workers')"
echo "$out" | jq -e '.tasks_per_s > 0 and .seconds > 0 and .p50_ms <= .p99_ms and .p99_ms <= .max_ms' >/dev/null ||
    fail "implausible figures: $out"

# 200 simulated workers in this process, a payload of 1 KiB, prefetch 2.
out=$(migr bench dispatch --tasks 4000 --sim-workers 200 --payload 1024 --prefetch 2 --json) ||
    fail "bench dispatch with 200 simulated workers failed"
expect_eq "simulated workers" 200 "$(echo "$out" | jq '.workers')"
echo "$out" | jq -e '.tasks_per_s > 0 and .p50_ms <= .max_ms' >/dev/null || fail "implausible figures: $out"

# The human form says what the latency is.
migr bench dispatch --tasks 200 --sim-workers 3 | grep -q "dispatch latency p50" || fail "no latency line"

# Bad input: both kinds of workers, a task count out of range.
migr bench dispatch --workers 2 --sim-workers 2 >/dev/null 2>&1; expect_eq "both kinds of workers" 2 "$?"
migr bench dispatch --tasks 0 >/dev/null 2>&1; expect_eq "--tasks 0" 2 "$?"

# Its migrd and workers are gone, and so is its temporary MIGR_HOME.
expect_eq "bench homes left" 0 "$(ls -d "$TMPDIR"/migr-bench.* 2>/dev/null | wc -l)"
pgrep -f "migrd --prefetch" >/dev/null && fail "the bench's migrd is still running"
echo "bench dispatch ok"
