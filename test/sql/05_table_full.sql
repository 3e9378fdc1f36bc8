-- A full name table is a clean error with a hint (the test table holds 100).
SELECT count(*) FILTER (WHERE kz_globals.register_name('n' || g)) FROM generate_series(1, 100) g;
SELECT * FROM err($$SELECT kz_globals.register_name('n101')$$);
SELECT count(*) FROM kz_globals.registered();
-- a freed slot can be used again
SELECT kz_globals.unregister_name('n1');
SELECT kz_globals.register_name('n101');
SELECT count(*) FILTER (WHERE kz_globals.unregister_name(n)) FROM kz_globals.registered() n;
