#!/usr/bin/env bash
#
# bench/scale.sh WORKDIR - how the costs grow (make bench-scale): with the
# number of servers, the number of names and the size of messages.  Run as
# an unprivileged user by bench/run.sh, like bench/bench.sh; prints one
# table per dimension and writes the figures and their plots (PNG, with
# gnuplot) to WORKDIR/bench_results, which bench/run.sh copies to
# bench/results/.
#
# Environment (space-separated lists; an empty or blank one leaves its
# dimension out): SCALE_SERVERS (default "3 5 9"), SCALE_BROKERS (server
# counts also run over two clustered brokers, "9"), SCALE_NAMES ("10000
# 100000 1000000"), SCALE_SIZES ("100 8192 65536"); SCALE_CLAIMS (claims
# per latency run, 1000), SCALE_SENDS (sends or calls per latency run,
# 1000).

set -eEuo pipefail

WORK=$1
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
KZ_CLUSTER="$HERE/../test/perl/kz_cluster.pl"

SERVERS=${SCALE_SERVERS-3 5 9}
BROKERS2=${SCALE_BROKERS-9}
NAMES=${SCALE_NAMES-10000 100000 1000000}
SIZES=${SCALE_SIZES-100 8192 65536}
CLAIMS=${SCALE_CLAIMS:-1000}
SENDS=${SCALE_SENDS:-1000}
SECONDS_PER_RUN=${BENCH_SECONDS:-5}
ROUNDS=${BENCH_ROUNDS:-3}
OUT="$WORK/bench_out"
RESULTS="$WORK/bench_results"
ROWS=()
CLUSTERS=()
mkdir -p "$OUT" "$RESULTS"

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

cleanup() {
    local d
    for d in "${CLUSTERS[@]}"; do
        perl "$KZ_CLUSTER" stop "$d" || true
    done
}
trap cleanup EXIT INT TERM HUP
# set -e stops at the first failing step, a `read < <(...)` that got no
# output included: say which one
trap 'printf "%s: failed at line %s: %s\n" "${BASH_SOURCE[0]##*/}" "$LINENO" "$BASH_COMMAND" >&2' ERR

# Small servers: nine of them share this machine.
SMALL=(--conf "shared_buffers = 16MB" --conf "max_connections = 40"
    --conf "kz_globals.heartbeat_interval = 1000ms")

# start_cluster DIR N CONF...: a cluster of N servers, stopped on exit
# (CONF may hold kz_cluster.pl's --brokers B).
start_cluster() {
    local dir=$1 n=$2
    shift 2
    CLUSTERS+=("$dir")
    perl "$KZ_CLUSTER" start "$dir" "$n" "${SMALL[@]}" "$@" >/dev/null
    PGBIN=$(env_of "$dir" PGBIN)
    PGHOST=$(env_of "$dir" PGHOST)
}

stop_cluster() {
    perl "$KZ_CLUSTER" stop "$1" >/dev/null
}

# bus_total DIR N COLUMN: the sum of stats.COLUMN over servers 1..N.
bus_total() {
    local dir=$1 n=$2 col=$3 i sum=0
    for ((i = 1; i <= n; i++)); do
        sum=$((sum + $(kz_psql "$dir" "$i" "SELECT $col FROM kz_globals.stats")))
    done
    echo "$sum"
}

# elapsed START: seconds since START (a date +%s.%N).
elapsed() {
    awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.3f", e - s }'
}

worker_pid() {
    kz_psql "$1" "$2" "SELECT pid FROM pg_stat_activity WHERE backend_type = 'kz_globals worker'"
}

# --- 1. servers: claim latency against the floor, throughput, traffic -----

