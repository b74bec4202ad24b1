#!/bin/sh
# Turn the numbered migrations given as arguments (schema/NNN_name.sql, in
# order) into a C array the coordinator applies at start.  Output: C source.
set -eu
echo '/* Generated from the schema/ migrations by schema/embed.sh; do not edit. */'
echo '#include "coordinator/migrate.h"'
echo 'const migration migrations[] = {'
for f in "$@"; do
    base=$(basename "$f" .sql)
    num=$(echo "$base" | sed 's/^0*\([0-9][0-9]*\)_.*/\1/')
    printf '    {%s, "%s",\n' "$num" "$base"
    sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/     "/' -e 's/$/\\n"/' "$f"
    echo '    },'
done
echo '};'
echo "const int migration_count = $#;"
