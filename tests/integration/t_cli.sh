# The CLI: --help on every verb, exit codes 0/1/2, --json field names, a
# clear message when migrd is not running.
. "$(dirname "$0")/lib.sh"

# migrd not running: failure (1) and a message that says what to do.
out=$(migr workers 2>&1); rc=$?
expect_eq "exit code without migrd" 1 "$rc"
echo "$out" | grep -q "migr up" || fail "the error does not suggest migr up: $out"
# ... told at once from the missing socket, not after a 10 s timeout.
echo "$out" | grep -q "there is no socket at $MIGR_HOME/migrd.sock" || fail "not told from the missing socket: $out"

for args in "--help" "up --help" "down --help" "workers --help" "dataset --help" "run --help" "demo --help"; do
    # shellcheck disable=SC2086
    migr $args >/dev/null || fail "migr $args exited non-zero"
done
# --version, and every command's help from the one table: each command line
# of `migr --help` is the usage line of that command's own --help, which
# lists the same options, and the parser refuses an option it does not list.
migr --version | grep -Eq '^migr [0-9]+\.[0-9]+\.[0-9]+ \(wire protocol [0-9]+\)$' ||
    fail "migr --version printed: $(migr --version 2>&1)"
migr --help | sed -n 's/^  migr \([a-z].*\)$/\1/p' >"$MIGR_HOME/commands"
n=0
while read -r line; do
    words=$(echo "$line" | awk '{ w = $1; if ($2 ~ /^[a-z]+$/) w = w " " $2; print w }')
    # shellcheck disable=SC2086
    expect_eq "usage line of migr $words --help" "usage: migr $line" "$(migr $words --help | head -1)"
    # shellcheck disable=SC2086
    expect_eq "options of migr $words --help" "$(echo "$line" | grep -o -- '--[a-z-]*' | sort | tr '\n' ' ')" \
        "$(migr $words --help | sed -n 's/^  \(--[a-z-]*\).*/\1/p' | sort | tr '\n' ' ')"
    # shellcheck disable=SC2086
    err=$(migr $words --frobnicate 2>&1 >/dev/null); rc=$?
    expect_eq "exit code of migr $words --frobnicate" 2 "$rc"
    echo "$err" | grep -q 'unknown option "--frobnicate"' || fail "migr $words --frobnicate said: $err"
    n=$((n + 1))
done <"$MIGR_HOME/commands"
[ "$n" -ge 18 ] || fail "migr --help lists $n commands"
# A group word alone lists its own commands, not everything.
expect_eq "migr run --help lines" 8 "$(migr run --help | grep -c '^  migr run ')"
expect_eq "migr run --help foreign lines" 0 "$(migr run --help | grep '^  migr ' | grep -vc '^  migr run ')"
migr run watch 1 --json >/dev/null 2>&1; expect_eq "run watch --json (not offered)" 2 "$?"
migrd --help >/dev/null || fail "migrd --help"
for p in migrd migr-worker; do
    expect_eq "$p --version" "$p $(migr --version | cut -d' ' -f2-)" "$($p --version)"
done
migr-worker --help >/dev/null || fail "migr-worker --help"
migr frobnicate >/dev/null 2>&1; expect_eq "unknown command" 2 "$?"
migr dataset synth >/dev/null 2>&1; expect_eq "synth without a name" 2 "$?"
migr dataset synth x >/dev/null 2>&1; expect_eq "synth without --clips" 2 "$?"
migr dataset synth x --clips ten >/dev/null 2>&1; expect_eq "synth with --clips ten" 2 "$?"
migr run show abc >/dev/null 2>&1; expect_eq "run show abc" 2 "$?"
# Bad values are refused before anything is sent, naming the option.
# usage_error WHAT EXPECTED-TEXT ARGS...
usage_error() {
    what=$1 text=$2
    shift 2
    out=$(migr "$@" 2>&1); rc=$?
    expect_eq "exit code of $what" 2 "$rc"
    echo "$out" | grep -qF -- "$text" || fail "$what said: $out"
}
usage_error "--clips 0" '--clips needs an integer in 1..1000000, got "0"' dataset synth x --clips 0
usage_error "--temperature -1" '--temperature needs a number in 0..100' \
    sample --ckpt /nope --dataset d --clip 0 --temperature -1
usage_error "--clip -3" '--clip needs an integer' sample --ckpt /nope --dataset d --clip -3
usage_error "a 20-digit train.steps" 'train.steps: 12345678901234567890 is out of range' \
    run submit "$(dirname "$0")/../../examples/sft.yaml" --set train.steps=12345678901234567890