# servers_run N BROKERS: one line of servers.dat (or servers_2brokers.dat)
# and its rows: a cluster of N servers over BROKERS clustered brokers.
servers_run() {
    local n=$1 nb=$2 dir floor floor99 pfloor cm c99 regs vm v99 m0 b0 m1 b1 msgs bytes hb_m hb_b
    local per clients i start claim_s label dat
    dir="$WORK/scale_servers_${n}_$nb"
    label="$n servers"
    dat="$RESULTS/servers.dat"
    if ((nb > 1)); then
        label="$n servers, $nb brokers"
        dat="$RESULTS/servers_${nb}brokers.dat"
    fi
    note "servers: $label"
    start_cluster "$dir" "$n" --brokers "$nb" --conf "kz_globals.max_names = 200000"
    # the floors, on the first broker: bare broadcasts answered by n-1 peers,
    # then the protocol's claim done bare (amqp_fanout.c, protocol mode)
    read -r floor floor99 _ < <("$OUT/amqp_fanout" 127.0.0.1 "$(env_of "$dir" BROKER_PORT)" 2000 $((n - 1)))
    read -r pfloor _ < <("$OUT/amqp_fanout" 127.0.0.1 "$(env_of "$dir" BROKER_PORT)" 2000 $((n - 1)) protocol)

    # one client on server 1; the bus traffic of all servers meanwhile
    m0=$(bus_total "$dir" "$n" bus_sent)
    b0=$(bus_total "$dir" "$n" bus_sent_bytes)
    start=$(date +%s.%N)
    read -r cm c99 _ _ < <(pgbench_lat "$dir" 1 1 "$CLAIMS" claim.sql "claims_${n}_$nb" -D node=1)
    claim_s=$(elapsed "$start")
    m1=$(bus_total "$dir" "$n" bus_sent)
    b1=$(bus_total "$dir" "$n" bus_sent_bytes)
    # heartbeats meanwhile: n per second (1000 ms), taken out of the claims' count
    msgs=$(awk -v a="$m0" -v b="$m1" -v n="$n" -v t="$claim_s" -v c="$CLAIMS" 'BEGIN { printf "%.2f", (b - a - n * t) / c }')
    bytes=$(awk -v a="$b0" -v b="$b1" -v c="$CLAIMS" 'BEGIN { printf "%.0f", (b - a) / c }')

    # idle: what a heartbeat period costs the bus
    m0=$(bus_total "$dir" "$n" bus_sent)
    b0=$(bus_total "$dir" "$n" bus_sent_bytes)
    sleep 5
    m1=$(bus_total "$dir" "$n" bus_sent)
    b1=$(bus_total "$dir" "$n" bus_sent_bytes)
    hb_m=$(awk -v a="$m0" -v b="$m1" 'BEGIN { printf "%.1f", (b - a) / 5 }')
    hb_b=$(awk -v a="$b0" -v b="$b1" 'BEGIN { printf "%.0f", (b - a) / 5 }')

    # 16 clients spread over the servers
    per=$((16 / n))
    start=$(date +%s.%N)
    local -a pids=()
    local total=0
    for ((i = 1; i <= n; i++)); do
        clients=$per
        ((i <= 16 % n)) && clients=$((per + 1))
        ((clients == 0)) && continue
        total=$((total + clients * 500))
        pgbench_lat "$dir" "$i" "$clients" 500 claim.sql "claims16_${n}_${nb}_$i" -D node="$i" >/dev/null &
        pids+=($!)
    done
    wait "${pids[@]}"
    regs=$(awk -v c="$total" -v t="$(elapsed "$start")" 'BEGIN { printf "%.0f", c / t }')

    # server 2 is on the second broker when there are two
    read -r vm v99 _ < <("$OUT/visibility" "host=$PGHOST port=$(port "$dir" 1) dbname=postgres" \
        "host=$PGHOST port=$(port "$dir" 2) dbname=postgres" 300)

    row "claim latency, $label, 1 client" "$cm us (p99 $c99)" "floor ($((n - 1)) peers) $floor us" "$(ratio "$cm" "$floor")" "<= 1.2"
    row "  against the protocol's claim done bare" "$cm us" "bare $pfloor us" "$(ratio "$cm" "$pfloor")" "-"
    row "registrations/s, $label, 16 clients" "$regs /s" "-" "-" "-"
    row "visibility lag, $label (median)" "$vm us (p99 $v99)" "floor $floor us" "$(ratio "$vm" "$floor")" "-"
    row "bus messages per claim, $label" "$msgs ($bytes bytes)" "-" "-" "-"
    row "bus per heartbeat period (1 s), $label" "$hb_m msgs ($hb_b bytes)" "-" "-" "-"
    printf '%s %s %s %s %s %s %s %s %s %s %s %s\n' "$n" "$cm" "$c99" "$floor" "$floor99" "$regs" \
        "$vm" "$msgs" "$bytes" "$hb_m" "$hb_b" "$pfloor" >>"$dat"
    stop_cluster "$dir"
}

