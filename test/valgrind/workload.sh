#!/usr/bin/env bash
#
# test/valgrind/workload.sh TREE - run as the unprivileged user by run.sh.
#
# Server 1 runs under Valgrind memcheck with --trace-children (postgres
# forks without exec, so every backend and the kz_globals worker stay under
# it); server 2 runs natively so that the worker of server 1 has a peer to
# claim against, relay to and answer.  The workload covers every SQL
# function, cross-server sends and calls, conflicting claims, a waiting
# claim handed over on exit, batches of claims from both sides, and a clean
# shutdown (the worker's exit path).  Every error Valgrind reports counts.

set -euo pipefail
TREE=$1
KZ_CLUSTER="$TREE/test/perl/kz_cluster.pl"
DIR=$TREE/valgrind.tmp
rm -rf "$DIR"
mkdir -p "$DIR"

# Server 2 and the broker from the harness; server 1 by hand below.
stop_all() {
    [ -z "${p1:-}" ] || "$PGBIN/pg_ctl" -D "$DIR/pg1" -m immediate -w stop >/dev/null 2>&1 || true
    perl "$KZ_CLUSTER" stop "$DIR/cluster"
}
trap stop_all EXIT
perl "$KZ_CLUSTER" start "$DIR/cluster" 1 --first 2 \
    --conf "kz_globals.heartbeat_interval = 1000ms" >/dev/null
# PGBIN, PGHOST (server 2's sockets), PORT_2, BROKER_URI
# shellcheck disable=SC1091
. "$DIR/cluster/cluster.env"

# kz_psql_raw HOST PORT ARGS...
kz_psql_raw() {
    local host=$1 port=$2
    shift 2
    "$PGBIN/psql" -X -h "$host" -p "$port" -d postgres -v ON_ERROR_STOP=1 "$@"
}

# server 1 by hand: the same settings, but the postmaster starts under
# valgrind; its sockets in $DIR
p1=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$PGBIN/initdb" -D "$DIR/pg1" -A trust -N --no-instructions -E UTF8 >"$DIR/pg1.initdb.log"
cat >>"$DIR/pg1/postgresql.conf" <<CONF
port = $p1
listen_addresses = ''
unix_socket_directories = '$DIR'
shared_preload_libraries = 'kz_globals'
kz_globals.node_name = 'pg1@127.0.0.1'
kz_globals.amqp_uri = '$BROKER_URI'
kz_globals.heartbeat_interval = 1000ms
kz_globals.request_timeout = 10s
max_connections = 30
CONF
valgrind --quiet --trace-children=yes --track-origins=yes --num-callers=30 \
    --error-exitcode=0 --suppressions="$TREE/test/valgrind/postgres.supp" \
    --log-file="$DIR/vg.%p.log" \
    "$PGBIN/postgres" -D "$DIR/pg1" >"$DIR/pg1.log" 2>&1 &
for ((i = 0; i < 900; i++)); do
    "$PGBIN/pg_isready" -h "$DIR" -p "$p1" -q && break
    sleep 0.2
done
kz_psql_raw "$DIR" "$p1" -q -c 'CREATE EXTENSION kz_globals'
q1() { kz_psql_raw "$DIR" "$p1" -qAt -c "$*"; }
q2() { kz_psql_raw "$PGHOST" "$PORT_2" -qAt -c "$*"; }
for ((i = 0; i < 900; i++)); do
    [ "$(q1 "SELECT count(*) FROM kz_globals.nodes WHERE state = 'up'")" = 2 ] &&
        [ "$(q2 "SELECT count(*) FROM kz_globals.nodes WHERE state = 'up'")" = 2 ] && break
    sleep 0.2
done
[ "$i" -lt 900 ] || { echo "valgrind: the two servers did not see each other" >&2; exit 1; }
echo "valgrind: cluster up (server 1 under memcheck)"

# the regression SQL, on server 1 (output checked by make test, not here)
for f in "$TREE"/test/sql/0[1-6]*.sql; do
    kz_psql_raw "$DIR" "$p1" -X -v ON_ERROR_STOP=0 -f "$f" >"$DIR/$(basename "$f" .sql).out" 2>&1 || true
done

# an owner on server 1 that takes a send, answers a call, then waits for a
# name held on server 2 and is handed it when that session ends; the send,
# the call and the reply are near max_message_size (8 kB), so that their
# base64 goes the way of large bodies (json.c leaves it out of the copy
# jsonapi parses)
kz_psql_raw "$DIR" "$p1" -q >"$DIR/owner.out" 2>&1 <<'SQL' &
SELECT kz_globals.register_name('vg_svc');
SELECT name, kind, length(message) FROM kz_globals.receive(30000);
SELECT kz_globals.reply(reply_tag, '{"ok":true}' || repeat('z', 8000)) FROM kz_globals.receive(30000);
SELECT kz_globals.register_name_wait('vg_wait', 60000);
SELECT kz_globals.token('vg_wait') > 0;
SQL
owner=$!
for ((i = 0; i < 300; i++)); do
    [ -n "$(q2 "SELECT kz_globals.whereis_name('vg_svc')")" ] && break
    sleep 0.2
done
q2 "SELECT kz_globals.send('vg_svc', '{\"hello\":1}' || repeat('h', 8000))" >/dev/null
q2 "SELECT kz_globals.call('vg_svc', '{\"q\":2}' || repeat('q', 8000), 20000)" >"$DIR/call.out"
q2 "SELECT kz_globals.register_name('vg_svc')" >/dev/null
q2 "SELECT kz_globals.register_name('vg_wait'), pg_sleep(5)" >/dev/null
wait "$owner"

