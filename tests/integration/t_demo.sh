# migr demo --quick --json on a fresh MIGR_HOME: starts its own cluster,
# runs the whole experiment (synthetic data, MI, verifier and judge, the
# baseline and MIGR arms: SFT, GRPO, evaluation), prints only JSON on
# stdout with the paper's metrics for both arms, and stops what it started.
. "$(dirname "$0")/lib.sh"

out=$(migr demo --quick --json 2>"$MIGR_HOME/demo.err") || fail "migr demo failed: $(tail -20 "$MIGR_HOME/demo.err")"
echo "$out" | jq -e . >/dev/null || fail "stdout is not JSON: $out"
echo "$out"
for arm in baseline migr; do
    for k in war uar format_rate correct_inconsistent correct_consistent wrong_consistent wrong_inconsistent \
             mi_order_agreement grounding; do
        v=$(echo "$out" | jq ".$arm.$k")
        # A fraction in [0, 1], or null where the paper's rate is undefined
        # (no well-formed clip with a dominant modality, no annotated block).
        [ "$v" = null ] || awk "BEGIN { exit !($v >= 0 && $v <= 1) }" || fail "$arm.$k is not a fraction: $v"
    done
    for k in war uar format_rate correct_inconsistent; do
        [ "$(echo "$out" | jq ".$arm.$k")" != null ] || fail "$arm.$k is null"
        # Its 95% interval holds it.
        echo "$out" | jq -e ".$arm as \$a | \$a.ci.$k | length == 2 and .[0] <= \$a.$k and \$a.$k <= .[1]" >/dev/null ||
            fail "$arm.ci.$k does not hold $arm.$k: $(echo "$out" | jq -c ".$arm.ci.$k")"
    done
    sum=$(echo "$out" | jq ".$arm | .correct_consistent + .correct_inconsistent + .wrong_consistent + .wrong_inconsistent")
    awk "BEGIN { exit !($sum > 0.999 && $sum < 1.001) }" || fail "$arm's four bins sum to $sum"
done
expect_eq "held_out" "$(echo "$out" | jq .baseline.clips)" "$(echo "$out" | jq .held_out)"
# The quick demo learns: each arm's accuracy is above chance (1/7), its 95%
# interval's lower end too.
for arm in baseline migr; do
    echo "$out" | jq -e ".$arm.ci.war[0] > 1 / 7" >/dev/null ||
        fail "$arm's WAR is not above chance: $(echo "$out" | jq -c ".$arm | {war, ci: .ci.war}")"
done
expect_eq "pid files left" "" "$(ls "$MIGR_HOME/run/" | grep '\.pid$' || true)"
migr workers >/dev/null 2>&1 && fail "migrd still answers after the demo"
check_logs_clean
rm -rf "$MIGR_HOME"
