#!/bin/bash
# tests/slurm/run.sh -- deploy/slurm/migr.sbatch under a real Slurm on this
# machine, checked against the same migr job run without Slurm.
#
#   tests/slurm/run.sh          (as root, after make; a minute or so)
#
# 1. Installs Debian's slurm-wlm and munge (and jq, sqlite3) if missing.
# 2. Starts, as children of this script (no systemd), a munged with a key and
#    socket of its own, slurmctld and the slurmd(s), from
#    tests/slurm/slurm.conf.in; all state, spool and logs go under one temp
#    dir.  No cgroups: proctrack/linuxproc, task/none.
# 3. Runs tests/slurm/job.sh (a synthetic dataset, then a small SFT run with
#    fixed seeds) against `migr up --workers 1` in a temp MIGR_HOME: the
#    reference checkpoint.
# 4. Submits migr.sbatch with job.sh as its command, the store, MIGR_SAVE,
#    MIGR_KEYHOME and the node-local MIGR_LOCAL in temp dirs (sbatch
#    --export), a free MIGR_PORT and MIGR_HTTP=127.0.0.1:0, and waits.
# 5. Checks: the job COMPLETED with exit code 0; the migrd step ran on the
#    allocation's first node only and the migr-worker step on every node (as
#    squeue lists the job's steps while it runs); each node's worker, named
#    by srun's SLURMD_NODENAME, did tasks of the run; the final checkpoint's
#    sha256 (as migrd lists it, as its file hashes, and as the saved database
#    holds it) equals the reference's; and the job stopped in order: every
#    worker and migrd stopped on SIGTERM, none was killed, and the database
#    was saved to MIGR_SAVE with no write-ahead log left.
# 6. Submits migr.sbatch again, serving (no command), with the same MIGR_SAVE
#    and store: checks it resumes from the saved database, that the CLI
#    reaches it from outside the job (the endpoint from the job's output,
#    MIGR_SERVER_KEY and the cluster key, as the sbatch's header says) and
#    sees run and checkpoint and one live worker per node, then stops it
#    with `scancel --batch --signal=TERM` and checks the stop as in 5.
#
# Two nodes on one host.  Debian's slurmd runs one daemon per node name (-N
# NAME), each on its own port with its own spool directory (%n), so this
# host serves as two nodes and migr.sbatch keeps its default --nodes=2:
# migrd on the first node, one worker per node from a single srun.  The node
# names are "localhost" and this host's short name, because the sbatch gives
# the workers tcp://FIRSTNODE:PORT, so a node name must resolve to this host;
# where the short name does not (or is localhost), there is one node and the
# job is submitted with --nodes=1.  Each node gets 1 CPU (the host's 2 cores
# between them), so the job asks --cpus-per-task=1 instead of the script's
# 16.  MIGR_BIN is a copy of build/bin taken at the start, so that a rebuild
# in the tree during the test cannot change the binaries between the runs.
#
# Exit status: 0 pass; 1 fail; 77 skipped, after a line starting with SKIP
# that says why (not root, no apt-get or the install failed, a daemon that
# will not start or register here, no job step can be launched).
# MIGR_SLURM_KEEP=1 keeps the temp dir (it is named at the start).

set -uo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
T=""
pids=()
jobid=""

