# The dashboard in a real headless Chromium: the page loads with no error in
# its console (or caught by the page), and shows a run's loss chart with one
# point per step, the run in the runs table and a schedule in its table.
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)
command -v chromium >/dev/null || fail "chromium is not installed (sh deploy/install-deps.sh --test installs it)"

migr up --workers 1 >/dev/null || fail "migr up"
migr dataset synth p --clips 12 --seed 5 --wait >/dev/null || fail "synth"
id=$(tiny_sft p --set train.steps=4 --tag charted) || fail "submit"
migr run watch "$id" >/dev/null || fail "the run did not succeed"
migr schedule add nightly --cron "0 2 * * *" --tz UTC "$here/examples/sft.yaml" --set dataset=p \
    --set train.steps=2 --set train.warmup=1 >/dev/null || fail "schedule add"
url="http://$(cat "$MIGR_HOME/run/http.addr")"
for f in /dashboard.js /dashboard.css; do
    curl -fsS -o /dev/null "$url$f" || fail "$f is not served"
done

timeout 120 chromium --headless --no-sandbox --disable-gpu --user-data-dir="$MIGR_HOME/chromium" \
    --virtual-time-budget=8000 --enable-logging=stderr --v=0 --dump-dom "$url/#run=$id" \
    >"$MIGR_HOME/dom.html" 2>"$MIGR_HOME/chromium.log" || fail "chromium failed: $(tail -5 "$MIGR_HOME/chromium.log")"
if grep -E 'CONSOLE|Uncaught' "$MIGR_HOME/chromium.log"; then
    fail "the page wrote to its console (above)"
fi
grep -q '<pre id="errors" hidden="">' "$MIGR_HOME/dom.html" ||
    fail "the page caught an error: $(sed -n 's/.*<pre id="errors"[^>]*>\([^<]*\).*/\1/p' "$MIGR_HOME/dom.html")"
grep -q 'data-chart="loss" data-points="4"' "$MIGR_HOME/dom.html" ||
    fail "no loss chart with the run's 4 points: $(grep -o 'data-chart="[^"]*" data-points="[0-9]*"' "$MIGR_HOME/dom.html")"
expect_eq "points drawn on the loss chart" 4 "$(sed 's/<figure>/\n&/g' "$MIGR_HOME/dom.html" |
    grep 'data-chart="loss"' | grep -o '<circle' | wc -l)"
grep -q "Run $id: sft-baseline (sft)" "$MIGR_HOME/dom.html" || fail "the run's panel has no title"
grep -q '<td>charted</td>' "$MIGR_HOME/dom.html" || fail "the runs table does not show the run's tag"
grep -q '<td>nightly</td>' "$MIGR_HOME/dom.html" || fail "the schedules table does not show the schedule"
grep -q 'updated ' "$MIGR_HOME/dom.html" || fail "the status line never said updated"
finish