# an owner ended with calls queued in its mailbox: its callers (one on
# each server) are told at once
kz_psql_raw "$DIR" "$p1" -q -c "SELECT kz_globals.register_name('vg_busy'), pg_sleep(120)" \
    >/dev/null 2>&1 &
busy=$!
for ((i = 0; i < 300; i++)); do
    [ -n "$(q2 "SELECT kz_globals.whereis_name('vg_busy')")" ] && break
    sleep 0.2
done
kz_psql_raw "$DIR" "$p1" -qAt -c "SELECT kz_globals.call('vg_busy', 'c1', 60000)" >"$DIR/gone1.out" 2>&1 &
c1=$!
kz_psql_raw "$PGHOST" "$PORT_2" -qAt -c "SELECT kz_globals.call('vg_busy', 'c2', 60000)" >"$DIR/gone2.out" 2>&1 &
c2=$!
sleep 3
q1 "SELECT pg_terminate_backend(pid) FROM kz_globals.registrations WHERE name = 'vg_busy'" >/dev/null
wait "$c1" "$c2" "$busy" || true

# claims from both servers at once, many of them on the same names, then
# sends to the winners from server 1
seq 60 | sed "s/.*/SELECT kz_globals.register_name('b_&');/" |
    kz_psql_raw "$PGHOST" "$PORT_2" -q >/dev/null 2>&1 &
other=$!
seq 60 | sed "s/.*/SELECT kz_globals.register_name('a_&'), kz_globals.register_name('b_&');/" |
    kz_psql_raw "$DIR" "$p1" -q >/dev/null 2>&1
wait "$other" # (a bare wait would wait for the postmaster too)
seq 30 | sed "s/.*/SELECT kz_globals.send('b_&', 'm&');/" |
    kz_psql_raw "$DIR" "$p1" -q -v ON_ERROR_STOP=0 >/dev/null 2>&1 || true

# issue 12 across the two servers: metadata set and read on both sides,
# a process group with members on both publishing both ways, a lease
kz_psql_raw "$DIR" "$p1" -q -c "SELECT kz_globals.register_name('vg_meta', '{\"v\": 1}'::jsonb),
    kz_globals.set_meta('vg_meta', '{\"v\": [2, \"two\"]}'::jsonb), kz_globals.join('vg_group'),
    pg_sleep(4), (SELECT count(*) FROM kz_globals.receive(1000))" >/dev/null 2>&1 &
grouped=$!
for ((i = 0; i < 300; i++)); do
    [ "$(q2 "SELECT count(*) FROM kz_globals.members('vg_group')")" = 1 ] && break
    sleep 0.2
done
q2 "SELECT kz_globals.meta('vg_meta')" >"$DIR/meta.out"
q2 "SELECT kz_globals.join('vg_group'), kz_globals.publish('vg_group', 'to both'),
    (SELECT count(*) FROM kz_globals.receive(1000))" >/dev/null
wait "$grouped" || true
lease=$(q1 "SELECT kz_globals.acquire_lease('vg_lease', 60000)")
q1 "SELECT kz_globals.renew_lease('vg_lease', $lease, 60000)" >/dev/null
q2 "SELECT kz_globals.whereis_name('vg_lease')" >/dev/null
q1 "SELECT kz_globals.release_lease('vg_lease', $lease)" >/dev/null
q1 "SELECT * FROM kz_globals.registrations" >/dev/null
q1 "SELECT * FROM kz_globals.groups" >/dev/null
q1 "SELECT count(*) FROM kz_globals.nodes WHERE state = 'up'" >/dev/null
q1 "SELECT * FROM kz_globals.stats" >/dev/null

fail=0
grep -q '"ok":true' "$DIR/call.out" || { echo "valgrind: the call got no reply"; fail=1; }
grep -Eq '[|] +8011$' "$DIR/owner.out" || { echo "valgrind: the 8 kB send did not arrive whole"; fail=1; }
grep -q "z\{8000\}" "$DIR/call.out" || { echo "valgrind: the 8 kB reply did not arrive whole"; fail=1; }
grep -q '"two"' "$DIR/meta.out" || { echo "valgrind: the metadata update was not seen on server 2"; fail=1; }
grep -q '^ t$' "$DIR/owner.out" || { echo "valgrind: the waiting claim was not handed over"; fail=1; }
for f in gone1 gone2; do
    grep -q 'exited without answering' "$DIR/$f.out" ||
        { echo "valgrind: a caller of an ended owner was not told ($f)"; fail=1; }
done

"$PGBIN/pg_ctl" -D "$DIR/pg1" -m fast -w -t 300 stop >/dev/null
errors=0
for log in "$DIR"/vg.*.log; do
    n=$(grep -c '^==[0-9]*== [A-Z]' "$log" || true)
    if [ "$n" -gt 0 ]; then
        echo "valgrind: $n error(s) in $(basename "$log"):"
        head -80 "$log"
        errors=$((errors + n))
    fi
done
logs=$(ls "$DIR"/vg.*.log | wc -l)
echo "valgrind: $logs processes checked, $errors errors"
[ "$errors" -eq 0 ] && [ "$fail" -eq 0 ]
