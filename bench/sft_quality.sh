#!/bin/sh
# SFT quality on the synthetic set: a default-sized run (examples/sft.yaml)
# on CLIPS synthetic clips (default 200) with 2 workers, then one greedy
# sample per held-out clip from the final checkpoint.  Prints the loss
# curve, the share of well-formed explanations and the held-out answer
# accuracy (chance is 1/7).  `make bench-quality`; ORDER=[aud, vis, txt]
# or any --set through SET="key=value ...".
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
bin="$here/build/bin"
clips=${CLIPS:-200}
MIGR_HOME=${MIGR_HOME_KEEP:-$(mktemp -d /tmp/migr-quality.XXXXXX)}
export MIGR_HOME MIGR_HTTP=off
trap '"$bin/migr" down >/dev/null 2>&1 || true' EXIT

"$bin/migr" up --workers 2 >/dev/null
"$bin/migr" dataset synth q --clips "$clips" --seed 1 --wait >/dev/null
sets="--set dataset=q"
for kv in ${SET:-}; do sets="$sets --set $kv"; done
# shellcheck disable=SC2086
id=$("$bin/migr" run submit "$here/examples/sft.yaml" $sets)
start=$(date +%s)
"$bin/migr" run watch "$id" | awk 'NR == 1 || NR % 20 == 0 { print } END { print }'
echo "training took $(( $(date +%s) - start )) s"
ckpt=$("$bin/migr" ckpt list "$id" --json | jq -r '.[-1].path')
total=0 formed=0 right=0
for clip in $("$bin/migr" run show "$id" --json | jq -r '.holdout_clips[]'); do
    out=$("$bin/migr" sample --ckpt "$ckpt" --dataset q --clip "$clip" --json)
    total=$((total + 1))
    [ "$(echo "$out" | jq .well_formed)" = true ] && formed=$((formed + 1))
    [ "$(echo "$out" | jq -r '.answer == .label')" = true ] && right=$((right + 1))
done
echo "held-out clips: $total; well formed: $formed ($(awk "BEGIN{printf \"%.1f\", 100*$formed/$total}")%);" \
     "answer accuracy: $right ($(awk "BEGIN{printf \"%.1f\", 100*$right/$total}")%; chance 14.3%)"
echo "one held-out sample:"
"$bin/migr" sample --ckpt "$ckpt" --dataset q --clip "$("$bin/migr" run show "$id" --json | jq -r '.holdout_clips[0]')"
