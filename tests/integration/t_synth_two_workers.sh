# migr dataset synth of 200 clips with 2 workers ends with 200 featurized
# clips, each task completed once; the same seed gives the same media bytes.
. "$(dirname "$0")/lib.sh"

migr up --workers 2 || fail "migr up"
expect_eq "workers alive" 2 "$(jqr length workers)"
migr dataset synth s200 --clips 200 --seed 11 --wait >/dev/null || fail "synth --wait"
expect_eq "featurized" 200 "$(jqr .featurized dataset show s200)"
expect_eq "failed" 0 "$(jqr .failed dataset show s200)"
expect_eq "generator dominant counts sum" 200 "$(jqr '[.generator_dominant[]] | add' dataset show s200)"
check_no_double_completion
# Both workers took part.
for w in 0 1; do
    n=$(grep -c ' done in ' "$MIGR_HOME/logs/worker-$w.log")
    [ "$n" -gt 0 ] || fail "worker $w did no task"
done

# A second dataset with the same seed has byte-identical media and features.
migr dataset synth again --clips 5 --seed 11 --wait >/dev/null || fail "second synth"
for i in 000000 000003; do
    cmp -s "$MIGR_HOME/store/datasets/s200/media/clip_$i.mp4" "$MIGR_HOME/store/datasets/again/media/clip_$i.mp4" ||
        fail "clip $i differs between two datasets with seed 11"
done
for i in 000000 000004; do
    cmp -s "$MIGR_HOME/store/datasets/s200/features/$i.feat" "$MIGR_HOME/store/datasets/again/features/$i.feat" ||
        fail "features $i differ between two datasets with seed 11"
done
finish
