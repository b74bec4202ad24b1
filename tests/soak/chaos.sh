#!/bin/sh
# Chaos with nothing lost.  An SFT run and a GRPO run from its checkpoint are
# made once without faults, then again while a seeded chaos loop SIGKILLs
# random workers (starting a replacement each time) and migrd (restarting
# it; at least once while an `apply` is leased).  At the end: each final
# checkpoint's sha256 equals the fault-free one, no task was completed twice
# (migrd's task.done events), no store object is left over (no gradient,
# rollout, reward or temp file, no pending discard), and no run is stuck.
#
#   MIGR_BIN            the binaries (default: build/bin of this tree)
#   CHAOS_SEED          the chaos loop's seed (default 1)
#   CHAOS_WORKER_KILLS  worker SIGKILLs, at least (default 20)
#   CHAOS_MIGRD_KILLS   migrd SIGKILLs, at least (default 3), at even shares of
#                       the SFT run, each while an apply is leased when one is
#                       caught within 3 s
#   CHAOS_APPLY_KILLS   of those, while an apply was leased, at least (default 1)
#   CHAOS_GRPO=0        the SFT run only
#   CHAOS_STEPS         SFT steps (default 200; the GRPO run takes a tenth)
#
# tests/integration/t_chaos.sh runs a short version in `make test`; the soak
# is `sh tests/soak/chaos.sh` (about a minute and a half on 2 cores with the
# defaults; scale it with CHAOS_STEPS and the kill counts).
here=$(cd "$(dirname "$0")/../.." && pwd)
: "${MIGR_BIN:=$here/build/bin}"
export MIGR_BIN
. "$here/tests/integration/lib.sh"

seed=${CHAOS_SEED:-1} want_w=${CHAOS_WORKER_KILLS:-20} want_m=${CHAOS_MIGRD_KILLS:-3}
want_apply=${CHAOS_APPLY_KILLS:-1}
with_grpo=${CHAOS_GRPO:-1} steps=${CHAOS_STEPS:-200}
db="$MIGR_HOME/migr.db"
# Enough attempts that twenty kills never exhaust a task: what is tested is
# that nothing is lost, not the attempt limit (t_task_retries tests that).
migrd_args="--max-attempts 50"

sft() {
    # MI-ordered explanations when a GRPO run (with the MIGR rewards) follows.
    [ "$with_grpo" = 1 ] && order="--set reasoning.order=mi" || order=""
    # shellcheck disable=SC2086
    migr run submit "$here/examples/sft.yaml" --set dataset=d $order \
        --set train.steps="$steps" --set train.batch_size=8 --set train.shards=4 --set train.warmup=2 \
        --set train.lr=0.01 --set model.channels=32 --set model.layers=1
}
grpo() {
    migr run submit "$here/examples/grpo.yaml" --set dataset=d --set "grpo.init=run:$1" \
        --set train.steps=$((steps / 10 > 2 ? steps / 10 : 2)) --set grpo.group_size=3 \
        --set train.batch_size=4 --set train.shards=2 --set grpo.max_new=60
}
final() { migr ckpt list "$1" --json | jq -r '.[-1] | "\(.step) \(.sha256)"'; }

# The chaos loop's dice: an integer in 0..$1-1 from the seed and a counter.
n_roll=0
roll() {
    n_roll=$((n_roll + 1))
    awk -v s="$seed" -v i="$n_roll" -v n="$1" 'BEGIN { srand(s * 100003 + i); print int(rand() * n) }'
}

workers=3 spawned=0
start_worker() {  # start_worker SLOT: a fresh worker (new id) in slot SLOT
    spawned=$((spawned + 1))
    setsid migr-worker --id "chaos-$1-$spawned" >>"$MIGR_HOME/logs/worker-$1.log" 2>&1 </dev/null &
    echo $! >"$MIGR_HOME/run/worker-$1.pid"
}

# ---- the fault-free reference ----
start_migrd $migrd_args
for i in 0 1 2; do start_worker $i; done
migr dataset synth d --clips 24 --seed 5 --wait >/dev/null || fail "synth"
if [ "$with_grpo" = 1 ]; then
    migr dataset mi d --folds 3 --wait >/dev/null || fail "mi"
    migr dataset instruments d --wait >/dev/null || fail "instruments"
