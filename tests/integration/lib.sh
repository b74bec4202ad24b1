# lib.sh -- helpers for the integration tests (sourced by each t_*.sh).
#
# Each test gets its own MIGR_HOME under /tmp (short, for the ipc:// socket
# path), real processes and real sockets on the loopback.  MIGR_BIN names the
# directory of the binaries under test (the sanitized build, by default).

set -u
: "${MIGR_BIN:?set MIGR_BIN to the directory holding migr, migrd and migr-worker}"
MIGR_HOME=$(mktemp -d /tmp/migr-it.XXXXXX)
export MIGR_HOME
export MIGR_HTTP=127.0.0.1:0
export PATH="$MIGR_BIN:$PATH"
# Leaks are checked when processes exit cleanly; SIGKILLed ones cannot report.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

fail() {
    echo "FAIL: $*" >&2
    echo "  (state kept in $MIGR_HOME)" >&2
    migr down >/dev/null 2>&1
    exit 1
}

# expect_eq WHAT EXPECTED GOT
expect_eq() {
    [ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"
}

# Fail if any sanitizer reported anything in any log.
check_logs_clean() {
    if grep -l -E "Sanitizer|runtime error:" "$MIGR_HOME"/logs/*.log 2>/dev/null; then
        grep -h -A20 -E "Sanitizer|runtime error:" "$MIGR_HOME"/logs/*.log | head -60 >&2
        fail "a sanitizer reported an error (logs above)"
    fi
}

finish() {
    migr down >/dev/null || fail "migr down failed"
    check_logs_clean
    rm -rf "$MIGR_HOME"
}

# poll TRIES-PER-SECOND DESCRIPTION SECONDS COMMAND...: retry COMMAND until
# it succeeds, failing the test after SECONDS.
poll() {
    rate=$1 what=$2 secs=$3
    shift 3
    i=0 pause=$(awk "BEGIN { print 1 / $rate }")
    while ! "$@" >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -le $((secs * rate)) ] || fail "timed out after ${secs}s waiting for $what"
        sleep "$pause"
    done
}

# wait_for DESCRIPTION SECONDS COMMAND...: poll every 100 ms.
wait_for() { poll 10 "$@"; }

# soon_for DESCRIPTION SECONDS COMMAND...: poll every 10 ms, for a state that
# lasts only a few hundred ms.
soon_for() { poll 100 "$@"; }

# The value of a jq filter over `migr ... --json`.
jqr() {
    filter=$1
    shift
    migr "$@" --json | jq -r "$filter"
}

dataset_state() {
    jqr .state dataset show "$1"
}

dataset_done() {
    s=$(dataset_state "$1") && [ "$s" = ready ]
}

# tiny_sft DATASET [ARGS...]: submit a small SFT run of examples/sft.yaml on
# DATASET (one layer of 16 channels, batches of 4 clips in 2 shards, so
# that a step takes milliseconds); ARGS add --set and --tag; prints its id.
tiny_sft() {
    ds=$1
    shift
    migr run submit "$(cd "$(dirname "$0")/../.." && pwd)/examples/sft.yaml" --set dataset="$ds" \
        --set train.batch_size=4 --set train.shards=2 --set train.warmup=1 --set model.channels=16 \
        --set model.layers=1 "$@"
}

# Start migrd alone in the background (as `migr up` does), after a crash;
# arguments go to migrd.
start_migrd() {
    mkdir -p "$MIGR_HOME/logs" "$MIGR_HOME/run"
    setsid migrd "$@" >>"$MIGR_HOME/logs/migrd.log" 2>&1 </dev/null &
    echo $! >"$MIGR_HOME/run/migrd.pid"
    wait_for "migrd to answer" 20 migr workers
}

pid_of() {
    cat "$MIGR_HOME/run/$1.pid"
}

# check_migrd_completed_once [PREFIX]: no task may be completed twice in
# migrd: every accepted completion is one task.done event.  (A worker may
# run a task again after a migrd crash -- at-least-once -- but migrd accepts
# one result per task.)  With PREFIX it also prints
# "PREFIX: tasks completed twice: N".
check_migrd_completed_once() {
    dup=$(sqlite3 "$MIGR_HOME/migr.db" \
        "SELECT task_id FROM events WHERE kind='task.done' GROUP BY task_id HAVING COUNT(*) > 1") ||
        fail "cannot read migrd's task.done events from $MIGR_HOME/migr.db"
    [ $# -eq 0 ] || echo "$1: tasks completed twice: $(echo "$dup" | grep -c .)"
    [ -z "$dup" ] || fail "tasks completed twice according to migrd: $(echo "$dup" | head -5 | paste -sd' ' -)"
}

# The same, and with migrd never killed, no worker finished a task twice
# either (each logs every task it finished), but for a task a worker
# finished and never reported because it died first (SIGKILLed between
# its log line and its result): migrd ran that one again elsewhere, and
# the worker whose result it accepted is the only live one to have run it.
check_no_double_completion() {
    check_migrd_completed_once
    for log in "$MIGR_HOME"/logs/worker-*.log; do
        w=$(sed -n 's/.* worker \([^ ]*\) connecting to .*/\1/p' "$log" | head -1)
        sed -n "s/.* task \([0-9]*\) ([a-z]*) done in .*/\1 $w/p" "$log"
    done | sort -n >"$MIGR_HOME/completions"
    for t in $(cut -d' ' -f1 "$MIGR_HOME/completions" | uniq -d); do
        accepted=$(sqlite3 "$MIGR_HOME/migr.db" "SELECT detail FROM events WHERE kind = 'task.done' AND task_id = $t")
        for w in $(sed -n "s/^$t //p" "$MIGR_HOME/completions"); do
            [ "$w" = "$accepted" ] && continue
            state=$(sqlite3 "$MIGR_HOME/migr.db" "SELECT state FROM workers WHERE id = '$w'")
            [ "$state" = dead ] ||
                fail "task $t was processed to completion by $w and by $accepted, whose result migrd took, and $w did not die"
        done
    done
}

# A TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# kill_holding PIDNAME WORKER_ID: SIGKILL the worker of run/PIDNAME.pid while
# it holds a lease (stopped first, so that it cannot finish the task between
# the check and the kill); fails the test if it never gets one.
kill_holding() {
    kill -STOP "$(pid_of "$1")" || fail "could not stop $2"
    soon_for "$2 to hold a lease" 30 sh -c \
        "[ \$(sqlite3 '$MIGR_HOME/migr.db' \"SELECT COUNT(*) FROM tasks WHERE state = 'leased' AND worker = '$2'\") -ge 1 ]"
    kill -KILL "$(pid_of "$1")" || fail "could not kill $2"
}
