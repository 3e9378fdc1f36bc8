-- Leases (README, "Leases"): a name held by no session, renewed and
-- released by whoever presents the token (in the acquiring role), expired
-- by the server when not renewed in time.  Single server, no broker.

-- acquire: a token; the name is taken for everyone else
SELECT kz_globals.acquire_lease('lease-a', 60000) AS tok \gset
SELECT :tok > 0 AS has_token, kz_globals.token('lease-a') = :tok AS token_ok;
SELECT kz_globals.acquire_lease('lease-a', 60000) IS NULL AS taken;
SELECT kz_globals.register_name('lease-a') AS session_gets_it;
-- whereis: this node, no pid; the views show it without a pid
SELECT node = current_setting('kz_globals.node_name') AS node_ok, pid
  FROM kz_globals.whereis_name('lease-a');
SELECT name, state, pid, role = current_user AS role_ok, kazoo, token = :tok AS token_ok
  FROM kz_globals.registrations WHERE name = 'lease-a';
SELECT name, token = :tok AS token_ok, ttl_ms, role = current_user AS role_ok,
       database = current_database() AS db_ok,
       expires_at BETWEEN clock_timestamp() + interval '50 s'
                      AND clock_timestamp() + interval '61 s' AS expires_ok
  FROM kz_globals.leases;
SELECT kz_globals.registered();

-- renew and assert_owner with the token, from any session of the role
SELECT kz_globals.renew_lease('lease-a', :tok, 120000);
SELECT ttl_ms FROM kz_globals.leases WHERE name = 'lease-a';
SELECT kz_globals.assert_owner('lease-a', :tok);
-- a wrong token: 55000, nothing changed
SELECT * FROM err($$SELECT kz_globals.renew_lease('lease-a', 42, 1000)$$);
SELECT * FROM err($$SELECT kz_globals.release_lease('lease-a', 42)$$);
SELECT * FROM err($$SELECT kz_globals.assert_owner('lease-a', 42)$$);
SELECT ttl_ms, token = :tok AS token_ok FROM kz_globals.leases WHERE name = 'lease-a';

-- a lease has no mailbox: send and call are refused (42809)
SELECT * FROM err($$SELECT kz_globals.send('lease-a', 'm')$$);
SELECT * FROM err($$SELECT kz_globals.call('lease-a', 'm', 100)$$);

-- a session's name is not a lease (42809), whatever the token
SELECT kz_globals.register_name('session-name');
SELECT kz_globals.token('session-name') AS stok \gset
SELECT * FROM err($$SELECT kz_globals.renew_lease('session-name', $$ || :stok || $$, 1000)$$);
SELECT * FROM err($$SELECT kz_globals.release_lease('session-name', $$ || :stok || $$)$$);
SELECT kz_globals.unregister_name('session-name');

-- bad input: 22023, nothing changed
SELECT * FROM err($$SELECT kz_globals.acquire_lease(NULL, 1000)$$);
SELECT * FROM err($$SELECT kz_globals.acquire_lease('', 1000)$$);
SELECT * FROM err($$SELECT kz_globals.acquire_lease(repeat('x', 256), 1000)$$);
SELECT * FROM err($$SELECT kz_globals.acquire_lease('l', NULL)$$);
SELECT * FROM err($$SELECT kz_globals.acquire_lease('l', 99)$$);
SELECT * FROM err($$SELECT kz_globals.acquire_lease('l', 0)$$);
SELECT * FROM err($$SELECT kz_globals.acquire_lease('l', -1000)$$);
SELECT * FROM err($$SELECT kz_globals.acquire_lease('l', 86400001)$$);
SELECT * FROM err($$SELECT kz_globals.acquire_lease('l', 1000, -1)$$);
SELECT * FROM err($$SELECT kz_globals.renew_lease(NULL, 1, 1000)$$);
SELECT * FROM err($$SELECT kz_globals.renew_lease('lease-a', NULL, 1000)$$);
SELECT * FROM err($$SELECT kz_globals.renew_lease('lease-a', $$ || :tok || $$, NULL)$$);
SELECT * FROM err($$SELECT kz_globals.renew_lease('lease-a', $$ || :tok || $$, 50)$$);
SELECT * FROM err($$SELECT kz_globals.renew_lease('lease-a', $$ || :tok || $$, 86400001)$$);
SELECT * FROM err($$SELECT kz_globals.release_lease('', 1)$$);
SELECT * FROM err($$SELECT kz_globals.release_lease('lease-a', NULL)$$);
SELECT name, ttl_ms, token = :tok AS token_ok FROM kz_globals.leases;
SELECT count(*) AS names FROM kz_globals.registrations;

-- the bounds themselves are accepted
SELECT kz_globals.renew_lease('lease-a', :tok, 100);
SELECT kz_globals.renew_lease('lease-a', :tok, 86400000);

-- a backend's exit does not end a lease: a new connection still sees it
\c
SELECT node = current_setting('kz_globals.node_name') AS node_ok, pid
  FROM kz_globals.whereis_name('lease-a');
SELECT kz_globals.renew_lease('lease-a', :tok, 60000);

