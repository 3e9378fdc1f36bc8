#!/usr/bin/env bash
#
# demo/demo.sh CLUSTER_DIR - the kz_globals demo, run by demo/run.sh as an
# unprivileged user: three PostgreSQL servers (pg1, pg2, pg3) and one
# RabbitMQ broker form one registry of global names.

set -euo pipefail

DIR=$1
# shellcheck source=test/harness/cluster.sh
. "$(dirname "${BASH_SOURCE[0]}")/../test/harness/cluster.sh"

trap 'kz_cluster_stop "$DIR"' EXIT INT TERM HUP

say() {
    printf '\n\033[1m-- %s\033[0m\n' "$*"
}

# sql I SQL: show the statement and its result, as psql on node I would.
sql() {
    local i=$1
    shift
    printf 'pg%s=# %s\n' "$i" "$*"
    kz_psql_raw "$DIR" "$(kz_port "$DIR" "$i")" -q -P footer=off -c "$*"
}

say "Starting RabbitMQ and three PostgreSQL servers with kz_globals (a few seconds)"
kz_cluster_start "$DIR" 3 "kz_globals.heartbeat_interval = 500ms"
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
kz_psql_raw "$DIR" "$(kz_port "$DIR" 1)" -q -c "$service" 2>&1 | sed -u 's/^/   [session A] /' &
SERVICE=$!
for _ in $(seq 100); do
    [ "$(kz_psql "$DIR" 2 "SELECT kz_globals.whereis_name('invoice-worker') IS NOT NULL")" = t ] && break
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
kz_psql_raw "$DIR" "$(kz_port "$DIR" 2)" -q -c "SELECT kz_globals.register_name('nightly-report'); SELECT pg_sleep(600)" >/dev/null 2>&1 &
for _ in $(seq 100); do
    [ "$(kz_psql "$DIR" 1 "SELECT kz_globals.whereis_name('nightly-report') IS NOT NULL")" = t ] && break
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

say "Stopping the servers and the broker"
