#!/usr/bin/env bash
#
# bench/bench.sh WORKDIR - every measure of SPEC section 8 in one run, as an
# unprivileged user (bench/run.sh does the set-up).  Each figure is printed
# with a baseline measured in the same run on the same machine, the ratio
# and the target; absolute times mean little on a shared machine.
#
# Environment: BENCH_SECONDS (pgbench run length, default 8), BENCH_ROUNDS
# (alternating rounds for the throughput ratios, default 3).

set -eEuo pipefail

WORK=$1
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
KZ_CLUSTER="$HERE/../test/perl/kz_cluster.pl"

SECONDS_PER_RUN=${BENCH_SECONDS:-8}
ROUNDS=${BENCH_ROUNDS:-3}
DIR="$WORK/bench_cluster"
SINGLE="$WORK/bench_single"
OUT="$WORK/bench_out"
ROWS=()
mkdir -p "$OUT"

cleanup() {
    perl "$KZ_CLUSTER" stop "$DIR"
    perl "$KZ_CLUSTER" stop "$SINGLE"
}
trap cleanup EXIT INT TERM HUP
# set -e stops at the first failing step, a `read < <(...)` that got no
# output included: say which one
trap 'printf "%s: failed at line %s: %s\n" "${BASH_SOURCE[0]##*/}" "$LINENO" "$BASH_COMMAND" >&2' ERR

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

note "starting a single server (no broker) and a 3-server cluster with its broker"
perl "$KZ_CLUSTER" start "$SINGLE" 1 --no-broker --conf "kz_globals.amqp_uri = ''" >/dev/null
perl "$KZ_CLUSTER" start "$DIR" 3 \
    --conf "kz_globals.max_names = 400000" --conf "kz_globals.mailbox_size = 1000000" \
    --conf "kz_globals.heartbeat_interval = 1000ms" --conf "max_connections = 400" >/dev/null
PGBIN=$(env_of "$DIR" PGBIN)
PGHOST=$(env_of "$DIR" PGHOST)

# --- one AMQP round trip: the baseline of every latency ---
BROKER_PORT=$(env_of "$DIR" BROKER_PORT)
build_tools
gcc -O2 -I"$(pg_config --includedir)" -o "$OUT/group_publish" "$HERE/group_publish.c" -lpq
read -r RTT RTT99 _ < <("$OUT/amqp_ping" 127.0.0.1 "$BROKER_PORT" 2000)
note "one AMQP round trip: median $RTT us, p99 $RTT99 us"
RTT_TEXT="RTT ${RTT} us"
# what a send waits for once on the wire: a mandatory publish's confirm
read -r CONF CONF99 _ < <("$OUT/amqp_ping" 127.0.0.1 "$BROKER_PORT" 2000 confirm)
row "AMQP: a publish until its publisher confirm" "$CONF us (p99 $CONF99)" "$RTT_TEXT" "$(ratio "$CONF" "$RTT")" "-"
# the floor under a claim: one broadcast to three queues, answered by two peers
read -r FAN FAN99 _ < <("$OUT/amqp_fanout" 127.0.0.1 "$BROKER_PORT" 2000 2)
row "AMQP: broadcast answered by 2 peers (floor)" "$FAN us (p99 $FAN99)" "$RTT_TEXT" "$(ratio "$FAN" "$RTT")" "-"
# the same with everything the protocol makes the broker do for a claim:
# topic exchange, bounded queues, checked user-id, then the advertisement
read -r PFAN PFAN99 _ < <("$OUT/amqp_fanout" 127.0.0.1 "$BROKER_PORT" 2000 2 protocol)
row "AMQP: the protocol's claim, bare (2 peers)" "$PFAN us (p99 $PFAN99)" "floor ${FAN} us" "$(ratio "$PFAN" "$FAN")" "-"

# --- the message codec alone: encoding and decoding one message ---
make -s -C "$HERE/.." bench/codec_cost PG_CONFIG="$PG_CONFIG" >/dev/null
while read -r kind bytes enc dec; do
    row "codec: $kind $bytes B, encode/decode" "$enc ns / $dec ns" "-" "-" "-"
done < <("$HERE/codec_cost" 20000)

