-- Registration metadata (README, "Registration metadata"): register_name(name,
-- meta), set_meta(), meta() and the meta column of registrations, on one
-- server.  Every bad input is an error with its SQLSTATE and changes nothing.
-- This server's settings (test/kz_globals.conf): max_meta_size 1024 (the
-- default), meta_pool_size 8kB (127 blocks of 60 bytes).
SELECT name, setting, unit, context FROM pg_settings
 WHERE name IN ('kz_globals.max_meta_size', 'kz_globals.meta_pool_size') ORDER BY name;

-- register with metadata; it reads back as jsonb prints it
SELECT kz_globals.register_name('svc', '{"version": "2.1",  "shard": 3}'::jsonb);
SELECT kz_globals.meta('svc');
SELECT name, state, meta FROM kz_globals.registrations WHERE name = 'svc';
SELECT kz_globals.whereis_name('svc') IS NOT NULL AS registered;

-- set_meta replaces it (an object, an array), NULL clears it
SELECT kz_globals.set_meta('svc', '{"version": "2.2", "shard": 4}');
SELECT kz_globals.meta('svc');
SELECT kz_globals.set_meta('svc', '[1, "two", {"three": 3}]');
SELECT kz_globals.meta('svc');
SELECT kz_globals.set_meta('svc', NULL);
SELECT kz_globals.meta('svc') IS NULL AS cleared;
SELECT kz_globals.set_meta('svc', '{"version": "2.3"}');

-- NULL metadata is register_name(name); a taken name: false, nothing changes
SELECT kz_globals.register_name('plain', NULL::jsonb);
SELECT kz_globals.meta('plain') IS NULL AS no_meta;
SELECT kz_globals.register_name('svc', '{"other": true}'::jsonb);
SELECT kz_globals.meta('svc');
-- an unknown name has none
SELECT kz_globals.meta('nobody') IS NULL AS unknown;

-- at the size limit (1024 bytes of JSON text) and one byte over (54000)
SELECT kz_globals.set_meta('plain', jsonb_build_array(repeat('x', 1020)));
SELECT octet_length(kz_globals.meta('plain')::text) AS bytes;
SELECT * FROM err($$SELECT kz_globals.set_meta('plain', jsonb_build_array(repeat('x', 1021)))$$);
SELECT octet_length(kz_globals.meta('plain')::text) AS bytes_unchanged;
SELECT * FROM err($$SELECT kz_globals.register_name('big', jsonb_build_array(repeat('x', 1021)))$$);
SELECT kz_globals.whereis_name('big') IS NULL AS not_registered;
SELECT kz_globals.set_meta('plain', NULL);

-- not an object or array (22023)
SELECT * FROM err($$SELECT kz_globals.register_name('m', '5'::jsonb)$$);
SELECT * FROM err($$SELECT kz_globals.register_name('m', '"text"'::jsonb)$$);
SELECT * FROM err($$SELECT kz_globals.register_name('m', 'null'::jsonb)$$);
SELECT * FROM err($$SELECT kz_globals.set_meta('svc', 'true')$$);
SELECT kz_globals.whereis_name('m') IS NULL AS not_registered;
SELECT kz_globals.meta('svc');
-- bad names (22023)
SELECT * FROM err($$SELECT kz_globals.register_name(NULL, '{}'::jsonb)$$);
SELECT * FROM err($$SELECT kz_globals.register_name(repeat('x', 256), '{}'::jsonb)$$);
SELECT * FROM err($$SELECT kz_globals.set_meta(NULL, '{}')$$);
SELECT * FROM err($$SELECT kz_globals.set_meta('', '{}')$$);
SELECT * FROM err($$SELECT kz_globals.meta(NULL)$$);
SELECT * FROM err($$SELECT kz_globals.meta('')$$);
-- set_meta on a name nobody holds (42704)
SELECT * FROM err($$SELECT kz_globals.set_meta('nobody', '{}')$$);
-- an untyped second argument (a quoted literal, NULL, a parameter of
-- unknown type) matches both register_name(text, integer) and
-- register_name(text, jsonb): the call must say which (42725).  set_meta
-- has one form: a literal needs no cast there.
SELECT * FROM err($$SELECT kz_globals.register_name('p', NULL)$$);
SELECT * FROM err($$SELECT kz_globals.register_name('p', '{}')$$);

-- privileges: register_name(name, meta) and set_meta need kz_globals_user,
-- meta() kz_globals_reader (42501), checked in C as well as by GRANT
CREATE ROLE kz_meta_reader LOGIN IN ROLE kz_globals_reader;
CREATE ROLE kz_meta_user LOGIN IN ROLE kz_globals_user;
CREATE ROLE kz_meta_none LOGIN;
SET ROLE kz_meta_reader;
SELECT kz_globals.meta('svc');
SELECT name, meta FROM kz_globals.registrations WHERE name = 'svc';
SELECT * FROM err($$SELECT kz_globals.register_name('r', '{}'::jsonb)$$);
SELECT * FROM err($$SELECT kz_globals.set_meta('svc', '{}')$$);
RESET ROLE;
SET ROLE kz_meta_none;
SELECT * FROM err($$SELECT kz_globals.meta('svc')$$);
RESET ROLE;
GRANT USAGE ON SCHEMA kz_globals TO kz_meta_none;
GRANT EXECUTE ON FUNCTION kz_globals.meta(text), kz_globals.set_meta(text, jsonb),
  kz_globals.register_name(text, jsonb) TO kz_meta_none;
