# Schedules, as migrd fires them on the wall clock: a "* * * * *" eval fires
# by itself at the minute; an eval of run:NAME takes the newest checkpoint
# of a run still training; Forbid skips that minute's firing of a schedule
# whose run is still going; a paused schedule does not fire; `schedule run`
# fires at once; a second eval of the same checkpoint ends succeeded with
# nothing newer to evaluate; and migrd killed across a minute's firing time
# fires the missed minute once after restart.
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)

sched() { jqr "$1" schedule show "$2"; }

# Seconds until just after the next minute boundary (at least 3).
to_next_minute() { echo $((60 - $(date +%s) % 60 + 3)); }

# Wait, if need be, so that the next steps (a few seconds) end before a minute boundary.
early_in_minute() { [ $(($(date +%s) % 60)) -lt 45 ] || sleep "$(to_next_minute)"; }

migr up --workers 2 >/dev/null || fail "migr up"
migr dataset synth s --clips 24 --seed 3 --wait >/dev/null || fail "synth"
migr dataset instruments s --wait >/dev/null || fail "instruments"
tiny="--set dataset=s --set train.batch_size=4 --set train.shards=2 --set train.warmup=1 --set model.channels=16
      --set model.layers=1"
# shellcheck disable=SC2086
sft=$(migr run submit "$here/examples/sft.yaml" $tiny --set train.steps=2) || fail "sft submit"
migr run watch "$sft" >/dev/null || fail "sft run"

# Refusals say what is wrong.
out=$(migr schedule add bad --cron "61 * * * *" "$here/examples/eval.yaml" --set dataset=s \
    --set eval.ckpt=run:$sft 2>&1)
expect_eq "a bad cron expression's exit code" 2 "$?"
echo "$out" | grep -q "out of range 0-59" || fail "the refusal does not say why: $out"
out=$(migr schedule add bad --cron "0 2 * * *" --tz Mars/Base "$here/examples/eval.yaml" --set dataset=s \
    --set eval.ckpt=run:$sft 2>&1)
expect_eq "an unknown zone's exit code" 2 "$?"
echo "$out" | grep -q "unknown time zone" || fail "the refusal does not say why: $out"

early_in_minute
# shellcheck disable=SC2086
migr schedule add busy --cron "* * * * *" "$here/examples/sft.yaml" $tiny --set train.steps=100000 \
    --set name=busy-sft >/dev/null || fail "schedule add busy"
long=$(migr schedule run busy) || fail "schedule run busy"
expect_eq "the run schedule run started" "$long" "$(sched .history[0].run busy)"
expect_eq "its state" running "$(jqr .state run show "$long" | sed 's/queued/running/')"

# An eval of run:NAME takes the newest checkpoint of a run still training.
newest() { migr ckpt list "$long" --json | jq '[.[].step] | max'; }
wait_for "a few steps of the long run" 60 sh -c "[ \$(migr ckpt list $long --json | jq '[.[].step] | max') -ge 3 ]"
before=$(newest)
ev=$(migr run submit "$here/examples/eval.yaml" --set dataset=s --set eval.ckpt=run:busy-sft \
    --set eval.max_new=10) || fail "eval of run:busy-sft"
after=$(newest)
step=$(jqr .eval.ckpt_step run show "$ev")
[ "$step" -ge "$before" ] && [ "$step" -le "$after" ] ||
    fail "the eval took step $step, not the newest checkpoint ($before..$after at submission)"
expect_eq "the evaluated run" "$long" "$(sqlite3 "$MIGR_HOME/migr.db" "SELECT source_run FROM evals WHERE run_id = $ev")"
expect_eq "the training run's state" running "$(jqr .state run show "$long")"

early_in_minute
migr schedule add every --cron "* * * * *" --tz UTC "$here/examples/eval.yaml" --set dataset=s \
    --set eval.ckpt=run:$sft --set eval.max_new=20 --set eval.shards=2 >/dev/null || fail "schedule add every"
migr schedule add held --cron "* * * * *" "$here/examples/eval.yaml" --set dataset=s \
    --set eval.ckpt=run:$sft >/dev/null || fail "schedule add held"
migr schedule pause held >/dev/null || fail "schedule pause"
expect_eq "a paused schedule's next firing" null "$(sched .next held)"
boundary=$(( ($(date +%s) / 60 + 1) * 60 ))
wait_for "the minute's firing of 'every'" 75 sh -c "[ \$(migr schedule show every --json | jq .fired) -ge 1 ]"
first=$(sched .last_run every)
expect_eq "the firing's scheduled time" "$boundary" "$(($(sched '.history[0].scheduled | fromdate' every)))"
wait_for "the 'busy' firing to be skipped" 10 sh -c "[ \$(migr schedule show busy --json | jq .skipped) -ge 1 ]"
expect_eq "runs of 'busy'" 1 "$(sched '.history | length' busy)"
expect_eq "firings of the paused schedule" 0 "$(sched .fired held)"
migr run watch "$first" >/dev/null || fail "the scheduled eval did not succeed"
expect_eq "the eval's schedule link" 1 "$(sqlite3 "$MIGR_HOME/migr.db" \
    "SELECT COUNT(*) FROM runs r JOIN schedules s ON s.id = r.schedule_id WHERE r.id = $first AND s.name = 'every'")"
sched '.history[0].metrics.war' every | grep -qE '^[0-9.]+$' || fail "no WAR in the schedule's history"

# schedule run: at once; the same checkpoint again is nothing newer.
again=$(migr schedule run every) || fail "schedule run every"
expect_eq "the manual firing's state" succeeded "$(jqr .state run show "$again")"
expect_eq "nothing newer" true "$(sched '.history[0].nothing_newer' every)"
migr schedule pause busy >/dev/null || fail "schedule pause busy"
migr run cancel "$long" >/dev/null || fail "cancel the long run"

# migrd down across the next firing time: the missed minute fires once after restart.
fired=$(sched .fired every)
sleep 1
kill -KILL "$(pid_of migrd)" || fail "could not kill migrd"
missed=$(( ($(date +%s) / 60 + 1) * 60 ))
sleep "$(to_next_minute)"
start_migrd
wait_for "the missed firing" 20 sh -c "[ \$(migr schedule show every --json | jq .fired) -eq $((fired + 1)) ]"
expect_eq "the missed firing's scheduled time" "$missed" "$(($(sched '.history[0].scheduled | fromdate' every)))"
sleep 2
expect_eq "firings after restart" $((fired + 1)) "$(sched .fired every)"
expect_eq "runs for the missed minute" 1 "$(sqlite3 "$MIGR_HOME/migr.db" \
    "SELECT COUNT(*) FROM runs WHERE scheduled_ms = $((missed * 1000))")"

migr schedule rm every >/dev/null || fail "schedule rm"
expect_eq "schedules left" 2 "$(jqr length schedule list)"
migr run show "$first" >/dev/null || fail "a removed schedule's run is gone"
finish
