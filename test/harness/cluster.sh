# shellcheck shell=bash
#
# cluster.sh - a throwaway kz_globals cluster for `make demo` and `make
# bench`: one RabbitMQ broker and N PostgreSQL servers with the extension,
# all as the current (unprivileged) user, all state below one directory,
# listening on free loopback ports and Unix sockets in that directory.  The
# TAP tests use the same broker script through test/perl/KzHarness.pm.
#
# Source it from bash with `set -euo pipefail`, as the unprivileged user:
#
#   . test/harness/cluster.sh
#   kz_cluster_start DIR 3 ['kz_globals.heartbeat_interval = 500ms' ...]
#   kz_psql DIR 1 'SELECT ...'         (node 1's postgres database)
#   kz_cluster_stop DIR                 (also safe when half started)
#
# kz_cluster_start writes DIR/cluster.env: BROKER_PORT, NODES, PORT_1..N.

KZ_CLUSTER_HARNESS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# The server binaries of the PostgreSQL we were built for (PG_CONFIG is set
# by kz_user_cmd; pg_config is also first on its PATH).
KZ_PG_BIN=${KZ_PG_BIN:-$("${PG_CONFIG:-pg_config}" --bindir)}

# kz_free_port: a TCP port nobody listens on at this moment.
kz_free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# kz_pg_start DIR I BROKER_PORT [GUC_LINE...]: initdb and start node I.
kz_pg_start() {
    local dir=$1 i=$2 broker=$3
    shift 3
    local data="$dir/pg$i" port
    port=$(kz_free_port)
    "$KZ_PG_BIN/initdb" -D "$data" -A trust -N --no-instructions -E UTF8 >"$dir/pg$i.initdb.log" 2>&1 ||
        { cat "$dir/pg$i.initdb.log" >&2; return 1; }
    {
        echo "port = $port"
        echo "listen_addresses = ''"
        echo "unix_socket_directories = '$dir'"
        echo "shared_preload_libraries = 'kz_globals'"
        echo "kz_globals.node_name = 'pg$i@127.0.0.1'"
        echo "kz_globals.amqp_uri = 'amqp://guest:guest@127.0.0.1:$broker/%2f'"
        echo "max_connections = 200"
        echo "log_line_prefix = '%m [%p] %b '"
        local line
        for line in "$@"; do
            echo "$line"
        done
    } >>"$data/postgresql.conf"
    "$KZ_PG_BIN/pg_ctl" -D "$data" -l "$dir/pg$i.log" -w -t 60 start >/dev/null ||
        { tail -20 "$dir/pg$i.log" >&2; return 1; }
    echo "PORT_$i=$port" >>"$dir/cluster.env"
    kz_psql_raw "$dir" "$port" -q -c 'CREATE EXTENSION kz_globals' >/dev/null
}

kz_psql_raw() {
    local dir=$1 port=$2
    shift 2
    "$KZ_PG_BIN/psql" -X -h "$dir" -p "$port" -d postgres -v ON_ERROR_STOP=1 "$@"
}

# kz_port DIR I: the port of node I.
kz_port() {
    local var="PORT_$2"
    # shellcheck disable=SC1091
    (. "$1/cluster.env" && echo "${!var}")
}

# kz_psql DIR I SQL...: run SQL on node I, tuples only, unaligned.
kz_psql() {
    local dir=$1 i=$2
    shift 2
    kz_psql_raw "$dir" "$(kz_port "$dir" "$i")" -qAt -c "$*"
}

# kz_cluster_start DIR N [GUC_LINE...]: a broker and N servers, all up and
# seeing each other.
kz_cluster_start() {
    local dir=$1 n=$2 i broker
    shift 2
    mkdir -p "$dir"
    : >"$dir/cluster.env"
    broker=$(kz_free_port)
    echo "BROKER_PORT=$broker" >>"$dir/cluster.env"
    echo "NODES=$n" >>"$dir/cluster.env"
    bash "$KZ_CLUSTER_HARNESS/rabbitmq.sh" start "$dir/rabbitmq" "$broker"
    for ((i = 1; i <= n; i++)); do
        kz_pg_start "$dir" "$i" "$broker" "$@"
    done
    kz_wait_cluster "$dir" "$n"
}

# kz_wait_cluster DIR N: wait (60 s at most) until every node sees N nodes up.
kz_wait_cluster() {
    local dir=$1 n=$2 i tries
    for ((i = 1; i <= n; i++)); do
        for ((tries = 0; tries < 600; tries++)); do
            [ "$(kz_psql "$dir" "$i" "SELECT count(*) FROM kz_globals.nodes WHERE state = 'up'")" = "$n" ] && break
            sleep 0.1
        done
        [ "$tries" -lt 600 ] || { echo "node $i did not see the cluster" >&2; return 1; }
    done
}

# kz_cluster_stop DIR: stop every server and the broker that DIR holds.
kz_cluster_stop() {
    local dir=$1 data
    for data in "$dir"/pg*/; do
        [ -f "$data/postmaster.pid" ] &&
            "$KZ_PG_BIN/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null 2>&1
    done
    [ -d "$dir/rabbitmq" ] && bash "$KZ_CLUSTER_HARNESS/rabbitmq.sh" stop "$dir/rabbitmq" >/dev/null 2>&1
    return 0
}
