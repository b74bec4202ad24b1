# /metrics as Prometheus's own checker judges it (promtool check metrics), on
# a live migrd with runs in every state -- succeeded, failed, running,
# cancelled, queued -- a task retried until it failed, a dead worker and a
# schedule that fired; the figures each family shows for them; and the
# sample Prometheus, alert and Grafana configs of deploy/monitoring.
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)
db="$MIGR_HOME/migr.db"

migr up --workers 1 >/dev/null || fail "migr up"
migr dataset synth p --clips 12 --seed 5 --wait >/dev/null || fail "synth"
sft() { tiny_sft p "$@"; }
ok=$(sft --set train.steps=2) || fail "submit"
migr run watch "$ok" >/dev/null || fail "the short run did not succeed"
# Step 1's gradient of shard 0 cannot be stored: a directory stands where it
# would be renamed to, so every try fails and the run fails.
bad=$(($(sqlite3 "$db" "SELECT MAX(id) FROM runs") + 1))
mkdir -p "$MIGR_HOME/store/runs/$bad/grads/000001-00.grad/blocker"
expect_eq "the failing run's id" "$bad" "$(sft --set train.steps=2)"
migr run watch "$bad" >/dev/null 2>&1 && fail "the run meant to fail succeeded"
expect_eq "its state" failed "$(jqr .state run show "$bad")"
long=$(sft --set train.steps=100000 --set name=long) || fail "submit long"
wait_for "the long run to take steps" 60 sh -c "[ \$(migr run show $long --json | jq .step) -ge 2 ]"
# No worker from here on: what is submitted now stays queued.  Stopped first,
# so that it is known to hold a lease of the long run when it dies (it is
# given the run's next task if it stopped between two).
kill -STOP "$(pid_of worker-0)" || fail "could not stop the worker"
soon_for "the stopped worker to hold a lease" 2 sh -c "[ \$(sqlite3 $db \"SELECT COUNT(*) FROM tasks WHERE state = 'leased'\") -ge 1 ]"
# It holds its running task and, with migrd --prefetch N, maybe more
# queued: nothing new can be leased while it is stopped (the run waits for
# its results), so this is what its death takes back.
sleep 0.5
held=$(sqlite3 "$db" "SELECT COUNT(*) FROM tasks WHERE state = 'leased'")
kill -KILL "$(pid_of worker-0)" || fail "could not kill the worker"
wait_for "the worker to be declared dead" 20 sh -c "[ \$(migr workers --json | jq '[.[] | select(.state == \"alive\")] | length') -eq 0 ]"
gone=$(sft --set train.steps=5) || fail "submit"
migr run cancel "$gone" >/dev/null || fail "cancel"
migr schedule add nightly --cron "0 2 * * *" --tz Europe/Berlin "$here/examples/sft.yaml" --set dataset=p \
    --set train.steps=3 --set train.warmup=1 >/dev/null || fail "schedule add"
queued=$(migr schedule run nightly) || fail "schedule run"
for r in "$ok:succeeded" "$bad:failed" "$long:running" "$gone:cancelled" "$queued:queued"; do
    expect_eq "run ${r%%:*}" "${r#*:}" "$(jqr .state run show "${r%%:*}")"
done

addr=$(cat "$MIGR_HOME/run/http.addr") || fail "no run/http.addr"
curl -fsS "http://$addr/metrics" >"$MIGR_HOME/metrics.txt" || fail "/metrics"
promtool check metrics <"$MIGR_HOME/metrics.txt" || fail "promtool check metrics refused /metrics (above)"
has() { grep -qE "^$1$" "$MIGR_HOME/metrics.txt" || fail "/metrics has no line matching '$1'"; }
for s in succeeded failed running cancelled queued; do
    has "migr_runs\\{kind=\"sft\",state=\"$s\"\\} [1-9][0-9]*"
done
has 'migr_runs\{kind="eval",state="running"\} 0'
has 'migr_tasks\{kind="grad",state="done"\} [1-9][0-9]*'
has 'migr_tasks\{kind="grad",state="failed"\} [1-9][0-9]*'
has 'migr_queue_depth [1-9][0-9]*'
has 'migr_task_duration_seconds_bucket\{kind="grad",le="\+Inf"\} [1-9][0-9]*'
has 'migr_task_duration_seconds_count\{kind="apply"\} [1-9][0-9]*'
has 'migr_task_retries_total\{kind="grad"\} ([2-9]|[1-9][0-9]+)'
has 'migr_task_failures_total\{kind="grad"\} 1'
has "migr_leases_lost_total $held"
has 'migr_worker_deaths_total 1'
has 'migr_workers\{state="dead"\} 1'
has 'migr_workers_alive 0'
has 'migr_schedule_firings_total\{schedule="nightly"\} 1'
has 'migr_schedule_misses_total\{schedule="nightly"\} 0'
has 'migr_schedule_next_firing_timestamp_seconds\{schedule="nightly"\} [0-9.]+'
has "migr_run_step\\{run=\"$long\",name=\"long\"\\} [1-9][0-9]*"
has "migr_run_loss\\{run=\"$long\",name=\"long\"\\} [0-9.e+-]+"

# deploy/monitoring: the scrape config and alerts pass promtool, and every
# series the Grafana dashboard and the alerts query is on the page.
mon="$here/deploy/monitoring"
promtool check config "$mon/prometheus.yml" >/dev/null || fail "promtool check config refused prometheus.yml"
promtool check rules "$mon/migr-alerts.yml" >/dev/null || fail "promtool check rules refused migr-alerts.yml"
for m in $( (jq -r '.panels[].targets[].expr' "$mon/grafana-dashboard.json"; cat "$mon/migr-alerts.yml") |
    grep -o 'migr_[a-z_]*' | sed 's/_bucket$//' | sort -u); do
    grep -q "^# TYPE $m " "$MIGR_HOME/metrics.txt" || fail "$m, queried in deploy/monitoring, is not on /metrics"
done
finish