scale_servers() {
    local n header
    header='# servers claim_median claim_p99 floor_median floor_p99 regs_per_s visibility_median msgs_per_claim bytes_per_claim msgs_per_hb_period bytes_per_hb_period protocol_bare_median'
    echo "$header" >"$RESULTS/servers.dat"
    echo "$header" >"$RESULTS/servers_2brokers.dat"
    for n in $SERVERS; do
        servers_run "$n" 1
    done
    for n in $BROKERS2; do
        servers_run "$n" 2
    done
    # the target: a claim grows from the fewest servers to the most no more
    # than its floor does (medians, one broker)
    read -r first_n growth < <(awk '!/^#/ { if (!seen++) { n0 = $1; c0 = $2; f0 = $4; p0 = $12 }
        n1 = $1; c1 = $2; f1 = $4; p1 = $12 }
        END { if (seen > 1) printf "%s %s-%s claim x%.2f floor x%.2f bare protocol x%.2f\n", n0, n0, n1, c1 / c0, f1 / f0, p1 / p0 }' \
        "$RESULTS/servers.dat")
    if [ -n "${first_n:-}" ]; then
        row "growth of the median, ${growth%% *} servers" "${growth#* }" "-" "-" "claim <= floor"
    fi
}

# --- 2. names: sync on join, memory, lookups, listing -------------------------

# probe_start DIR I TAG KIND: a session on node I that times one call per
# round, 2 ms apart, printing "probe MICROSECONDS" as a NOTICE into
# $OUT/probe_TAG until probe_stop.  KIND claim: register_name of a fresh
# name (then unregister_name): a claim, which the worker decides.  KIND
# lock: set_meta on a name the session holds: the name table's lock taken
# exclusively by the backend alone, as unregister_name and a backend's
# exit take it, without waiting for the worker.  Prints the psql's pid.
probe_start() {
    local call
    if [ "$4" = claim ]; then
        call="PERFORM kz_globals.register_name('probe-$3-' || i);
            t1 := clock_timestamp();
            PERFORM kz_globals.unregister_name('probe-$3-' || i);"
    else
        call="PERFORM kz_globals.set_meta('probe-$3', jsonb_build_object('i', i));
            t1 := clock_timestamp();"
    fi
    kz_psql_raw "$1" "$(port "$1" "$2")" -q -c "SET application_name = 'kz_probe'" -c "DO \$\$
DECLARE
    i int := 0;
    t0 timestamptz;
    t1 timestamptz;
BEGIN
    IF '$4' = 'lock' THEN
        LOOP
            BEGIN
                EXIT WHEN kz_globals.register_name('probe-$3');
            EXCEPTION WHEN OTHERS THEN
                NULL;           -- not connected yet
            END;
            PERFORM pg_sleep(0.01);
        END LOOP;
    END IF;
    LOOP
        i := i + 1;
        BEGIN
            t0 := clock_timestamp();
            $call
            RAISE NOTICE 'probe %', (extract(epoch FROM t1 - t0) * 1e6)::bigint;
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE 'probe-failed %', SQLERRM;
        END;
        PERFORM pg_sleep(0.002);
    END LOOP;
END \$\$" >/dev/null 2>"$OUT/probe_$3" &
    echo $!
}

