-- A full name table is a clean error with a hint (the test table holds 100).
SELECT count(*) FILTER (WHERE kz_globals.register_name('n' || g)) FROM generate_series(1, 100) g;
SELECT * FROM err($$SELECT kz_globals.register_name('n101')$$);
SELECT count(*) FROM kz_globals.registered();
-- a freed slot can be used again
SELECT kz_globals.unregister_name('n1');
SELECT kz_globals.register_name('n101');
SELECT count(*) FILTER (WHERE kz_globals.unregister_name(n)) FROM kz_globals.registered() n;

-- kz_globals.max_names_per_role (3 here): a role's backends together hold
-- at most that many names (53400, nothing registered); superusers are not
-- limited (above: 100 names)
SHOW kz_globals.max_names_per_role;
CREATE ROLE kz_limited LOGIN IN ROLE kz_globals_user;
SET SESSION AUTHORIZATION kz_limited;
SELECT count(*) FILTER (WHERE kz_globals.register_name('lim' || g)) FROM generate_series(1, 3) g;
SELECT * FROM err($$SELECT kz_globals.register_name('lim4')$$);
SELECT count(*) FROM kz_globals.registrations WHERE name LIKE 'lim%';
SELECT kz_globals.unregister_name('lim1');
SELECT kz_globals.register_name('lim4');
SELECT count(*) FILTER (WHERE kz_globals.unregister_name(n)) FROM kz_globals.registered() n
 WHERE n LIKE 'lim%';
RESET SESSION AUTHORIZATION;
DROP ROLE kz_limited;