# --- single server, 2 clients (pgbench) ---
holder=$(run_in_background "$SINGLE" 1 "SELECT kz_globals.register_name('bench-hit'); SELECT pg_sleep(100000)")
wait_for "$SINGLE" 1 "SELECT kz_globals.whereis_name('bench-hit') IS NOT NULL"
read -r W S1 < <(ratio_tps "$SINGLE" 1 2 whereis.sql select1.sql)
row "whereis_name local hit, 2 clients" "$W tps" "SELECT 1: $S1 tps" "$(ratio "$W" "$S1")" ">= 0.9"
read -r R A < <(ratio_tps "$SINGLE" 1 2 register.sql advisory.sql)
row "register+unregister, single server, 2 cl." "$R tps" "adv. lock+unlock: $A tps" "$(ratio "$R" "$A")" ">= 0.8"
kill "$holder" 2>/dev/null || true
# leases (README, "Leases"): acquire+release against advisory lock+unlock, and
# a renewal (one statement) against a transaction-scoped advisory lock
read -r L A < <(ratio_tps "$SINGLE" 1 2 lease.sql advisory.sql)
row "lease acquire+release, single server, 2 cl." "$L tps" "adv. lock+unlock: $A tps" "$(ratio "$L" "$A")" "-"
LEASE_TOKEN=$(kz_psql "$SINGLE" 1 "SELECT kz_globals.acquire_lease('bench-renew', 60000)")
read -r RN AX < <(ratio_tps "$SINGLE" 1 2 renew.sql advisory_xact.sql -D tok="$LEASE_TOKEN")
row "lease renew, single server, 2 cl." "$RN tps" "adv. xact lock: $AX tps" "$(ratio "$RN" "$AX")" "-"
kz_psql "$SINGLE" 1 "SELECT kz_globals.release_lease('bench-renew', $LEASE_TOKEN)" >/dev/null

# --- claim latency, 3 nodes (1 client, then 16 spread over the nodes) ---
read -r CM C99 _ CT < <(pgbench_lat "$DIR" 1 1 1000 claim.sql claim1 -D node=1)
row "claim latency, 3 nodes, 1 client (median)" "$CM us (p99 $C99)" "$RTT_TEXT" "$(ratio "$CM" "$RTT")" "<= 2 RTT"
row "claim latency / the broadcast floor" "$CM us" "floor ${FAN} us" "$(ratio "$CM" "$FAN")" "<= 1.2"
row "claim latency / the protocol's claim, bare" "$CM us" "bare ${PFAN} us" "$(ratio "$CM" "$PFAN")" "-"
row "registrations/s, 1 client" "$CT /s" "-" "-" "-"
# --- visibility on another node: after register_name returns, and in all ---
read -r VM V99 VT VT99 POLL < <("$OUT/visibility" "host=$PGHOST port=$(port "$DIR" 1) dbname=postgres" \
    "host=$PGHOST port=$(port "$DIR" 2) dbname=postgres" 500)
row "visibility lag on another node (median)" "$VM us (p99 $V99)" "$RTT_TEXT" "$(ratio "$VM" "$RTT")" "<= 1.5 RTT"
row "visibility from the claim's start (median)" "$VT us (p99 $VT99)" "$RTT_TEXT" "$(ratio "$VT" "$RTT")" "-"
row "  (the observer's poll cycle: its resolution)" "$POLL us" "$RTT_TEXT" "$(ratio "$POLL" "$RTT")" "-"
# metadata: from set_meta's return on node 1 until meta() shows it on node 2
read -r MM M99 _ _ _ < <("$OUT/visibility" "host=$PGHOST port=$(port "$DIR" 1) dbname=postgres" \
    "host=$PGHOST port=$(port "$DIR" 2) dbname=postgres" 300 meta)
row "metadata update seen on another node (median)" "$MM us (p99 $M99)" "$RTT_TEXT" "$(ratio "$MM" "$RTT")" "<= 1.5 RTT"

# --- registrations per second, 16 clients over 3 servers ---
worker_pid() {
    kz_psql "$DIR" "$1" "SELECT pid FROM pg_stat_activity WHERE backend_type = 'kz_globals worker'"
}
cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}
W1=$(worker_pid 1)
T0=$(cpu_ticks "$W1")
START=$(date +%s.%N)
CLAIMERS=()
for i in 1 2 3; do
    clients=$((i == 1 ? 6 : 5))
    pgbench_lat "$DIR" "$i" "$clients" 2000 claim.sql "claim16_$i" -D node="$i" >"$OUT/result_claim16_$i" &
    CLAIMERS+=($!)
