#!/bin/sh
# Generation (rollout) throughput, one table: our model_generate with the KV
# cache and without it (the full forward recomputed each step), beside the
# same two in PyTorch (bench/generate.py: a straightforward per-layer K/V
# cache grown with torch.cat, and the full forward per step), on the
# default-sized model (C=64, L=2, NH=4, V=2000, max_seq 160), one clip's
# prefix (63 positions) to max_seq (97 new tokens).  tokens/s is the new
# tokens over the best of REPS timed generations, the prefix's forward
# included; the ratio column divides by PyTorch's cached tokens/s.  Fails if
# either side's cached and uncached runs made different tokens.
#
#   sh bench/generate.sh [NEW REPS V]       defaults 97 3 2000
#
# TOPK (default 1: greedy, as bench/generate.py's default) picks the
# decoding of both sides; TOPK=40 samples at temperature 1 from the 40
# largest logits, as rollouts do.  OPENBLAS_NUM_THREADS (default here 1) is
# our thread count and PyTorch's (torch.set_num_threads).  PYTHON (default
# /usr/bin/python3) must import torch; without it the PyTorch rows are
# skipped.  Each side draws its own random parameters (the same
# distributions), so the tokens differ between the two; the speed is at
# identical shapes and work.  On a busy machine the numbers mostly measure
# the other load: see the load average printed below the table.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d /tmp/generate-bench.XXXXXX)
trap 'rm -rf "$out"' EXIT
python=${PYTHON:-/usr/bin/python3}
threads=${OPENBLAS_NUM_THREADS:-1}
topk=${TOPK:-1}
new=${1:-97}
reps=${2:-3}
vocab=${3:-2000}

# shellcheck disable=SC2046 # pkg-config's flags are meant to split
cc -std=c11 -D_GNU_SOURCE -O2 -ffp-contract=fast -Wall -Wextra -Werror -Wno-psabi -I"$here" \
    $(pkg-config --cflags openblas) -o "$out/generate" \
    "$here/bench/generate.c" "$here/ml/model.c" "$here/ml/layers.c" "$here/ml/pool.c" "$here/ml/sample.c" "$here/ml/blas.c" \
    "$here/common/error.c" $(pkg-config --libs openblas) -lm -lpthread

field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
# row IMPLEMENTATION CACHE OUTPUT cached|uncached
row() {
    printf '%-18s %-6s %10s %20s %14s\n' "$1" "$2" "$(field "$3" "$4_tokens_per_s")" \
        "$(ratio "$(field "$3" "$4_tokens_per_s")" "$ref")" "$(field "$3" same_tokens)"
}

load=$(cut -d' ' -f1-3 /proc/loadavg)
status=0
c=$(OPENBLAS_NUM_THREADS=$threads "$out/generate" "$new" "$reps" "$vocab" "$topk") || status=1
have_torch=1
"$python" -c 'import torch' 2>/dev/null || have_torch=0
p=
if [ "$have_torch" = 1 ]; then
    p=$(OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads \
        "$python" "$here/bench/generate.py" "$threads" "$new" "$reps" "$vocab" "$topk") || status=1
fi

ref=$(field "$p" cached_tokens_per_s)
ref=${ref:-0}
if [ "$topk" = 1 ]; then decoding="greedy"; else decoding="top_k $topk at temperature 1"; fi
echo "generation: prefix $(field "$c" prefix) positions, $(field "$c" new) new tokens, V=$vocab," \
    "$decoding, $threads thread(s), best of $reps"
printf '%-18s %-6s %10s %20s %14s\n' implementation cache tokens/s "vs PyTorch cached" "same tokens"
row "ours (C)" KV "$c" cached
row "ours (C)" none "$c" uncached
if [ "$have_torch" = 1 ]; then
    impl="PyTorch $(field "$p" impl | sed 's/^torch-//')"
    row "$impl" KV "$p" cached
    row "$impl" none "$p" uncached
    echo "KV cache speedup: ours $(field "$c" speedup)x, PyTorch $(field "$p" speedup)x"
else
    echo "(PyTorch rows skipped: $python cannot import torch; no ratios)"
    echo "KV cache speedup: ours $(field "$c" speedup)x"
fi
echo "(random weights on each side, the same distributions: the tokens differ between ours and"
echo " PyTorch's; the point is speed at identical shapes.  same tokens: that implementation's"
echo " cached and uncached runs made the same tokens.  Both uncached paths compute the logits"
echo " of every position.  load average (1/5/15 min) at start: $load on $(nproc) cores)"
exit $status
