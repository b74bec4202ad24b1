#!/bin/sh
# Run every integration test (tests/integration/t_*.sh, or those named as
# arguments), each in its own shell and MIGR_HOME.  Closes with
# "N passed, N failed" and exits non-zero if any failed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
passed=0 failed=0
tests=${*:-$(ls "$here"/t_*.sh)}
for t in $tests; do
    name=$(basename "$t" .sh)
    start=$(date +%s)
    if sh "$t" >"/tmp/migr-it-$name.out" 2>&1; then
        passed=$((passed + 1))
        echo "ok   $name ($(($(date +%s) - start))s)"
    else
        failed=$((failed + 1))
        echo "FAIL $name ($(($(date +%s) - start))s)"
        sed 's/^/    /' "/tmp/migr-it-$name.out" | tail -40
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
