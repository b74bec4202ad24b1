#!/bin/sh
# run.sh MODE SECONDS NAME... -- run the libFuzzer harnesses (tests/fuzz/fuzz.mk).
#
#   fuzz    each build/fuzz/bin/fuzz_NAME in turn for SECONDS, on a fresh
#           scratch copy of tests/fuzz/corpus/NAME (build/fuzz/work/NAME), so
#           the committed corpus is never modified; a crash, leak, UB, timeout
#           or OOM leaves its input in build/fuzz/crashes/NAME-*
#   replay  each harness once over every file of its committed corpus
#
# One line per harness; the whole log is build/fuzz/logs/NAME.log (and, for a
# failure, a copy beside the input in build/fuzz/crashes/); the closing line
# is "N passed, N failed" over the harnesses, and the exit status 1 if any
# failed.  Reproduce a failure with build/fuzz/bin/fuzz_NAME INPUT.  Run from
# the top of the tree (make does).
set -u
mode=$1
secs=$2
shift 2
dir=build/fuzz
failed=0 passed=0 nfailed=0
mkdir -p "$dir/logs" "$dir/crashes"

case $secs in
''|*[!0-9]*) echo "fuzz: FUZZ_SECONDS must be a whole number of seconds, not '$secs'" >&2; exit 2 ;;
esac

# The last value libFuzzer printed for a "key: N" (cov, ft, corp) or a
# final "stat::key: N".
last() {
    sed -n "s/.*[ :]$1: *\([0-9][0-9]*\).*/\1/p" "$2" | tail -n 1
}

# What a failed run found, from its log.
finding() {
    if grep -q 'ERROR: LeakSanitizer' "$1"; then echo leak
    elif grep -q 'runtime error:' "$1"; then echo UB
    elif grep -q 'ERROR: AddressSanitizer' "$1"; then echo "$(sed -n 's/.*ERROR: AddressSanitizer: \([a-z-]*\).*/\1/p' "$1" | head -n 1)"
    elif grep -q 'ERROR: libFuzzer: timeout' "$1"; then echo timeout
    elif grep -q 'ERROR: libFuzzer: out-of-memory' "$1"; then echo out-of-memory
    elif grep -q 'deadly signal' "$1"; then echo crash
    else echo "exit status $2"
    fi
}

for name in "$@"; do
    bin=$dir/bin/fuzz_$name
    corpus=tests/fuzz/corpus/$name
    log=$dir/logs/$name.log
    opts="-timeout=10 -rss_limit_mb=2048 -artifact_prefix=$dir/crashes/$name-"
    # The harness's scratch directory goes under here (fuzz_util.h), so that
    # one a crash left behind (no atexit then) is removed all the same.
    tmp=$(pwd)/$dir/tmp/$name
    rm -rf "$tmp"
    mkdir -p "$tmp"
    if [ ! -x "$bin" ]; then
        echo "fuzz $name: FAILED, no $bin (make fuzz-build)"
        failed=1 nfailed=$((nfailed + 1))
        continue
    fi
    case $mode in
    fuzz)
        work=$dir/work/$name
        rm -rf "$work"
        mkdir -p "$work"
        [ -d "$corpus" ] && cp -R "$corpus/." "$work/"
        # shellcheck disable=SC2086
        TMPDIR=$tmp "$bin" $opts -max_total_time="$secs" -print_final_stats=1 "$work" >"$log" 2>&1
        rc=$?
        rm -rf "$tmp"
        if [ $rc -eq 0 ]; then
            passed=$((passed + 1))
            echo "fuzz $name: ok, $(last number_of_executed_units "$log") runs in $secs s," \
                 "cov $(last cov "$log") ft $(last ft "$log")," \
                 "corpus $(last corp "$log" ) inputs, peak rss $(last peak_rss_mb "$log") MB"
        else
            input=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
            # Keep the log beside the input: the next run overwrites $log.
            kept=${input:-$dir/crashes/$name-$(date +%Y%m%d-%H%M%S)}.log
            cp "$log" "$kept"
            echo "fuzz $name: FAILED, $(finding "$log" $rc); input ${input:-(none)}; log $kept"
            failed=1 nfailed=$((nfailed + 1))
        fi
        ;;
    replay)
        files=$(find "$corpus" -type f | sort)
        if [ -z "$files" ]; then
            echo "fuzz-replay $name: FAILED, no inputs in $corpus"
            failed=1 nfailed=$((nfailed + 1))
            continue
        fi
        # shellcheck disable=SC2086
        TMPDIR=$tmp "$bin" $opts $files >"$log" 2>&1
        rc=$?
        rm -rf "$tmp"
        if [ $rc -eq 0 ]; then
            passed=$((passed + 1))
            echo "fuzz-replay $name: ok, $(echo "$files" | wc -l) inputs"
        else
            echo "fuzz-replay $name: FAILED, $(finding "$log" $rc); log $log"
            failed=1 nfailed=$((nfailed + 1))
        fi
        ;;
    *)
        echo "usage: run.sh fuzz|replay SECONDS NAME..." >&2
        exit 2
        ;;
    esac
done
echo "$passed passed, $nfailed failed"
exit $failed
