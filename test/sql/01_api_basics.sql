-- Registration, lookup and release within one server (single-server mode).

SELECT kz_globals.register_name('alpha');
-- a name is owned once, even by its owner
SELECT kz_globals.register_name('alpha');
SELECT (w).node = current_setting('kz_globals.node_name') AS this_node,
       (w).pid = pg_backend_pid() AS this_backend
  FROM (SELECT kz_globals.whereis_name('alpha') AS w) s;
SELECT kz_globals.whereis_name('nobody') IS NULL AS unknown_is_null;

-- names are compared byte for byte
SELECT kz_globals.register_name('Alpha'), kz_globals.register_name('alpha ');
SELECT kz_globals.register_name(repeat('n', 255)) AS longest_name;
SELECT kz_globals.register_name('ünïcødé ✓') AS utf8_name;
SELECT kz_globals.registered() ORDER BY 1;

-- one backend may own many names
SELECT count(*) FROM kz_globals.registrations WHERE pid = pg_backend_pid();

-- fencing tokens: one per registration, growing with each new registration
SELECT kz_globals.token('alpha') > 0 AS has_token;
SELECT kz_globals.token('nobody') IS NULL AS no_token;
SELECT kz_globals.assert_owner('alpha', kz_globals.token('alpha'));
CREATE TEMP TABLE t AS SELECT kz_globals.token('alpha') AS old;
SELECT kz_globals.unregister_name('alpha');
SELECT kz_globals.register_name('alpha');
SELECT kz_globals.token('alpha') > old AS token_grew FROM t;
SELECT e.* FROM t, err(format('SELECT kz_globals.assert_owner(%L, %s)', 'alpha', old)) e;

-- unregister: true once, then false
SELECT kz_globals.unregister_name('alpha');
SELECT kz_globals.unregister_name('alpha');
SELECT kz_globals.unregister_name('never-registered');
SELECT kz_globals.whereis_name('alpha') IS NULL AS gone;

-- registrations are not transactional (like session-level advisory locks)
BEGIN;
SELECT kz_globals.register_name('in-tx');
ROLLBACK;
SELECT kz_globals.whereis_name('in-tx') IS NOT NULL AS survives_rollback;

-- register_name for a backend by pid (here: this very backend)
SELECT kz_globals.register_name('by-pid', pg_backend_pid());
SELECT (kz_globals.whereis_name('by-pid')).pid = pg_backend_pid() AS owned_by_pid;

-- register_name_wait: a free name is taken at once; so is one this backend
-- already owns (no wait for itself); waits on others are in the TAP tests
SELECT kz_globals.register_name_wait('standby-free', 1000);
SELECT kz_globals.register_name_wait('standby-free', 60000) AS already_mine;
SELECT kz_globals.register_name_wait('standby-free') AS already_mine_no_timeout;

-- clean up
SELECT count(*) FROM (SELECT kz_globals.unregister_name(n) FROM kz_globals.registered() n) s;
SELECT count(*) FROM kz_globals.registered();

-- names a Kazoo node can address itself (letters and digits, length not a
-- multiple of 4)
SELECT n, kz_globals.kazoo_addressable(n)
  FROM unnest(ARRAY['alpha', 'abc', 'abcdefg', 'Zz9', 'job-1', 'invoice-worker',
                    'abcd', 'job1', 'a b', 'ab==', 'é', '', 'x.y', 'a_b']) AS n;
SELECT kz_globals.kazoo_addressable(NULL) IS NULL AS null_is_null;
