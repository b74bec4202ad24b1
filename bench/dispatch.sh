#!/bin/sh
# Dispatch throughput and latency: migr's coordinator beside a raw ZeroMQ
# floor and Celery 5 + Redis, in one command (issue #11, item 2).
#
#   sh bench/dispatch.sh                 full run (several minutes on 2 cores)
#   QUICK=1 sh bench/dispatch.sh         smoke run with small task counts (about a minute)
#
# Every measurement prints the JSON of `migr bench dispatch --json`:
#   {"tasks","workers","seconds","tasks_per_s","p50_ms","p99_ms","max_ms"}
# tasks/s = tasks / seconds: the throughput, comparable across all three
# sides.  p50/p99/max = per-task latency in ms (nearest-rank quantiles), but
# NOT the same span on every side (below): zeromq and celery time a task's
# round trip, migr times its own dispatch decision.  So the migr/zeromq and
# migr/celery ratios are of tasks/s only; compare latencies within a side.
#
# The three sides, each with N workers as separate processes on this machine,
# payload PAYLOAD bytes (default 64) each way:
#   zeromq  bench/dispatch_zmq.c, built here (cc -O2 -Wall -Wextra -Werror,
#           pkg-config libzmq).  One ROUTER dispatcher, N forked DEALER workers
#           over loopback TCP that echo each task back.  Credit-based: each
#           worker holds one task; its result frees the credit and the next
#           task goes to it.  No database, no serialization, no leases: the
#           floor any ZeroMQ dispatcher pays.  seconds: first task sent (all
#           workers connected) to last echo back; latency: zmq_send of a task
#           to zmq_recv of its echo (one loopback round trip).
#   celery  bench/dispatch_celery.py: Debian's python3-celery 5 + redis-server
#           (apt-get installed if missing), a private redis-server on a free
#           loopback port in a temp dir (no persistence), used as broker AND
#           result backend; `celery worker --pool prefork --concurrency N
#           --prefetch-multiplier 1 -O fair` without gossip/mingle/heartbeat.
#           The client sends no-op `echo(payload)` tasks with apply_async and
#           receives each result over the backend's pub/sub; seconds: first
#           timed send to last result; latency: apply_async to result
#           received by the client (a round trip through Redis twice).  WITH
#           result backend: the client must see each task finish, as migr's
#           coordinator does (Celery without one is faster, but then nobody
#           knows a task completed).
#           By default it keeps N tasks outstanding (one per worker, the same
#           discipline as zeromq); CELERY_INFLIGHT=0 sends all at once instead,
#           and latency then includes the wait in the queue.  Before timing,
#           2N untimed warm-up tasks.
#   migr    build/bin/migr bench dispatch --workers N --tasks T --payload B
#           --json (--sim-workers N: N simulated workers in one process).  It
#           starts a migrd of its own (temporary MIGR_HOME, loopback TCP,
#           SQLite as in real runs), queues all T no-op tasks, starts the
#           workers and runs until every task is done (each worker holds one
#           task plus --prefetch queued: the bench's default 1, migrd's 0).  Its latency, as its
#           --help says, spans migrd reading the message that freed a worker's
#           slot to that worker's next task leaving migrd with its lease
#           committed: the coordinator's decision time, without the trip to
#           the worker and back (`migr bench dispatch --help` is the authority
#           if it changes).  Run from the temp dir.  If the command is missing
#           or fails on its first run, the migr rows print "migr bench
#           dispatch not available" and the rest runs.
#
# Tables (each printed as soon as it is measured):
#   1. zeromq, celery and migr at WORKERS (default 1 4 16) real workers;
#      zeromq and migr run TASKS tasks, celery CELERY_TASKS (fewer: it is
#      some 50x slower than zeromq).  On the migr rows: x zeromq, x celery =
#      migr tasks/s divided by zeromq's, celery's (above 1: migr is faster).
#      migr runs with the bench's default --prefetch 1 (each worker holds one
#      task queued beyond the one it runs: the setting for short tasks), and
#      again as migr/p0 with migrd's default --prefetch 0: one task per worker
#      at a time, zeromq's discipline.
#   2. migr with --sim-workers SIM_WORKERS (default 10 100 1000), SIM_TASKS
#      tasks; tps/first, p50/first = tasks/s and p50 divided by the first
#      row's (flat dispatch cost: both near 1).
#   3. migr with --workers SCALE_WORKERS (default 4) at SCALE_TASKS tasks
#      (default 10000 100000 1000000: how cost grows with the queue);
#      tps/first, p50/first as in table 2.
#
# Knobs (environment; QUICK=1 changes only the defaults):
#   TASKS=20000 (QUICK 2000)   CELERY_TASKS=2000 (QUICK 200)   SIM_TASKS=TASKS
#   SCALE_TASKS="10000 100000 1000000" (QUICK "1000 3000 10000")
#   WORKERS="1 4 16"  SIM_WORKERS="10 100 1000"  SCALE_WORKERS=4  PAYLOAD=64
#   CELERY_INFLIGHT (default: N)  ROUNDS=1: run every row ROUNDS times,
#   interleaved, and report the run with the median tasks/s (a shared
#   machine's speed drifts; 3 is better when comparing)
#   SKIP="celery migr ...": sides or tables (zeromq celery migr sim scale) to leave out
#   MIGR=build/bin/migr   PYTHON=/usr/bin/python3 (must be Debian's, where
#   python3-celery lives)
#
# Progress and errors go to stderr; tables, and the load average before and
# after, to stdout.  Needs root only to apt-get install what is missing (jq;
# python3-celery python3-redis redis-server; libzmq3-dev; on a machine with
# systemd, installing redis-server also starts Debian's own redis on port
# 6379, which this script does not use).  Everything it starts (redis-server,
# the celery worker and its pool, the measured programs) and its temp dir are
# removed on exit, also on INT or TERM.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d /tmp/dispatch-bench.XXXXXX)

