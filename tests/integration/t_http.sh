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
refused "a query string" 400 "$url/api/v1/runs?state=running"
curl -s "$url/api/v1/runs?state=running" | jq -r .error | grep -q '"state"' ||
    fail "the refusal of ?state= does not name the parameter"
finish
