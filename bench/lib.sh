# shellcheck shell=bash
# bench/lib.sh - what bench/bench.sh and bench/scale.sh share: psql and
# pgbench on the servers of a kz_cluster.pl cluster, medians and ratios, the
# result table, and the measuring programs (built into $OUT).
#
# Sourced, not run.  The caller sets HERE (bench/), OUT (a directory for
# logs and programs), PGBIN (once a cluster runs), ROWS=() and, for
# pgbench_tps/ratio_tps, SECONDS_PER_RUN and ROUNDS.

# env_of DIR NAME: a setting of the cluster in DIR (its cluster.env).
env_of() {
    # shellcheck disable=SC1091
    (. "$1/cluster.env" && echo "${!2}")
}

# port DIR I: the port of node I of the cluster in DIR.
port() {
    env_of "$1" "PORT_$2"
}

# kz_psql_raw DIR PORT ARGS...: psql on a server of the cluster in DIR.
kz_psql_raw() {
    local dir=$1 port=$2
    shift 2
    "$PGBIN/psql" -X -h "$(env_of "$dir" PGHOST)" -p "$port" -d postgres -v ON_ERROR_STOP=1 "$@"
}

# kz_psql DIR I SQL: run SQL on node I, tuples only, unaligned.
kz_psql() {
    kz_psql_raw "$1" "$(port "$1" "$2")" -qAt -c "$3"
}

note() {
    printf '.. %s\n' "$*" >&2
}

# row MEASURE VALUE BASELINE RATIO TARGET: one line of the result table.
row() {
    ROWS+=("$(printf '%-46s | %-24s | %-28s | %-6s | %s' "$@")")
}

# pgbench_tps DIR I CLIENTS SCRIPT [ARGS...]: transactions per second.
pgbench_tps() {
    local dir=$1 i=$2 clients=$3 script=$4
    shift 4
    "$PGBIN/pgbench" -h "$(env_of "$dir" PGHOST)" -p "$(port "$dir" "$i")" -n -M prepared \
        -c "$clients" -j "$clients" -T "$SECONDS_PER_RUN" -f "$HERE/sql/$script" "$@" postgres 2>/dev/null |
        awk '/^tps = / { printf "%.0f\n", $3 }'
}

# median of the numbers on stdin
median() {
    sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# ratio_tps DIR I CLIENTS SCRIPT BASE_SCRIPT [ARGS...]: median tps of each,
# run in alternation (noise on a shared machine hits both alike); ARGS go
# to both pgbench runs.
ratio_tps() {
    local dir=$1 i=$2 clients=$3 script=$4 base=$5 r
    shift 5
    local -a mine=() theirs=()
    for ((r = 0; r < ROUNDS; r++)); do
        theirs+=("$(pgbench_tps "$dir" "$i" "$clients" "$base" "$@")")
        mine+=("$(pgbench_tps "$dir" "$i" "$clients" "$script" "$@")")
    done
    echo "$(printf '%s\n' "${mine[@]}" | median) $(printf '%s\n' "${theirs[@]}" | median)"
}

# latencies LOGPREFIX: "median_us p99_us count" of pgbench --log files.
latencies() {
    cat "$1".* | awk '{ print $3 }' | sort -n |
        awk '{ v[NR] = $1 } END { printf "%d %d %d\n", v[int((NR + 1) / 2)], v[int(NR * 0.99)], NR }'
}

# script_path SCRIPT: bench/sql/SCRIPT, or SCRIPT itself if it is a path.
script_path() {
    case $1 in
        /*) echo "$1" ;;
        *) echo "$HERE/sql/$1" ;;
    esac
}

# pgbench_lat DIR I CLIENTS TXNS SCRIPT NAME [ARGS...]: run with a
# per-transaction log and print "median_us p99_us count tps".
pgbench_lat() {
    local dir=$1 i=$2 clients=$3 txns=$4 script=$5 name=$6
    shift 6
    local tps
    rm -f "$OUT/$name".*
    tps=$("$PGBIN/pgbench" -h "$(env_of "$dir" PGHOST)" -p "$(port "$dir" "$i")" -n -M prepared \
        -c "$clients" -j "$clients" -t "$txns" -f "$(script_path "$script")" \
        -l --log-prefix="$OUT/$name" "$@" postgres 2>/dev/null | awk '/^tps = / { printf "%.0f\n", $3 }')
    echo "$(latencies "$OUT/$name") $tps"
}

ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'
}

# run_in_background DIR I SQL: a psql session kept open (for owners).
run_in_background() {
    kz_psql_raw "$1" "$(port "$1" "$2")" -q -c "$3" >/dev/null 2>&1 &
    echo $!
}

# wait_for DIR I SQL [TRIES]: until SQL returns t on node I, every 0.1 s,
# at most TRIES times (600: a minute).
wait_for() {
    local dir=$1 i=$2 sql=$3 max=${4:-600} tries
    for ((tries = 0; tries < max; tries++)); do
        [ "$(kz_psql "$dir" "$i" "$sql")" = t ] && return 0
        sleep 0.1
    done
    echo "timed out waiting for: $sql" >&2
    return 1
}

# build_tools: amqp_ping, amqp_fanout and visibility, into $OUT.
build_tools() {
    # src/conn/rabbitmq_c.h picks rabbitmq-c's header names, as the Makefile does.
    local -a rmq_flags=(-I"$HERE/../src/conn")
    if printf '#include <rabbitmq-c/amqp.h>\n' | gcc -E -x c - >/dev/null 2>&1; then
        rmq_flags+=(-DKZ_RABBITMQ_C_DIR)
    fi
    gcc -O2 "${rmq_flags[@]}" -o "$OUT/amqp_ping" "$HERE/amqp_ping.c" -lrabbitmq
    gcc -O2 "${rmq_flags[@]}" -o "$OUT/amqp_fanout" "$HERE/amqp_fanout.c" -lrabbitmq -lpthread
    gcc -O2 -I"$(pg_config --includedir)" -o "$OUT/visibility" "$HERE/visibility.c" -lpq -lpthread
}

# print_table TITLE: the rows gathered so far, under a header.
print_table() {
    printf '\n%s, %s, %s, %s CPUs\n' "$1" "$(date -u +%Y-%m-%d)" "$(uname -m)" "$(nproc)"
    printf '%-46s | %-24s | %-28s | %-6s | %s\n' measure value baseline ratio target
    printf '%s\n' "------------------------------------------------------------------------------------------------------------------------"
    printf '%s\n' "${ROWS[@]}"
}