if [ "${QUICK:-0}" = 1 ]; then
    d_tasks=2000 d_celery=200 d_scale="1000 3000 10000"
else
    d_tasks=20000 d_celery=2000 d_scale="10000 100000 1000000"
fi
tasks=${TASKS:-$d_tasks}
celery_tasks=${CELERY_TASKS:-$d_celery}
sim_tasks=${SIM_TASKS:-$tasks}
scale_tasks=${SCALE_TASKS:-$d_scale}
workers_list=${WORKERS:-"1 4 16"}
sim_list=${SIM_WORKERS:-"10 100 1000"}
scale_workers=${SCALE_WORKERS:-4}
payload=${PAYLOAD:-64}
rounds=${ROUNDS:-1}
skip=" ${SKIP:-} "
migr=${MIGR:-$here/build/bin/migr}
python=${PYTHON:-/usr/bin/python3}

redis_pid='' redis_port='' celery_pid='' child=''

# run CMD...: runs CMD as a background child and waits for it, so that a
# signal to this script is handled at once (cleanup stops the child) and not
# only when CMD ends.  Returns CMD's status.
run() {
    "$@" &
    child=$!
    status=0
    wait "$child" || status=$?
    child=''
    return "$status"
}

# Stops the celery worker and its pool: TERM to its process group (it leads
# one, started under setsid), KILL after 10 s.
stop_celery() {
    [ -n "$celery_pid" ] || return 0
    kill -TERM -- "-$celery_pid" 2>/dev/null || kill -TERM "$celery_pid" 2>/dev/null || :
    i=0
    while kill -0 "$celery_pid" 2>/dev/null && [ "$i" -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -KILL -- "-$celery_pid" 2>/dev/null || :
    wait "$celery_pid" 2>/dev/null || :
    celery_pid=
}

stop_redis() {
    [ -n "$redis_pid" ] || return 0
    kill -TERM "$redis_pid" 2>/dev/null || :
    wait "$redis_pid" 2>/dev/null || :
    redis_pid=
}

cleanup() {
    [ -z "$child" ] || { kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null; } || :
    stop_celery
    stop_redis
    rm -rf "$out"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say() { echo "dispatch.sh: $*" >&2; }
skipped() { case $skip in *" $1 "*) return 0 ;; esac; return 1; }

# apt_install PKG...: installs Debian packages quietly, refreshing the lists
# once if the first try fails.  Returns apt-get's status.
apt_install() {
    say "installing $*"
    [ "$(id -u)" = 0 ] || { say "not root: cannot install $*"; return 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" \
        >>"$out/apt.log" 2>&1 && return 0
    apt-get update -q >>"$out/apt.log" 2>&1 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" \
            >>"$out/apt.log" 2>&1 && return 0
    tail -n 3 "$out/apt.log" >&2
    return 1
}

command -v jq >/dev/null 2>&1 || apt_install jq || { say "jq is required"; exit 1; }

# --- the sides ---------------------------------------------------------------
# Each run_* writes one JSON object to the file named by its first argument
# and returns 0, or prints why on stderr, leaves no file and returns 1.

# valid_json FILE: the file holds an object with every field of the shape.
valid_json() {
    jq -e 'type == "object" and all(.tasks, .workers, .seconds, .tasks_per_s,
           .p50_ms, .p99_ms, .max_ms; type == "number")' "$1" >/dev/null 2>&1
}

zmq_ok=1
if skipped zeromq; then
    zmq_ok=0
else
    pkg-config --exists libzmq 2>/dev/null || apt_install libzmq3-dev pkg-config || :
    cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror $(pkg-config --cflags libzmq) \
        -o "$out/dispatch_zmq" "$here/bench/dispatch_zmq.c" $(pkg-config --libs libzmq) -lm ||
        { say "cannot build bench/dispatch_zmq.c: zeromq rows skipped"; zmq_ok=0; }
fi

run_zeromq() { # FILE N TASKS
    [ "$zmq_ok" = 1 ] || return 1
    run "$out/dispatch_zmq" --workers "$2" --tasks "$3" --payload "$payload" --json \
        >"$1.tmp" 2>"$out/zeromq.err" && valid_json "$1.tmp" && mv "$1.tmp" "$1" && return 0
    say "zeromq --workers $2 failed: $(tail -n 1 "$out/zeromq.err")"
    rm -f "$1.tmp"
    return 1
}

celery_ok=1
if skipped celery; then
    celery_ok=0
elif ! { command -v redis-server && command -v redis-cli &&
         "$python" -c 'import celery, redis'; } >/dev/null 2>&1; then
    apt_install python3-celery python3-redis redis-server ||
        { say "cannot install Celery and Redis: celery rows skipped"; celery_ok=0; }
fi

# Starts the private redis-server (once) on a free loopback port.
start_redis() {
    [ -z "$redis_pid" ] || return 0
    redis_port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    mkdir -p "$out/redis"
    redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$out/redis" --save '' \
        --appendonly no --logfile "$out/redis/redis.log" &
    redis_pid=$!
    i=0
    until [ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ]; do
        i=$((i + 1))
        if [ "$i" -gt 50 ] || ! kill -0 "$redis_pid" 2>/dev/null; then
            say "redis-server did not start: $(tail -n 1 "$out/redis/redis.log" 2>/dev/null)"
            stop_redis
            return 1
        fi
        sleep 0.1
    done
}

run_celery() { # FILE N TASKS
    [ "$celery_ok" = 1 ] || return 1
    start_redis || { celery_ok=0; return 1; }
    redis-cli -p "$redis_port" flushall >/dev/null
    export DISPATCH_REDIS="redis://127.0.0.1:$redis_port/0"
    PYTHONPATH="$here/bench" setsid "$python" -m celery -A dispatch_celery worker \
        --pool prefork --concurrency "$2" --prefetch-multiplier 1 -O fair \
        --without-gossip --without-mingle --without-heartbeat --loglevel WARNING \
        >"$out/celery-worker.log" 2>&1 &
    celery_pid=$!
    if run "$python" "$here/bench/dispatch_celery.py" --workers "$2" --tasks "$3" \
        --payload "$payload" --warmup-timeout 60 ${CELERY_INFLIGHT:+--inflight="$CELERY_INFLIGHT"} \
        >"$1.tmp" 2>"$out/celery.err" && valid_json "$1.tmp"; then
        stop_celery
        mv "$1.tmp" "$1"
        return 0
    fi
    say "celery --workers $2 failed: $(tail -n 1 "$out/celery.err")"
    kill -0 "$celery_pid" 2>/dev/null ||
        say "celery worker exited: $(grep -v '^ *$' "$out/celery-worker.log" | tail -n 1)"
    stop_celery
    rm -f "$1.tmp"
    return 1
}

# migr_state: unknown until the first run; "ok" once one has succeeded,
# "missing" if the first failed (then the command is taken not to exist yet
# and every later migr row is skipped without running it).
migr_state=unknown
skipped migr && migr_state=skipped

run_migr() { # FILE ARGS...
    f=$1
    shift
    case $migr_state in missing | skipped) return 1 ;; esac
    mkdir -p "$out/migr"
    if [ -x "$migr" ] && run env -C "$out/migr" "$migr" bench dispatch "$@" --payload "$payload" --json \
        >"$f.tmp" 2>"$out/migr.err" && valid_json "$f.tmp"; then
        migr_state=ok
        mv "$f.tmp" "$f"
        return 0
    fi
    rm -f "$f.tmp"
    if [ "$migr_state" = unknown ]; then
        migr_state=missing
        if [ -x "$migr" ]; then
            say "migr bench dispatch not available: $(head -n 1 "$out/migr.err")"
        else
            say "migr bench dispatch not available: no $migr (run make)"
        fi
    else
        say "migr bench dispatch $* failed: $(tail -n 1 "$out/migr.err")"
    fi
    return 1
}

