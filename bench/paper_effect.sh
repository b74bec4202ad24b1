#!/bin/sh
# The paper's effect over generator seeds and reasoning-drift rates: `migr
# demo --json` (release build) for every seed in SEEDS and drift in DRIFTS,
# each in a fresh MIGR_HOME, then per drift, metric and arm the mean over the
# seeds with the lowest lower and highest upper end of the per-seed 95%
# intervals; per seed whether the arms' correct_inconsistent intervals
# overlap; and per drift the effect (MIGR minus baseline correct_inconsistent)
# and the WAR gap.  No effect is expected at drift 0.
#
#   SEEDS   cold-start set seeds (the RL set's is the next), default "7 17 27"
#   DRIFTS  default "0 0.25 0.5 0.75"
#   QUICK=1 runs `migr demo --quick`: a check of this script, not a measurement
#   KEEP=DIR keeps each run's JSON and MIGR_HOME in DIR (default: a temporary
#           directory, removed at the end); run again with the same DIR, it
#           skips the runs whose JSON is there and tabulates them all
#
# The default sizes take about 16 minutes a run on 2 cores: 12 runs, 3.2 hours;
# with KEEP a sweep can be stopped and taken up again, and its total counts
# the seconds of every run it tabulates.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
bin="$here/build/bin"
seeds=${SEEDS:-"7 17 27"}
drifts=${DRIFTS:-"0 0.25 0.5 0.75"}
quick=${QUICK:+--quick}
tag=${QUICK:+-quick}
metrics="war uar format_rate correct_consistent correct_inconsistent wrong_consistent wrong_inconsistent mi_order_agreement grounding"
if [ -n "${KEEP:-}" ]; then
    out=$KEEP
    mkdir -p "$out"
else
    out=$(mktemp -d /tmp/migr-effect.XXXXXX)
    trap 'rm -rf "$out"' EXIT
fi
[ -x "$bin/migr" ] || { echo "paper_effect: build first (make)" >&2; exit 1; }

start=$(date +%s)
for drift in $drifts; do
    for seed in $seeds; do
        home="$out/home-$seed-$drift$tag"
        # -s first: jq 1.6 exits 0 on an empty file, which a killed run leaves
        if [ -s "$out/$seed-$drift$tag.json" ] && jq -e '.migr.ci' "$out/$seed-$drift$tag.json" >/dev/null 2>&1; then
            echo "paper_effect: seed $seed, drift $drift: kept from an earlier run in $out" >&2
            continue
        fi
        rm -rf "$home"
        mkdir -p "$home"
        echo "paper_effect: seed $seed, drift $drift ..." >&2
        t0=$(date +%s)
        MIGR_HOME="$home" MIGR_HTTP=off "$bin/migr" demo $quick --json --seed "$seed" --drift "$drift" \
            >"$out/$seed-$drift$tag.json" 2>"$home/demo.err" ||
            { tail -20 "$home/demo.err" >&2; echo "paper_effect: the demo failed (seed $seed, drift $drift)" >&2; exit 1; }
        echo $(($(date +%s) - t0)) >"$out/$seed-$drift$tag.seconds"
        echo "paper_effect: seed $seed, drift $drift: $(cat "$out/$seed-$drift$tag.seconds") s;" \
            "$(jq -c '[.baseline, .migr] | map({war, correct_inconsistent, mi_order_agreement})' \
               "$out/$seed-$drift$tag.json")" >&2
    done
done

rows="$out/rows.tsv"
: >"$rows"
seconds=0
for drift in $drifts; do
    for seed in $seeds; do
        seconds=$((seconds + $(cat "$out/$seed-$drift$tag.seconds" 2>/dev/null || echo 0)))
        jq -r --arg drift "$drift" --arg seed "$seed" --arg metrics "$metrics" '
            . as $r | ($metrics | split(" "))[] as $m | ["baseline", "migr"][] as $arm |
            $r[$arm] as $a | [$drift, $seed, $m, $arm, $a[$m], $a.ci[$m][0], $a.ci[$m][1], $r.held_out] | @tsv' \
            "$out/$seed-$drift$tag.json" >>"$rows"
    done
done

echo "paper effect: seeds $seeds; drifts $drifts;${quick:+ (quick: not a measurement)} $seconds s in runs" \
     "(this invocation $(($(date +%s) - start)) s) on $(nproc) cores"
echo "(rates in %: the mean over the seeds, then [lowest lower, highest upper] end of the per-seed"
echo " 95% intervals; per seed, correct_inconsistent of each arm and whether the intervals overlap)"
awk -F'\t' -v metrics="$metrics" '
function cell(k) { return sprintf("%6.2f [%5.1f, %5.1f]", 100 * sum[k] / n[k], 100 * lo[k], 100 * hi[k]) }
{ k = $1 SUBSEP $3 SUBSEP $4; n[k]++; sum[k] += $5; held[$1] = $8
  if (!(k in lo) || $6 < lo[k]) lo[k] = $6; if (!(k in hi) || $7 > hi[k]) hi[k] = $7
  if ($3 == "correct_inconsistent") { v[$1, $2, $4] = $5; l[$1, $2, $4] = $6; h[$1, $2, $4] = $7 }
  if (!($1 in seen)) { seen[$1] = 1; drift[++nd] = $1 }
  if (!(($1, $2) in seenseed)) { seenseed[$1, $2] = 1; seed[$1, ++ns[$1]] = $2 } }
END {
  nm = split(metrics, metric, " ")
  for (i = 1; i <= nd; i++) {
    d = drift[i]
    printf "\ndrift %s, %d seeds, %d held-out clips each\n%-22s %-22s %-22s\n", d, ns[d], held[d], "", "baseline", "MIGR"
    for (j = 1; j <= nm; j++)
      printf "%-22s %-22s %-22s\n", metric[j], cell(d SUBSEP metric[j] SUBSEP "baseline"), cell(d SUBSEP metric[j] SUBSEP "migr")
    for (j = 1; j <= ns[d]; j++) {
      s = seed[d, j]
      printf "  seed %-4s correct_inconsistent %5.1f [%4.1f, %4.1f] vs %5.1f [%4.1f, %4.1f]: intervals %s\n", s,
             100 * v[d, s, "baseline"], 100 * l[d, s, "baseline"], 100 * h[d, s, "baseline"],
             100 * v[d, s, "migr"], 100 * l[d, s, "migr"], 100 * h[d, s, "migr"],
             l[d, s, "migr"] <= h[d, s, "baseline"] && l[d, s, "baseline"] <= h[d, s, "migr"] ? "overlap" : "disjoint"
    }
  }
  printf "\n%-6s %-30s %8s %8s\n", "drift", "correct_inconsistent base -> MIGR", "effect", "war gap"
  for (i = 1; i <= nd; i++) {
    d = drift[i]; b = d SUBSEP "correct_inconsistent" SUBSEP "baseline"; m = d SUBSEP "correct_inconsistent" SUBSEP "migr"
    wb = d SUBSEP "war" SUBSEP "baseline"; wm = d SUBSEP "war" SUBSEP "migr"
    printf "%-6s %13.2f%% -> %6.2f%%        %+7.2f  %+7.2f\n", d, 100 * sum[b] / n[b], 100 * sum[m] / n[m],
           100 * (sum[m] / n[m] - sum[b] / n[b]), 100 * (sum[wm] / n[wm] - sum[wb] / n[wb])
  }
  print "(effect: MIGR minus baseline correct_inconsistent, points; war gap: MIGR minus baseline WAR)"
}' "$rows"
