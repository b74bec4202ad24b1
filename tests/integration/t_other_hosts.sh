# Workers on other hosts: two workers in a network namespace of their own
# (made here: a veth pair, 10.231.N.0/24), with their own MIGR_HOME and key
# pair, reach migrd only over TCP with CURVE at its non-loopback address and
# share its store as a shared mount would; the run's final checkpoint equals
# the one a local worker makes over ipc://.  Skipped (exit 77) where the
# machine does not let the test make a network namespace.
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)

n=$(($$ % 250 + 1))
ns=migr-it-$$ host_if=mh$$ ns_if=mw$$ addr=10.231.$n.1
if ! err=$(ip netns add "$ns" 2>&1); then
    echo "SKIP: cannot make a network namespace on this machine (needs root with CAP_SYS_ADMIN): $err"
    rm -rf "$MIGR_HOME"
    exit 77
fi
cleanup() {
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
    ip netns del "$ns" 2>/dev/null
    ip link del "$host_if" 2>/dev/null
}
trap cleanup EXIT
ip link add "$host_if" type veth peer name "$ns_if" &&
    ip link set "$ns_if" netns "$ns" &&
    ip addr add "$addr/24" dev "$host_if" && ip link set "$host_if" up &&
    ip netns exec "$ns" ip addr add "10.231.$n.2/24" dev "$ns_if" &&
    ip netns exec "$ns" ip link set "$ns_if" up && ip netns exec "$ns" ip link set lo up || {
    echo "SKIP: cannot connect a network namespace to this one with a veth pair on this machine"
    rm -rf "$MIGR_HOME"
    exit 77
}
ip netns exec "$ns" sh -c "ip -4 addr show | grep -q 127.0.0.1" || fail "no loopback in $ns"

submit() {
    migr run submit "$here/examples/sft.yaml" --set dataset=d --set train.steps=6 \
        --set train.batch_size=8 --set train.shards=4 --set train.warmup=2 \
        --set model.channels=16 --set model.layers=1
}
final_sha() {
    migr ckpt list "$1" --json | jq -r '.[-1].sha256'
}

# The local reference: one worker over ipc://, no keys.
migr up --workers 1 >/dev/null || fail "migr up (local)"
migr dataset synth d --clips 24 --seed 5 --wait >/dev/null || fail "synth"
local_run=$(submit) || fail "submit (local)"
migr run watch "$local_run" >/dev/null || fail "the local run did not succeed"
migr down >/dev/null || fail "migr down"

# migrd on the veth address, CURVE on; no local workers.
migr keygen migrd >/dev/null && migr keygen ops >/dev/null || fail "keygen"
MIGR_ENDPOINT="tcp://$addr:$(free_port)" MIGR_KEY=ops
export MIGR_ENDPOINT MIGR_KEY
migr up --workers 0 >/dev/null || fail "migr up on $MIGR_ENDPOINT"

# The other host: its own MIGR_HOME and key pair; migrd's .pub copied there,
# its .pub copied to migrd; the store shared.
remote=$(mktemp -d /tmp/migr-it-remote.XXXXXX)
MIGR_HOME=$remote migr keygen node-b >/dev/null || fail "keygen node-b"
cp "$remote/keys/node-b.pub" "$MIGR_HOME/keys/" && cp "$MIGR_HOME/keys/migrd.pub" "$remote/keys/" ||
    fail "exchanging public keys"
for i in 0 1; do
    ip netns exec "$ns" env MIGR_HOME="$remote" MIGR_STORE="$MIGR_HOME/store" MIGR_KEY=node-b \
        setsid migr-worker --id "node-b-$i" >>"$MIGR_HOME/logs/worker-b$i.log" 2>&1 </dev/null &
    echo $! >"$MIGR_HOME/run/worker-b$i.pid"
done
wait_for "the two workers in $ns" 20 sh -c "[ \$(migr workers --json | jq '[.[] | select(.state == \"alive\")] | length') -eq 2 ]"
# They cannot see this host's loopback: migrd was reached on $addr.
ip netns exec "$ns" sh -c "echo > /dev/tcp/127.0.0.1/${MIGR_ENDPOINT##*:}" 2>/dev/null &&
    fail "the namespace reaches this host's loopback; the test proves nothing"
remote_run=$(submit) || fail "submit (remote)"
migr run watch "$remote_run" >/dev/null || fail "the run on the remote workers did not succeed"
for w in node-b-0 node-b-1; do
    k=$(sqlite3 "$MIGR_HOME/migr.db" "SELECT COUNT(*) FROM events WHERE kind = 'task.done' AND owner = 'run' AND owner_id = $remote_run AND detail = '$w'")
    [ "$k" -gt 0 ] || fail "worker $w did no task of run $remote_run"
done
echo "local over ipc:// $(final_sha "$local_run"); two workers in $ns over CURVE: $(final_sha "$remote_run")"
[ -n "$(final_sha "$local_run")" ] || fail "no final checkpoint"
expect_eq "final checkpoint, local vs other hosts" "$(final_sha "$local_run")" "$(final_sha "$remote_run")"
for i in 0 1; do kill -TERM "$(pid_of worker-b$i)"; done
rm -rf "$remote"
finish
