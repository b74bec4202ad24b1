# fixtures.sh FX EXAMPLES: writes into FX the bad (and a few good) input files
# that cases.txt names as FX/...; EXAMPLES is the examples/ directory.
fx=$1 ex=$2
mkdir -p "$fx"
printf 'drift: 0.25\nfrobnicate: 1\n' >"$fx/synth_unknown.yaml"
printf 'drift: 2\n' >"$fx/synth_badval.yaml"
printf 'key: [unclosed\n' >"$fx/notyaml.yaml"
: >"$fx/empty.yaml"
: >"$fx/empty.csv"
ffmpeg -loglevel error -f lavfi -i testsrc=size=64x48:rate=15 -f lavfi -i sine=frequency=300:sample_rate=16000 \
    -t 1 -c:v libx264 -pix_fmt yuv420p -c:a aac -shortest "$fx/clip.mp4" -y
printf 'clip.mp4,joy\n' >"$fx/badlabel.csv"
printf 'clip.mp4\n' >"$fx/onecol.csv"
printf '"clip.mp4,angry\n' >"$fx/badquote.csv"
printf 'clip.mp4,angry\nclip.mp4,sad\n' >"$fx/dup.csv"
printf '/etc/passwd,angry\n' >"$fx/abs.csv"
printf 'clip.mp4,angry\n' >"$fx/ok.csv"
printf '{not json\n' >"$fx/bad.jsonl"
printf '{"clip": "zzz", "visual": "a face", "audio": "a voice", "text": "words", "think": "x"}\n' >"$fx/unknownclip.jsonl"
cp "$ex/sft.yaml" "$ex/grpo.yaml" "$ex/eval.yaml" "$fx/"
{ cat "$ex/sft.yaml"; printf 'frobnicate: 1\n'; } >"$fx/unknownkey.yaml"
sed 's/^kind: .*/kind: dance/' "$ex/sft.yaml" >"$fx/badkind.yaml"