# probe_stop DIR I PID: ends node I's probe session and its psql.
probe_stop() {
    kz_psql "$1" "$2" "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'kz_probe'" >/dev/null
    wait "$3" 2>/dev/null || true
}

# probe_waits TAG: "max_ms p99_ms rounds" of a probe.
probe_waits() {
    awk '$2 == "probe" { print $3 }' "$OUT/probe_$1" | sort -n |
        awk '{ v[NR] = $1 } END { if (NR == 0) { print "0 0 0"; exit }
            p = int(NR * 0.99); if (p < 1) p = 1
            printf "%.1f %.1f %d\n", v[NR] / 1000, v[p] / 1000, NR }'
}

# anon_watch_start DIR I TAG: samples the private memory (RssAnon, kB) of
# node I's worker every 20 ms into $OUT/anon_TAG until killed; VmHWM would
# count the shared name table's pages the worker touched.  Prints its pid.
anon_watch_start() {
    local status
    status=/proc/$(worker_pid "$1" "$2")/status
    while awk '/RssAnon/ { print $2 }' "$status" 2>/dev/null; do
        sleep 0.02
    done >"$OUT/anon_$3" &
    echo $!
}

# anon_watch_stop PID TAG: the largest sample.
anon_watch_stop() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    sort -n "$OUT/anon_$2" | tail -1
}