# --- tables ------------------------------------------------------------------

# pick NAME: of the rounds' NAME.r*.json, the one with the median tasks/s
# (the lower middle for an even count), as JSON on stdout; fails if none.
pick() {
    set -- "$out/$1".r*.json
    [ -e "$1" ] || return 1
    jq -s -c 'sort_by(.tasks_per_s) | .[(length - 1) / 2 | floor]' "$@"
}

# field JSON NAME
field() { echo "$1" | jq -r ".$2"; }

# ratio A B: A / B to 2 decimals, "-" when either is missing or B is 0.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }

# stats JSON: the columns tasks, tasks/s, p50, p99 and max of one run.
stats() { echo "$1" | jq -r '"\(.tasks) \(.tasks_per_s) \(.p50_ms) \(.p99_ms) \(.max_ms)"' |
    awk '{ printf "%8d %10.1f %9.3f %9.3f %9.3f", $1, $2, $3, $4, $5 }'; }

measure_rounds() { # BODY: runs the shell function BODY with r = 1..ROUNDS
    r=1
    while [ "$r" -le "$rounds" ]; do
        "$1"
        r=$((r + 1))
    done
}

unavailable() { [ "$migr_state" = missing ] && echo "migr bench dispatch not available" || echo "failed"; }

table1_round() {
    for n in $workers_list; do
        say "round $r: zeromq, celery, migr with $n workers"
        skipped zeromq || run_zeromq "$out/zeromq-$n.r$r.json" "$n" "$tasks" || :
        skipped celery || run_celery "$out/celery-$n.r$r.json" "$n" "$celery_tasks" || :
        run_migr "$out/migr-$n.r$r.json" --workers "$n" --tasks "$tasks" || :
        run_migr "$out/migr0-$n.r$r.json" --workers "$n" --tasks "$tasks" --prefetch 0 || :
    done
}

