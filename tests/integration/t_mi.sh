# Modality importance: `migr dataset mi` scores every featurized clip, show
# reports the distribution and the agreement with the generator; an SFT run
# with reasoning.order=mi trains on it, and is refused on a dataset without MI.
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)

migr up --workers 2 >/dev/null || fail "migr up"
migr dataset synth m --clips 60 --seed 4 --wait >/dev/null || fail "synth"
migr dataset synth plain --clips 12 --seed 4 --wait >/dev/null || fail "synth"
migr dataset mi m --folds 3 --tau 0.05 --wait >"$MIGR_HOME/mi.out" || fail "dataset mi: $(cat "$MIGR_HOME/mi.out")"
cat "$MIGR_HOME/mi.out"
expect_eq "mi state" done "$(jqr .mi.state dataset show m)"
expect_eq "clips scored" 60 "$(jqr '[.mi.dominant[]] | add' dataset show m)"
expect_eq "clips compared with the generator" 60 "$(jqr .mi.generator_compared dataset show m)"
agree=$(jqr .mi.generator_agreement dataset show m)
awk "BEGIN { exit !($agree >= 0 && $agree <= 1) }" || fail "agreement is not a fraction: $agree"
# ... and per modality: the clips the generator made each one dominant add up
# to all 60, and each modality's agreed clips are counted among its own.
expect_eq "clips by the generator's dominant modality" 60 \
    "$(jqr '[.mi.generator_agreement_by_modality[].clips] | add' dataset show m)"
expect_eq "agreed clips, per modality and overall" \
    "$(sqlite3 "$MIGR_HOME/migr.db" "SELECT COUNT(*) FROM clips c JOIN datasets d ON d.id = c.dataset_id WHERE d.name = 'm' AND c.mi_dominant = json_extract(c.annotation, '$.dominant')")" \
    "$(jqr '[.mi.generator_agreement_by_modality[].agreed] | add' dataset show m)"
grep -q "generator's visual dominant: MI agrees on" "$MIGR_HOME/mi.out" || fail "dataset mi --wait prints no per-modality agreement"
n=$(sqlite3 "$MIGR_HOME/migr.db" "SELECT COUNT(*) FROM clips c JOIN datasets d ON d.id = c.dataset_id WHERE d.name = 'm' AND c.mi_visual BETWEEN 0 AND 1 AND c.mi_audio BETWEEN 0 AND 1 AND c.mi_text BETWEEN 0 AND 1")
expect_eq "clips with MI scores in [0, 1]" 60 "$n"
migr dataset mi nope >/dev/null 2>&1; expect_eq "mi of a missing dataset" 1 "$?"
migr dataset mi m --folds 1 >/dev/null 2>&1; expect_eq "mi with 1 fold" 2 "$?"
migr dataset mi m --folds 2.5 >/dev/null 2>&1; expect_eq "mi with a fractional fold count" 2 "$?"
migr dataset mi m --repeats 0 >/dev/null 2>&1; expect_eq "mi with 0 repeats" 2 "$?"
migr dataset mi m --repeats 101 >/dev/null 2>&1; expect_eq "mi with 101 repeats" 2 "$?"
# The repeats reach the probes: one cross-fit scores the clips otherwise than ten.
mi_of_m="SELECT group_concat(mi_visual || ' ' || mi_audio || ' ' || mi_text) FROM clips c JOIN datasets d ON d.id = c.dataset_id WHERE d.name = 'm'"
ten=$(sqlite3 "$MIGR_HOME/migr.db" "$mi_of_m")
migr dataset mi m --folds 3 --tau 0.05 --repeats 1 --wait >/dev/null || fail "dataset mi --repeats 1"
[ "$(sqlite3 "$MIGR_HOME/migr.db" "$mi_of_m")" != "$ten" ] || fail "--repeats 1 gave the MI of the default 10 repeats"

# The reward verifier and the evaluation judge, on disjoint halves.
migr dataset instruments m --wait >/dev/null || fail "dataset instruments"
expect_eq "instruments state" done "$(jqr .instruments.state dataset show m)"
for k in verifier_accuracy judge_accuracy; do
    v=$(jqr ".instruments.trained.$k" dataset show m)
    awk "BEGIN { exit !($v >= 0 && $v <= 1) }" || fail "$k is not a fraction: $v"
done
[ -s "$MIGR_HOME/store/datasets/m/verifier.clf" ] || fail "no verifier in the store"
[ -s "$MIGR_HOME/store/datasets/m/judge.clf" ] || fail "no judge in the store"
cmp -s "$MIGR_HOME/store/datasets/m/verifier.clf" "$MIGR_HOME/store/datasets/m/judge.clf" &&
    fail "the verifier and the judge are the same file"

# MI-ordered SFT.
out=$(migr run submit "$here/examples/sft.yaml" --set dataset=plain --set reasoning.order=mi 2>&1)
expect_eq "mi order without MI" 1 "$?"
echo "$out" | grep -q "migr dataset mi plain" || fail "the refusal does not say what to do: $out"
id=$(migr run submit "$here/examples/sft.yaml" --set dataset=m --set reasoning.order=mi --set train.steps=3 \
    --set train.batch_size=4 --set train.shards=2 --set train.warmup=1 --set model.channels=16 \
    --set model.layers=1) || fail "submit with order mi"
migr run watch "$id" >/dev/null || fail "the MI-ordered run did not succeed"
finish
