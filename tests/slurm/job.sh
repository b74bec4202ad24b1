#!/bin/sh
# job.sh SFT_YAML -- the migr job of tests/slurm/run.sh, run once against a
# local cluster (`migr up`) and once as migr.sbatch's command under Slurm:
# a synthetic dataset, then a small SFT run on it, with fixed seeds.  Prints
# the run's final checkpoint as `final: RUN STEP SHA256 PATH` on stdout.
#
# The default model on 100 clips for 30 steps: about 10 s of work on 2 cores,
# with 4 gradient shards a step, so that two workers share every step.
set -eu
yaml=${1:?usage: job.sh SFT_YAML}

migr dataset synth slurm-test --clips 100 --seed 11 --wait >/dev/null
id=$(migr run submit "$yaml" --set dataset=slurm-test --set seed=3 --set train.steps=30 \
    --set train.batch_size=16 --set train.shards=4 --set train.warmup=3 --set train.checkpoint_every=10 --wait)
state=$(migr run show "$id" --json | jq -r .state)
if [ "$state" != succeeded ]; then
    echo "job.sh: run $id ended $state" >&2
    exit 1
fi
migr ckpt list "$id" --json | jq -r --arg id "$id" '.[-1] | "final: \($id) \(.step) \(.sha256) \(.path)"'
