# The HTTP API: JSON endpoints, Prometheus metrics, the dashboard page.
. "$(dirname "$0")/lib.sh"

migr up --workers 1 >/dev/null || fail "migr up"
migr dataset synth web --clips 2 --seed 3 --wait >/dev/null || fail "synth"
addr=$(cat "$MIGR_HOME/run/http.addr") || fail "no run/http.addr"
url="http://$addr"
get() { curl -fsS "$url$1"; }
expect_eq "workers" 1 "$(get /api/v1/workers | jq length)"
expect_eq "datasets" web "$(get /api/v1/datasets | jq -r '.[0].name')"
expect_eq "dataset" 2 "$(get /api/v1/datasets/web | jq .featurized)"
expect_eq "runs" "[]" "$(get /api/v1/runs | jq -c .)"
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/api/v1/runs/7")
expect_eq "missing run" 404 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/api/v1/nope")
expect_eq "unknown path" 404 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/api/v1/runs")
expect_eq "POST" 405 "$code"
metrics=$(get /metrics) || fail "/metrics"
echo "$metrics" | grep -q '^migr_workers_alive 1$' || fail "migr_workers_alive is not 1: $metrics"
echo "$metrics" | grep -q '^migr_dataset_clips{dataset="web",state="featurized"} 2$' ||
    fail "no featurized clip count for web in /metrics"
get / | grep -q "<html" || fail "the dashboard page is not HTML"
# Every refusal is JSON with an "error" that says what was wrong.
# refused WHAT CODE CURL-ARGS...
refused() {
    what=$1 want=$2
    shift 2
    body=$(curl -s -o - -w '\n%{http_code}' "$@")
    expect_eq "$what: status" "$want" "$(echo "$body" | tail -1)"
    echo "$body" | sed '$d' | jq -e '.error | type == "string"' >/dev/null ||
        fail "$what: the body is not a JSON error: $(echo "$body" | head -c 300)"
    echo "$what: $(echo "$body" | sed '$d' | jq -r .error)"
}
refused "bytes that are not text in a run id" 400 "$url/api/v1/runs/%ff%fe"
refused "a NUL in a dataset name" 404 "$url/api/v1/datasets/%00"
refused "a 20 kB path" 414 "$url/api/v1/$(head -c 20000 /dev/zero | tr '\0' a)"
refused "20 kB of headers" 431 -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' b)" "$url/api/v1/runs"
refused "a query parameter no path takes" 400 "$url/api/v1/runs?color=red"
curl -s "$url/api/v1/runs?color=red" | jq -r .error | grep -q '"color".*state, kind, tag' ||
    fail "the refusal of ?color= does not name it and what is taken"
refused "a query string on a path that takes none" 400 "$url/api/v1/workers?x=1"
refused "a limit that is no number" 400 "$url/api/v1/runs?limit=ten"

# Lists as a client pages and polls them: filters, keyset pages, ETags.
here=$(cd "$(dirname "$0")/../.." && pwd)
for i in 1 2 3; do
    migr run submit "$here/examples/sft.yaml" --set dataset=web --set train.steps=1 --set train.warmup=0 \
        --set train.batch_size=1 --set train.shards=1 --set train.holdout=0.5 --set model.channels=16 \
        --set model.layers=1 --tag "n$i" >/dev/null || fail "submit $i"
done
expect_eq "runs" "1,2,3" "$(get /api/v1/runs | jq -r '[.[].id] | join(",")')"
expect_eq "?limit=2" "2,3" "$(get '/api/v1/runs?limit=2' | jq -r '[.[].id] | join(",")')"
expect_eq "?limit=2&before=2" "1" "$(get '/api/v1/runs?limit=2&before=2' | jq -r '[.[].id] | join(",")')"
expect_eq "?tag=n2" "2" "$(get '/api/v1/runs?tag=n2' | jq -r '[.[].id] | join(",")')"
expect_eq "?kind=eval" "0" "$(get '/api/v1/runs?kind=eval' | jq length)"
etag=$(curl -fsS -D - -o /dev/null "$url/api/v1/datasets" | tr -d '\r' | sed -n 's/^[Ee][Tt][Aa][Gg]: //p')
[ -n "$etag" ] || fail "no ETag on /api/v1/datasets"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$url/api/v1/datasets")
expect_eq "unchanged, with If-None-Match" 304 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'If-None-Match: "0000"' "$url/api/v1/datasets")
expect_eq "with another ETag" 200 "$code"
wait_for "the three runs to end" 60 sh -c "[ \$(curl -fsS $url/api/v1/runs?state=succeeded | jq length) -eq 3 ]"
expect_eq "metrics?since=1" 1 "$(get '/api/v1/runs/1/metrics?since=1' | jq length)"
migr schedule add nightly --cron "0 2 * * *" --tz UTC "$here/examples/sft.yaml" --set dataset=web \
    --set train.steps=1 --set train.warmup=0 >/dev/null || fail "schedule add"
expect_eq "/api/v1/schedules" nightly "$(get /api/v1/schedules | jq -r '.[0].name')"
expect_eq "/api/v1/schedules/nightly" "0 2 * * *" "$(get /api/v1/schedules/nightly | jq -r .cron)"
expect_eq "the same as schedule show --json" "$(migr schedule show nightly --json | jq -S -c .)" \
    "$(get /api/v1/schedules/nightly | jq -S -c .)"
refused "a missing schedule" 404 "$url/api/v1/schedules/none"
finish
