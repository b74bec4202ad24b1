#!/bin/sh
# Generation throughput: model_generate with the KV cache against the full
# forward recomputed each step, on the default-sized model, one clip's
# prefix (63 positions) to max_seq (97 new tokens); fails if the two made
# different tokens.
#
#   sh bench/generate.sh [NEW REPS V]       defaults 97 3 2000
#
# OPENBLAS_NUM_THREADS applies (default here 1).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d /tmp/generate-bench.XXXXXX)
trap 'rm -rf "$out"' EXIT
cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -I"$here" \
    $(pkg-config --cflags openblas) -o "$out/generate" \
    "$here/bench/generate.c" "$here/ml/model.c" "$here/ml/layers.c" "$here/ml/sample.c" \
    "$here/common/error.c" $(pkg-config --libs openblas) -lm
OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} "$out/generate" "$@"
