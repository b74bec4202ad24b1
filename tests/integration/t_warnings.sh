# Results that would mislead are flagged, not reported as if fine: a judge
# no better than chance on its held-out think texts, and a GRPO run whose
# every group had rewards without variance (a barely trained policy that
# never writes an answer, scored on accuracy and format alone), which got no
# gradient at all.
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)

migr up --workers 2 >/dev/null || fail "migr up"
migr dataset synth src --clips 14 --seed 3 --wait >/dev/null || fail "synth"
# A judge that cannot beat chance whatever the halves: 14 clips, each label
# twice, every think the same words.  It can only guess the majority label
# of its training half, which its held-out half has at most once in 7.
src="$MIGR_HOME/store/datasets/src"
labels="happy sad neutral angry surprise disgust fear happy sad neutral angry surprise disgust fear"
echo "path,label" >"$MIGR_HOME/j.csv"
: >"$MIGR_HOME/j.jsonl"
i=0
for label in $labels; do
    f=$(printf 'media/clip_%06d.mp4' $i)
    echo "$src/$f,$label" >>"$MIGR_HOME/j.csv"
    printf '{"clip": "%s", "vis": "A face.", "aud": "A voice.", "txt": "Some words.", "think": "Hard to say what this is."}\n' \
        "$src/$f" >>"$MIGR_HOME/j.jsonl"
    i=$((i + 1))
done
migr dataset add j --manifest "$MIGR_HOME/j.csv" --annotations "$MIGR_HOME/j.jsonl" --wait >/dev/null ||
    fail "dataset add"
migr dataset instruments j --wait >/dev/null || fail "instruments"
acc=$(jqr .instruments.trained.judge_accuracy dataset show j)
echo "judge accuracy: $acc"
awk "BEGIN { exit !($acc <= 1 / 7) }" || fail "this set's judge scores $acc; the test needs one at or below chance"
jqr .instruments.warning dataset show j | grep -q "no better than chance" ||
    fail "no warning for a judge at $acc: $(jqr .instruments dataset show j)"
migr dataset show j | grep -q "^warning: the judge scores" || fail "dataset show prints no warning"

sft=$(migr run submit "$here/examples/sft.yaml" --set dataset=j --set train.steps=1 --set train.batch_size=4 \
    --set train.shards=2 --set train.warmup=0 --set model.channels=16 --set model.layers=1) || fail "sft submit"
migr run watch "$sft" >/dev/null || fail "sft run"
grpo=$(migr run submit "$here/examples/grpo.yaml" --set dataset=j --set "grpo.init=run:$sft" --set train.steps=2 \
    --set train.warmup=0 --set grpo.group_size=2 --set train.batch_size=2 --set train.shards=2 \
    --set grpo.max_new=3 --set rewards.mi_order=0 --set rewards.consistency=0) || fail "grpo submit"
migr run watch "$grpo" >"$MIGR_HOME/watch.out" || fail "the grpo run did not succeed: $(cat "$MIGR_HOME/watch.out")"
expect_eq "steps with every group flat" 2 \
    "$(migr run logs "$grpo" --json | jq '[.metrics[] | select(.zero_variance_share == 1)] | length')"
grep -q "^warning: every group of all 2 steps had rewards without variance" "$MIGR_HOME/watch.out" ||
    fail "run watch printed no warning: $(cat "$MIGR_HOME/watch.out")"
expect_eq "warnings in run show" 1 "$(jqr '.warnings | length' run show "$grpo")"
# A run that did learn carries none.
expect_eq "warnings of the SFT run" 0 "$(jqr '.warnings | length' run show "$sft")"
finish