SET ROLE kz_meta_none;
SELECT * FROM err($$SELECT kz_globals.meta('svc')$$);
SELECT * FROM err($$SELECT kz_globals.register_name('r', '{}'::jsonb)$$);
RESET ROLE;
REVOKE ALL ON FUNCTION kz_globals.meta(text), kz_globals.set_meta(text, jsonb),
  kz_globals.register_name(text, jsonb) FROM kz_meta_none;
REVOKE USAGE ON SCHEMA kz_globals FROM kz_meta_none;
-- a reserved prefix stays reserved with metadata (42501)
SET ROLE kz_meta_user;
SELECT * FROM err($$SELECT kz_globals.register_name('billing:x', '{}'::jsonb)$$);
-- the owner is a session, not a role: this session may change its names'
-- metadata whatever role it has now (another session may not, 42501: the
-- cluster test test/t/080_meta.pl)
SELECT kz_globals.register_name('users-name', '{"by": "user"}'::jsonb);
SELECT kz_globals.set_meta('svc', '{}');
SELECT kz_globals.set_meta('users-name', '{"by": "user", "n": 2}');
SELECT kz_globals.meta('users-name');
SELECT kz_globals.unregister_name('users-name');
RESET ROLE;
SELECT kz_globals.meta('svc');

-- the pool: 127 blocks of 60 bytes; a 1000-byte text takes 17 blocks, so
-- seven fit beside what is held already and the eighth is refused (53200:
-- out of memory, as for any other full shared memory),
-- registering nothing
SELECT kz_globals.set_meta('svc', NULL);
DO $$
DECLARE
	i int;
BEGIN
	FOR i IN 1..7 LOOP
		IF NOT kz_globals.register_name('pool-' || i, jsonb_build_array(repeat('p', 996))) THEN
			RAISE 'pool-% not registered', i;
		END IF;
	END LOOP;
END $$;
SELECT count(*) AS held FROM kz_globals.registrations
 WHERE name LIKE 'pool-%' AND octet_length(meta::text) = 1000;
SELECT * FROM err($$SELECT kz_globals.register_name('pool-8', jsonb_build_array(repeat('p', 996)))$$);
SELECT kz_globals.whereis_name('pool-8') IS NULL AS not_registered;
-- a name without metadata, or with a little that fits, still registers
SELECT kz_globals.register_name('pool-small', '[1]'::jsonb);
SELECT * FROM err($$SELECT kz_globals.register_name('pool-9', jsonb_build_array(repeat('p', 200)))$$);
-- set_meta that does not fit leaves the old metadata; one that fits in the
-- blocks the old one gives back is accepted
SELECT * FROM err($$SELECT kz_globals.set_meta('pool-small', jsonb_build_array(repeat('p', 200)))$$);
SELECT kz_globals.meta('pool-small');
SELECT kz_globals.set_meta('pool-1', jsonb_build_array(repeat('q', 996)));
SELECT left(kz_globals.meta('pool-1')::text, 5) AS replaced;
-- unregistering gives the blocks back
SELECT kz_globals.unregister_name('pool-2');
SELECT kz_globals.register_name('pool-8', jsonb_build_array(repeat('p', 996)));
SELECT count(*) AS held FROM kz_globals.registrations WHERE name LIKE 'pool-%';

-- a 1.0-shaped registrations function (ten columns, no meta) still works:
-- the C function fills the columns of the caller's shape
CREATE FUNCTION public.registrations_10(
	OUT name text, OUT state text, OUT node text, OUT pid integer,
	OUT database text, OUT role text, OUT registered_at timestamptz,
	OUT server text, OUT kazoo boolean, OUT token bigint)
RETURNS SETOF record AS '$libdir/kz_globals', 'kz_registrations_data' LANGUAGE C;
SELECT name, state FROM public.registrations_10() WHERE name IN ('svc', 'plain') ORDER BY 1;
DROP FUNCTION public.registrations_10();

-- clean up: the exit of a session frees its names' metadata like unregister
SELECT count(kz_globals.unregister_name(name)) FROM kz_globals.registrations
 WHERE name LIKE 'pool-%' OR name IN ('svc', 'plain');
SELECT count(*) AS left_over FROM kz_globals.registrations;
DROP ROLE kz_meta_reader;
DROP ROLE kz_meta_user;
DROP ROLE kz_meta_none;
