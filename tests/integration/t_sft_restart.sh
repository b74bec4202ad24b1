# migrd killed by SIGKILL in the middle of an SFT run and started again:
# the run resumes from SQLite and the store and ends with the same final
# checkpoint as a run that was never interrupted.
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)

submit() {
    migr run submit "$here/examples/sft.yaml" --set dataset=d --set train.steps=8 \
        --set train.batch_size=8 --set train.shards=2 --set train.warmup=2 \
        --set model.channels=32 --set model.layers=1
}
migr up --workers 2 >/dev/null || fail "migr up"
migr dataset synth d --clips 24 --seed 5 --wait >/dev/null || fail "synth"
calm=$(submit) || fail "submit"
migr run watch "$calm" >/dev/null || fail "the uninterrupted run did not succeed"

hit=$(submit) || fail "submit"
wait_for "step 3" 120 sh -c "[ \$(migr run show $hit --json | jq .step) -ge 3 ]"
kill -KILL "$(pid_of migrd)" || fail "could not kill migrd"
sleep 1
start_migrd
migr run watch "$hit" >/dev/null || fail "the interrupted run did not succeed after the restart"
a=$(migr ckpt list "$calm" --json | jq -r '.[-1] | "\(.step) \(.sha256)"')
b=$(migr ckpt list "$hit" --json | jq -r '.[-1] | "\(.step) \(.sha256)"')
echo "uninterrupted: $a"
echo "interrupted:   $b"
expect_eq "final checkpoint" "$a" "$b"
finish
