# migr demo --quick --json on a fresh MIGR_HOME: starts its own cluster,
# synthesizes and featurizes the demo set, prints only JSON on stdout, and
# stops what it started.
. "$(dirname "$0")/lib.sh"

out=$(migr demo --quick --json 2>"$MIGR_HOME/demo.err") || fail "migr demo failed: $(cat "$MIGR_HOME/demo.err")"
echo "$out" | jq -e . >/dev/null || fail "stdout is not JSON: $out"
expect_eq "clips" 24 "$(echo "$out" | jq .clips)"
expect_eq "featurized" 24 "$(echo "$out" | jq .featurized)"
expect_eq "failed" 0 "$(echo "$out" | jq .failed)"
expect_eq "pid files left" "" "$(ls "$MIGR_HOME/run/" | grep '\.pid$' || true)"
migr workers >/dev/null 2>&1 && fail "migrd still answers after the demo"
check_logs_clean
rm -rf "$MIGR_HOME"
