# A full store: the store is a small tmpfs made here (skipped, exit 77, where
# the machine does not let the test mount one).  Filled up to the last
# 3 MiB, an SFT run keeping every checkpoint fails mid-run
# with a reason naming the file, the bytes it needs and the free space;
# every checkpoint it lists verifies against its sha256 and no temp file is
# left; with the space freed, `migr run retry` takes the run up from its
# last checkpoint (no earlier step done again) and ends with the checkpoint
# of an undisturbed run.  A store read-only for 2 s
# mid-run makes tasks retry, and the run ends with the same checkpoint.
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)

store="$MIGR_HOME/store"
mkdir -p "$store"
if ! err=$(mount -t tmpfs -o size=24m tmpfs "$store" 2>&1); then
    echo "SKIP: cannot mount a small tmpfs for the store on this machine: $err"
    rm -rf "$MIGR_HOME"
    exit 77
fi
cleanup() { umount "$store" 2>/dev/null; }
trap cleanup EXIT

submit() {
    migr run submit "$here/examples/sft.yaml" --set dataset=d --set train.steps=6 \
        --set train.batch_size=8 --set train.shards=2 --set train.warmup=1 --set train.checkpoint_every=1 \
        --set model.channels=32 --set model.layers=1
}
final() { migr ckpt list "$1" --json | jq -r '.[-1] | "\(.step) \(.sha256)"'; }

migr up --workers 1 >/dev/null || fail "migr up"
migr dataset synth d --clips 16 --seed 3 --wait >/dev/null || fail "synth"
free_kb=$(df -k --output=avail "$store" | tail -1)
dd if=/dev/zero of="$store/filler" bs=1k count=$((free_kb - 3072)) 2>/dev/null
echo "store: $(df -k --output=avail "$store" | tail -1) KiB free after the filler"
full=$(submit) || fail "submit"
migr run watch "$full" >/dev/null 2>&1 && fail "the run succeeded on a full store"
expect_eq "state on a full store" failed "$(jqr .state run show "$full")"
reason=$(migr run show "$full" --json | jq -r '.error // .reason // empty')
[ -n "$reason" ] || reason=$(migr run logs "$full" --json | jq -r '[.events[] | .detail // empty] | join("\n")')
echo "reason: $reason" | head -3
echo "$reason" | grep -q "no space left for $store/" || fail "the reason does not name the file in the store: $reason"
echo "$reason" | grep -Eq "needs [0-9]+ bytes and the file system holding $store/[^ ]* has [0-9]+ free" ||
    fail "the reason does not give the bytes needed and free: $reason"
migr ckpt list "$full" --json | jq -r '.[] | "\(.sha256)  \(.path)"' >"$MIGR_HOME/listed"
[ "$(migr ckpt list "$full" --json | jq '[.[] | select(.step >= 1)] | length')" -ge 1 ] ||
    fail "the run failed before a checkpoint past step 0; the test proves nothing"
sha256sum -c --quiet "$MIGR_HOME/listed" || fail "a listed checkpoint does not verify"
echo "$(wc -l <"$MIGR_HOME/listed") checkpoint(s) listed before the store filled, each verified"
left=$(find "$store" -name '*.tmp.*')
[ -z "$left" ] || fail "temp files left in the full store: $left"

rm "$store/filler"
last=$(migr ckpt list "$full" --json | jq '.[-1].step')
migr run retry "$full" --json >"$MIGR_HOME/retry.json" || fail "run retry"
again=$(jq -r .id "$MIGR_HOME/retry.json")
expect_eq "the step the retry takes up from" "$last" "$(jq .resumed_from_step "$MIGR_HOME/retry.json")"
migr run watch "$again" >/dev/null || fail "the retried run failed with space freed"
redone=$(sqlite3 "$MIGR_HOME/migr.db" "SELECT COUNT(*) FROM tasks WHERE owner = 'run' AND owner_id = $again AND kind IN ('init', 'grad', 'apply') AND subject <= $last")
expect_eq "steps up to $last done again by the retry" 0 "$redone"
echo "the retry took up run $full at step $last"
calm=$(submit) || fail "submit"
migr run watch "$calm" >/dev/null || fail "the undisturbed run failed"
echo "retried $(final "$again"); undisturbed $(final "$calm")"
expect_eq "final checkpoint of the retried run" "$(final "$calm")" "$(final "$again")"

# Briefly unwritable (the store remounted read-only for 2 s mid-run): the
# tasks that hit it fail and are retried; the run does not fail.
ro=$(submit) || fail "submit"
wait_for "step 2" 60 sh -c "[ \$(migr run show $ro --json | jq .step) -ge 2 ]"
mount -o remount,ro "$store" || fail "cannot remount the store read-only"
sleep 2
mount -o remount,rw "$store" || fail "cannot remount the store read-write"
migr run watch "$ro" >/dev/null || fail "a store unwritable for 2 s failed the run: $(migr run show "$ro" --json | jq -r .error)"
hits=$(migr run logs "$ro" --json | jq '[.events[] | select(.detail // "" | test("Read-only file system"))] | length')
echo "read-only store: $hits failed attempt(s), then $(final "$ro")"
[ "$hits" -ge 1 ] || fail "no task hit the read-only store; the test proves nothing"
expect_eq "final checkpoint after a read-only spell" "$(final "$calm")" "$(final "$ro")"
migr down >/dev/null || fail "migr down"
umount "$store" || fail "cannot unmount the test's tmpfs"
finish
