#!/bin/sh
# Featurization throughput: clips/s through migrd with 1 and 2 workers, beside
# `ffmpeg -i CLIP -f null -` decoding the same clips (one at a time, and two
# at a time), in one table.  Run with `make bench`; CLIPS=N to change the set.
#
# The ffmpeg rows are the anchor: a full decode of every frame and sample by
# the ffmpeg tool, without our sampling, resizing, log-mel or store writes,
# and without scheduling.  Ratios are ours / anchor at the same parallelism.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
bin="$here/build/bin"
clips=${CLIPS:-200}
MIGR_HOME=$(mktemp -d /tmp/migr-bench.XXXXXX)
export MIGR_HOME MIGR_HTTP=off
trap '"$bin/migr" down >/dev/null 2>&1 || true; rm -rf "$MIGR_HOME"' EXIT

now() { date +%s.%N; }
rate() { echo "$1 $2 $3" | awk '{ printf "%.1f", $1 / ($3 - $2) }'; }

"$bin/migr" up --workers 2 >/dev/null
"$bin/migr" dataset synth media --clips "$clips" --seed 1 --wait >/dev/null
manifest="$MIGR_HOME/store/datasets/media/manifest.csv"
media="$MIGR_HOME/store/datasets/media/media"
"$bin/migr" down >/dev/null

ours() {
    workers=$1
    "$bin/migr" up --workers "$workers" >/dev/null
    t0=$(now)
    "$bin/migr" dataset add "w$workers" --manifest "$manifest" --wait >/dev/null
    t1=$(now)
    n=$("$bin/migr" dataset show "w$workers" --json | jq .featurized)
    "$bin/migr" down >/dev/null
    [ "$n" -eq "$clips" ] || { echo "bench: only $n of $clips clips featurized" >&2; exit 1; }
    rate "$clips" "$t0" "$t1"
}

anchor() {
    parallel=$1
    t0=$(now)
    # -threads 1: our decoders are single-threaded too (for determinism).
    ls "$media"/*.mp4 | xargs -P "$parallel" -I{} ffmpeg -nostdin -loglevel error -threads 1 -i {} -f null -
    t1=$(now)
    rate "$clips" "$t0" "$t1"
}

ours1=$(ours 1)
ours2=$(ours 2)
ff1=$(anchor 1)
ff2=$(anchor 2)
echo "featurize: $clips synthetic clips (64x64, 10 fps, 2 s, AAC 16 kHz), $(nproc) cores"
printf '%-44s %10s %8s\n' "what" "clips/s" "ratio"
printf '%-44s %10s %8s\n' "migr featurize, 1 worker" "$ours1" "$(echo "$ours1 $ff1" | awk '{printf "%.2f", $1/$2}')"
printf '%-44s %10s %8s\n' "ffmpeg -i CLIP -f null -, 1 at a time" "$ff1" "1.00"
printf '%-44s %10s %8s\n' "migr featurize, 2 workers" "$ours2" "$(echo "$ours2 $ff2" | awk '{printf "%.2f", $1/$2}')"
printf '%-44s %10s %8s\n' "ffmpeg -i CLIP -f null -, 2 at a time" "$ff2" "1.00"
