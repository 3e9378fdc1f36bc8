#!/usr/bin/env bash
#
# test/suites/layers.sh - the include graph of src/ against the layers the
# code is meant to have (README, "Architecture"; issue 10), top to bottom:
#
#   0 entry       kz_globals.c (_PG_init)
#   1 sql         sql_api.c views.c: the SQL surface
#   2 backend     claims messaging names backend_exit privileges: what a
#                 backend does for a SQL call
#   2 worker      worker worker_conn bus_in bus_out inflight outbox relay
#                 membership (bus.h): the background worker's handlers
#   3 shmem       shmem registry nodes mailbox request rules_apply guc: the
#                 shared state both sides use, and the one place that
#                 writes the rules' verdicts into it
#   4 pure        rules conflict protocol wire etf broker_uri: decisions and
#                 codecs, no shared memory, no network
#   5 connection  amqp_conn (rabbitmq_c.h)
#   6 common      kz_globals.h compat.h: types and version shims for all
#
# A file may include headers of its own layer or of layers below; backend
# and worker (both 2) may not include each other's.  Every other edge runs
# uphill and is listed.  The reshape is under way: the number of uphill
# edges may not grow beyond MAX_UPHILL, which each step that removes some
# lowers, until it is 0.  Prints "N passed, M failed" last: one check per
# include edge.

set -euo pipefail

ROOT=${KZ_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
MAX_UPHILL=${KZ_MAX_UPHILL:-4}

layer_of() {
    case "$1" in
        kz_globals.c) echo "0 entry" ;;
        sql_api | views) echo "1 sql" ;;
        claims | messaging | names | backend_exit | privileges) echo "2 backend" ;;
        worker | worker_conn | bus_in | bus_out | inflight | outbox | relay | membership | bus)
            echo "2 worker" ;;
        shmem | registry | nodes | mailbox | request | rules_apply | guc) echo "3 shmem" ;;
        rules | conflict | protocol | wire | etf | broker_uri) echo "4 pure" ;;
        amqp_conn | rabbitmq_c) echo "5 connection" ;;
        kz_globals | compat) echo "6 common" ;;
        *) echo "? unknown" ;;
    esac
}

passed=0
uphill=0
unknown=0
for f in "$ROOT"/src/*.c "$ROOT"/src/*.h; do
    base=$(basename "$f")
    if [ "$base" = kz_globals.c ]; then
        from=$(layer_of kz_globals.c)
    else
        from=$(layer_of "${base%.*}")
    fi
    for h in $(sed -n 's/^#include "\([a-z_0-9]*\)\.h".*/\1/p' "$f"); do
        [ "$h" = "${base%.*}" ] && continue     # a file's own header
        [ -e "$ROOT/src/$h.h" ] || continue     # PostgreSQL's, the system's
        to=$(layer_of "$h")
        if [ "${from%% *}" = "?" ] || [ "${to%% *}" = "?" ]; then
            echo "unknown layer: $base includes $h.h (add it to layer_of)"
            unknown=$((unknown + 1))
        elif [ "${to%% *}" -lt "${from%% *}" ] ||
            { [ "${to%% *}" = "${from%% *}" ] && [ "$to" != "$from" ]; }; then
            echo "uphill: $base (${from#* }) includes $h.h (${to#* })"
            uphill=$((uphill + 1))
        else
            passed=$((passed + 1))
        fi
    done
done
echo "layers: $uphill uphill include edges (at most $MAX_UPHILL allowed while the reshape goes on)"
failed=$unknown
if [ "$uphill" -gt "$MAX_UPHILL" ]; then
    echo "layers: more uphill edges than before: a change added one"
    failed=$((failed + uphill - MAX_UPHILL))
fi
passed=$((passed + uphill - (uphill > MAX_UPHILL ? uphill - MAX_UPHILL : 0)))
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
