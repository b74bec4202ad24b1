# migrd links neither FFmpeg nor the model: it is built from coordinator/,
# spec/ and common/ only (README.md, Architecture), and the worker and the
# CLI add media/ and ml/.  Checked four ways, three on the binary and one on
# its source, each failure naming what it found:
#   1. no FFmpeg or BLAS library among migrd's shared libraries (ldd);
#   2. no undefined dynamic symbol of theirs (nm -D);
#   3. no compilation unit from media/ or ml/ in its debug info: this one sees
#      an object pulled from those folders even when the linker's --as-needed
#      (Debian's default) drops the libraries that object does not call;
#   4. and in the source, no #include of media/, ml/, FFmpeg or BLAS headers
#      in coordinator/ or spec/, where a header-only use (a constant) leaves
#      nothing in the binary to see.
# migr-worker is checked to show each of 1-3 what it looks for, so that a
# tool whose output changed cannot make the test pass by seeing nothing.
. "$(dirname "$0")/lib.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)

for tool in ldd nm readelf; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
migrd="$MIGR_BIN/migrd" worker="$MIGR_BIN/migr-worker"
found=""
note() { found="$found
  $*"; }

# 1. Shared libraries, direct or not.
worker_only_libs='^lib(avcodec|avformat|avutil|avfilter|avdevice|swscale|swresample|postproc|openblas[a-z0-9_]*|blas|cblas|lapack|gfortran)\.so'
libs() { ldd "$1" | awk '{ print $1 }' | grep -E "$worker_only_libs"; }
libs "$worker" | grep -q '^libavcodec' || fail "ldd shows no libavcodec in migr-worker: the check cannot see"
for lib in $(libs "$migrd"); do
    note "links $lib"
done

# 2. Undefined dynamic symbols (a library's functions called through the PLT).
worker_only_syms='^(av_|avcodec_|avformat_|avio_|sws_|swr_|cblas_|openblas_)'
syms() { nm -D --undefined-only "$1" | awk '{ print $NF }' | sed 's/@.*//' | grep -E "$worker_only_syms"; }
syms "$worker" | grep -q '^avcodec_' || fail "nm shows no avcodec_ symbol in migr-worker: the check cannot see"
for sym in $(syms "$migrd"); do
    note "calls $sym"
done

# 3. Compilation units ("media/decode.c", "ml/rewards/format.c"), as the
# Makefile compiles them: paths relative to the tree.
units() {
    readelf --debug-dump=info --dwarf-depth=1 "$1" 2>/dev/null |
        sed -n 's/^ *<[0-9a-f]*> *DW_AT_name *:\( (indirect[^)]*):\)\{0,1\} *//p' |
        grep -E '^(\./)?(media|ml)/'
}
if readelf -S "$worker" | grep -q '\.debug_info'; then
    units "$worker" | grep -q '^ml/model\.c$' || fail "readelf shows no ml/model.c in migr-worker: the check cannot see"
    for unit in $(units "$migrd"); do
        note "holds code compiled from $unit"
    done
    debug=1
else
    debug=0
fi

# 4. Includes.
includes=$(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](media/|ml/|libav|libsw|cblas|openblas)' \
               "$root"/coordinator/*.[ch] "$root"/spec/*.[ch] 2>/dev/null)
set -f
old_ifs=$IFS
IFS='
'
for line in $includes; do
    note "includes ${line#"$root"/}"
done
IFS=$old_ifs
set +f

[ -z "$found" ] || fail "migrd must link neither FFmpeg nor the model (media/, ml/), but it:$found"
if [ "$debug" = 0 ]; then
    rm -rf "$MIGR_HOME"
    echo "SKIP: the binaries have no debug info (stripped?): only their libraries, symbols and the source were checked"
    exit 77
fi
echo "migrd: no FFmpeg, BLAS, media/ or ml/ in its libraries, symbols, code or includes"
rm -rf "$MIGR_HOME"
