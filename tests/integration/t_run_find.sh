# Runs operators can find and handle: tags at submission, `run list` by
# state, kind, tag, name and limit, `run logs --follow` to the end, `run
# metrics --csv`, and `run retry` (refused while the run is active; else the
# same config again, to the same final checkpoint).
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)

migr up --workers 1 >/dev/null || fail "migr up"
migr dataset synth p --clips 12 --seed 5 --wait >/dev/null || fail "synth"
sft() { tiny_sft p "$@"; }
a=$(sft --set train.steps=3 --set name=first --tag ablation --tag lr:3e-3) || fail "submit a"
out=$(migr run logs "$a" --follow) || fail "run logs --follow did not exit 0 for a run that succeeded"
expect_eq "steps followed" 3 "$(echo "$out" | grep -c '^step ')"
echo "$out" | grep -q "run.succeeded" || fail "the followed log has no run.succeeded: $out"
expect_eq "the run's state when --follow ended" succeeded "$(jqr .state run show "$a")"
long=$(sft --set train.steps=100000 --set name=long --tag soak) || fail "submit long"
wait_for "the long run to start" 30 sh -c "[ \$(migr run show $long --json | jq -r .state) = running ]"

expect_eq "tags" '["ablation","lr:3e-3"]' "$(migr run show "$a" --json | jq -c .tags)"
expect_eq "--tag ablation" "$a" "$(jqr '[.[].id] | join(",")' run list --tag ablation)"
expect_eq "--state running" "$long" "$(jqr '[.[].id] | join(",")' run list --state running)"
expect_eq "--kind sft --limit 1" "$long" "$(jqr '[.[].id] | join(",")' run list --kind sft --limit 1)"
expect_eq "--name first" "$a" "$(jqr '[.[].id] | join(",")' run list --name first)"
expect_eq "--kind eval" "" "$(jqr '[.[].id] | join(",")' run list --kind eval)"
out=$(migr run list --state done 2>&1)
expect_eq "an unknown state's exit code" 2 "$?"
echo "$out" | grep -q "use queued, running" || fail "the refusal does not list the states: $out"
out=$(sft --tag "two words" 2>&1)
expect_eq "a bad tag's exit code" 2 "$?"

migr run metrics "$a" --csv >"$MIGR_HOME/a.csv" || fail "run metrics --csv"
expect_eq "CSV header" "step,grad_norm,loss,lr,tokens_per_s" "$(head -1 "$MIGR_HOME/a.csv")"
expect_eq "CSV rows" 3 "$(($(wc -l <"$MIGR_HOME/a.csv") - 1))"
loss=$(jqr '.steps_done[1].loss' run metrics "$a")
awk -F, -v want="$loss" 'NR == 3 { exit !($3 + 0 == want + 0) }' "$MIGR_HOME/a.csv" ||
    fail "CSV step 2's loss is not the recorded $loss: $(sed -n 3p "$MIGR_HOME/a.csv")"

out=$(migr run retry "$long" 2>&1)
expect_eq "retry of a running run" 1 "$?"
echo "$out" | grep -q "cancel it first" || fail "the refusal does not say what to do: $out"
migr run cancel "$long" >/dev/null || fail "cancel"
b=$(migr run retry "$a") || fail "run retry"
migr run watch "$b" >/dev/null || fail "the retried run did not succeed"
expect_eq "the retry's tags" '["ablation","lr:3e-3"]' "$(migr run show "$b" --json | jq -c .tags)"
last_sha() { migr ckpt list "$1" --json | jq -r '.[-1].sha256'; }
expect_eq "the retry's final checkpoint" "$(last_sha "$a")" "$(last_sha "$b")"
finish
