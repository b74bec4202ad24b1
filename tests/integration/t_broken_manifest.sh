# A manifest of 50 entries, 5 of them broken (missing file, truncated mp4, a
# text file named .mp4, a zero-byte file, a video with no audio track): every
# good clip is featurized, the no-audio clip is kept with silent audio, and
# each unreadable one is listed with FFmpeg's reason.
. "$(dirname "$0")/lib.sh"

migr up --workers 2 || fail "migr up"
migr dataset synth src --clips 46 --seed 21 --wait >/dev/null || fail "synth of the source clips"
src="$MIGR_HOME/store/datasets/src/media"
m="$MIGR_HOME/manual"
mkdir -p "$m/clips"
{
    echo "path,label,subtitle"
    i=0
    while [ $i -lt 45 ]; do
        f=$(printf 'clip_%06d.mp4' $i)
        cp "$src/$f" "$m/clips/$f"
        echo "clips/$f,happy,\"Well, fine.\""
        i=$((i + 1))
    done
    echo "clips/missing.mp4,sad,"
    echo "clips/truncated.mp4,angry,"
    echo "clips/text.mp4,fear,"
    echo "clips/empty.mp4,disgust,"
    echo "clips/noaudio.mp4,neutral,"
} >"$m/manifest.csv"
head -c 20000 "$src/clip_000045.mp4" >"$m/clips/truncated.mp4"
echo "this is not a video" >"$m/clips/text.mp4"
: >"$m/clips/empty.mp4"
ffmpeg -nostdin -loglevel error -i "$src/clip_000045.mp4" -an -c:v copy "$m/clips/noaudio.mp4" ||
    fail "ffmpeg could not make the video-only clip"

# EMER-style clue annotations for two of the clips, keyed by manifest path.
cat >"$m/annotations.jsonl" <<'JSON'
{"clip": "clips/clip_000000.mp4", "vis": "The mouth corners rise.", "aud": "The voice is bright.", "txt": "The words are cheerful.", "think": "All cues agree, so the emotion is happy."}
{"clip": "clips/clip_000001.mp4", "vis": "A broad smile.", "aud": "Quick, high pitch.", "txt": "Good news.", "think": "So the emotion is happy."}
JSON
migr dataset add broken --manifest "$m/manifest.csv" --annotations "$m/annotations.jsonl" --wait >/dev/null ||
    fail "dataset add --wait"
ann=$(sqlite3 "$MIGR_HOME/migr.db" "SELECT json_extract(annotation, '$.vis') FROM clips WHERE path LIKE '%/clips/clip_000001.mp4'")
expect_eq "annotation of clip 1" "A broad smile." "$ann"
expect_eq "annotated clips" 2 "$(sqlite3 "$MIGR_HOME/migr.db" "SELECT COUNT(*) FROM clips WHERE dataset_id = 2 AND annotation IS NOT NULL")"
expect_eq "clips" 50 "$(jqr .clips dataset show broken)"
expect_eq "featurized (45 good + 1 without audio)" 46 "$(jqr .featurized dataset show broken)"
expect_eq "failed" 4 "$(jqr .failed dataset show broken)"
for f in missing truncated text empty; do
    reason=$(jqr ".failures[] | select(.path | endswith(\"/$f.mp4\")) | .reason" dataset show broken)
    [ -n "$reason" ] || fail "$f.mp4 is not listed among the failures"
    echo "$f.mp4: $reason"
done
noaudio=$(sqlite3 "$MIGR_HOME/migr.db" "SELECT has_audio FROM clips WHERE path LIKE '%/noaudio.mp4'")
expect_eq "noaudio.mp4 has_audio" 0 "$noaudio"
# The human listing shows the reasons too.
migr dataset show broken | grep -q "failed clip .*empty.mp4" || fail "migr dataset show does not list empty.mp4"

# Bad manifests are refused with the line at fault, and nothing is created.
printf 'path,label\nclips/x.mp4,joyful\n' >"$m/bad.csv"
out=$(migr dataset add bad --manifest "$m/bad.csv" 2>&1) && fail "a manifest with an unknown label was accepted"
echo "$out" | grep -q "line 2" || fail "the error does not name line 2: $out"
migr dataset show bad >/dev/null 2>&1 && fail "a refused manifest left a dataset behind"
printf 'path,label\nclips/clip_000001.mp4,sad\nclips/clip_000002.mp4,sad\nclips/clip_000001.mp4,happy\n' >"$m/twice.csv"
out=$(migr dataset add twice --manifest "$m/twice.csv" 2>&1) && fail "a manifest listing a clip twice was accepted"
echo "$out" | grep -q 'line 4 lists clip "clips/clip_000001.mp4" again (first on line 2)' ||
    fail "the refusal does not name both lines: $out"
migr dataset show twice >/dev/null 2>&1 && fail "a refused manifest left a dataset behind"
migr dataset add broken --manifest "$m/manifest.csv" >/dev/null 2>&1 && fail "a duplicate dataset name was accepted"
finish
