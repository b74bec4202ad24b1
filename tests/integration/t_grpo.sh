# Runs of kind grpo: from an SFT checkpoint, with the MIGR rewards; every
# step records the group reward statistics, each reward's mean and the KL;
# the final checkpoint is bit-identical with 1 worker, with 3 workers and
# with a worker SIGKILLed mid-run; and GRPO and eval runs complete on a
# label-only dataset (no clue annotations, unseen subtitle words) with the
# verifier and judge of an annotated one.
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)

migr up --workers 1 >/dev/null || fail "migr up"
migr dataset synth a --clips 40 --seed 2 --wait >/dev/null || fail "synth"
migr dataset mi a --folds 3 --wait >/dev/null || fail "mi"
migr dataset instruments a --wait >/dev/null || fail "instruments"
# Enough SFT that some sampled completions are well formed and others not,
# so that rewards vary within groups and the gradients are not zero.
sft=$(migr run submit "$here/examples/sft.yaml" --set dataset=a --set reasoning.order=mi --set train.steps=150 \
    --set train.batch_size=8 --set train.shards=2 --set train.warmup=5 --set train.lr=0.01 \
    --set model.channels=32 --set model.layers=1) || fail "sft submit"
migr run watch "$sft" >/dev/null || fail "sft run"

grpo() {
    migr run submit "$here/examples/grpo.yaml" --set "grpo.init=run:$sft" --set train.steps=3 \
        --set grpo.group_size=3 --set train.batch_size=4 --set train.shards=2 --set grpo.max_new=100 "$@"
}
final() { migr ckpt list "$1" --json | jq -r '.[-1] | "\(.step) \(.sha256)"'; }

one=$(grpo --set dataset=a) || fail "grpo submit"
migr run watch "$one" >"$MIGR_HOME/grpo.out" || fail "the grpo run did not succeed: $(cat "$MIGR_HOME/grpo.out")"
cat "$MIGR_HOME/grpo.out"
for k in reward_mean reward_std zero_variance_share kl reward_accuracy reward_format reward_mi_order \
         reward_consistency loss grad_norm; do
    v=$(migr run logs "$one" --json | jq ".metrics[-1].$k")
    [ "$v" != null ] || fail "step metric $k is missing"
done
nonzero=$(migr run logs "$one" --json | jq '[.metrics[] | select(.grad_norm > 0)] | length')
[ "$nonzero" -gt 0 ] || fail "every GRPO step had a zero gradient; the determinism checks below would prove nothing"
expect_eq "sampled completions logged" 6 \
    "$(migr run logs "$one" --json | jq '[.events[] | select(.kind == "grpo.sample")] | length')"
expect_eq "samples in run show" 2 "$(jqr '.samples | length' run show "$one")"
migr run show "$one" | grep -q "^sample: " || fail "migr run show prints no sampled completion"
left=$(find "$MIGR_HOME/store/runs/$one" -name '*.grad' -o -name '0000*-*.json' | wc -l)
expect_eq "rollout, reward and gradient files left" 0 "$left"

for i in 1 2; do
    setsid migr-worker --id extra-$i >>"$MIGR_HOME/logs/worker-$i.log" 2>&1 </dev/null &
    echo $! >"$MIGR_HOME/run/worker-$i.pid"
done
wait_for "three workers" 20 sh -c "[ \$(migr workers --json | jq length) -eq 3 ]"
three=$(grpo --set dataset=a) || fail "grpo submit"
migr run watch "$three" >/dev/null || fail "the grpo run with 3 workers did not succeed"
killed=$(grpo --set dataset=a) || fail "grpo submit"
wait_for "step 1" 120 sh -c "[ \$(migr run show $killed --json | jq .step) -ge 1 ]"
kill_holding worker-1 extra-1
migr run watch "$killed" >/dev/null || fail "the grpo run with a killed worker did not succeed"
echo "1 worker: $(final "$one"); 3 workers: $(final "$three"); killed: $(final "$killed")"
expect_eq "1 vs 3 workers" "$(final "$one")" "$(final "$three")"
expect_eq "1 worker vs a killed one" "$(final "$one")" "$(final "$killed")"

# Label-only data: the same kind of clips, annotations dropped, another seed.
migr dataset synth src --clips 12 --seed 77 --wait >/dev/null || fail "synth src"
migr dataset add labels --manifest "$MIGR_HOME/store/datasets/src/manifest.csv" --wait >/dev/null ||
    fail "label-only dataset"
expect_eq "annotated clips" 0 "$(sqlite3 "$MIGR_HOME/migr.db" "SELECT COUNT(*) FROM clips c JOIN datasets d ON d.id = c.dataset_id WHERE d.name = 'labels' AND c.annotation IS NOT NULL")"
lo=$(grpo --set dataset=labels --set grpo.instruments=a --set rewards.mi_order=0 --set rewards.consistency=0) ||
    fail "grpo submit on label-only data"
migr run watch "$lo" >/dev/null || fail "the grpo run on label-only data did not succeed"
ev=$(migr run submit "$here/examples/eval.yaml" --set dataset=labels --set "eval.ckpt=run:$lo" \
    --set eval.clips=all --set eval.instruments=a --set eval.max_new=100) || fail "eval submit on label-only data"
migr run watch "$ev" >/dev/null || fail "the eval run on label-only data did not succeed"
expect_eq "label-only clips evaluated" 12 "$(jqr .eval.clips run show "$ev")"
finish
