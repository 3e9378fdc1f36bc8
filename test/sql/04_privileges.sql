-- Privilege rules (README, "Security model"): nothing for PUBLIC; the roles
-- kz_globals_reader (views, lookups), kz_globals_user (also names and
-- messages) and kz_globals_admin (also any name, every owner); each checked
-- in C as well as by GRANT.  register_name(name, pid) and unregister_name
-- also need the owner backend's role.
CREATE ROLE kz_alice LOGIN;
CREATE ROLE kz_bob LOGIN;
CREATE ROLE kz_carol LOGIN;
CREATE ROLE kz_reader LOGIN IN ROLE kz_globals_reader;
GRANT kz_bob TO kz_alice;
GRANT kz_globals_user TO kz_alice, kz_bob;

-- the roles, and what PUBLIC has: nothing
SELECT r.rolname, array_agg(m.rolname ORDER BY m.rolname) AS member_of
  FROM pg_roles r LEFT JOIN pg_auth_members a ON a.member = r.oid
  LEFT JOIN pg_roles m ON m.oid = a.roleid
 WHERE r.rolname LIKE 'kz_globals_%' GROUP BY r.rolname ORDER BY 1;
SELECT count(*) AS public_grants FROM (
  SELECT p.oid FROM pg_proc p, aclexplode(p.proacl) a
   WHERE p.pronamespace = 'kz_globals'::regnamespace AND a.grantee = 0
  UNION ALL
  SELECT c.oid FROM pg_class c, aclexplode(c.relacl) a
   WHERE c.relnamespace = 'kz_globals'::regnamespace AND a.grantee = 0
  UNION ALL
  SELECT n.oid FROM pg_namespace n, aclexplode(n.nspacl) a
   WHERE n.nspname = 'kz_globals' AND a.grantee = 0) s;

SELECT kz_globals.register_name('root-name');

-- a role without the extension's roles may do nothing (42501)
SET ROLE kz_carol;
SELECT * FROM err($$SELECT kz_globals.whereis_name('root-name')$$);
SELECT * FROM err($$SELECT kz_globals.register_name('carol-name')$$);
SELECT * FROM err($$SELECT count(*) FROM kz_globals.registrations$$);
RESET ROLE;

-- the C checks hold even when a GRANT is too wide
GRANT USAGE ON SCHEMA kz_globals TO kz_carol;
GRANT EXECUTE ON FUNCTION kz_globals.register_name(text), kz_globals.whereis_name(text),
  kz_globals.registrations_data() TO kz_carol;
GRANT SELECT ON kz_globals.registrations TO kz_carol;
SET ROLE kz_carol;
SELECT * FROM err($$SELECT kz_globals.whereis_name('root-name')$$);
SELECT * FROM err($$SELECT kz_globals.register_name('carol-name')$$);
SELECT * FROM err($$SELECT count(*) FROM kz_globals.registrations$$);
RESET ROLE;
REVOKE ALL ON SCHEMA kz_globals FROM kz_carol;
REVOKE ALL ON FUNCTION kz_globals.register_name(text), kz_globals.whereis_name(text),
  kz_globals.registrations_data() FROM kz_carol;
REVOKE ALL ON kz_globals.registrations FROM kz_carol;

-- a reader may look, not register
SET ROLE kz_reader;
SELECT (kz_globals.whereis_name('root-name')).pid = pg_backend_pid() AS found;
SELECT count(*) = 1 AS self_row FROM kz_globals.nodes WHERE is_self;
SELECT broker_state FROM kz_globals.stats;
SELECT * FROM err($$SELECT kz_globals.register_name('reader-name')$$);
SELECT * FROM err($$SELECT kz_globals.send('root-name', 'hi')$$);
-- ... and sees other roles' registrations without their owner
SELECT name, pid IS NULL AS pid_hidden, database, role FROM kz_globals.registrations
 WHERE name = 'root-name';
RESET ROLE;

-- pg_read_all_stats members see every owner, as in pg_stat_activity
GRANT pg_read_all_stats TO kz_reader;
SET ROLE kz_reader;
SELECT name, pid = pg_backend_pid() AS pid_shown, database IS NOT NULL AS db_shown,
       role IS NOT NULL AS role_shown
  FROM kz_globals.registrations WHERE name = 'root-name';
RESET ROLE;

SET ROLE kz_alice;
-- alice may not act for a backend whose role she does not have (42501)
SELECT * FROM err($$SELECT kz_globals.register_name('for-root', pg_backend_pid())$$);
RESET ROLE;

-- the owner itself may always unregister its names, whatever its role now
SET ROLE kz_alice;
SELECT kz_globals.unregister_name('root-name');
SELECT kz_globals.whereis_name('root-name') IS NULL AS gone;
RESET ROLE;

-- SET SESSION AUTHORIZATION: registrations record the session role; a
-- member of the owner's role sees it and may unregister it
SET SESSION AUTHORIZATION kz_bob;
SELECT kz_globals.register_name('bob-name');
RESET SESSION AUTHORIZATION;
SELECT name, role FROM kz_globals.registrations WHERE name = 'bob-name';
SET ROLE kz_alice;
SELECT name, role FROM kz_globals.registrations WHERE name = 'bob-name';
RESET ROLE;

-- kz_globals_admin may unregister any name
SELECT kz_globals.register_name('root-again');
GRANT kz_globals_admin TO kz_carol;
SET ROLE kz_carol;
SELECT name, role IS NOT NULL AS role_shown FROM kz_globals.registrations WHERE name = 'root-again';
SELECT kz_globals.unregister_name('root-again');
SELECT kz_globals.unregister_name('bob-name');
RESET ROLE;
REVOKE kz_globals_admin FROM kz_carol;

-- kz_globals.reserved_prefixes (here: billing:=kz_billing, jobs/=kz_nobody):
-- only members of the role (and superusers) may take such names (42501)
SHOW kz_globals.reserved_prefixes;
CREATE ROLE kz_billing;
SET ROLE kz_alice;
SELECT * FROM err($$SELECT kz_globals.register_name('billing:invoices')$$);
SELECT * FROM err($$SELECT kz_globals.register_name_wait('billing:invoices', 10)$$);
SELECT * FROM err($$SELECT kz_globals.register_name('jobs/1')$$);
SELECT kz_globals.register_name('billing-other');
SELECT * FROM err($$SELECT kz_globals.register_name('billing:')$$);
RESET ROLE;
SELECT count(*) FROM kz_globals.registrations WHERE name LIKE 'billing:%';
GRANT kz_billing TO kz_alice;
SET ROLE kz_alice;
SELECT kz_globals.register_name('billing:invoices');
SELECT * FROM err($$SELECT kz_globals.register_name('jobs/1')$$);
RESET ROLE;
SELECT kz_globals.register_name('jobs/1');
SELECT count(*) FILTER (WHERE kz_globals.unregister_name(n)) FROM
  unnest(ARRAY['billing:invoices', 'billing-other', 'jobs/1']) n;
DROP ROLE kz_billing;

-- superuser-only parameters are hidden from others
SET ROLE kz_alice;
-- (PostgreSQL's wording changed in 16: check the code and that it names the
-- parameter)
SELECT code, message LIKE '%"kz_globals.amqp_uri"%' AS names_parameter
  FROM err($$SHOW kz_globals.amqp_uri$$);
SHOW kz_globals.node_name;
RESET ROLE;
SHOW kz_globals.amqp_uri;

DROP ROLE kz_alice;
DROP ROLE kz_bob;
DROP ROLE kz_carol;
DROP ROLE kz_reader;
