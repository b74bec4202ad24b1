#!/bin/sh
# SFT step throughput: our step (model_forward_backward, bench/sft_step.c)
# beside PyTorch's forward + backward on the same model, sizes and batch
# (bench/sft_step.py), at 1 and 2 threads, plus our step's GFLOP/s against
# a plain 1024^3 cblas_sgemm measured in the same process.  No optimizer
# step on either side.
#
#   sh bench/sft_step.sh [B T ITERS V]      defaults 16 160 10 2000
#
# THREADS="1 2" picks the thread counts (ours: the step's pool, as
# migr-worker --threads N, with OpenBLAS on one thread inside it and on N
# for the sgemm peak; PyTorch: torch.set_num_threads).  ROUNDS (default 5)
# is how many times each side runs, alternating ours, PyTorch, ours, ...: a
# shared machine's speed drifts by tens of percent within a minute, so each
# round's ratio compares two runs made seconds apart, and the table gives
# medians over the rounds with the ratios' range.  PYTHON (default
# /usr/bin/python3) must import torch; without it the PyTorch rows are
# skipped.  The grad hash column shows whether our gradients are
# bit-identical across thread counts (they are meant to be: ml/layers.h).
# loss/token differs between the two sides because each draws its own
# initial parameters and batch (same distributions); that the two compute
# the same function is the golden test's job, not this one's.
# Step GF/s counts useful FLOPs (causal attention pairs only; the LM head
# and the last block past its attention only at positions with a target).
# Both sides train the same function, but not with the same work: our
# forward computes the LM head (logits, softmax, their backward) and the
# last block's projection, MLP and final LayerNorm only at the positions
# with a target (97 of 160 by default: none for the media/subtitle prefix),
# PyTorch's, as tests/golden/make_golden.py writes it, at all B*T.
# tokens/s counts all B*T positions on both sides.  ms/step is wall-clock
# time, the mean over ITERS steps after a warm-up one.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d /tmp/sft-step-bench.XXXXXX)
trap 'rm -rf "$out"' EXIT
python=${PYTHON:-/usr/bin/python3}
threads=${THREADS:-"1 2"}
rounds=${ROUNDS:-5}

# Built here, like the release flavour (-O2; -ffp-contract=fast as the
# Makefile gives ml/layers.c), from the model's own sources,
# so that the bench needs nothing else of the tree to compile.
cc -std=c11 -D_GNU_SOURCE -O2 -ffp-contract=fast -Wall -Wextra -Werror -Wno-psabi -I"$here" \
    $(pkg-config --cflags openblas) -o "$out/sft_step" \
    "$here/bench/sft_step.c" "$here/ml/model.c" "$here/ml/layers.c" "$here/ml/pool.c" \
    "$here/ml/blas.c" "$here/common/error.c" $(pkg-config --libs openblas) -lm -lpthread

have_torch=1
"$python" -c 'import torch' 2>/dev/null || have_torch=0

field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
# median of the numbers on stdin, one per line
median() { sort -g | awk '{v[NR] = $1} END {print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
minmax() { sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.2f-%.2f", lo, hi}'; }

printf '%-8s %7s %12s %10s %12s %10s %12s %12s  %s\n' impl threads tokens/s ms/step ms_range \
    step_GF/s sgemm_GF/s loss/token grad_hash
for n in $threads; do
    : >"$out/ours" && : >"$out/torch" && : >"$out/ratio"
    r=0
    while [ "$r" -lt "$rounds" ]; do
        r=$((r + 1))
        c=$(OPENBLAS_NUM_THREADS=1 "$out/sft_step" --threads "$n" "$@")
        echo "$(field "$c" ms_per_step) $(field "$c" step_gflops) $(field "$c" sgemm_peak_gflops)" >>"$out/ours"
        if [ "$have_torch" = 1 ]; then
            p=$(OPENBLAS_NUM_THREADS=$n OMP_NUM_THREADS=$n "$python" "$here/bench/sft_step.py" "$n" "$@")
            echo "$(field "$p" ms_per_step)" >>"$out/torch"
            awk -v t="$(field "$p" ms_per_step)" -v o="$(field "$c" ms_per_step)" \
                'BEGIN {print t / o}' >>"$out/ratio"
        fi
    done
    bt=$(( $(field "$c" B) * $(field "$c" T) ))
    ms=$(cut -d' ' -f1 "$out/ours" | median)
    printf '%-8s %7s %12.0f %10.2f %12s %10.2f %12.2f %12s  %s\n' ours "$n" \
        "$(awk -v m="$ms" -v bt="$bt" 'BEGIN {print bt / m * 1000}')" "$ms" \
        "$(cut -d' ' -f1 "$out/ours" | minmax)" "$(cut -d' ' -f2 "$out/ours" | median)" \
        "$(cut -d' ' -f3 "$out/ours" | median)" "$(field "$c" loss_per_token)" "$(field "$c" grad_hash)"
    if [ "$have_torch" = 1 ]; then
        ms=$(median <"$out/torch")
        printf '%-8s %7s %12.0f %10.2f %12s %10s %12s %12s\n' pytorch "$(field "$p" threads)" \
            "$(awk -v m="$ms" -v bt="$bt" 'BEGIN {print bt / m * 1000}')" "$ms" \
            "$(minmax <"$out/torch")" - - "$(field "$p" loss_per_token)"
        printf 'ours / pytorch at %s thread(s): %.2fx (median of %s rounds; range %sx)\n' "$n" \
            "$(median <"$out/ratio")" "$rounds" "$(minmax <"$out/ratio")"
    fi
done
[ "$have_torch" = 1 ] || echo "(PyTorch rows skipped: $python cannot import torch)"
echo "(ours computes the LM head and the last block's tail only at positions with a target; PyTorch at every position)"