scale_names() {
    local m dir max holder start reg_s shm w1 rss1 w2 rss2 join list ratio_w wh s1
    local probe lprobe probe2 watch1 watch2 anon0 peak1 peak2 reg_max reg99 rounds lock_max lock99 jlock_max jlock99 cn c99n join_all
    printf '# names register_s sync_on_join_s shm_mb worker1_rss_kb worker2_rss_kb whereis_tps select1_tps list_ms worker1_peak_anon_kb worker2_peak_anon_kb owner_claim_max_ms owner_claim_p99_ms owner_lock_wait_max_ms owner_lock_wait_p99_ms joiner_lock_wait_max_ms claim_median_us\n' >"$RESULTS/names.dat"
    for m in $NAMES; do
        dir="$WORK/scale_names_$m"
        max=$((m + m / 10 + 1000))
        note "names: $m"
        start_cluster "$dir" 1 --conf "kz_globals.max_names = $max"
        start=$(date +%s.%N)
        holder=$(run_in_background "$dir" 1 "SELECT count(*) FROM generate_series(1, $m) g WHERE kz_globals.register_name('name-' || g); SELECT kz_globals.register_name('bench-hit'); SELECT pg_sleep(100000)")
        wait_for "$dir" 1 "SELECT kz_globals.whereis_name('bench-hit') IS NOT NULL" 36000
        reg_s=$(elapsed "$start")
        shm=$(kz_psql "$dir" 1 "SELECT round(size / 1048576.0, 1) FROM pg_shmem_allocations WHERE name = 'kz_globals registry'")
        read -r wh s1 < <(ratio_tps "$dir" 1 2 whereis.sql select1.sql)
        ratio_w=$(ratio "$wh" "$s1")
        list=$(kz_psql_raw "$dir" "$(port "$dir" 1)" -qAt -c '\timing on' \
            -c 'SELECT count(*) FROM kz_globals.registrations' | awk '/^Time:/ { print $2 }')

        # while a server joins and is sent the sync: the owner's claims, and
        # how long a backend waits for the name table's lock on the owner
        # and on the joiner; the workers' private memory
        anon0=$(awk '/RssAnon/ { print $2 }' "/proc/$(worker_pid "$dir" 1)/status")
        watch1=$(anon_watch_start "$dir" 1 "owner_$m")
        probe=$(probe_start "$dir" 1 "claim_$m" claim)
        lprobe=$(probe_start "$dir" 1 "lock_$m" lock)
        sleep 1
        start=$(date +%s.%N)
        perl "$KZ_CLUSTER" add "$dir" --conf "kz_globals.max_names = $max" --conf "shared_buffers = 16MB" >/dev/null
        watch2=$(anon_watch_start "$dir" 2 "joiner_$m")
        probe2=$(probe_start "$dir" 2 "jlock_$m" lock)
        wait_for "$dir" 2 "SELECT count(*) >= $m FROM kz_globals.registrations" 36000
        # from the joiner's start (its postmaster's start time), and with the
        # initdb that kz_cluster.pl add runs before it
        join_all=$(elapsed "$start")
        join=$(awk -v e="$(date +%s.%N)" \
            -v s="$(kz_psql "$dir" 2 "SELECT extract(epoch FROM pg_postmaster_start_time())")" \
            'BEGIN { printf "%.3f", e - s }')
        # the joiner drops what the sync did not mention after its last part
        sleep 1
        probe_stop "$dir" 1 "$probe"
        probe_stop "$dir" 2 "$probe2"
        read -r reg_max reg99 rounds < <(probe_waits "claim_$m")
        read -r lock_max lock99 _ < <(probe_waits "lock_$m")
        read -r jlock_max jlock99 _ < <(probe_waits "jlock_$m")
        w1=$(worker_pid "$dir" 1)
        w2=$(worker_pid "$dir" 2)
        rss1=$(awk '/RssAnon/ { print $2 }' "/proc/$w1/status")
        rss2=$(awk '/RssAnon/ { print $2 }' "/proc/$w2/status")
        peak1=$(anon_watch_stop "$watch1" "owner_$m")
        peak2=$(anon_watch_stop "$watch2" "joiner_$m")
        # a claim once the two servers agree: its cost must not grow with
        # the names the table holds
        read -r cn c99n _ _ < <(pgbench_lat "$dir" 1 1 500 claim.sql "claims_names_$m" -D node=1)

        row "$m names: registered on 1 server" "$reg_s s" "-" "-" "-"
        row "$m names: claim latency, 2 servers, 1 client" "$cn us (p99 $c99n)" "-" "-" "same at every size"
        row "$m names: sync on join (incl. server start)" "$join s" "with initdb: $join_all s" "-" "10k: <= 1 s, 1M: <= 30 s"
        row "$m names: whereis_name, 2 clients" "$wh tps" "SELECT 1: $s1 tps" "$ratio_w" "same at every size"
        row "$m names: SELECT count(*) FROM registrations" "$list ms" "-" "-" "-"
        row "$m names: shared memory of the name table" "$shm MB" "-" "-" "-"
        row "$m names: worker memory (owner, joiner)" "$rss1 kB, $rss2 kB" "-" "-" "-"
        row "$m names: worker peak memory, join (owner, joiner)" "$peak1 kB, $peak2 kB" "owner before: $anon0 kB (RssAnon)" "-" "-"
        row "$m names: owner's longest claim during join" "$reg_max ms (p99 $reg99)" "$rounds claims" "-" "-"
        row "$m names: owner's longest table lock wait, join" "$lock_max ms (p99 $lock99)" "-" "-" "-"
        row "$m names: joiner's longest table lock wait" "$jlock_max ms (p99 $jlock99)" "-" "-" "-"
        printf '%s %s %s %s %s %s %s %s %s %s %s %s %s %s %s %s %s\n' "$m" "$reg_s" "$join" "$shm" "$rss1" "$rss2" "$wh" "$s1" "$list" \
            "$peak1" "$peak2" "$reg_max" "$reg99" "$lock_max" "$lock99" "$jlock_max" "$cn" >>"$RESULTS/names.dat"
        kill "$holder" 2>/dev/null || true
        stop_cluster "$dir"
    done
}

