# The same SFT config gives a bit-identical final checkpoint with 1 worker,
# with 3 workers, and with a worker killed by SIGKILL mid-run; and a
# cancelled run stops within a step with its last checkpoint intact and
# none of its step scratch left.
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)

submit() {
    migr run submit "$here/examples/sft.yaml" --set dataset=d --set train.steps=8 \
        --set train.batch_size=8 --set train.shards=4 --set train.warmup=2 \
        --set model.channels=32 --set model.layers=1 "$@"
}
final_sha() {
    migr ckpt list "$1" --json | jq -r '.[-1].sha256'
}

migr up --workers 1 >/dev/null || fail "migr up"
migr dataset synth d --clips 30 --seed 8 --wait >/dev/null || fail "synth"
one=$(submit) || fail "submit with 1 worker"
migr run watch "$one" >/dev/null || fail "the run with 1 worker did not succeed"

# Two more workers: three in all.
for i in 1 2; do
    setsid migr-worker --id extra-$i >>"$MIGR_HOME/logs/worker-$i.log" 2>&1 </dev/null &
    echo $! >"$MIGR_HOME/run/worker-$i.pid"
done
wait_for "three workers" 20 sh -c "[ \$(migr workers --json | jq length) -eq 3 ]"
three=$(submit) || fail "submit with 3 workers"
migr run watch "$three" >/dev/null || fail "the run with 3 workers did not succeed"
# All three took part.
for w in local-0 extra-1 extra-2; do
    n=$(sqlite3 "$MIGR_HOME/migr.db" "SELECT COUNT(*) FROM events WHERE kind = 'task.done' AND owner = 'run' AND owner_id = $three AND detail = '$w'")
    [ "$n" -gt 0 ] || fail "worker $w did no task of run $three"
done

# Kill a worker in the middle of a run.
killed=$(submit) || fail "submit"
wait_for "step 3" 120 sh -c "[ \$(migr run show $killed --json | jq .step) -ge 3 ]"
kill_holding worker-1 extra-1
migr run watch "$killed" >/dev/null || fail "the run with a killed worker did not succeed"

echo "1 worker: $(final_sha "$one")"
echo "3 workers: $(final_sha "$three")"
echo "killed: $(final_sha "$killed")"
[ -n "$(final_sha "$one")" ] || fail "no final checkpoint"
expect_eq "final steps" "8 8 8" "$(for r in $one $three $killed; do migr ckpt list $r --json | jq '.[-1].step'; done | xargs)"
expect_eq "1 vs 3 workers" "$(final_sha "$one")" "$(final_sha "$three")"
expect_eq "1 worker vs a killed one" "$(final_sha "$one")" "$(final_sha "$killed")"

# Cancel: stops within one step; the last checkpoint stays intact.
long=$(submit --set train.steps=500) || fail "submit long run"
wait_for "step 2" 120 sh -c "[ \$(migr run show $long --json | jq .step) -ge 2 ]"
# A temp file like the one a worker killed mid-write leaves: gone with the run.
planted="$MIGR_HOME/store/runs/$long/grads/000002-00.grad.tmp.Xk3j9Q"
mkdir -p "$(dirname "$planted")" && : >"$planted"
migr run cancel "$long" >/dev/null || fail "cancel"
[ ! -e "$planted" ] || fail "a temp file in the run's gradients outlived the cancelled run"
at=$(jqr .step run show "$long")
sleep 3
expect_eq "state" cancelled "$(jqr .state run show "$long")"
after=$(jqr .step run show "$long")
[ "$after" -le $((at + 1)) ] || fail "the run went on from step $at to $after after cancel"
migr ckpt list "$long" --json | jq -r '.[] | "\(.sha256)  \(.path)"' | sha256sum -c --quiet ||
    fail "a checkpoint of the cancelled run does not match its sha256"
finish
