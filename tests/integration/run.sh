#!/bin/sh
# Run every integration test (tests/integration/t_*.sh, or those named as
# arguments), each in its own shell and MIGR_HOME.  Closes with
# "N passed, N failed" and exits non-zero if any failed.  A test that exits
# 77 could not run on this machine: it is listed as skipped with its reason.
set -u
here=$(cd "$(dirname "$0")" && pwd)
passed=0 failed=0 skipped=0
tests=${*:-$(ls "$here"/t_*.sh)}
for t in $tests; do
    name=$(basename "$t" .sh)
    start=$(date +%s)
    sh "$t" >"/tmp/migr-it-$name.out" 2>&1
    rc=$?
    if [ $rc -eq 0 ]; then
        passed=$((passed + 1))
        echo "ok   $name ($(($(date +%s) - start))s)"
    elif [ $rc -eq 77 ]; then
        skipped=$((skipped + 1))
        echo "skip $name: $(grep -m1 '^SKIP' "/tmp/migr-it-$name.out")"
    else
        failed=$((failed + 1))
        echo "FAIL $name ($(($(date +%s) - start))s)"
        sed 's/^/    /' "/tmp/migr-it-$name.out" | tail -40
    fi
done
[ "$skipped" -eq 0 ] || echo "($skipped skipped: see the skip lines above)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
