-- The views' columns and the parameters.
\d kz_globals.registrations
\d kz_globals.nodes
\d kz_globals.stats

SELECT kz_globals.register_name('viewed');
SELECT name, state, node = current_setting('kz_globals.node_name') AS node_ok,
       pid = pg_backend_pid() AS pid_ok, database = current_database() AS db_ok,
       role = current_user AS role_ok,
       registered_at BETWEEN now() - interval '1 hour' AND clock_timestamp() AS ts_ok,
       server, kazoo, token = kz_globals.token(name) AS token_ok
  FROM kz_globals.registrations;
SELECT node, zone, state, last_heartbeat, expires_ms, names, is_self,
       started_at <= now() AS started_ok, kazoo, server
  FROM kz_globals.nodes;
SELECT broker_state, claims_won > 0 AS won, claims_lost >= 0 AS lost, conflicts,
       names_expired, messages_dropped, broker_connects, broker_disconnects, bus_malformed
  FROM kz_globals.stats;
SELECT kz_globals.unregister_name('viewed');

SELECT name, setting, unit, context FROM pg_settings WHERE name LIKE 'kz_globals.%' ORDER BY name;

-- parameters that need a restart or a reload cannot be SET
SELECT * FROM err($$SET kz_globals.max_names = 5$$);
SELECT * FROM err($$SET kz_globals.request_timeout = 10$$);
SELECT * FROM err($$SET kz_globals.on_conflict = 'bogus'$$);
SELECT * FROM err($$SET kz_globals.nonexistent = 1$$);
-- invalid values are refused before they reach postgresql.auto.conf
ALTER SYSTEM SET kz_globals.amqp_uri = 'http://broker';
ALTER SYSTEM SET kz_globals.amqp_uri = 'amqp://a:5672, https://b';
-- a rejected value is shown with its passwords masked, whatever they hold
ALTER SYSTEM SET kz_globals.amqp_uri = 'amqp://u:hun/t,er2@a, https://v:x%40y@b';
ALTER SYSTEM SET kz_globals.node_name = 'has space@host';
ALTER SYSTEM SET kz_globals.max_names = 1;
ALTER SYSTEM SET kz_globals.on_conflict = 'bogus';
ALTER SYSTEM SET kz_globals.amqp_verify = 'sometimes';
-- query_on_miss is per session
SET kz_globals.query_on_miss = off;
SHOW kz_globals.query_on_miss;
RESET kz_globals.query_on_miss;
