-- Privilege rules: register_name(name, pid) and unregister_name need the
-- owner backend's role (or superuser); the views are readable by anyone.
CREATE ROLE kz_alice LOGIN;
CREATE ROLE kz_bob LOGIN;
GRANT kz_bob TO kz_alice;

SELECT kz_globals.register_name('root-name');

SET ROLE kz_alice;
-- alice may not act for a backend whose role she does not have (42501)
SELECT * FROM err($$SELECT kz_globals.register_name('for-root', pg_backend_pid())$$);
-- the owner itself may always unregister its names, whatever its role now
SELECT kz_globals.unregister_name('root-name');
-- views and lookups need no privilege
SELECT count(*) >= 0 AS readable FROM kz_globals.registrations;
SELECT count(*) = 1 AS self_row FROM kz_globals.nodes WHERE is_self;
SELECT broker_state FROM kz_globals.stats;
SELECT kz_globals.whereis_name('root-name') IS NULL AS gone;
RESET ROLE;

-- SET SESSION AUTHORIZATION: registrations record the session role
SET SESSION AUTHORIZATION kz_bob;
SELECT kz_globals.register_name('bob-name');
RESET SESSION AUTHORIZATION;
SELECT name, role FROM kz_globals.registrations WHERE name = 'bob-name';
SELECT kz_globals.unregister_name('bob-name');

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