-- release: true once, then false (nothing holds it); the name is free
SELECT kz_globals.release_lease('lease-a', :tok);
SELECT kz_globals.release_lease('lease-a', :tok);
SELECT kz_globals.whereis_name('lease-a');
SELECT * FROM err($$SELECT kz_globals.renew_lease('lease-a', $$ || :tok || $$, 1000)$$);
SELECT count(*) AS leases FROM kz_globals.leases;

-- expiry: not renewed within its TTL, a lease is gone; the next holder's
-- token is greater (fencing)
SELECT kz_globals.acquire_lease('short', 200) AS short1 \gset
SELECT pg_sleep(0.4);
SELECT kz_globals.whereis_name('short');
SELECT * FROM err($$SELECT kz_globals.renew_lease('short', $$ || :short1 || $$, 1000)$$);
SELECT * FROM err($$SELECT kz_globals.assert_owner('short', $$ || :short1 || $$)$$);
SELECT kz_globals.release_lease('short', :short1);
SELECT kz_globals.acquire_lease('short', 60000) AS short2 \gset
SELECT :short2 > :short1 AS newer_token;
-- the old token no longer works against the new holder
SELECT * FROM err($$SELECT kz_globals.release_lease('short', $$ || :short1 || $$)$$);
SELECT kz_globals.release_lease('short', :short2);

-- acquire with a timeout waits for the name: until the worker expires the
-- holder's lease, or gives up (NULL)
SELECT kz_globals.acquire_lease('waited', 1000) AS w1 \gset
SELECT kz_globals.acquire_lease('waited', 60000, 100) IS NULL AS gave_up;
SELECT kz_globals.acquire_lease('waited', 60000, 5000) AS w2 \gset
SELECT :w2 > :w1 AS got_it_after_expiry;
-- unregister_name removes a lease too, for its role (as for a session's name)
SELECT kz_globals.unregister_name('waited');
SELECT kz_globals.whereis_name('waited');

-- Privileges: kz_globals_user for all three, checked in C; renew and
-- release only for the acquiring role's members (tokens are not secret:
-- token() shows them), kz_globals_admin and superusers.  Reserved prefixes
-- and the per-role limit (3 in this configuration) apply.
CREATE ROLE kz_lessee LOGIN IN ROLE kz_globals_user;
CREATE ROLE kz_other LOGIN IN ROLE kz_globals_user;
CREATE ROLE kz_lease_reader LOGIN IN ROLE kz_globals_reader;
SET ROLE kz_lessee;
SELECT kz_globals.acquire_lease('lessee-1', 60000) AS l1 \gset
SELECT role FROM kz_globals.leases;
SELECT * FROM err($$SELECT kz_globals.acquire_lease('jobs/1', 60000)$$);
SELECT kz_globals.acquire_lease('lessee-2', 60000) IS NOT NULL AS l2,
       kz_globals.acquire_lease('lessee-3', 60000) IS NOT NULL AS l3;
SELECT * FROM err($$SELECT kz_globals.acquire_lease('lessee-4', 60000)$$);
RESET ROLE;
SET ROLE kz_other;
SELECT * FROM err($$SELECT kz_globals.renew_lease('lessee-1', $$ || :l1 || $$, 1000)$$);
SELECT * FROM err($$SELECT kz_globals.release_lease('lessee-1', $$ || :l1 || $$)$$);
SELECT role IS NULL AS role_hidden FROM kz_globals.leases WHERE name = 'lessee-1';
RESET ROLE;
SET ROLE kz_lease_reader;
SELECT kz_globals.token('lessee-1') = :l1 AS reader_sees_token;
SELECT * FROM err($$SELECT kz_globals.acquire_lease('r', 1000)$$);
SELECT * FROM err($$SELECT kz_globals.renew_lease('lessee-1', $$ || :l1 || $$, 1000)$$);
SELECT * FROM err($$SELECT kz_globals.release_lease('lessee-1', $$ || :l1 || $$)$$);
RESET ROLE;
SELECT ttl_ms FROM kz_globals.leases WHERE name = 'lessee-1';
-- the C checks hold even when a GRANT is too wide
GRANT EXECUTE ON FUNCTION kz_globals.acquire_lease(text, integer, integer) TO kz_lease_reader;
SET ROLE kz_lease_reader;
SELECT * FROM err($$SELECT kz_globals.acquire_lease('r', 1000)$$);
RESET ROLE;
REVOKE EXECUTE ON FUNCTION kz_globals.acquire_lease(text, integer, integer) FROM kz_lease_reader;
-- the acquiring role renews and releases (from other sessions too: test/t/084_leases.pl)
SET ROLE kz_lessee;
SELECT kz_globals.renew_lease('lessee-1', :l1, 2000);
SELECT kz_globals.release_lease('lessee-1', :l1);
SELECT kz_globals.acquire_lease('lessee-4', 60000) IS NOT NULL AS fourth_fits_now;
RESET ROLE;
-- a superuser (or kz_globals_admin) may release any role's lease
SELECT count(*) FILTER (WHERE kz_globals.release_lease(name, token)) AS released
  FROM kz_globals.leases;
SELECT count(*) AS names FROM kz_globals.registrations;
DROP ROLE kz_lessee;
DROP ROLE kz_other;
DROP ROLE kz_lease_reader;
