#!/bin/sh
# GRPO claims, measured on an existing `migr demo` MIGR_HOME (default
# ./.migr after `make demo`):
#   1. the mean reward over the demo's MIGR GRPO run, step by step;
#   2. a GRPO run with only the accuracy reward keeps the format rate at
#      least at its SFT start (evaluations of both checkpoints on the same
#      held-out clips);
#   3. GRPO from an MI-ordered SFT checkpoint with room to improve (300 SFT
#      steps instead of the demo's 800, which nearly saturate the rewards on
#      the training clips) raises the mean reward over 60 steps at lr 3e-4:
#      the mean of the first 10 steps against the last 10.
# Usage: MIGR_HOME=... sh bench/grpo_checks.sh   (migrd must be running: migr up)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
bin="$here/build/bin"
runs=$("$bin/migr" run list --json)
id_of() { echo "$runs" | jq -r "[.[] | select(.name == \"$1\" and .state == \"succeeded\")][-1].id"; }
migr_grpo=$(id_of migr-grpo)
base_sft=$(id_of baseline-sft)
[ "$migr_grpo" != null ] && [ "$base_sft" != null ] || { echo "run migr demo first" >&2; exit 1; }
dataset=$("$bin/migr" run show "$migr_grpo" --json | jq -r .dataset)

echo "1. mean reward of the MIGR GRPO run (run $migr_grpo), by step:"
"$bin/migr" run logs "$migr_grpo" --json | jq -r '.metrics[] | "   step \(.step): reward \(.reward_mean)"'
"$bin/migr" run logs "$migr_grpo" --json |
    jq -r '.metrics | "   first 5 steps \(([.[:5][].reward_mean] | add / length)), last 5 steps \(([.[-5:][].reward_mean] | add / length))"'

evaluate() {
    id=$("$bin/migr" run submit "$here/examples/eval.yaml" --set "dataset=$dataset" --set "eval.ckpt=run:$1" \
        --set eval.max_new=160 --set "name=$2")
    "$bin/migr" run watch "$id" >/dev/null
    "$bin/migr" run show "$id" --json | jq -r '.eval.metrics.format_rate'
}
acc=$("$bin/migr" run submit "$here/examples/grpo.yaml" --set "dataset=$dataset" --set "grpo.init=run:$base_sft" \
    --set rewards.format=0 --set rewards.mi_order=0 --set rewards.consistency=0 --set train.steps=30 \
    --set train.warmup=3 --set name=accuracy-only-grpo)
"$bin/migr" run watch "$acc" >/dev/null
echo "2. format rate on the held-out clips: SFT start $(evaluate "$base_sft" sft-format), after accuracy-only GRPO $(evaluate "$acc" acc-format)"

sft=$("$bin/migr" run submit "$here/examples/sft.yaml" --set "dataset=$dataset" --set reasoning.order=mi \
    --set train.steps=300 --set train.warmup=20 --set train.holdout=0.25 --set name=migr-sft-300)
"$bin/migr" run watch "$sft" >/dev/null
grpo=$("$bin/migr" run submit "$here/examples/grpo.yaml" --set "dataset=$dataset" --set "grpo.init=run:$sft" \
    --set train.steps=60 --set train.warmup=5 --set train.lr=3e-4 --set train.holdout=0.25 --set name=migr-grpo-60)
"$bin/migr" run watch "$grpo" >/dev/null
"$bin/migr" run logs "$grpo" --json | jq -r '.metrics |
    "3. mean reward of GRPO from 300 MI-ordered SFT steps (run '"$grpo"'): first 10 steps \(([.[:10][].reward_mean] | add / 10)), last 10 steps \(([.[-10:][].reward_mean] | add / 10)); format \(([.[:10][].reward_format] | add / 10)) -> \(([.[-10:][].reward_format] | add / 10))"'
