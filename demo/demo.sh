#!/usr/bin/env bash
#
# demo/demo.sh TREE - the kz_globals demo, run by demo/run.sh as an
# unprivileged user: three PostgreSQL servers (pg1, pg2, pg3) and one
# RabbitMQ broker form one registry of global names.  The last part shows
# the singleton pattern with examples/coder_ring.  The cluster lives in
# TREE/cluster, started and stopped by test/perl/kz_cluster.pl.

set -euo pipefail

DIR=$1/cluster
KZ_CLUSTER="$(dirname "${BASH_SOURCE[0]}")/../test/perl/kz_cluster.pl"

trap 'perl "$KZ_CLUSTER" stop "$DIR"' EXIT INT TERM HUP

say() {
    printf '\n\033[1m-- %s\033[0m\n' "$*"
}

# psql_on I ARGS...: psql on node I's postgres database.
psql_on() {
    local port="PORT_$1"
    shift
    "$PGBIN/psql" -X -p "${!port}" -v ON_ERROR_STOP=1 "$@"
}

# q I SQL: run SQL on node I, tuples only, unaligned.
q() {
    psql_on "$1" -qAt -c "$2"
}

# sql I SQL: show the statement and its result, as psql on node I would.
sql() {
    local i=$1
    shift
    printf 'pg%s=# %s\n' "$i" "$*"
    psql_on "$i" -q -P footer=off -c "$*"
}

say "Starting RabbitMQ and three PostgreSQL servers with kz_globals (a few seconds)"
perl "$KZ_CLUSTER" start "$DIR" 3 --conf "kz_globals.heartbeat_interval = 500ms" >/dev/null
# PGHOST, PGDATABASE, PGBIN, PORT_1..3
# shellcheck disable=SC1091
. "$DIR/cluster.env"
export PGHOST PGDATABASE
sql 1 "SELECT node, state, is_self, server IS NOT NULL AS has_queue FROM kz_globals.nodes ORDER BY node"

say "A session on pg1 becomes the one 'invoice-worker' of the cluster: it registers the name, then serves two messages and exits"
service="
DO \$\$
DECLARE
	m record;
BEGIN
	RAISE NOTICE 'invoice-worker registered: %', kz_globals.register_name('invoice-worker');
	FOR i IN 1..2 LOOP
		SELECT * INTO m FROM kz_globals.receive(60000);
		RAISE NOTICE 'invoice-worker got a % from %: %', m.kind, m.sender_node, m.message;
		IF m.kind = 'call' THEN
			PERFORM kz_globals.reply(m.reply_tag, 'invoice ' || m.message || ' is paid');
		END IF;
	END LOOP;
	RAISE NOTICE 'invoice-worker exits';
END \$\$;"
printf 'pg1 (session A)=# %s\n' "$service"
psql_on 1 -q -c "$service" 2>&1 | sed -u 's/^/   [session A] /' &
SERVICE=$!
for _ in $(seq 100); do
    [ "$(q 2 "SELECT kz_globals.whereis_name('invoice-worker') IS NOT NULL")" = t ] && break
    sleep 0.1
done

say "pg2 finds the owner; pg3 cannot take the name"
sql 2 "SELECT * FROM kz_globals.whereis_name('invoice-worker')"
sql 3 "SELECT kz_globals.register_name('invoice-worker') AS pg3_got_it"
sql 3 "SELECT name, state, node, pid, token FROM kz_globals.registrations"

say "pg2 sends it a message (delivered through pg1's queue on the broker)"
sql 2 "SELECT * FROM kz_globals.send('invoice-worker', 'hello from pg2')"
sleep 0.5

say "pg3 calls it and waits for the reply"
sql 3 "SELECT kz_globals.call('invoice-worker', '#1042', 10000) AS reply"

say "The service has exited: its name is gone everywhere"
wait "$SERVICE"
sleep 0.5
sql 2 "SELECT kz_globals.whereis_name('invoice-worker') IS NULL AS gone"
sql 3 "SELECT kz_globals.register_name('invoice-worker') AS pg3_got_it_now"

say "Session B on pg2 registers 'nightly-report'; then it is killed with pg_terminate_backend"
psql_on 2 -q -c "SELECT kz_globals.register_name('nightly-report'); SELECT pg_sleep(600)" >/dev/null 2>&1 &
for _ in $(seq 100); do
    [ "$(q 1 "SELECT kz_globals.whereis_name('nightly-report') IS NOT NULL")" = t ] && break
    sleep 0.1
