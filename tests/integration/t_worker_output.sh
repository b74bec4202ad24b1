# Worker output is input: a worker that answers every task "succeeded" with
# the output {} (poke liar) fails the run's tasks with the reason -- retried,
# then failing the run -- while migrd keeps serving.  (migrd used to roll the
# completion back and leave the task leased until the worker's heartbeat no
# longer listed it, and then blamed the worker for losing it.)
. "$(dirname "$0")/lib.sh"

migr up --workers 1 >/dev/null || fail "migr up"
migr dataset synth p --clips 12 --seed 5 --wait >/dev/null || fail "synth"
kill -TERM "$(pid_of worker-0)" || fail "could not stop the worker"
wait_for "no live worker" 20 sh -c "[ \$(migr workers --json | jq length) -eq 0 ]"
poke "ipc://$MIGR_HOME/migrd.sock" liar >"$MIGR_HOME/liar.out" 2>&1 &
liar=$!
wait_for "the liar to connect" 10 sh -c "[ \$(migr workers --json | jq length) -eq 1 ]"
id=$(tiny_sft p --set train.steps=2) || fail "submit"
wait_for "the run to fail" 30 sh -c "[ \$(migr run show $id --json | jq -r .state) = failed ]"
err=$(jqr .error run show "$id")
echo "run $id: $err"
case "$err" in
    *"init task (step 0) failed 3 times: the worker's output was refused: "*'"ckpt"'*) ;;
    *) fail "the run's error does not say the output was refused: $err" ;;
esac
db="$MIGR_HOME/migr.db"
expect_eq "attempts refused" 3 "$(sqlite3 "$db" "SELECT COUNT(*) FROM events WHERE kind IN ('task.retry', 'task.failed')
    AND detail LIKE '%output was refused%'")"
wait "$liar" || fail "poke liar: $(cat "$MIGR_HOME/liar.out")"
migr workers >/dev/null || fail "migrd stopped answering"
finish
