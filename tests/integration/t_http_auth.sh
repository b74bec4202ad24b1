# HTTP beyond loopback: every API path and /metrics need the bearer token
# migrd makes in keys/http.token (mode 0600): none or a wrong one is 401
# with WWW-Authenticate; the dashboard's static files load without it.  With
# MIGR_HTTP_CERT and MIGR_HTTP_KEY the same is served over HTTPS only.
. "$(dirname "$0")/lib.sh"

export MIGR_HTTP=0.0.0.0:0
migr up --workers 1 >/dev/null || fail "migr up with MIGR_HTTP=0.0.0.0:0"
port=$(cut -d: -f2 "$MIGR_HOME/run/http.addr")
tokfile="$MIGR_HOME/keys/http.token"
[ -f "$tokfile" ] || fail "no token was made at $tokfile"
expect_eq "token file mode" 600 "$(stat -c %a "$tokfile")"
token=$(cat "$tokfile")
base="http://127.0.0.1:$port"
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

for path in /api/v1/runs /api/v1/workers /api/v1/datasets /metrics; do
    expect_eq "$path without a token" 401 "$(code "$base$path")"
    expect_eq "$path with a wrong token" 401 "$(code -H "Authorization: Bearer 00$token" "$base$path")"
    expect_eq "$path with the token" 200 "$(code -H "Authorization: Bearer $token" "$base$path")"
done
curl -s -D - -o /tmp/migr-401.$$ "$base/api/v1/runs" | grep -qi '^WWW-Authenticate: Bearer' ||
    fail "a 401 without WWW-Authenticate"
jq -e '.error | test("Bearer") and test("http.token")' /tmp/migr-401.$$ >/dev/null ||
    fail "the 401 does not say what to send: $(cat /tmp/migr-401.$$)"
rm -f /tmp/migr-401.$$
expect_eq "the dashboard page without a token" 200 "$(code "$base/")"
grep -q "without TLS" "$MIGR_HOME/logs/migrd.log" || fail "no warning that the token crosses in clear"
migr down >/dev/null || fail "migr down"

# HTTPS: a self-signed certificate for 127.0.0.1; the same token (kept).
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$MIGR_HOME/http.key" -out "$MIGR_HOME/http.crt" 2>/dev/null || fail "making a certificate"
MIGR_HTTP_CERT="$MIGR_HOME/http.crt" MIGR_HTTP_KEY="$MIGR_HOME/http.key" migr up --workers 1 >/dev/null ||
    fail "migr up with HTTPS"
port=$(cut -d: -f2 "$MIGR_HOME/run/http.addr")
expect_eq "the kept token" "$token" "$(cat "$tokfile")"
expect_eq "https with the token" 200 \
    "$(code --cacert "$MIGR_HOME/http.crt" -H "Authorization: Bearer $token" "https://127.0.0.1:$port/api/v1/runs")"
expect_eq "https without it" 401 "$(code --cacert "$MIGR_HOME/http.crt" "https://127.0.0.1:$port/api/v1/runs")"
[ "$(code "http://127.0.0.1:$port/api/v1/runs")" = 200 ] && fail "plain HTTP answered on the HTTPS port"
grep -q "HTTP API on https://" "$MIGR_HOME/logs/migrd.log" || fail "migrd did not log HTTPS"

# One of the two TLS files alone is refused with the reason.
migr down >/dev/null || fail "migr down"
out=$(MIGR_HTTP_CERT="$MIGR_HOME/http.crt" migr up --workers 0 2>&1) && fail "migr up with a certificate and no key"
echo "$out" | grep -q "MIGR_HTTP_KEY" || fail "the refusal does not name MIGR_HTTP_KEY: $out"
finish
