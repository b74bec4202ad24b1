#!/bin/sh
# The paper's effect over generator seeds and reasoning-drift rates: `migr
# demo --json` (release build) for every seed in SEEDS and drift in DRIFTS,
# each in a fresh MIGR_HOME, then per drift and arm the mean over the seeds
# of correct_inconsistent and WAR, with the lowest lower and highest upper
# end of their per-seed 95% intervals, and the effect (baseline minus MIGR
# correct_inconsistent).  No effect is expected at drift 0.
#
#   SEEDS   cold-start set seeds (the RL set's is the next), default "7 17 27"
#   DRIFTS  default "0 0.25 0.5 0.75"
#   QUICK=1 runs `migr demo --quick`: a check of this script, not a measurement
#   KEEP=DIR keeps each run's JSON and MIGR_HOME in DIR (default: a temporary
#           directory, removed at the end); run again with the same DIR, it
#           skips the runs whose JSON is there and tabulates them all
#
# The default sizes take about 8 minutes a run on 2 cores: 12 runs, 1.6 hours;
# with KEEP a sweep can be stopped and taken up again, and its total counts
# the seconds of every run it tabulates.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
bin="$here/build/bin"
seeds=${SEEDS:-"7 17 27"}
drifts=${DRIFTS:-"0 0.25 0.5 0.75"}
quick=${QUICK:+--quick}
tag=${QUICK:+-quick}
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
        if jq -e '.migr.ci' "$out/$seed-$drift$tag.json" >/dev/null 2>&1; then
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
        for arm in baseline migr; do
            jq -r --arg arm "$arm" --arg drift "$drift" --arg seed "$seed" \
                '.[$arm] as $a | [$drift, $arm, $seed, .held_out, $a.correct_inconsistent,
                 $a.ci.correct_inconsistent[0], $a.ci.correct_inconsistent[1], $a.war, $a.ci.war[0],
                 $a.ci.war[1]] | @tsv' "$out/$seed-$drift$tag.json" >>"$rows"
        done
    done
done

echo "paper effect: seeds $seeds; drifts $drifts;${quick:+ (quick: not a measurement)} $seconds s in runs (this invocation $(($(date +%s) - start)) s) on $(nproc) cores"
echo "(rates in %; [lowest lower, highest upper] end of the per-seed 95% intervals)"
awk -F'\t' '
{ k = $1 "\t" $2; n[k]++; held[k] = $4; ci[k] += $5; war[k] += $8
  if (!(k in cilo) || $6 < cilo[k]) cilo[k] = $6; if (!(k in cihi) || $7 > cihi[k]) cihi[k] = $7
  if (!(k in warlo) || $9 < warlo[k]) warlo[k] = $9; if (!(k in warhi) || $10 > warhi[k]) warhi[k] = $10
  if (!($1 in seen)) { seen[$1] = 1; order[++nd] = $1 } }
END {
  printf "%-6s %-9s %5s %8s  %-24s %8s  %-24s\n", "drift", "arm", "seeds", "c_incons", "", "war", ""
  for (i = 1; i <= nd; i++) {
    d = order[i]
    for (j = 1; j <= 2; j++) {
      a = j == 1 ? "baseline" : "migr"; k = d "\t" a
      printf "%-6s %-9s %5d %7.2f%%  [%5.1f, %5.1f] of %-6d %7.2f%%  [%5.1f, %5.1f]\n", d, a, n[k],
             100 * ci[k] / n[k], 100 * cilo[k], 100 * cihi[k], held[k], 100 * war[k] / n[k],
             100 * warlo[k], 100 * warhi[k]
    }
    b = d "\tbaseline"; m = d "\tmigr"
    printf "%-6s effect: correct_inconsistent %.2f points lower with MIGR (mean over seeds)\n", d,
           100 * (ci[b] / n[b] - ci[m] / n[m])
  }
}' "$rows"
