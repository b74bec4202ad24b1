# CURVE over TCP: migrd refuses a non-loopback endpoint without keys; with
# `migr keygen` keys a worker and the CLI work over tcp://127.0.0.1; a worker
# and a client whose key is not in the allowlist get nothing, and migrd logs
# the refused key; a worker whose .pub is removed is cut off within 3 s and
# its task goes to another worker; a worker id connected under one key
# cannot be claimed under another.
. "$(dirname "$0")/lib.sh"

# No keys, a non-loopback endpoint: refused with the way out.
out=$(MIGR_ENDPOINT="tcp://0.0.0.0:$(free_port)" migr up --workers 1 2>&1) &&
    fail "migr up on 0.0.0.0 without keys succeeded"
echo "$out" | grep -q CURVE || fail "the refusal does not name CURVE: $out"
echo "$out" | grep -q "migr keygen" || fail "the refusal does not name migr keygen: $out"
[ ! -e "$MIGR_HOME/run/migrd.pid" ] || ! kill -0 "$(pid_of migrd)" 2>/dev/null ||
    fail "migrd kept running after refusing to start"

MIGR_ENDPOINT="tcp://127.0.0.1:$(free_port)"
export MIGR_ENDPOINT
migr keygen migrd >/dev/null || fail "keygen migrd"
migr keygen lab >/dev/null || fail "keygen lab"
migr keygen spare >/dev/null || fail "keygen spare"
elsewhere=$(mktemp -d /tmp/migr-it-other.XXXXXX)
MIGR_HOME=$elsewhere migr keygen stranger >/dev/null || fail "keygen stranger"
stranger_pub=$(cat "$elsewhere/keys/stranger.pub")

# Without MIGR_KEY the CLI says what to set.
out=$(migr workers 2>&1) && fail "the CLI talked to a CURVE migrd without a key"
echo "$out" | grep -q "MIGR_KEY" || fail "no hint to set MIGR_KEY: $out"

export MIGR_KEY=lab
migr up --workers 1 || fail "migr up with CURVE on $MIGR_ENDPOINT"
grep -q "CURVE on" "$MIGR_HOME/logs/migrd.log" || fail "migrd did not turn CURVE on"
grep -q "(CURVE)" "$MIGR_HOME/logs/worker-0.log" || fail "the worker did not use CURVE"
migr dataset synth d --clips 8 --seed 1 --wait >/dev/null || fail "synth over CURVE"
run=$(tiny_sft d --set train.steps=2) || fail "submit over CURVE"
wait_for "the run over CURVE" 60 sh -c "[ \"\$(migr run show $run --json | jq -r .state)\" = succeeded ]"

# A worker and a client with an unlisted key.
MIGR_KEY="$elsewhere/keys/stranger.key" migr-worker --id stranger >"$MIGR_HOME/logs/stranger.log" 2>&1 &
spid=$!
wait_for "the stranger worker to give up" 10 sh -c "! kill -0 $spid"
wait $spid && fail "the stranger worker exited 0"
grep -q "refused this worker's CURVE key" "$MIGR_HOME/logs/stranger.log" ||
    fail "the stranger worker did not say it was refused: $(tail -3 "$MIGR_HOME/logs/stranger.log")"
grep -qF "key $stranger_pub is not in the allowlist" "$MIGR_HOME/logs/migrd.log" ||
    fail "migrd did not log the refused key $stranger_pub"
migr workers --json | jq -e 'all(.[]; .id != "stranger")' >/dev/null || fail "the stranger is listed as a worker"
out=$(MIGR_KEY="$elsewhere/keys/stranger.key" migr workers 2>&1) && fail "a client with an unlisted key was answered"
echo "$out" | grep -q "refused this side's CURVE key" || fail "the refused client was not told: $out"
rm -rf "$elsewhere"

# Cut off: a second worker under its own key takes a task; its .pub goes.
MIGR_KEY=spare migr-worker --id spare >"$MIGR_HOME/logs/worker-spare.log" 2>&1 &
spare=$!
wait_for "the spare worker" 10 sh -c "migr workers --json | jq -e 'any(.[]; .id == \"spare\")'"
kill -STOP "$(pid_of worker-0)"   # the task can only go to the spare
run=$(tiny_sft d --set train.steps=3) || fail "submit"
soon_for "the spare worker to hold a lease" 30 sh -c \
    "[ \"\$(sqlite3 '$MIGR_HOME/migr.db' \"SELECT COUNT(*) FROM tasks WHERE state='leased' AND worker='spare'\")\" -gt 0 ]"
t0=$(date +%s%N)
rm "$MIGR_HOME/keys/spare.pub"
soon_for "the spare worker to be cut off" 5 sh -c "! kill -0 $spare"
ms=$((($(date +%s%N) - t0) / 1000000))
echo "cut off ${ms} ms after its key was removed"
[ "$ms" -le 3000 ] || fail "the removed key was cut off after $ms ms, over 3 s"
grep -q "worker spare .* was cut off: its key left the allowlist" "$MIGR_HOME/logs/migrd.log" ||
    fail "migrd did not log the cut-off"
grep -q "removed from migrd's allowlist" "$MIGR_HOME/logs/worker-spare.log" ||
    fail "the spare worker was not told why"
kill -CONT "$(pid_of worker-0)"
wait_for "the run to finish on the remaining worker" 60 \
    sh -c "[ \"\$(migr run show $run --json | jq -r .state)\" = succeeded ]"
# A listed key may not take over the id of a worker that connected under
# another key: local-0 is killed, and before migrd has declared it dead a
# worker with the lab-2 key says hello as local-0.
migr keygen lab-2 >/dev/null || fail "keygen lab-2"
# local-0 was stopped long enough above to be declared dead: wait for it to
# reconnect, so that there is a connected local-0 to claim.
wait_for "local-0 to reconnect" 40 sh -c "migr workers --json | jq -e 'any(.[]; .id == \"local-0\")'"
kill -KILL "$(pid_of worker-0)"
# Its connection closes with the process at once, but the claim must not race
# that close: while it is open ZeroMQ itself ignores a second peer of the
# same routing id.  migrd keeps local-0 in its table for 3 s more.
sleep 0.5
out=$(MIGR_KEY=lab-2 timeout 10 migr-worker --id local-0 2>&1) && fail "a worker took over local-0 under another key"
echo "$out" | grep -q "in use by a worker with another key" || fail "the id claim was not refused: $out"
grep -q "refused a hello claiming worker id local-0" "$MIGR_HOME/logs/migrd.log" || fail "the claim was not logged"
rm -f "$MIGR_HOME/run/worker-0.pid"
finish
