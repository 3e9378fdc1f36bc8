#!/usr/bin/env bash
#
# test/suites/layers.sh - the include graph of src/ against its layers (one
# folder per layer, src/README.md; issue 10), top to bottom:
#
#   0 entry    src/kz_globals.c (_PG_init)
#   1 sql      src/sql: the SQL surface
#   2 backend  src/backend: what a backend does for a SQL call
#   2 worker   src/worker: the background worker's loop and handlers
#   3 shared   src/shared: shared memory, settings, and the one place that
#              writes the rules' verdicts into the name table
#   4 rules    src/rules: the registry rules, pure
#   5 wire     src/wire: codecs (terms, messages, names, URIs), pure
#   6 conn     src/conn: the broker connection (rabbitmq-c)
#   7 common   src/common: types and version shims for all
#
# A file may include headers of its own folder or of layers below; backend
# and worker (both 2) may not include each other's.  Inside src/worker the
# files are ordered too (WORKER_ORDER, top first: the loop, then the
# handlers, then what leaves for the bus), and a file may include only its
# own header or those of files below it.  Every other edge runs
# uphill and fails.  Prints "N passed, M failed" last: one check per include
# edge, and one per file that lies outside the folders above.

set -euo pipefail

ROOT=${KZ_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
MAX_UPHILL=${KZ_MAX_UPHILL:-0}

# src/worker, top to bottom (bus.h is bus_out.c's header).
WORKER_ORDER=(worker worker_conn bus_in peer_auth relay membership group_sync inflight remote outbox peers bus bus_keys log_limit)

worker_rank() {
    local i
    for i in "${!WORKER_ORDER[@]}"; do
        [ "${WORKER_ORDER[$i]}" = "$1" ] && { echo "$i"; return; }
    done
    echo -1
}

layer_of_dir() {
    case "$1" in
        .) echo "0 entry" ;;
        sql) echo "1 sql" ;;
        backend) echo "2 backend" ;;
        worker) echo "2 worker" ;;
        shared) echo "3 shared" ;;
        rules) echo "4 rules" ;;
        wire) echo "5 wire" ;;
        conn) echo "6 conn" ;;
        common) echo "7 common" ;;
        *) echo "? unknown" ;;
    esac
}

# Folder (relative to src/) of each header of ours, by name.
declare -A HDIR
while IFS= read -r h; do
    rel=${h#"$ROOT"/src/}
    d=$(dirname "$rel")
    HDIR[$(basename "$h" .h)]=$d
done < <(find "$ROOT/src" -name '*.h')

passed=0
uphill=0
unknown=0
while IFS= read -r f; do
    rel=${f#"$ROOT"/src/}
    base=$(basename "$f")
    from=$(layer_of_dir "$(dirname "$rel")")
    if [ "${from%% *}" = "?" ] || { [ "$(dirname "$rel")" = . ] && [ "$base" != kz_globals.c ]; }; then
        echo "unknown layer: src/$rel (put it in a layer's folder)"
        unknown=$((unknown + 1))
        continue
    fi
    for h in $(sed -n 's/^#include "\([a-z_0-9]*\)\.h".*/\1/p' "$f"); do
        [ "$h" = "${base%.*}" ] && continue     # a file's own header
        [ -n "${HDIR[$h]:-}" ] || continue      # PostgreSQL's, the system's
        to=$(layer_of_dir "${HDIR[$h]}")
        if [ "$from" = "2 worker" ] && [ "$to" = "2 worker" ]; then
            me=${base%.*}
            [ "$me" = bus_out ] && me=bus
            rf=$(worker_rank "$me")
            rt=$(worker_rank "$h")
            if [ "$rf" -lt 0 ] || [ "$rt" -lt 0 ]; then
                echo "unknown worker file: src/$rel or $h.h (add it to WORKER_ORDER)"
                unknown=$((unknown + 1))
            elif [ "$rt" -lt "$rf" ]; then
                echo "uphill: src/$rel includes $h.h (above it in src/worker)"
                uphill=$((uphill + 1))
            else
                passed=$((passed + 1))
            fi
            continue
        fi
        if [ "${to%% *}" -lt "${from%% *}" ] ||
            { [ "${to%% *}" = "${from%% *}" ] && [ "$to" != "$from" ]; }; then
            echo "uphill: src/$rel (${from#* }) includes $h.h (${to#* })"
            uphill=$((uphill + 1))
        else
            passed=$((passed + 1))
        fi
    done
done < <(find "$ROOT/src" -name '*.[ch]' | sort)
echo "layers: $uphill uphill include edges (at most $MAX_UPHILL allowed)"
failed=$unknown
if [ "$uphill" -gt "$MAX_UPHILL" ]; then
    failed=$((failed + uphill - MAX_UPHILL))
fi
passed=$((passed + uphill - (uphill > MAX_UPHILL ? uphill - MAX_UPHILL : 0)))
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
