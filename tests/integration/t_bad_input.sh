# At least 100 bad inputs across the CLI, YAML, manifests, annotations, HTTP
# and the wire (tests/integration/bad_input/cases.txt): each gives the exit
# code or HTTP status it should and a message saying what was wrong; after
# all of them migrd still serves and no state changed (every table but the
# workers' heartbeats and the event log, and the store's files).
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
fx="$MIGR_HOME/fx"
sh "$here/bad_input/fixtures.sh" "$fx" "$here/../../examples" || fail "making the fixtures"

migr up --workers 1 >/dev/null || fail "migr up"
migr dataset synth d --clips 4 --seed 1 --wait >/dev/null || fail "synth"
base="http://$(cat "$MIGR_HOME/run/http.addr")"
ep="ipc://$MIGR_HOME/migrd.sock"
long=$(printf '/a%.0s' $(seq 300))
big=$(head -c 20000 /dev/zero | tr '\0' x)

# get|post|delete PATH [CURL ARGS]: "STATUS BODY" on stderr; exit 1 for >= 400.
http() {
    method=$1 path=$2
    shift 2
    st=$(curl -s -m 10 -o "$MIGR_HOME/body" -w '%{http_code}' -X "$method" "$@" "$base$path")
    echo "$st $(cat "$MIGR_HOME/body")" >&2
    [ "$st" -lt 400 ]
}
get() { http GET "$@"; }
post() { http POST "$@"; }
delete() { http DELETE "$@"; }
# wire MODE: poke's garbage; what migrd logged meanwhile on stderr.
wire() {
    before=$(wc -l <"$MIGR_HOME/logs/migrd.log")
    timeout 30 poke "$ep" "$1" >/dev/null || return 1
    sleep 0.2
    tail -n +$((before + 1)) "$MIGR_HOME/logs/migrd.log" >&2
}
state() {
    for t in $(sqlite3 "$MIGR_HOME/migr.db" "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('workers', 'events') ORDER BY name"); do
        echo "== $t"
        sqlite3 "$MIGR_HOME/migr.db" "SELECT * FROM $t ORDER BY rowid"
    done
    (cd "$MIGR_HOME/store" && find . -type f | sort)
}
state >"$MIGR_HOME/state.before"

n=0 bad=0
while IFS= read -r line; do
    case $line in '#'* | '') continue ;; esac
    want=$(echo "$line" | cut -d'|' -f1 | tr -d ' ')
    text=$(echo "$line" | cut -d'|' -f2 | sed 's/^ //; s/ $//; s|FX|'"$fx"'|g')
    cmd=$(echo "$line" | cut -d'|' -f3- | sed 's/^ //; s|FX|'"$fx"'|g; s|/LONGPATH|$long|; s|BIGHEADER|$big|')
    n=$((n + 1))
    case $cmd in
    migr*) out=$(eval "timeout 30 $cmd" 2>&1 >/dev/null) ;;
    *) out=$(eval "$cmd" 2>&1 >/dev/null) ;;   # our functions, bounded themselves
    esac
    rc=$?
    if [ "$rc" != "$want" ]; then
        echo "case $n: $cmd: exit $rc, expected $want: $out" >&2
        bad=$((bad + 1))
    elif ! printf '%s' "$out" | grep -qF -- "$text"; then
        echo "case $n: $cmd: the message does not say \"$text\": $out" >&2
        bad=$((bad + 1))
    fi
done <"$here/bad_input/cases.txt"
echo "$n bad inputs, $bad not answered as expected"
[ "$n" -ge 100 ] || fail "only $n cases"
[ "$bad" -eq 0 ] || fail "$bad of $n bad inputs were not answered as expected (above)"
migr workers >/dev/null || fail "migrd stopped serving"
migr dataset show d >/dev/null || fail "migrd stopped answering queries"
state >"$MIGR_HOME/state.after"
diff "$MIGR_HOME/state.before" "$MIGR_HOME/state.after" >&2 || fail "bad inputs changed the state (diff above)"
finish