# --- 3. message size: remote send and call -------------------------------------

scale_sizes() {
    local dir=$WORK/scale_sizes size sink svc sm s99 st km k99 kt t8
    [ -n "${SIZES// /}" ] || return 0
    printf '# bytes send_median send_p99 sends_per_s_1 sends_per_s_8 call_median call_p99 calls_per_s_1\n' >"$RESULTS/sizes.dat"
    note "message sizes: $SIZES"
    start_cluster "$dir" 3 --conf "kz_globals.max_message_size = 1048576" \
        --conf "kz_globals.mailbox_size = 1000000"
    printf "SELECT kz_globals.send('sink', repeat('x', :size));\n" >"$OUT/send_size.sql"
    printf "SELECT length(kz_globals.call('echo', repeat('x', :size), 5000));\n" >"$OUT/call_size.sql"
    sink=$(run_in_background "$dir" 1 "SELECT kz_globals.register_name('sink');
DO \$\$ BEGIN LOOP PERFORM * FROM kz_globals.receive(5000); EXIT WHEN NOT FOUND; END LOOP; END \$\$")
    svc=$(run_in_background "$dir" 1 "SELECT kz_globals.register_name('echo');
DO \$\$ DECLARE m record; BEGIN LOOP SELECT * INTO m FROM kz_globals.receive(5000); EXIT WHEN m IS NULL; PERFORM kz_globals.reply(m.reply_tag, m.message); END LOOP; END \$\$")
    wait_for "$dir" 2 "SELECT kz_globals.whereis_name('sink') IS NOT NULL AND kz_globals.whereis_name('echo') IS NOT NULL"
    for size in $SIZES; do
        read -r sm s99 _ st < <(pgbench_lat "$dir" 2 1 "$SENDS" "$OUT/send_size.sql" "send_$size" -D size="$size")
        t8=$(pgbench_lat "$dir" 2 8 "$((SENDS / 4))" "$OUT/send_size.sql" "send8_$size" -D size="$size" | cut -d' ' -f4)
        read -r km k99 _ kt < <(pgbench_lat "$dir" 2 1 "$SENDS" "$OUT/call_size.sql" "call_$size" -D size="$size")
        row "remote send, $size bytes, 1 client" "$sm us (p99 $s99)" "$st /s; 8 clients: $t8 /s" "-" "-"
        row "remote call, $size bytes, 1 client" "$km us (p99 $k99)" "$kt /s" "-" "-"
        printf '%s %s %s %s %s %s %s %s\n' "$size" "$sm" "$s99" "$st" "$t8" "$km" "$k99" "$kt" >>"$RESULTS/sizes.dat"
    done
    kill "$sink" "$svc" 2>/dev/null || true
    stop_cluster "$dir"
}

build_tools
scale_servers
scale_names
scale_sizes
print_table "kz_globals growth curves" | tee "$RESULTS/table.txt"
printf 'date=%s machine=%s cpus=%s\n' "$(date -u +%Y-%m-%dT%H:%MZ)" "$(uname -m)" "$(nproc)" >"$RESULTS/run.txt"
if command -v gnuplot >/dev/null; then
    # only the plots of the dimensions that ran (an empty or blank list skips one)
    plots=""
    [ -n "${SERVERS// /}" ] && plots="$plots servers"
    [ -n "${NAMES// /}" ] && plots="$plots names"
    [ -n "${SIZES// /}" ] && plots="$plots sizes"
    if gnuplot -e "dir='$RESULTS'; stamp='$(date -u +%Y-%m-%d), $(uname -m), $(nproc) CPUs'; plots='$plots'" "$HERE/scale.gp"; then
        note "plots in $RESULTS"
    else
        note "gnuplot failed: plots may be missing"
    fi
else
    note "gnuplot is not installed: no plots"
fi
