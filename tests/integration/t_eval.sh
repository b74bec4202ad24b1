# Runs of kind eval: the paper's metrics for a checkpoint on its run's
# held-out clips (or all clips of a dataset), kept per checkpoint; refused
# with a next step when the dataset has no trained judge.
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)

migr up --workers 2 >/dev/null || fail "migr up"
migr dataset synth e --clips 40 --seed 6 --wait >/dev/null || fail "synth"
sft=$(migr run submit "$here/examples/sft.yaml" --set dataset=e --set train.steps=4 --set train.batch_size=4 \
    --set train.shards=2 --set train.warmup=1 --set model.channels=16 --set model.layers=1) || fail "sft submit"
migr run watch "$sft" >/dev/null || fail "sft run"

out=$(migr run submit "$here/examples/eval.yaml" --set dataset=e --set eval.ckpt=run:$sft 2>&1)
expect_eq "eval without a judge" 1 "$?"
echo "$out" | grep -q "migr dataset instruments e" || fail "the refusal does not say what to do: $out"

migr dataset instruments e --wait >/dev/null || fail "instruments"
ev=$(migr run submit "$here/examples/eval.yaml" --set dataset=e --set eval.ckpt=run:$sft \
    --set eval.max_new=40 --set eval.shards=2) || fail "eval submit"
migr run watch "$ev" >/dev/null || fail "the eval run did not succeed"
migr run show "$ev"
holdout=$(migr run show "$sft" --json | jq '.holdout_clips | length')
expect_eq "clips evaluated" "$holdout" "$(jqr .eval.clips run show "$ev")"
for k in war uar format_rate correct_consistent correct_inconsistent wrong_consistent wrong_inconsistent grounding; do
    v=$(jqr ".eval.metrics.$k" run show "$ev")
    awk "BEGIN { exit !($v >= 0 && $v <= 1) }" || fail "$k is not a fraction: $v"
done
sum=$(migr run show "$ev" --json | jq '.eval.metrics | .correct_consistent + .correct_inconsistent + .wrong_consistent + .wrong_inconsistent')
awk "BEGIN { exit !($sum > 0.999 && $sum < 1.001) }" || fail "the four bins sum to $sum, not 1"
expect_eq "eval of checkpoint step" 4 "$(jqr .eval.ckpt_step run show "$ev")"
# A file that is no checkpoint is refused at submit, not after 3 retries.
head -c 5000 /dev/urandom >"$MIGR_HOME/garbage.ckpt"
out=$(migr run submit "$here/examples/eval.yaml" --set dataset=e --set "eval.ckpt=$MIGR_HOME/garbage.ckpt" 2>&1)
expect_eq "eval of a garbage checkpoint" 1 "$?"
echo "$out" | grep -q "is not a usable checkpoint" || fail "the refusal does not say so: $out"
runs_before=$(migr run list --json | jq length)
# Every clip of the dataset, and a checkpoint given by path.
path=$(migr ckpt list "$sft" --json | jq -r '.[-1].path')
all=$(migr run submit "$here/examples/eval.yaml" --set dataset=e --set "eval.ckpt=$path" --set eval.clips=all \
    --set eval.max_new=20) || fail "eval all submit"
migr run watch "$all" >/dev/null || fail "the eval of all clips did not succeed"
expect_eq "clips evaluated (all)" 40 "$(jqr .eval.clips run show "$all")"
expect_eq "runs made by the refused submit" $((runs_before + 1)) "$(migr run list --json | jq length)"
finish
