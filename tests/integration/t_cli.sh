# The CLI: --help on every verb, exit codes 0/1/2, --json field names, a
# clear message when migrd is not running.
. "$(dirname "$0")/lib.sh"

# migrd not running: failure (1) and a message that says what to do.
out=$(migr workers 2>&1); rc=$?
expect_eq "exit code without migrd" 1 "$rc"
echo "$out" | grep -q "migr up" || fail "the error does not suggest migr up: $out"

for args in "--help" "up --help" "down --help" "workers --help" "dataset --help" "run --help" "demo --help"; do
    # shellcheck disable=SC2086
    migr $args >/dev/null || fail "migr $args exited non-zero"
done
migrd --help >/dev/null || fail "migrd --help"
migr-worker --help >/dev/null || fail "migr-worker --help"
migr frobnicate >/dev/null 2>&1; expect_eq "unknown command" 2 "$?"
migr dataset synth >/dev/null 2>&1; expect_eq "synth without a name" 2 "$?"
migr dataset synth x >/dev/null 2>&1; expect_eq "synth without --clips" 2 "$?"
migr dataset synth x --clips ten >/dev/null 2>&1; expect_eq "synth with --clips ten" 2 "$?"
migr run show abc >/dev/null 2>&1; expect_eq "run show abc" 2 "$?"
migrd --liveness 0 >/dev/null 2>&1; expect_eq "migrd --liveness 0" 2 "$?"

# A migrd that cannot start is reported with its reason, not a timeout.
out=$(MIGR_HTTP=bogus migr up --workers 1 2>&1); rc=$?
expect_eq "migr up with a bad MIGR_HTTP" 1 "$rc"
echo "$out" | grep -q 'MIGR_HTTP="bogus"' || fail "migr up did not say why migrd failed: $out"

migr up --workers 1 >/dev/null || fail "migr up"
migr up --workers 1 >/dev/null 2>&1; expect_eq "second migr up" 1 "$?"
expect_eq "worker fields" '["host","id","pid","state"]' \
    "$(migr workers --json | jq -c '.[0] | {id,pid,host,state} | keys')"
migr dataset synth tiny --clips 3 --seed 2 --wait >/dev/null || fail "synth"
expect_eq "dataset list fields" '["clips","failed","featurized","name"]' \
    "$(migr dataset list --json | jq -c '.[0] | {name,clips,featurized,failed} | keys')"
expect_eq "dataset show name" tiny "$(jqr .name dataset show tiny)"
# A generator config from examples/, and a bad one refused with the line at fault.
here=$(cd "$(dirname "$0")/../.." && pwd)
migr dataset synth cfg --clips 2 --config "$here/examples/synth.yaml" --wait >/dev/null || fail "synth --config"
printf 'width: 64\np_misleading: 2\n' >"$MIGR_HOME/bad.yaml"
out=$(migr dataset synth bad --clips 2 --config "$MIGR_HOME/bad.yaml" 2>&1); rc=$?
expect_eq "synth with a bad config" 1 "$rc"
echo "$out" | grep -q "bad.yaml:2: p_misleading" || fail "the error does not name line 2 and the key: $out"
migr dataset show nope >/dev/null 2>&1; expect_eq "show of a missing dataset" 1 "$?"
expect_eq "run list" "[]" "$(migr run list --json | jq -c .)"
migr run show 42 >/dev/null 2>&1; expect_eq "show of a missing run" 1 "$?"
migr run cancel 42 >/dev/null 2>&1; expect_eq "cancel of a missing run" 1 "$?"
finish