fi
t0=$(date +%s)
ref_sft=$(sft) || fail "submit"
migr run watch "$ref_sft" >/dev/null || fail "the fault-free SFT run failed"
if [ "$with_grpo" = 1 ]; then
    ref_grpo=$(grpo "$ref_sft") || fail "submit grpo"
    migr run watch "$ref_grpo" >/dev/null || fail "the fault-free GRPO run failed"
fi
echo "chaos: fault-free runs took $(($(date +%s) - t0)) s"

# ---- the same under chaos ----
wk=0 mk=0 mk_apply=0
applying() {
    [ "$(sqlite3 "$db" "SELECT COUNT(*) FROM tasks WHERE kind = 'apply' AND state = 'leased'" 2>/dev/null)" \
        -gt 0 ] 2>/dev/null
}
# Poll fast, up to 3 s, for an apply to be leased (it lasts milliseconds).
wait_apply() {
    i=0
    while [ $i -lt 150 ]; do
        applying && return 0
        sleep 0.02
        i=$((i + 1))
    done
    return 1
}
chaos_until_done() {  # chaos_until_done RUN STEPS
    while :; do
        s=$(migr run show "$1" --json 2>/dev/null) || s='{}'
        case $(echo "$s" | jq -r .state) in
        succeeded) return 0 ;;
        failed | cancelled) fail "run $1 ended $(echo "$s" | jq -r .state) under chaos" ;;
        esac
        step=$(echo "$s" | jq '.step // 0')
        sleep "0.$(($(roll 8) + 2))"
        # migrd's kills are due at even shares of the run, each while an
        # apply is leased if one is caught within 3 s.
        if [ "$mk" -lt "$want_m" ] && [ "$step" -ge $(((mk + 1) * $2 / (want_m + 1))) ]; then
            wait_apply && mk_apply=$((mk_apply + 1))
            kill -KILL "$(pid_of migrd)" 2>/dev/null && mk=$((mk + 1))
            sleep "0.$(roll 10)"
            start_migrd $migrd_args
        elif [ "$wk" -lt "$want_w" ] || [ "$(roll 4)" -eq 0 ]; then
            slot=$(roll $workers)
            if kill -KILL "$(pid_of "worker-$slot")" 2>/dev/null; then
                wk=$((wk + 1))
                sleep "0.$(roll 10)"
                start_worker "$slot"
            fi
        fi
    done
}
t0=$(date +%s)
hit_sft=$(sft) || fail "submit under chaos"
chaos_until_done "$hit_sft" "$steps"
if [ "$with_grpo" = 1 ]; then
    hit_grpo=$(grpo "$hit_sft") || fail "submit grpo under chaos"
    chaos_until_done "$hit_grpo" 1000000   # migrd's kills are done by now
fi
echo "chaos: $wk worker kills, $mk migrd kills ($mk_apply while an apply was leased), seed $seed, $(($(date +%s) - t0)) s"
[ "$wk" -ge "$want_w" ] || fail "only $wk worker kills before the runs ended (wanted $want_w); make CHAOS_STEPS larger"
[ "$mk" -ge "$want_m" ] || fail "only $mk migrd kills before the runs ended (wanted $want_m)"
[ "$mk_apply" -ge "$want_apply" ] || fail "migrd was killed $mk_apply times while an apply was leased (wanted $want_apply)"

echo "chaos: SFT  fault-free $(final "$ref_sft"), under chaos $(final "$hit_sft")"
expect_eq "the SFT run's final checkpoint under chaos" "$(final "$ref_sft")" "$(final "$hit_sft")"
if [ "$with_grpo" = 1 ]; then
    echo "chaos: GRPO fault-free $(final "$ref_grpo"), under chaos $(final "$hit_grpo")"
    expect_eq "the GRPO run's final checkpoint under chaos" "$(final "$ref_grpo")" "$(final "$hit_grpo")"
fi
check_migrd_completed_once chaos
wait_for "pending discards to go" 10 sh -c "[ \$(sqlite3 '$db' 'SELECT COUNT(*) FROM discards') -eq 0 ]"
left=$(find "$MIGR_HOME/store/runs" \( -path '*/grads/*' -o -path '*/rollouts/*' -o -path '*/rewards/*' -o -name '*.tmp.*' \) -type f)
echo "chaos: store objects left over: $(echo "$left" | grep -c .)"
[ -z "$left" ] || fail "store objects left over: $(echo "$left" | head -5)"
stuck=$(sqlite3 "$db" "SELECT COUNT(*) FROM runs WHERE state IN ('queued', 'running')")
expect_eq "runs stuck" 0 "$stuck"
finish
