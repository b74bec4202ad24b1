#!/bin/sh
# Turn the dashboard's files (coordinator/dashboard/*.html, .js, .css, given
# as arguments) into the C array migrd serves them from (coordinator/
# dashboard.h): index.html at /, every other file at /NAME.  Output: C source.
set -eu
echo '/* Generated from coordinator/dashboard/ by coordinator/dashboard/embed.sh; do not edit. */'
echo '#include "coordinator/dashboard.h"'
i=0
for f in "$@"; do
    echo "static const char file_$i[] ="
    sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/    "/' -e 's/$/\\n"/' "$f"
    echo '    ;'
    i=$((i + 1))
done
echo 'const dashboard_file dashboard_files[] = {'
i=0
for f in "$@"; do
    name=$(basename "$f")
    case "$name" in
        index.html) path=/ type="text/html; charset=utf-8" ;;
        *.html) path=/$name type="text/html; charset=utf-8" ;;
        *.js) path=/$name type="text/javascript; charset=utf-8" ;;
        *.css) path=/$name type="text/css; charset=utf-8" ;;
        *) echo "embed.sh: no content type for $name" >&2; exit 1 ;;
    esac
    echo "    {\"$path\", \"$type\", file_$i, sizeof file_$i - 1},"
    i=$((i + 1))
done
echo '};'
echo "const int dashboard_file_count = $#;"
