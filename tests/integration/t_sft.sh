# Distributed SFT end to end on a small synthetic set: the run succeeds,
# per-step metrics are recorded, the loss goes down, kept checkpoints are
# listed with the sha256 of their files, gradient files are gone, and a
# checkpoint samples a well-formed explanation.
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)

migr up --workers 2 >/dev/null || fail "migr up"
migr dataset synth s --clips 40 --seed 3 --wait >/dev/null || fail "synth"
id=$(migr run submit "$here/examples/sft.yaml" --set dataset=s --set train.steps=12 \
    --set train.batch_size=8 --set train.shards=2 --set train.checkpoint_every=5 \
    --set train.warmup=2 --set model.channels=32 --set model.layers=1) || fail "run submit"
# /metrics during the run, as Prometheus's own checker judges it.
url="http://$(cat "$MIGR_HOME/run/http.addr")"
wait_for "step 1" 60 sh -c "[ \$(migr run show $id --json | jq .step) -ge 1 ]"
curl -fsS "$url/metrics" >"$MIGR_HOME/metrics.txt" || fail "/metrics"
grep -q "^migr_run_tokens_per_second{run=\"$id\"" "$MIGR_HOME/metrics.txt" ||
    fail "/metrics shows no tokens_per_second of the running run"
promtool check metrics <"$MIGR_HOME/metrics.txt" || fail "promtool check metrics refused /metrics (above)"
migr run watch "$id" >"$MIGR_HOME/watch.out" || fail "run watch: $(cat "$MIGR_HOME/watch.out")"
cat "$MIGR_HOME/watch.out"
expect_eq "state" succeeded "$(jqr .state run show "$id")"
expect_eq "step" 12 "$(jqr .step run show "$id")"
expect_eq "watch lines" 12 "$(grep -c '^step ' "$MIGR_HOME/watch.out")"
first=$(migr run logs "$id" --json | jq '.metrics[0].loss')
last=$(migr run logs "$id" --json | jq '.metrics[-1].loss')
echo "loss $first -> $last"
awk "BEGIN { exit !($last < $first * 0.9) }" || fail "loss did not go down: $first -> $last"
for k in grad_norm lr tokens_per_s; do
    v=$(migr run logs "$id" --json | jq ".metrics[-1].$k")
    awk "BEGIN { exit !($v > 0) }" || fail "metric $k is not positive: $v"
done
# Kept checkpoints: 0, 5, 10 and the last, each with the sha256 of its file.
expect_eq "kept steps" "0,5,10,12" "$(migr ckpt list "$id" --json | jq -r '[.[].step] | join(",")')"
migr ckpt list "$id" --json | jq -r '.[] | "\(.sha256)  \(.path)"' | sha256sum -c --quiet ||
    fail "a listed checkpoint does not match its sha256"
# The same metrics over HTTP.
expect_eq "HTTP metrics steps" 12 "$(curl -fsS "$url/api/v1/runs/$id/metrics" | jq length)"
expect_eq "HTTP run state" succeeded "$(curl -fsS "$url/api/v1/runs/$id" | jq -r .state)"
left=$(find "$MIGR_HOME/store/runs/$id" -name '*.grad' | wc -l)
expect_eq "gradient files left" 0 "$left"
# --wait prints the id alone on stdout, as without it, and follows on stderr.
short=$(migr run submit "$here/examples/sft.yaml" --set dataset=s --set train.steps=2 --set train.batch_size=4 \
    --set train.shards=2 --set train.warmup=1 --set model.channels=16 --set model.layers=1 --wait \
    2>"$MIGR_HOME/wait.err") || fail "run submit --wait: $(cat "$MIGR_HOME/wait.err")"
expect_eq "state of the --wait run" succeeded "$(jqr .state run show "$short")"
grep -q "^run $short succeeded" "$MIGR_HOME/wait.err" || fail "--wait did not report the end on stderr"
# Unknown keys are refused before anything is submitted.
migr run submit "$here/examples/sft.yaml" --set train.stepz=3 >/dev/null 2>&1
expect_eq "unknown --set key" 2 "$?"
# run logs: readable times and each task's kind.
migr run logs "$id" | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}\.[0-9]{3}  task\.done +task [0-9]+ \(grad\)' ||
    fail "run logs shows no dated task.done of a grad task: $(migr run logs "$id" | head -3)"
# A sample from the last checkpoint, named by path and as run:ID.
ckpt=$(migr ckpt list "$id" --json | jq -r '.[-1].path')
expect_eq "sample of run:$id and of its newest checkpoint" \
    "$(migr sample --ckpt "$ckpt" --dataset s --clip 1 --json | jq -c .)" \
    "$(migr sample --ckpt "run:$id" --dataset s --clip 1 --json | jq -c .)"
out=$(migr sample --ckpt "run:$id" --dataset nope --clip 0 2>&1)
expect_eq "sample of a missing dataset" 1 "$?"
echo "$out" | grep -q "there is no dataset named nope" || fail "sample --dataset nope said: $out"
out=$(migr sample --ckpt "$ckpt" --dataset s --clip 0) || fail "migr sample"
echo "$out"
# (Twelve steps of a tiny model do not teach the format; the sample only
# has to come out, decoded, with its verdict.)
echo "$out" | grep -q "^answer: " || fail "the sample has no answer line: $out"
migr sample --ckpt "$ckpt" --dataset s --clip 0 --json | jq -e '.well_formed | type == "boolean"' >/dev/null ||
    fail "migr sample --json lacks well_formed"
finish
