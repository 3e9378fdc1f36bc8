/* kz_globals--1.1.sql: the SQL interface of kz_globals (SPEC section 3), version 1.1 */

/*
 * CREATE EXTENSION kz_globals runs this file alone; ALTER EXTENSION
 * kz_globals UPDATE from 1.0 runs kz_globals--1.0--1.1.sql instead.  Every
 * SQL change of 1.1 therefore goes into both files, and test/t/070_upgrade.pl
 * checks that the two paths end in the same objects (README, "Upgrading").
 */

\echo Use "CREATE EXTENSION kz_globals" to load this file. \quit

-- The owner of a name: the node and, for a PostgreSQL owner, its backend.
CREATE TYPE @extschema@.owner AS (node text, pid integer);
COMMENT ON TYPE @extschema@.owner IS
	'owner of a global name: node name, and backend pid (NULL for a Kazoo owner or a lease)';

-- Registration.  None of these functions is STRICT: a NULL argument is an
-- error (SQLSTATE 22023), not a NULL result.

CREATE FUNCTION @extschema@.register_name(name text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'kz_register_name'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.register_name(text) IS
	'register the calling backend under a global name; false if it is taken';

CREATE FUNCTION @extschema@.register_name(name text, pid integer)
RETURNS boolean
AS 'MODULE_PATHNAME', 'kz_register_name_pid'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.register_name(text, integer) IS
	'register another backend of this server under a global name';

-- Registration metadata (README, "Registration metadata"): a JSON object or
-- array kept with a registration and sent with its advertisements, at most
-- kz_globals.max_meta_size bytes of JSON text.  register_name(name, meta)
-- registers with it, set_meta() replaces it (the owner session only), meta()
-- reads it (NULL when none, or for a name a Kazoo node owns).
CREATE FUNCTION @extschema@.register_name(name text, meta jsonb)
RETURNS boolean
AS 'MODULE_PATHNAME', 'kz_register_name_meta'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.register_name(text, jsonb) IS
	'register the calling backend under a global name, with metadata';

CREATE FUNCTION @extschema@.set_meta(name text, meta jsonb)
RETURNS void
AS 'MODULE_PATHNAME', 'kz_set_meta_sql'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.set_meta(text, jsonb) IS
	'replace the metadata of a name this session holds, and advertise it';

CREATE FUNCTION @extschema@.meta(name text)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'kz_meta_sql'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.meta(text) IS
	'the metadata of a registered name, or NULL';

CREATE FUNCTION @extschema@.unregister_name(name text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'kz_unregister_name_sql'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.unregister_name(text) IS
	'remove a registration held by this server; false if not held here';

CREATE FUNCTION @extschema@.whereis_name(name text)
RETURNS @extschema@.owner
AS 'MODULE_PATHNAME', 'kz_whereis_name'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.whereis_name(text) IS
	'the owner of a global name, or NULL';

CREATE FUNCTION @extschema@.registered()
RETURNS SETOF text
AS 'MODULE_PATHNAME', 'kz_registered'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.registered() IS
	'names this server knows as local or remote';

-- Messages.

CREATE FUNCTION @extschema@.send(name text, message text)
RETURNS @extschema@.owner
AS 'MODULE_PATHNAME', 'kz_send_sql'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.send(text, text) IS
	'deliver a message to the mailbox of the owner of a name';

CREATE FUNCTION @extschema@.call(name text, request text, timeout_ms integer DEFAULT 5000)
RETURNS text
AS 'MODULE_PATHNAME', 'kz_call_sql'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.call(text, text, integer) IS
	'send a request to the owner of a name and wait for its reply';

CREATE FUNCTION @extschema@.receive(timeout_ms integer DEFAULT NULL)
RETURNS TABLE (name text, kind text, message text, sender_node text,
			   sender_pid integer, reply_tag text, sent_at timestamptz,
			   sender_role text, sender_database text)
AS 'MODULE_PATHNAME', 'kz_receive_sql'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.receive(integer) IS
	'take the next message from this backend''s mailbox, waiting up to timeout_ms';

CREATE FUNCTION @extschema@.reply(reply_tag text, response text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'kz_reply_sql'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.reply(text, text) IS
	'answer a call; false if the caller is no longer waiting';

-- Singletons.

CREATE FUNCTION @extschema@.register_name_wait(name text, timeout_ms integer DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'kz_register_name_wait'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.register_name_wait(text, integer) IS
	'wait as a standby until a name is free anywhere, then claim it';

CREATE FUNCTION @extschema@.token(name text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'kz_token'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.token(text) IS
	'fencing token of the current registration of a name, or NULL';

CREATE FUNCTION @extschema@.assert_owner(name text, token bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'kz_assert_owner'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.assert_owner(text, bigint) IS
	'true if this backend owns the name with this token, otherwise an error';

-- Whether a Kazoo node can address a name itself.  Kazoo (measured with
-- master dcf86cbc6d on OTP 25) passes a binary name through base64:decode
-- and binary_to_term before it claims, finds, sends to or unregisters it,
-- and fails on names that decoding accepts or that break it in a complete
-- group of four bytes: names with "-", "_", ".", "=", "+", "/", non-ASCII
-- bytes, or whose length is a multiple of 4.  Letters and digits, of a
-- length that is not a multiple of 4, are always safe; this says true for
-- those only (some others work too).  Every name can be owned here and is
-- seen by Kazoo nodes.
CREATE FUNCTION @extschema@.kazoo_addressable(name text)
RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT $1 ~ '^[A-Za-z0-9]+$' AND octet_length($1) % 4 <> 0 $$;
COMMENT ON FUNCTION @extschema@.kazoo_addressable(text) IS
	'true if a Kazoo node (OTP 25) can claim, find, send to and unregister this name itself';

-- Leases (README, "Leases"): a name held by no session.  acquire_lease()
-- claims it like register_name() and returns its fencing token (NULL if the
-- name is taken, after waiting timeout_ms for it: 0 does not wait, NULL
-- waits without limit); any session of the acquiring role that presents the
-- token renews or releases it, in any transaction, so it works through a
-- transaction-mode pooler.  This server expires it, and tells the cluster,
-- when it is not renewed within ttl_ms (100 ms to one day).

CREATE FUNCTION @extschema@.acquire_lease(name text, ttl_ms integer,
										  timeout_ms integer DEFAULT 0)
RETURNS bigint
AS 'MODULE_PATHNAME', 'kz_acquire_lease'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.acquire_lease(text, integer, integer) IS
	'hold a global name by a lease of ttl_ms, for no session; its token, or NULL if taken';

CREATE FUNCTION @extschema@.renew_lease(name text, token bigint, ttl_ms integer)
RETURNS boolean
AS 'MODULE_PATHNAME', 'kz_renew_lease_sql'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.renew_lease(text, bigint, integer) IS
	'extend the lease with this token to ttl_ms from now; true, or an error if it is not held';

CREATE FUNCTION @extschema@.release_lease(name text, token bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'kz_release_lease_sql'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.release_lease(text, bigint) IS
	'release the lease with this token; false if nothing holds the name any more';

CREATE FUNCTION @extschema@.leases_data(
	OUT name text, OUT token bigint, OUT ttl_ms integer,
	OUT expires_at timestamptz, OUT role text, OUT database text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'kz_leases_data'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE VIEW @extschema@.leases AS
	SELECT * FROM @extschema@.leases_data();
COMMENT ON VIEW @extschema@.leases IS
	'the leases this server holds, and when each expires unless renewed';

-- Views, each backed by a set-returning function.

CREATE FUNCTION @extschema@.registrations_data(
	OUT name text, OUT state text, OUT node text, OUT pid integer,
	OUT database text, OUT role text, OUT registered_at timestamptz,
	OUT server text, OUT kazoo boolean, OUT token bigint, OUT meta jsonb)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'kz_registrations_data'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE VIEW @extschema@.registrations AS
	SELECT * FROM @extschema@.registrations_data();
COMMENT ON VIEW @extschema@.registrations IS
	'every name in this server''s table: local, remote and pending';

CREATE FUNCTION @extschema@.nodes_data(
	OUT node text, OUT zone text, OUT state text, OUT last_heartbeat timestamptz,
	OUT expires_ms integer, OUT names integer, OUT is_self boolean,
	OUT started_at timestamptz, OUT kazoo boolean, OUT server text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'kz_nodes_data'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE VIEW @extschema@.nodes AS
	SELECT * FROM @extschema@.nodes_data();
COMMENT ON VIEW @extschema@.nodes IS
	'this node and the nodes it has heard on the bus';

CREATE FUNCTION @extschema@.stats_data(
	OUT broker_state text, OUT claims_won bigint, OUT claims_lost bigint,
	OUT conflicts bigint, OUT names_expired bigint, OUT messages_sent bigint,
	OUT messages_received bigint, OUT messages_dropped bigint, OUT calls bigint,
	OUT broker_connects bigint, OUT broker_disconnects bigint,
	OUT bus_malformed bigint, OUT bus_rejected bigint, OUT bus_overflow bigint,
	OUT bus_sent bigint, OUT bus_sent_bytes bigint, OUT bus_received bigint,
	OUT bus_received_bytes bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'kz_stats_data'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE VIEW @extschema@.stats AS
	SELECT * FROM @extschema@.stats_data();
COMMENT ON VIEW @extschema@.stats IS
	'counters of this server since it started';

-- Privileges (README, "Security model"): nothing is granted to PUBLIC.  The
-- three roles are cluster-wide, like PostgreSQL's predefined roles; they are
-- created if missing and outlive the extension.  Every function also checks
-- them in C (src/backend/privileges.c), so a wider GRANT does not widen access.
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'kz_globals_reader') THEN
		CREATE ROLE kz_globals_reader NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'kz_globals_user') THEN
		CREATE ROLE kz_globals_user NOLOGIN IN ROLE kz_globals_reader;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'kz_globals_admin') THEN
		CREATE ROLE kz_globals_admin NOLOGIN IN ROLE kz_globals_user;
	END IF;
END
$$;

REVOKE ALL ON SCHEMA @extschema@ FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA @extschema@ FROM PUBLIC;
REVOKE ALL ON @extschema@.registrations, @extschema@.nodes, @extschema@.stats FROM PUBLIC;

GRANT USAGE ON SCHEMA @extschema@ TO kz_globals_reader;
GRANT SELECT ON @extschema@.registrations, @extschema@.nodes, @extschema@.stats
	TO kz_globals_reader;
GRANT EXECUTE ON FUNCTION
	@extschema@.whereis_name(text),
	@extschema@.registered(),
	@extschema@.token(text),
	@extschema@.kazoo_addressable(text),
	@extschema@.registrations_data(),
	@extschema@.nodes_data(),
	@extschema@.stats_data()
	TO kz_globals_reader;
GRANT EXECUTE ON FUNCTION
	@extschema@.register_name(text),
	@extschema@.register_name(text, integer),
	@extschema@.unregister_name(text),
	@extschema@.send(text, text),
	@extschema@.call(text, text, integer),
	@extschema@.receive(integer),
	@extschema@.reply(text, text),
	@extschema@.register_name_wait(text, integer),
	@extschema@.assert_owner(text, bigint)
	TO kz_globals_user;

-- Registration metadata: registering and changing it as register_name,
-- reading it as whereis_name.
GRANT EXECUTE ON FUNCTION
	@extschema@.register_name(text, jsonb),
	@extschema@.set_meta(text, jsonb)
	TO kz_globals_user;
GRANT EXECUTE ON FUNCTION @extschema@.meta(text) TO kz_globals_reader;

-- Leases: privileges, as for the functions above.
REVOKE ALL ON @extschema@.leases FROM PUBLIC;
GRANT SELECT ON @extschema@.leases TO kz_globals_reader;
GRANT EXECUTE ON FUNCTION @extschema@.leases_data() TO kz_globals_reader;
GRANT EXECUTE ON FUNCTION
	@extschema@.acquire_lease(text, integer, integer),
	@extschema@.renew_lease(text, bigint, integer),
	@extschema@.release_lease(text, bigint)
	TO kz_globals_user;

-- Process groups (README, "Process groups"): many members per group, here
-- and on the other servers, and a message published to all of them.
-- Membership is eventually consistent (as Erlang's pg); a member is a
-- backend and leaves every group when it exits.

CREATE FUNCTION @extschema@.join("group" text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'kz_join_sql'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.join(text) IS
	'make this backend a member of a process group; false if it already is';

CREATE FUNCTION @extschema@.leave("group" text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'kz_leave_sql'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.leave(text) IS
	'end this backend''s membership of a process group; false if it was none';

CREATE FUNCTION @extschema@.members("group" text)
RETURNS TABLE (node text, pid integer, joined_at timestamptz)
AS 'MODULE_PATHNAME', 'kz_members_sql'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.members(text) IS
	'the members of a process group on every server this one knows';

CREATE FUNCTION @extschema@.publish("group" text, message text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'kz_publish_sql'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.publish(text, text) IS
	'put a message into the mailbox of every member of a process group; returns to how many';

CREATE FUNCTION @extschema@.groups_data(
	OUT "group" text, OUT node text, OUT pid integer, OUT joined_at timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'kz_groups_data'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE VIEW @extschema@.groups AS
	SELECT * FROM @extschema@.groups_data();
COMMENT ON VIEW @extschema@.groups IS
	'every process-group membership this server knows, here and on other servers';

REVOKE ALL ON FUNCTION
	@extschema@.join(text),
	@extschema@.leave(text),
	@extschema@.members(text),
	@extschema@.publish(text, text),
	@extschema@.groups_data()
	FROM PUBLIC;
REVOKE ALL ON @extschema@.groups FROM PUBLIC;
GRANT SELECT ON @extschema@.groups TO kz_globals_reader;
GRANT EXECUTE ON FUNCTION
	@extschema@.members(text),
	@extschema@.groups_data()
	TO kz_globals_reader;
GRANT EXECUTE ON FUNCTION
	@extschema@.join(text),
	@extschema@.leave(text),
	@extschema@.publish(text, text)
	TO kz_globals_user;