done
# visibility while they run: one more client registering on node 3, watched
# on node 2 (a few hundred claims beside the 32000; not counted in the rate)
"$OUT/visibility" "host=$PGHOST port=$(port "$DIR" 3) dbname=postgres" \
    "host=$PGHOST port=$(port "$DIR" 2) dbname=postgres" 200 >"$OUT/result_vis16" &
VIS16=$!
wait "${CLAIMERS[@]}"
ELAPSED=$(awk -v s="$START" -v e="$(date +%s.%N)" 'BEGIN { print e - s }')
wait "$VIS16"
TOTAL_CLAIMS=$((6 * 2000 + 2 * 5 * 2000))
REGS=$(awk -v n="$TOTAL_CLAIMS" -v t="$ELAPSED" 'BEGIN { printf "%.0f", n / t }')
CPU=$(awk -v a="$T0" -v b="$(cpu_ticks "$W1")" -v t="$ELAPSED" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", 100 * (b - a) / hz / t }')
row "cluster registrations/s, 3 nodes, 16 cl." "$REGS /s" "OTP global ~1.1k/s" "$(ratio "$REGS" 1100)" ">= 10k/s"
row "claim latency, 16 clients (median, node 1)" "$(cut -d' ' -f1 "$OUT/result_claim16_1") us (p99 $(cut -d' ' -f2 "$OUT/result_claim16_1"))" "$RTT_TEXT" "$(ratio "$(cut -d' ' -f1 "$OUT/result_claim16_1")" "$RTT")" "-"
read -r V16 V1699 _ _ _ <"$OUT/result_vis16"
row "visibility lag during that run (median)" "$V16 us (p99 $V1699)" "$RTT_TEXT" "$(ratio "$V16" "$RTT")" "-"
# its own memory (RssAnon), apart from the shared memory it has touched
RSS=$(awk '/RssAnon/ { print $2 }' "/proc/$W1/status")
SHM=$(awk '/RssShmem/ { print $2 }' "/proc/$W1/status")
row "worker of node 1 during that run" "${CPU}% CPU, ${RSS} kB" "(+ ${SHM} kB shm touched)" "-" "-"

# --- remote send: a sink on node 1, senders on nodes 2 and 3 ---
drain="SELECT kz_globals.register_name('sink');
DO \$\$ BEGIN LOOP PERFORM * FROM kz_globals.receive(5000); EXIT WHEN NOT FOUND; END LOOP; END \$\$"
sink=$(run_in_background "$DIR" 1 "$drain")
wait_for "$DIR" 2 "SELECT kz_globals.whereis_name('sink') IS NOT NULL"
wait_for "$DIR" 3 "SELECT kz_globals.whereis_name('sink') IS NOT NULL"
read -r SM S99 _ ST < <(pgbench_lat "$DIR" 2 1 2000 send.sql send1)
row "remote send latency, 1 client (median)" "$SM us (p99 $S99)" "$RTT_TEXT" "$(ratio "$SM" "$RTT")" "-"
RTTC=$(awk -v a="$RTT" -v b="$CONF" 'BEGIN { printf "%.1f", a + b }')
row "remote send / (round trip + confirm)" "$SM us" "RTT + confirm ${RTTC} us" "$(ratio "$SM" "$RTTC")" "<= 1"
row "remote sends/s, 1 client" "$ST /s" "-" "-" "-"
START=$(date +%s.%N)
pgbench_lat "$DIR" 2 8 2500 send.sql send16_2 >"$OUT/result_send16_2" &
pgbench_lat "$DIR" 3 8 2500 send.sql send16_3 >"$OUT/result_send16_3" &
wait
ELAPSED=$(awk -v s="$START" -v e="$(date +%s.%N)" 'BEGIN { print e - s }')
SENDS=$(awk -v t="$ELAPSED" 'BEGIN { printf "%.0f", 16 * 2500 / t }')
row "remote sends/s, 16 clients" "$SENDS /s" "-" "-" ">= 20k/s"
row "remote send latency, 16 clients (median)" "$(cut -d' ' -f1 "$OUT/result_send16_2") us (p99 $(cut -d' ' -f2 "$OUT/result_send16_2"))" "$RTT_TEXT" "$(ratio "$(cut -d' ' -f1 "$OUT/result_send16_2")" "$RTT")" "-"
kill "$sink" 2>/dev/null || true

# --- remote call: an echo service on node 1, a caller on node 2 ---
echo_svc="SELECT kz_globals.register_name('echo');
DO \$\$ DECLARE m record; BEGIN LOOP SELECT * INTO m FROM kz_globals.receive(5000); EXIT WHEN m IS NULL; PERFORM kz_globals.reply(m.reply_tag, m.message); END LOOP; END \$\$"
svc=$(run_in_background "$DIR" 1 "$echo_svc")
wait_for "$DIR" 2 "SELECT kz_globals.whereis_name('echo') IS NOT NULL"
read -r KM K99 _ KT < <(pgbench_lat "$DIR" 2 1 1000 call.sql call1)
row "remote call latency, 1 client (median)" "$KM us (p99 $K99)" "$RTT_TEXT" "$(ratio "$KM" "$RTT")" "-"
row "remote calls/s, 1 client" "$KT /s" "-" "-" "-"
# 16 callers on nodes 2 and 3 against the one echo session (served serially)
pgbench_lat "$DIR" 2 8 500 call.sql call16_2 >"$OUT/result_call16_2" &
pgbench_lat "$DIR" 3 8 500 call.sql call16_3 >"$OUT/result_call16_3" &
wait
read -r K16 K1699 _ K16T2 <"$OUT/result_call16_2"
read -r _ _ _ K16T3 <"$OUT/result_call16_3"
row "remote calls/s, 16 clients, one echo session" "$((K16T2 + K16T3)) /s" "-" "-" "-"
row "remote call latency, 16 clients (median)" "$K16 us (p99 $K1699)" "$RTT_TEXT" "$(ratio "$K16" "$RTT")" "-"
kill "$svc" 2>/dev/null || true

# --- process groups: a publisher on node 1, 1, 10 and 1000 members spread
# over the 3 servers (from node 2 on: the single member is remote); the
# value counts deliveries from the first publish until every member has
# taken every message, the baseline what publish() returned per second ---
CONNS=()
for i in 1 2 3; do
    CONNS+=("host=$PGHOST port=$(port "$DIR" "$i") dbname=postgres")
done
for spec in 1:2000 10:1000 1000:100; do
    read -r GP GD GC < <("$OUT/group_publish" "${spec%%:*}" "${spec##*:}" "${CONNS[@]}")
    row "group publish, ${spec%%:*} member(s) on 3 servers" "$GD deliveries/s" "counted: $GP/s" "-" "-"
done

# --- shared memory per name slot ---
SLOT=$(kz_psql "$DIR" 1 "SELECT round(size::numeric / current_setting('kz_globals.max_names')::int, 1) FROM pg_shmem_allocations WHERE name = 'kz_globals registry'")
row "shared memory per name slot" "$SLOT bytes" "-" "-" "<= 512 bytes"

# --- sync on join: 10000 names on node 1, then a fourth server joins ---
bulk=$(run_in_background "$DIR" 1 "SELECT count(*) FROM generate_series(1, 10000) g WHERE kz_globals.register_name('bulk-' || g); SELECT pg_sleep(100000)")
wait_for "$DIR" 2 "SELECT count(*) >= 10000 FROM kz_globals.registrations WHERE name LIKE 'bulk-%'"
START=$(date +%s.%N)
perl "$KZ_CLUSTER" add "$DIR" --conf "kz_globals.max_names = 400000" >/dev/null
wait_for "$DIR" 4 "SELECT count(*) >= 10000 FROM kz_globals.registrations WHERE name LIKE 'bulk-%'"
END=$(date +%s.%N)
# from the new server's start (its postmaster's start time): kz_cluster.pl
# add runs initdb first, which the second figure includes
PM_START=$(kz_psql "$DIR" 4 "SELECT extract(epoch FROM pg_postmaster_start_time())")
JOIN_S=$(awk -v s="$PM_START" -v e="$END" 'BEGIN { printf "%.2f", e - s }')
JOIN_ALL=$(awk -v s="$START" -v e="$END" 'BEGIN { printf "%.2f", e - s }')
row "sync on join of 10k names (incl. server start)" "$JOIN_S s" "with initdb: $JOIN_ALL s" "-" "<= 1 s"
kill "$bulk" 2>/dev/null || true

print_table "kz_globals benchmark"
