# What the dashboard asks migrd for as it polls, counted by migrd (which logs
# every HTTP request it answers at --log-level debug) while a real headless
# Chromium keeps the page open across polls: an evaluation run or a schedule
# that cannot have changed is fetched once, not at every poll, so a poll's
# requests do not grow with the runs shown; an eval that ends while the page
# is open, and its schedule's chart, are drawn anew; and once nothing moves,
# a poll fetches no run's or schedule's detail at all.
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)
command -v chromium >/dev/null || fail "chromium is not installed (sh deploy/install-deps.sh --test installs it)"
export MIGR_LOG_LEVEL=debug
log="$MIGR_HOME/logs/migrd.log"

migr up --workers 1 >/dev/null || fail "migr up"
migr dataset synth p --clips 24 --seed 5 --wait >/dev/null || fail "synth"
sft=$(tiny_sft p --set train.steps=2) || fail "submit"
migr run watch "$sft" >/dev/null || fail "the SFT run did not succeed"
migr dataset instruments p --wait >/dev/null || fail "instruments"
# schedule_eval NAME: a schedule evaluating the SFT run's checkpoint.
schedule_eval() {
    migr schedule add "$1" --cron "0 2 * * *" --tz UTC "$here/examples/eval.yaml" --set dataset=p \
        --set eval.ckpt="run:$sft" --set eval.max_new=8 --set eval.shards=1 >/dev/null || fail "schedule add $1"
}
# Four finished evals: one evaluated, three with nothing newer to evaluate.
schedule_eval nightly
first=$(migr schedule run nightly) || fail "schedule run"
migr run watch "$first" >/dev/null || fail "the first eval did not succeed"
for i in 1 2 3; do
    migr schedule run nightly >/dev/null || fail "schedule run $i"
done
finished=$(migr run list --kind eval --json | jq -r '.[].id')
expect_eq "finished evals" 4 "$(echo "$finished" | wc -l)"
# And one that stays running while the page opens: no worker to run it.
kill "$(pid_of worker-0)" || fail "could not stop the worker"
wait_for "the worker to leave" 20 sh -c "[ \"\$(migr workers --json | jq length)\" = 0 ]"
schedule_eval weekly
running=$(migr schedule run weekly) || fail "schedule run weekly"
expect_eq "state of the eval without a worker" running "$(jqr .state run show "$running")"

# polls_since LINE: the polls the page made after line LINE of migrd's log
# (each poll asks for the workers once).
polls_since() {
    tail -n +$(($1 + 1)) "$log" | grep -c 'http: GET /api/v1/workers -> '
}
# wait_polls LINE N: until the page has made N polls after line LINE.
wait_polls() {
    wait_for "$2 polls of the page" 60 sh -c "[ \$(tail -n +$(($1 + 1)) '$log' | grep -c 'http: GET /api/v1/workers -> ') -ge $2 ]"
}
url="http://$(cat "$MIGR_HOME/run/http.addr")/"
start=$(wc -l <"$log")
python3 "$here/tests/tools/page_dom.py" "$url" "$MIGR_HOME/stop" 120 "$MIGR_HOME/chromium" \
    >"$MIGR_HOME/dom.html" 2>"$MIGR_HOME/page.log" &
page=$!
wait_polls "$start" 2
setsid migr-worker --id late >>"$MIGR_HOME/logs/worker-0.log" 2>&1 </dev/null &
echo $! >"$MIGR_HOME/run/worker-0.pid"
migr run watch "$running" >/dev/null || fail "the weekly eval did not succeed"
ended=$(wc -l <"$log")
# The third poll from here began after the second had read the ended eval
# and schedule; from then on nothing changes.
wait_polls "$ended" 3
still=$(wc -l <"$log")
wait_polls "$still" 2
touch "$MIGR_HOME/stop"
wait "$page" || fail "the page could not be read: $(tail -5 "$MIGR_HOME/page.log")"
if grep -E '^(CONSOLE|Uncaught)' "$MIGR_HOME/page.log"; then
    fail "the page wrote to its console (above)"
fi
grep -q '<pre id="errors" hidden="">' "$MIGR_HOME/dom.html" ||
    fail "the page caught an error: $(sed -n 's/.*<pre id="errors"[^>]*>\([^<]*\).*/\1/p' "$MIGR_HOME/dom.html")"

polls=$(polls_since "$start")
[ "$polls" -ge 7 ] || fail "only $polls polls while the page was open"
# requests PATH: how often the page asked for PATH while it was open.
requests() {
    tail -n +$((start + 1)) "$log" | grep -c "http: GET $1 -> "
}
for id in $finished; do
    expect_eq "requests for finished eval $id over $polls polls" 1 "$(requests "/api/v1/runs/$id")"
done
expect_eq "requests for schedule nightly (nothing fired) over $polls polls" 1 "$(requests /api/v1/schedules/nightly)"
n=$(requests "/api/v1/runs/$running")
[ "$n" -ge 2 ] || fail "the eval that ended while the page was open was fetched $n time(s), not again when it ended"
details=$(tail -n +$((still + 1)) "$log" | grep -E -c 'http: GET /api/v1/(runs|schedules)/[^ ]+ -> ')
expect_eq "details fetched by the last polls, with nothing changing" 0 "$details"

# The page shows what it showed before: every eval with its state, the two
# evaluated ones with their checkpoint and metrics, and a chart per schedule
# with the WAR, UAR and correct_inconsistent of its evaluated firing.
# rows ID: the rows of the element with that id, one a line.
rows() {
    grep -o "<div id=\"$1\">.*</div>" "$MIGR_HOME/dom.html" | sed 's/<tr/\n&/g' | grep '^<tr'
}
expect_eq "evals shown" 5 "$(rows evals | grep -c '<td class="succeeded">succeeded</td>')"
for id in $first $running; do
    row=$(rows evals | grep "^<tr[^>]*><td class=\"num\">$id</td>")
    echo "$row" | grep -q "<td>run $sft step 2</td>" || fail "eval $id's row does not show its checkpoint: $row"
    expect_eq "percentages in eval $id's row (WAR, UAR, four bins)" 6 "$(echo "$row" | grep -o '[0-9.]*%</td>' | wc -l)"
done
for s in nightly weekly; do
    grep -q "data-chart=\"schedule-$s\" data-points=\"3\"" "$MIGR_HOME/dom.html" ||
        fail "no chart of schedule $s with its evaluated firing: $(grep -o 'data-chart="[^"]*" data-points="[0-9]*"' "$MIGR_HOME/dom.html")"
done
finish