usage_error "warmup over steps" 'lower it, e.g. --set train.warmup=' \
    run submit "$(dirname "$0")/../../examples/sft.yaml" --set train.steps=5
# migrd's options too, each naming its range: --prefetch from 0 (its default),
# the others from 1.
# migrd_usage_error WHAT EXPECTED-TEXT ARGS...
migrd_usage_error() {
    what=$1 text=$2
    shift 2
    out=$(migrd "$@" 2>&1); rc=$?
    expect_eq "exit code of migrd $what" 2 "$rc"
    echo "$out" | grep -qF -- "$text" || fail "migrd $what said: $out"
}
migrd_usage_error "--prefetch -3" 'migrd: --prefetch needs an integer in 0..1000000, got "-3"' --prefetch -3
migrd_usage_error "--prefetch ''" 'migrd: --prefetch needs an integer in 0..1000000, got ""' --prefetch ""
migrd_usage_error "--prefetch" 'migrd: --prefetch needs an integer in 0..1000000, got nothing' --prefetch
migrd_usage_error "--liveness 0" 'migrd: --liveness needs an integer in 1..1000000, got "0"' --liveness 0
migrd_usage_error "--keep-events -2" 'migrd: --keep-events needs an integer in 0..1000000, got "-2"' --keep-events -2

# A migrd that cannot start is reported with its reason, not a timeout.
out=$(MIGR_HTTP=bogus migr up --workers 1 2>&1); rc=$?
expect_eq "migr up with a bad MIGR_HTTP" 1 "$rc"
echo "$out" | grep -q 'MIGR_HTTP="bogus"' || fail "migr up did not say why migrd failed: $out"

out=$(migr up --workers 1) || fail "migr up"
# Each local worker runs on the CPUs shared among the workers: --threads
# max(1, CPUs / N), CPUs being those this process may run on.
cpus=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)
# worker_threads I: the --threads on the command line of worker I, by the pid migr up recorded.
worker_threads() {
    tr '\0' '\n' <"/proc/$(pid_of "worker-$1")/cmdline" | sed -n '/^--threads$/{n;p}'
}
expect_eq "--threads of the one worker of migr up --workers 1" "$cpus" "$(worker_threads 0)"
echo "$out" | grep -q "dashboard http://$(cat "$MIGR_HOME/run/http.addr")/" ||
    fail "migr up does not print the HTTP address it serves: $out"
migr up --workers 1 >/dev/null 2>&1; expect_eq "second migr up" 1 "$?"
expect_eq "worker fields" '["host","id","pid","state"]' \
    "$(migr workers --json | jq -c '.[0] | {id,pid,host,state} | keys')"
migr dataset synth tiny --clips 3 --seed 2 --wait >/dev/null || fail "synth"
expect_eq "dataset list fields" '["clips","failed","featurized","name"]' \
    "$(migr dataset list --json | jq -c '.[0] | {name,clips,featurized,failed} | keys')"
expect_eq "dataset show name" tiny "$(jqr .name dataset show tiny)"
# A generator config from examples/, and a bad one refused with the line at fault.
here=$(cd "$(dirname "$0")/../.." && pwd)
migr dataset synth cfg --clips 2 --config "$here/examples/synth.yaml" --wait >/dev/null || fail "synth --config"
printf 'width: 64\np_misleading: 2\n' >"$MIGR_HOME/bad.yaml"
out=$(migr dataset synth bad --clips 2 --config "$MIGR_HOME/bad.yaml" 2>&1); rc=$?
expect_eq "synth with a bad config" 1 "$rc"
echo "$out" | grep -q "bad.yaml:2: p_misleading" || fail "the error does not name line 2 and the key: $out"
migr dataset show nope >/dev/null 2>&1; expect_eq "show of a missing dataset" 1 "$?"
expect_eq "run list" "[]" "$(migr run list --json | jq -c .)"
migr run show 42 >/dev/null 2>&1; expect_eq "show of a missing run" 1 "$?"
migr run cancel 42 >/dev/null 2>&1; expect_eq "cancel of a missing run" 1 "$?"
out=$(migr ckpt list 99 2>&1); rc=$?
expect_eq "ckpt list of a missing run" 1 "$rc"
echo "$out" | grep -q "there is no run 99" || fail "ckpt list 99 said: $out"
migr down >/dev/null || fail "migr down"
migr up --workers 3 >/dev/null || fail "migr up --workers 3"
share=$((cpus / 3))
[ "$share" -ge 1 ] || share=1
for i in 0 1 2; do
    expect_eq "--threads of worker $i of migr up --workers 3 on $cpus CPUs" "$share" "$(worker_threads $i)"
done
finish
