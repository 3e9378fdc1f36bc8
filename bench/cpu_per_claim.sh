#!/usr/bin/env bash
#
# bench/cpu_per_claim.sh [N] - where a claim's time goes: CPU time and
# context switches per claim of each worker and of the broker, over N
# claims (default 3000) by one pgbench client on server 1 of a fresh
# 3-server cluster.  A profiling aid for issue 13, not part of make bench.
# Run as an unprivileged user with PG_CONFIG set and the extension
# installed (as after make bench); it starts and stops its own cluster.

set -euo pipefail

N=${1:-3000}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
KZ_CLUSTER="$HERE/../test/perl/kz_cluster.pl"
DIR=$(mktemp -d "${TMPDIR:-/tmp}/kz_cpu_per_claim.XXXXXX")
OUT=$DIR
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
perl "$KZ_CLUSTER" start "$DIR" 3 --conf "kz_globals.heartbeat_interval = 1000ms" >/dev/null
trap 'perl "$KZ_CLUSTER" stop "$DIR"; rm -rf "$DIR"' EXIT

PGBIN=$(env_of "$DIR" PGBIN)
PGHOST=$(env_of "$DIR" PGHOST)
worker() { kz_psql "$DIR" "$1" "SELECT pid FROM pg_stat_activity WHERE backend_type = 'kz_globals worker'"; }

NAMES=(worker1 worker2 worker3 broker)
PIDS=("$(worker 1)" "$(worker 2)" "$(worker 3)" "$(pgrep -f "beam.smp.*$DIR/" | head -1)")

# snap: "cpu_ticks switches" of each process, one line each
snap() {
    local p
    for p in "${PIDS[@]}"; do
        echo "$(awk '{ print $14 + $15 }' "/proc/$p/stat")" \
            "$(awk '/^(non)?voluntary_ctxt_switches/ { s += $2 } END { print s }' "/proc/$p/status")"
    done
}

BEFORE=$(snap)
T0=$(date +%s.%N)
"$PGBIN/pgbench" -h "$PGHOST" -p "$(port "$DIR" 1)" -n -M prepared -c 1 -j 1 -t "$N" \
    -f "$HERE/sql/claim.sql" -D node=1 postgres 2>/dev/null | grep -E '^latency average'
T1=$(date +%s.%N)
AFTER=$(snap)
# the broker's CPU for the floor: the same number of bare broadcasts, each
# answered by two peers (bench/amqp_fanout.c), then the protocol's claim
# done bare (the same program in protocol mode: topic exchange, bounded
# queues, user-id, and the advertisement after the answers)
build_tools
for mode in claim protocol; do
    B0=$(awk '{ print $14 + $15 }' "/proc/${PIDS[3]}/stat")
    read -r FLOOR _ < <("$OUT/amqp_fanout" 127.0.0.1 "$(env_of "$DIR" BROKER_PORT)" "$N" 2 "$mode")
    B1=$(awk '{ print $14 + $15 }' "/proc/${PIDS[3]}/stat")
    awk -v a="$B0" -v b="$B1" -v n="$N" -v hz="$(getconf CLK_TCK)" -v f="$FLOOR" -v m="$mode" \
        'BEGIN { printf "%s: bare, answered by 2 peers, median %s us; broker CPU per claim %.1f us\n", m == "claim" ? "floor" : "the protocol", f, (b - a) / hz * 1e6 / n }'
done

paste <(printf '%s\n' "${NAMES[@]}") <(echo "$BEFORE") <(echo "$AFTER") |
    awk -v n="$N" -v hz="$(getconf CLK_TCK)" -v t="$(awk -v a="$T0" -v b="$T1" 'BEGIN { print b - a }')" '
        { printf "%-8s CPU per claim %7.1f us, context switches per claim %.2f\n", $1, ($4 - $2) / hz * 1e6 / n, ($5 - $3) / n }
        END { printf "elapsed per claim %.1f us\n", t * 1e6 / n }'