say() { echo "slurm-test: $*"; }
skip() {
    echo "SKIP: $*"
    exit 77
}
fail() {
    echo "FAIL: $*" >&2
    show_logs >&2
    exit 1
}
# The last lines of a log, indented.
tail_of() { # FILE [LINES]
    [ -f "$1" ] && tail -n "${2:-15}" "$1" | sed 's/^/    /'
}
show_logs() {
    [ -n "$T" ] || return 0
    local f
    for f in "$T"/job-*.out "$T"/slurm/log/*.log "$T"/munge/munged.log; do
        [ -f "$f" ] || continue
        echo "--- $f (last lines):"
        tail_of "$f" 25
    done
}

# ---- preconditions -----------------------------------------------------

[ "$(id -u)" = 0 ] || skip "needs root: it installs slurm-wlm and munge and runs slurmctld and slurmd as root"
for b in migr migrd migr-worker; do
    [ -x "$repo/build/bin/$b" ] || fail "$repo/build/bin/$b not found; run make first"
done

keep=${MIGR_SLURM_KEEP:-0}
# Nothing of the caller's migr or Slurm setup (this may itself run in a job).
while read -r v; do unset "$v"; done < <(compgen -e | grep -E '^(MIGR_|SLURM_)')

missing=()
for c in slurmctld slurmd sbatch srun scontrol squeue scancel sinfo; do
    command -v "$c" >/dev/null || { missing+=(slurm-wlm); break; }
done
for c in munged munge unmunge; do
    command -v "$c" >/dev/null || { missing+=(munge); break; }
done
command -v jq >/dev/null || missing+=(jq)
command -v sqlite3 >/dev/null || missing+=(sqlite3)
if [ "${#missing[@]}" -gt 0 ]; then
    command -v apt-get >/dev/null || skip "${missing[*]} missing and no apt-get to install them"
    say "installing ${missing[*]} (apt-get)"
    log=$(mktemp /tmp/migr-slurm-apt.XXXXXX)
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
        apt-get update -q >>"$log" 2>&1
        apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$log" 2>&1 ||
            skip "cannot install ${missing[*]} with apt-get: $(grep -E '^E:' "$log" | tail -n 1)"
    fi
    rm -f "$log"
fi
version=$(slurmctld -V 2>/dev/null)

# ---- the cluster -------------------------------------------------------

T=$(mktemp -d /tmp/migr-slurm.XXXXXX) || fail "mktemp"
# munged wants every directory above its socket searchable by all.
chmod 755 "$T"
say "temp dir $T"

cleanup() {
    local rc=$? i p
    trap - EXIT INT TERM
    if [ -d "$T/ref" ]; then
        MIGR_HOME="$T/ref" "$T/bin/migr" down >/dev/null 2>&1
    fi
    # Jobs first, so that no slurmstepd outlives its slurmd.
    if [ "${#pids[@]}" -ge 2 ] && kill -0 "${pids[1]}" 2>/dev/null; then
        scancel --quiet --user=root 2>/dev/null
        for i in $(seq 1 60); do
            [ -z "$(squeue --noheader --user=root 2>/dev/null)" ] && break
            sleep 1
        done
    fi
    # Then the daemons, newest first, by the pids this script holds.
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        p=${pids[i]}
        kill -TERM "$p" 2>/dev/null || continue
        for _ in $(seq 1 50); do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.2
        done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    if [ "$keep" = 1 ]; then
        say "kept $T"
    else
        rm -rf "$T"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A TCP port on 127.0.0.1 that nothing listens on now, below the ephemeral
# range, and not one handed out before.
used_ports=" "
free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 12000))
        case "$used_ports" in *" $p "*) continue ;; esac
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            used_ports="$used_ports$p "
            echo "$p"
            return 0
        fi
    done
    return 1
}

# Node names that resolve to this host: the short host name when it resolves
# to a local address, and localhost.  In that order in slurm.conf: while the
# node table holds a single node named localhost, Slurm's lookup returns that
# node for any name, and so refuses the next one as a duplicate.
nodes=()
host=$(hostname -s 2>/dev/null)
if [ -n "$host" ] && [ "$host" != localhost ]; then
    addr=$(getent ahostsv4 "$host" 2>/dev/null | awk 'NR == 1 { print $1 }')
    case " $addr $(hostname -I 2>/dev/null) " in
    " 127."*) nodes+=("$host") ;;
    *" $addr "*) [ -n "$addr" ] && nodes+=("$host") ;;
    esac
fi
nodes+=(localhost)
[ "${#nodes[@]}" -eq 2 ] ||
    say "the host name '$host' does not resolve to this host: one node, submitted with --nodes=1"
ctld_host=${host:-localhost}

mkdir -p "$T/etc" "$T/munge" "$T/slurm/state" "$T/slurm/spool" "$T/slurm/log" "$T/slurm/run" "$T/bin" ||
    fail "cannot make the directories under $T"
mkdir -m 700 "$T/munge-key" || fail "cannot make $T/munge-key"
ctld_port=$(free_port) || fail "no free port"
sed -e "s|@DIR@|$T|g" -e "s|@CTLD_HOST@|$ctld_host|g" -e "s|@CTLD_PORT@|$ctld_port|g" \
    "$repo/tests/slurm/slurm.conf.in" >"$T/etc/slurm.conf" || fail "cannot write slurm.conf"
for n in "${nodes[@]}"; do
    mkdir -p "$T/slurm/spool/$n" || fail "mkdir"
    echo "NodeName=$n NodeAddr=127.0.0.1 Port=$(free_port) CPUs=1 State=UNKNOWN" >>"$T/etc/slurm.conf"
done
echo "PartitionName=test Nodes=$(IFS=,; echo "${nodes[*]}") Default=YES MaxTime=INFINITE State=UP" \
    >>"$T/etc/slurm.conf"
: >"$T/etc/plugstack.conf"
export SLURM_CONF="$T/etc/slurm.conf"

# start LOGNAME COMMAND...: a daemon in the foreground, in a session of its own.
start() {
    local name=$1
    shift
    setsid "$@" >>"$T/slurm/log/$name.out" 2>&1 </dev/null &
    pids+=($!)
}

# munge: a key of our own, munged on our own socket.
key="$T/munge-key/munge.key"
if command -v mungekey >/dev/null; then
    mungekey --create --keyfile="$key" 2>/dev/null
else
    dd if=/dev/urandom of="$key" bs=1 count=1024 2>/dev/null
fi
chmod 400 "$key" || fail "cannot make a munge key"
start munged munged --foreground --socket="$T/munge/munge.socket" --key-file="$key" \
    --pid-file="$T/munge/munged.pid" --log-file="$T/munge/munged.log" --seed-file="$T/munge-key/seed"
ok=0
for _ in $(seq 1 50); do
    if munge -n -S "$T/munge/munge.socket" 2>/dev/null | unmunge -S "$T/munge/munge.socket" >/dev/null 2>&1; then
        ok=1
        break
    fi
    kill -0 "${pids[0]}" 2>/dev/null || break
    sleep 0.2
done
[ "$ok" = 1 ] || skip "munged will not start here: $(tail -n 1 "$T/munge/munged.log" 2>/dev/null)$(tail -n 1 "$T/slurm/log/munged.out" 2>/dev/null)"

start slurmctld slurmctld -D -f "$SLURM_CONF"
ok=0
for _ in $(seq 1 60); do
    scontrol ping 2>/dev/null | grep -q "is UP" && { ok=1; break; }
    kill -0 "${pids[1]}" 2>/dev/null || break
    sleep 0.5
done
[ "$ok" = 1 ] || skip "slurmctld will not start here: $(grep -h -i -E 'error|fatal' "$T"/slurm/log/slurmctld.* 2>/dev/null | tail -n 1)"

for n in "${nodes[@]}"; do
    start "slurmd-$n" slurmd -D -f "$SLURM_CONF" -N "$n"
done
ok=0
for _ in $(seq 1 120); do
    states=$(sinfo --noheader --Node --format='%t' 2>/dev/null | sort -u | xargs)
    [ "$states" = idle ] && { ok=1; break; }
    sleep 0.5
done
if [ "$ok" != 1 ]; then
    skip "the slurmd(s) did not register as idle nodes here (states: ${states:-none}): $(grep -h -E 'error|fatal' "$T"/slurm/log/slurmd-* 2>/dev/null |
        grep -v -E 'pmix|MPI' | tail -n 1)"
fi
if ! out=$(timeout 60 srun --nodes="${#nodes[@]}" --ntasks="${#nodes[@]}" --time=1 true 2>&1); then
    skip "Slurm cannot launch a job step here: $(echo "$out" | tail -n 1)"
fi
say "$version: ${#nodes[@]} node(s) (${nodes[*]}) up"

# ---- the reference run, without Slurm ------------------------------------

cp "$repo"/build/bin/{migr,migrd,migr-worker} "$T/bin/" || fail "cannot copy the binaries"
cp "$repo/examples/sft.yaml" "$repo/tests/slurm/job.sh" "$T/" || fail "cannot copy the job"

ms() { date +%s%3N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }

t0=$(ms)
(
    export MIGR_HOME="$T/ref" MIGR_HTTP=127.0.0.1:0 PATH="$T/bin:$PATH"
    migr up --workers 1 >/dev/null || exit 1
    "$T/job.sh" "$T/sft.yaml" >"$T/ref.out" 2>"$T/ref.err"
    rc=$?
    migr down >/dev/null
    exit "$rc"
) || fail "the local reference run failed: $(tail -n 5 "$T/ref.err" 2>/dev/null)"
t1=$(ms)
read -r _ ref_run ref_step ref_sha _ < <(grep '^final: ' "$T/ref.out")
[ -n "${ref_sha:-}" ] || fail "the local run printed no final checkpoint: $(cat "$T/ref.out")"
ref_time=$(secs "$t0" "$t1")
say "local (migr up, 1 worker): run $ref_run step $ref_step sha256 $ref_sha in ${ref_time}s"

# ---- the same job under Slurm --------------------------------------------

mkdir -p "$T/shared" "$T/node-local" || fail "mkdir"
migr_port=$(free_port) || fail "no free port"
sb=(--parsable --cpus-per-task=1 --time=00:15:00 --output="$T/job-%j.out")
[ "${#nodes[@]}" -eq 2 ] || sb+=(--nodes=1)
exports="ALL,MIGR_STORE=$T/shared/store,MIGR_SAVE=$T/shared/save,MIGR_KEYHOME=$T/shared/keyhome"
exports="$exports,MIGR_LOCAL=$T/node-local,MIGR_BIN=$T/bin,MIGR_PORT=$migr_port,MIGR_HTTP=127.0.0.1:0"
db="$T/shared/save/migr.db"

# submit ARGS...: sbatch migr.sbatch from the repository root, as its header
# says; prints the job id.
submit() {
    local id
    id=$(cd "$repo" && sbatch "${sb[@]}" --export="$exports" deploy/slurm/migr.sbatch "$@") ||
        fail "sbatch refused the job: $id"
    echo "${id%%;*}"
}

# job_state ID: its JobState.
job_state() {
    scontrol show job -o "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2
}

# wait_job ID: until the job has ended, noting its steps (id, name, nodes)
# in $T/steps-ID while it runs.
wait_job() {
    local deadline=$((SECONDS + 900)) st
    while :; do
        squeue --noheader --steps --jobs="$1" --format='%i %j %N' 2>/dev/null >>"$T/steps-$1"
        st=$(job_state "$1")
        case "$st" in
        PENDING | CONFIGURING | RUNNING | COMPLETING | "") ;;
        *) return 0 ;;
        esac
        [ "$SECONDS" -lt "$deadline" ] || fail "job $1 still $st after 15 minutes"
        sleep 0.5
    done
}

# stopped_in_order ID: the job's output shows every worker, then migrd,
# stopped on SIGTERM (none killed), and the database saved to MIGR_SAVE,
# whole, and the coordinator's MIGR_HOME gone from the node.
stopped_in_order() {
    local out="$T/job-$1.out" n
    grep -q "database saved to $db\$" "$out" || fail "job $1 did not save migrd's database to MIGR_SAVE"
    [ -f "$db" ] || fail "no $db after job $1"
    [ ! -e "$db-wal" ] || fail "$db-wal left after job $1: migrd did not stop cleanly"
    grep -q 'migrd INFO  migrd stopped' "$out" || fail "migrd of job $1 did not stop cleanly (no 'migrd stopped')"
    n=$(grep -c 'migr-worker INFO  worker stopped' "$out")
    [ "$n" -eq "${#nodes[@]}" ] || fail "$n of ${#nodes[@]} workers of job $1 stopped cleanly on SIGTERM"
    if grep -E 'forcing job termination|task [0-9]+: Killed' "$out"; then
        fail "steps of job $1 were killed instead of stopped"
    fi
    [ ! -e "$T/node-local/migr-$1" ] || fail "job $1 left the coordinator's MIGR_HOME on the node after the save"
}

t0=$(ms)
jobid=$(submit "$T/job.sh" "$T/sft.yaml") || exit 1
say "submitted job $jobid: sbatch ${sb[*]} --export=$exports deploy/slurm/migr.sbatch $T/job.sh $T/sft.yaml"
wait_job "$jobid"
t1=$(ms)
out="$T/job-$jobid.out"
info=$(scontrol show job -o "$jobid")
field() { echo "$info" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }
state=$(field JobState) exit_code=$(field ExitCode) start_t=$(field StartTime) end_t=$(field EndTime)
nodelist=$(field NodeList)
wall=$(($(date -d "$end_t" +%s) - $(date -d "$start_t" +%s)))
say "job $jobid: $state, exit code $exit_code, nodes $nodelist, ran ${wall}s ($start_t to $end_t); $(secs "$t0" "$t1")s from sbatch to done"
if [ "$state" != COMPLETED ] || [ "$exit_code" != 0:0 ]; then
    fail "job $jobid ended $state with exit code $exit_code"
fi

# migrd on the first node, the workers on every node, each through srun.
mapfile -t alloc < <(scontrol show hostnames "$nodelist")
first=${alloc[0]}
[ "${#alloc[@]}" -eq "${#nodes[@]}" ] || fail "job $jobid ran on ${alloc[*]}, not on ${#nodes[@]} node(s)"
grep -q "migrd on $first\$" "$out" || fail "the job's output does not say migrd runs on $first"
sort -u "$T/steps-$jobid" >"$T/steps.u"
coord_nodes=$(awk '$2 == "migrd" { print $3 }' "$T/steps.u" | sort -u | xargs)
worker_nodes=$(awk '$2 == "migr-worker" { print $3 }' "$T/steps.u" | sort -u | xargs)
[ "$coord_nodes" = "$first" ] ||
    fail "the migrd step ran on '$coord_nodes', not on the first node $first (steps seen: $(xargs <"$T/steps.u"))"
[ -n "$worker_nodes" ] || fail "no migr-worker step seen (steps seen: $(xargs <"$T/steps.u"))"
[ "$(scontrol show hostnames "$worker_nodes" | sort | xargs)" = "$(printf '%s\n' "${alloc[@]}" | sort | xargs)" ] ||
    fail "the migr-worker step ran on '$worker_nodes', not on every node of ${alloc[*]}"
say "steps: $(awk '{ printf "%s%s (%s) on %s", sep, $1, $2, $3; sep = ", " }' "$T/steps.u")"

read -r _ run step sha path < <(grep '^final: ' "$out")
[ -n "${sha:-}" ] || fail "the job printed no final checkpoint"
say "slurm (${#alloc[@]} node(s), 1 worker each): run $run step $step sha256 $sha"

stopped_in_order "$jobid"

# Each node's worker, named by srun's SLURMD_NODENAME, took part.
for n in "${alloc[@]}"; do
    k=$(sqlite3 "$db" "SELECT COUNT(*) FROM events WHERE kind = 'task.done' AND owner = 'run' AND owner_id = $run AND detail = 'slurm$jobid-$n'")
    [ "${k:-0}" -gt 0 ] || fail "worker slurm$jobid-$n did no task of run $run"
    say "worker slurm$jobid-$n did $k tasks of run $run"
done

# One checkpoint, whoever computed it.
[ "$step" = "$ref_step" ] || fail "final step $step under Slurm, $ref_step locally"
file_sha=$(sha256sum "$path" | cut -d' ' -f1)
[ "$file_sha" = "$sha" ] || fail "the checkpoint file hashes to $file_sha, migrd lists $sha"
saved_sha=$(sqlite3 "$db" "SELECT sha256 FROM checkpoints WHERE run_id = $run ORDER BY step DESC LIMIT 1")
[ "$saved_sha" = "$sha" ] || fail "the saved database holds $saved_sha for run $run, migrd listed $sha"
[ "$sha" = "$ref_sha" ] || fail "final checkpoint sha256 under Slurm $sha != local $ref_sha"

# ---- a second job: resume from MIGR_SAVE, drive it, stop it ---------------

# Serving (no command), with the same MIGR_SAVE, store and keys: it resumes
# the first job's database; the CLI reaches it from outside the job as the
# sbatch's header says; `scancel --batch --signal=TERM` stops it in order.
serve=$(submit) || exit 1
mkdir -p "$T/cli" || fail "mkdir"
say "submitted job $serve (serving, same MIGR_SAVE)"
endpoint=""
for _ in $(seq 1 240); do
    endpoint=$(sed -n 's/^migr.sbatch: MIGR_ENDPOINT=\([^ ]*\) .*/\1/p' "$T/job-$serve.out" 2>/dev/null)
    [ -n "$endpoint" ] && grep -q '^migr.sbatch: migrd answers' "$T/job-$serve.out" && break
    case "$(job_state "$serve")" in PENDING | CONFIGURING | RUNNING | "") ;; *) fail "job $serve ended $(job_state "$serve") before migrd answered" ;; esac
    sleep 0.5