table1() {
    measure_rounds table1_round
    echo
    echo "Table 1: dispatch by worker count (payload $payload B; zeromq, migr $tasks tasks;" \
        "celery $celery_tasks; median of $rounds round(s))"
    printf '%7s %-7s %8s %10s %9s %9s %9s %9s %9s\n' workers impl tasks tasks/s \
        p50_ms p99_ms max_ms "x zeromq" "x celery"
    for n in $workers_list; do
        z=$(pick "zeromq-$n" || :) c=$(pick "celery-$n" || :) m=$(pick "migr-$n" || :)
        m0=$(pick "migr0-$n" || :)
        for impl in zeromq celery migr migr/p0; do
            skipped "${impl%/p0}" && continue
            case $impl in zeromq) j=$z ;; celery) j=$c ;; migr) j=$m ;; migr/p0) j=$m0 ;; esac
            if [ -z "$j" ]; then
                case $impl in migr*) why=$(unavailable) ;; *) why=failed ;; esac
                printf '%7s %-7s %s\n' "$n" "$impl" "($why)"
                continue
            fi
            printf '%7s %-7s %s' "$n" "$impl" "$(stats "$j")"
            if [ "${impl%/p0}" = migr ]; then
                zt='' ct=''
                [ -z "$z" ] || zt=$(field "$z" tasks_per_s)
                [ -z "$c" ] || ct=$(field "$c" tasks_per_s)
                mt=$(field "$j" tasks_per_s)
                printf ' %9s %9s' "$(ratio "$mt" "$zt")" "$(ratio "$mt" "$ct")"
            fi
            echo
        done
    done
}

