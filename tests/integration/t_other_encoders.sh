# Label-only DFEW-format clips made by another tool (the ffmpeg CLI) rather
# than our generator: mp4, mkv, avi and webm; H.264, VP8, VP9 and MPEG-4
# part 2 video; AAC, Opus and MP3 audio; 15 to 30 fps, 16 to 48 kHz, 144p
# to 240p and odd sizes.  Every clip ingests with the documented feature
# shapes (8 frames of 32x32, 40-band log-mel at 100 frames/s), and GRPO and
# evaluation run on the set with the verifier and judge of an annotated one.
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")/../.." && pwd)
db="$MIGR_HOME/migr.db"
m="$MIGR_HOME/other"
mkdir -p "$m/clips"

# clip FILE SIZE FPS RATE LABEL SUBTITLE FFMPEG-CODEC-ARGS...: 2 s of a test
# pattern and a tone, encoded by ffmpeg itself.
n=0
clip() {
    f=$1 size=$2 fps=$3 rate=$4 label=$5 subtitle=$6
    shift 6
    ffmpeg -nostdin -loglevel error -y -f lavfi -i "testsrc2=size=$size:rate=$fps:duration=2" \
        -f lavfi -i "sine=frequency=$((200 + n * 40)):sample_rate=$rate:duration=2" -shortest "$@" \
        "$m/clips/$f" || fail "ffmpeg could not make $f ($*)"
    echo "clips/$f,$label,$subtitle" >>"$m/manifest.csv"
    n=$((n + 1))
}
echo "path,label,subtitle" >"$m/manifest.csv"
clip h264_aac.mp4 256x144 25 44100 happy "What a lovely day" -c:v libx264 -pix_fmt yuv420p -c:a aac
clip vp9_opus.mkv 320x240 30 48000 sad "" -c:v libvpx-vp9 -c:a libopus
clip mpeg4_mp3.avi 176x144 15 22050 angry "Stop it now" -c:v mpeg4 -c:a libmp3lame
clip vp8_opus.webm 192x144 24 16000 fear "" -c:v libvpx -c:a libopus
clip vp9_odd.webm 175x143 20 24000 surprise "Oh really" -c:v libvpx-vp9 -c:a libopus
clip h264_odd.mkv 321x239 30 32000 neutral "" -c:v libx264 -pix_fmt yuv444p -c:a aac
clip mpeg4_odd.avi 197x151 25 16000 disgust "Gross" -c:v mpeg4 -c:a libmp3lame
clip mpeg4_mp3.mp4 240x180 29.97 48000 happy "" -c:v mpeg4 -c:a libmp3lame
clip vp8_mp3.mkv 255x145 15 44100 sad "Leave me alone" -c:v libvpx -c:a libmp3lame
clip h264_opus.mkv 200x150 18 16000 angry "" -c:v libx264 -pix_fmt yuv420p -c:a libopus
clip mpeg4_aac.mp4 256x144 25 22050 fear "" -c:v mpeg4 -c:a aac
clip vp8_opus_odd.webm 257x143 30 48000 neutral "Fine" -c:v libvpx -c:a libopus

migr up --workers 2 >/dev/null || fail "migr up"
migr dataset add other --manifest "$m/manifest.csv" --wait >/dev/null || fail "dataset add"
expect_eq "featurized" "$n" "$(jqr .featurized dataset show other)"
expect_eq "failed" 0 "$(jqr .failed dataset show other)"
# The feature object: a 48-byte store header, then "MIGRFEAT", version,
# frames, height, width, has_audio, audio frames, mel bands (u32 each).
u32() { od -An -t u4 -j "$2" -N 4 "$1" | tr -d ' '; }
sqlite3 "$db" "SELECT c.path, c.features FROM clips c JOIN datasets d ON d.id = c.dataset_id WHERE d.name = 'other'" |
while IFS='|' read -r path rel; do
    f="$MIGR_HOME/store/$rel"
    shape="$(u32 "$f" 60) $(u32 "$f" 64) $(u32 "$f" 68) $(u32 "$f" 72) $(u32 "$f" 80)"
    audio=$(u32 "$f" 76)
    echo "$(basename "$path"): frames, height, width, has_audio, mel bands = $shape; $audio log-mel frames"
    expect_eq "shape of $(basename "$path")" "8 32 32 1 40" "$shape"
    # 2 s at a 10 ms hop with a 25 ms window: 198 frames, give or take the
    # encoder's padding.
    [ "$audio" -ge 190 ] && [ "$audio" -le 210 ] || fail "$(basename "$path") has $audio log-mel frames, not about 198"
    # The pattern moves: the first and last of the 8 frames (4096 bytes
    # each, after the 44-byte feature header) differ.
    first=$(dd if="$f" bs=1 skip=92 count=4096 2>/dev/null | sha256sum)
    last=$(dd if="$f" bs=1 skip=$((92 + 7 * 4096)) count=4096 2>/dev/null | sha256sum)
    [ "$first" != "$last" ] || fail "$(basename "$path"): the first and last frames are the same bytes"
done || exit 1

# GRPO and evaluation on the set, with the instruments of an annotated one.
migr dataset synth a --clips 24 --seed 2 --wait >/dev/null || fail "synth"
migr dataset instruments a --wait >/dev/null || fail "instruments"
sft=$(migr run submit "$here/examples/sft.yaml" --set dataset=a --set train.steps=3 --set train.batch_size=4 \
    --set train.shards=2 --set train.warmup=1 --set model.channels=16 --set model.layers=1) || fail "sft submit"
migr run watch "$sft" >/dev/null || fail "sft run"
grpo=$(migr run submit "$here/examples/grpo.yaml" --set dataset=other --set "grpo.init=run:$sft" \
    --set grpo.instruments=a --set rewards.mi_order=0 --set rewards.consistency=0 --set train.steps=2 \
    --set train.warmup=0 --set grpo.group_size=2 --set train.batch_size=4 --set train.shards=2 \
    --set grpo.max_new=30) || fail "grpo submit"
migr run watch "$grpo" >/dev/null || fail "the grpo run on the other-encoder set did not succeed"
ev=$(migr run submit "$here/examples/eval.yaml" --set dataset=other --set "eval.ckpt=run:$grpo" \
    --set eval.clips=all --set eval.instruments=a --set eval.max_new=30) || fail "eval submit"
migr run watch "$ev" >/dev/null || fail "the eval of the other-encoder set did not succeed"
expect_eq "clips evaluated" "$n" "$(jqr .eval.clips run show "$ev")"
finish