done
grep -q '^migr.sbatch: migrd answers' "$T/job-$serve.out" 2>/dev/null || fail "migrd of job $serve did not answer in 120 s"
grep -q "^migr.sbatch: resuming from $db\$" "$T/job-$serve.out" || fail "job $serve did not resume from $db"
cli() {
    MIGR_ENDPOINT="$endpoint" MIGR_SERVER_KEY="$T/shared/keyhome/keys/migrd.pub" \
        MIGR_KEY="$T/shared/keyhome/keys/cluster.key" MIGR_HOME="$T/cli" "$T/bin/migr" "$@"
}
for _ in $(seq 1 120); do
    [ "$(cli workers --json 2>/dev/null | jq '[.[] | select(.state == "alive")] | length')" = "${#nodes[@]}" ] && break
    sleep 0.5
done
alive=$(cli workers --json | jq -r '[.[] | select(.state == "alive") | .id] | sort | join(" ")') ||
    fail "the CLI cannot reach job $serve at $endpoint"
expect=$(for n in "${nodes[@]}"; do echo "slurm$serve-$n"; done | sort | xargs)
[ "$alive" = "$expect" ] || fail "job $serve's live workers are '$alive', not '$expect'"
resumed=$(cli run show "$run" --json | jq -r .state)
[ "$resumed" = succeeded ] || fail "run $run is '$resumed' in the resumed database, not succeeded"
resumed_sha=$(cli ckpt list "$run" --json | jq -r '.[-1].sha256')
[ "$resumed_sha" = "$sha" ] || fail "the resumed database lists $resumed_sha for run $run, not $sha"
say "job $serve resumed run $run (succeeded, sha256 the same) at $endpoint, workers $alive"
t0=$(ms)
scancel --batch --signal=TERM "$serve" || fail "scancel --batch --signal=TERM $serve"
wait_job "$serve"
t1=$(ms)
say "job $serve stopped $(secs "$t0" "$t1")s after scancel --batch --signal=TERM ($(job_state "$serve"))"
stopped_in_order "$serve"
[ "$(job_state "$serve")" = COMPLETED ] || fail "job $serve, stopped in order, ended $(job_state "$serve"), not COMPLETED"

echo "PASS: $version, job $jobid on ${alloc[*]} (migrd on $first): ${wall}s wall; final checkpoint (step $step) sha256 $sha, the same as the local run's (${ref_time}s); job $serve resumed it and stopped in order"