done
sql 1 "SELECT * FROM kz_globals.whereis_name('nightly-report')"
sql 2 "SELECT pg_terminate_backend(pid) FROM kz_globals.registrations WHERE name = 'nightly-report'"
sleep 0.5
sql 1 "SELECT kz_globals.whereis_name('nightly-report') IS NULL AS freed_on_pg1"
sql 3 "SELECT count(*) AS rows_on_pg3 FROM kz_globals.registrations WHERE name = 'nightly-report'"
wait

say "Counters on pg1"
sql 1 "SELECT broker_state, claims_won, claims_lost, messages_sent, messages_received, calls FROM kz_globals.stats"

# ---------------------------------------------------------------------------
# The singleton pattern: examples/coder_ring, one owner of a ring of codes in
# the whole cluster, standbys on other servers, fenced memo writes.
# ---------------------------------------------------------------------------
EXAMPLE="$(dirname "${BASH_SOURCE[0]}")/../examples/coder_ring"
PREFIXES=(x B C D)

# owner_of NAME: "node pid" of NAME's owner as pg3 sees it (empty if none)
owner_of() {
    q 3 "SELECT node || ' ' || pid FROM kz_globals.registrations WHERE name = '$1'"
}

say "coder_ring: install examples/coder_ring on every server; each server's codes start with its own prefix"
for i in 1 2 3; do
    psql_on "$i" -q -f "$EXAMPLE/coder_ring.sql" >/dev/null
    sql "$i" "SELECT coder_ring.create_ring('demo', prefix => '${PREFIXES[$i]}') AS codes_per_cycle"
done

say "A ring process on pg1 (it finds the ring free and becomes its owner) and one on pg2 (it stands by)"
printf 'pg1 (session C)=# CALL coder_ring.serve('"'demo'"');\n'
psql_on 1 -q -c "CALL coder_ring.serve('demo')" >/dev/null 2>&1 &
for _ in $(seq 100); do
    [ -n "$(owner_of ring:demo)" ] && break
    sleep 0.1
done
printf 'pg2 (session D)=# CALL coder_ring.serve('"'demo'"');\n'
psql_on 2 -q -c "CALL coder_ring.serve('demo')" >/dev/null 2>&1 &
sleep 1
sql 3 "SELECT name, state, node, pid, token FROM kz_globals.registrations WHERE name = 'ring:demo'"
sql 2 "SELECT pid, application_name, wait_event FROM pg_stat_activity WHERE application_name LIKE 'coder_ring%'"

say "Callers on all three servers ask the owner on pg1 for codes"
for i in 1 2 3; do
    sql "$i" "SELECT coder_ring_next('demo') AS code FROM generate_series(1, 3)"
done
OLD_TOKEN=$(q 1 "SELECT kz_globals.token('ring:demo')")

say "The owner on pg1 is killed; the standby on pg2 takes over, with a larger token"
sql 1 "SELECT pg_terminate_backend(pid) FROM kz_globals.registrations WHERE name = 'ring:demo' AND state = 'local'"
for _ in $(seq 100); do
    case "$(owner_of ring:demo)" in pg2*) break ;; esac
    sleep 0.1
done
sql 3 "SELECT name, state, node, pid, token, token > $OLD_TOKEN AS larger FROM kz_globals.registrations WHERE name = 'ring:demo'"
for i in 1 2 3; do
    sql "$i" "SELECT coder_ring_next('demo') AS code FROM generate_series(1, 3)"
done

say "The fence: a write guarded with the old owner's token is refused, and its transaction with it"
printf 'pg2=# UPDATE coder_ring.memos SET last_max_pos = 1 WHERE ring = %s AND kz_globals.assert_owner(%s, %s);\n' \
    "'demo'" "'ring:demo'" "$OLD_TOKEN"
psql_on 2 -q \
    -c "UPDATE coder_ring.memos SET last_max_pos = 1 WHERE ring = 'demo' AND kz_globals.assert_owner('ring:demo', $OLD_TOKEN)" 2>&1 || true

say "No code was handed out twice: the memo tables of the three servers together"
for i in 1 2 3; do
    sql "$i" "SELECT count(*) AS codes_handed_out_here, min(code), max(code) FROM coder_ring.handed_out WHERE ring = 'demo'"
done
ALL_CODES=$(for i in 1 2 3; do q "$i" "SELECT code FROM coder_ring.handed_out WHERE ring = 'demo'"; done)
printf 'codes in all memo tables: %s, distinct: %s\n' \
    "$(printf '%s\n' "$ALL_CODES" | grep -c .)" "$(printf '%s\n' "$ALL_CODES" | sort -u | grep -c .)"

# stop the ring processes
q 2 "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name LIKE 'coder_ring%'" >/dev/null
wait

say "Stopping the servers and the broker"