# migr_table TITLE COLUMN NAME-PREFIX VALUES...: rows of migr runs named
# PREFIX-VALUE, with tasks/s and p50 against the first row's.
migr_table() {
    title=$1 column=$2 prefix=$3
    shift 3
    echo
    echo "$title"
    printf '%12s %8s %10s %9s %9s %9s %9s %9s\n' "$column" tasks tasks/s p50_ms p99_ms max_ms \
        tps/first p50/first
    first=
    for v in "$@"; do
        j=$(pick "$prefix-$v" || :)
        if [ -z "$j" ]; then
            printf '%12s %s\n' "$v" "($(unavailable))"
            continue
        fi
        [ -n "$first" ] || first=$j
        printf '%12s %s %9s %9s\n' "$v" "$(stats "$j")" \
            "$(ratio "$(field "$j" tasks_per_s)" "$(field "$first" tasks_per_s)")" \
            "$(ratio "$(field "$j" p50_ms)" "$(field "$first" p50_ms)")"
    done
}

sim_round() {
    for s in $sim_list; do
        say "round $r: migr with $s simulated workers"
        run_migr "$out/sim-$s.r$r.json" --sim-workers "$s" --tasks "$sim_tasks" || :
    done
}

scale_round() {
    for t in $scale_tasks; do
        say "round $r: migr with $scale_workers workers, $t tasks"
        run_migr "$out/scale-$t.r$r.json" --workers "$scale_workers" --tasks "$t" || :
    done
}

# load: the 1-minute load average (other work on a shared machine skews every row).
load() { cut -d ' ' -f 1 /proc/loadavg; }
load_before=$(load)
say "results in $out until exit"
table1
if ! skipped migr && ! skipped sim; then
    measure_rounds sim_round
    migr_table "Table 2: migr with simulated workers ($sim_tasks tasks, median of $rounds round(s))" \
        sim_workers sim $sim_list
fi
if ! skipped migr && ! skipped scale; then
    measure_rounds scale_round
    migr_table "Table 3: migr by queue size ($scale_workers workers, median of $rounds round(s))" \
        tasks scale $scale_tasks
fi
echo
echo "Machine: $(nproc) cores; 1-minute load average $load_before before, $(load) after."
