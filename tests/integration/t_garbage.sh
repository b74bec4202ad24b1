# Garbage on migrd's socket -- random frames, a wrong protocol version, an
# empty envelope, a 100 MB message -- leaves it running and answering; each
# is logged, and the 100 MB message never enters migrd's memory (libzmq
# drops a peer whose frame is over the 16 MiB limit before allocating it;
# migrd's peak resident size used to grow by the whole message); and a
# client that floods requests without reading a reply does not freeze
# migrd (its sends to a full peer used to block the whole loop).
. "$(dirname "$0")/lib.sh"

migr up --workers 1 || fail "migr up"
ep="ipc://$MIGR_HOME/migrd.sock"
poke "$ep" random || fail "poke random"
poke "$ep" frames || fail "poke frames"
poke "$ep" empty || fail "poke empty"
poke "$ep" version || fail "poke version (no refusal came back)"
hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$(pid_of migrd)/status"; }
before=$(hwm)
poke "$ep" big || fail "poke big"
sleep 1
grown=$(($(hwm) - before))
echo "migrd's peak resident size grew by $grown kB with the 100 MB message"
[ "$grown" -lt 51200 ] || fail "the 100 MB message grew the peak resident size of migrd by $grown kB"
migr workers >/dev/null || fail "migrd stopped answering"
log="$MIGR_HOME/logs/migrd.log"
grep -q "are not a migr Envelope" "$log" || fail "random bytes were not logged"
grep -q "more frames than" "$log" || fail "extra frames were not logged"
grep -q "with no body" "$log" || fail "the empty envelope was not logged"
grep -q "protocol version 999" "$log" || fail "the version mismatch was not logged"
poke "$ep" deaf >"$MIGR_HOME/deaf.out" &
deaf=$!
sleep 4   # the flood is sent within 3 s; the deaf client then stays connected
t0=$(date +%s%N)
timeout 5 migr workers >/dev/null || fail "migrd stopped answering while a client did not read its replies"
echo "answered in $((($(date +%s%N) - t0) / 1000000)) ms beside a deaf client"
wait $deaf || fail "poke deaf"
echo "the deaf client sent $(cat "$MIGR_HOME/deaf.out") requests"
# Still does real work afterwards.
migr dataset synth after --clips 4 --seed 1 --wait >/dev/null || fail "synth after garbage"
expect_eq "featurized after garbage" 4 "$(jqr .featurized dataset show after)"
kill -0 "$(pid_of migrd)" || fail "migrd died"
finish
