-- Process groups on one server: join, leave, members, publish, the groups
-- view, every error and the privileges.

SELECT kz_globals.join('room');
SELECT kz_globals.join('room');          -- already a member: false
SELECT kz_globals.join('lobby');
SELECT node = current_setting('kz_globals.node_name') AS node_ok,
       pid = pg_backend_pid() AS pid_ok, joined_at <= now() + interval '1 min' AS at_ok
  FROM kz_globals.members('room');
SELECT count(*) FROM kz_globals.members('nobody');
SELECT "group", pid = pg_backend_pid() AS pid_ok FROM kz_globals.groups ORDER BY 1;

-- publish: one delivery into our own mailbox, kind group, the group named
SELECT kz_globals.publish('room', 'hello room');
SELECT name, kind, message, sender_node = current_setting('kz_globals.node_name') AS node_ok,
       sender_pid = pg_backend_pid() AS pid_ok, reply_tag, sender_role = current_user AS role_ok,
       sender_database = current_database() AS db_ok
  FROM kz_globals.receive(0);
SELECT kz_globals.publish('nobody', 'lost');   -- no member: 0
SELECT kz_globals.publish('room', '');
SELECT message = '' AS empty_ok, kind FROM kz_globals.receive(0);
SELECT count(*) FROM kz_globals.receive(0);

-- a full mailbox (kz_globals.mailbox_size = 4) takes no more: not counted
SELECT kz_globals.publish('room', 'm' || i) FROM generate_series(1, 5) i;
SELECT message FROM kz_globals.receive(0);
SELECT message FROM kz_globals.receive(0);
SELECT message FROM kz_globals.receive(0);
SELECT message FROM kz_globals.receive(0);
SELECT count(*) FROM kz_globals.receive(0);

-- group names: any text of 1 to 255 bytes
SELECT kz_globals.join(repeat('é', 127));
SELECT kz_globals.publish(repeat('é', 127), 'long');
SELECT length(name), kind, message FROM kz_globals.receive(0);
SELECT kz_globals.leave(repeat('é', 127));

-- leave
SELECT kz_globals.leave('lobby');
SELECT kz_globals.leave('lobby');        -- not a member: false
SELECT kz_globals.leave('never');
SELECT "group" FROM kz_globals.groups ORDER BY 1;

-- bad input: 22023 (or 54000 for a message over max_message_size), and
-- nothing changed
SELECT * FROM err($$SELECT kz_globals.join(NULL)$$);
SELECT * FROM err($$SELECT kz_globals.join('')$$);
SELECT * FROM err($$SELECT kz_globals.join(repeat('x', 256))$$);
SELECT * FROM err($$SELECT kz_globals.leave(NULL)$$);
SELECT * FROM err($$SELECT kz_globals.leave('')$$);
SELECT * FROM err($$SELECT kz_globals.leave(repeat('x', 256))$$);
SELECT * FROM err($$SELECT * FROM kz_globals.members(NULL)$$);
SELECT * FROM err($$SELECT * FROM kz_globals.members('')$$);
SELECT * FROM err($$SELECT * FROM kz_globals.members(repeat('x', 256))$$);
SELECT * FROM err($$SELECT kz_globals.publish(NULL, 'x')$$);
SELECT * FROM err($$SELECT kz_globals.publish('', 'x')$$);
SELECT * FROM err($$SELECT kz_globals.publish(repeat('x', 256), 'x')$$);
SELECT * FROM err($$SELECT kz_globals.publish('room', NULL)$$);
SELECT * FROM err($$SELECT kz_globals.publish('room', repeat('x', 1025))$$);
SELECT count(*) FROM kz_globals.receive(0);
SELECT "group" FROM kz_globals.groups ORDER BY 1;

-- the table is full (kz_globals.max_group_members = 16): 53200, nothing joined
SELECT count(kz_globals.join('g' || i)) FROM generate_series(1, 15) i;
SELECT count(*) FROM kz_globals.groups;
SELECT * FROM err($$SELECT kz_globals.join('one-too-many')$$);
SELECT count(*) FROM kz_globals.groups;
SELECT kz_globals.join('room');          -- already in: no new row needed
SELECT count(kz_globals.leave('g' || i)) FROM generate_series(1, 15) i;
SELECT kz_globals.join('one-too-many');
SELECT kz_globals.leave('one-too-many');

-- privileges: join, leave and publish need kz_globals_user; members and
-- the view kz_globals_reader; nothing for others, even with a wider GRANT
CREATE ROLE kz_grp_user LOGIN IN ROLE kz_globals_user;
CREATE ROLE kz_grp_reader LOGIN IN ROLE kz_globals_reader;
CREATE ROLE kz_grp_none LOGIN;
SET ROLE kz_grp_reader;
SELECT count(*) FROM kz_globals.members('room');
SELECT "group", pid IS NULL AS pid_hidden FROM kz_globals.groups;
SELECT * FROM err($$SELECT kz_globals.join('r')$$);
SELECT * FROM err($$SELECT kz_globals.leave('room')$$);
SELECT * FROM err($$SELECT kz_globals.publish('room', 'x')$$);
RESET ROLE;
SET ROLE kz_grp_user;
SELECT kz_globals.join('users');
SELECT kz_globals.publish('room', 'from a user');
SELECT kz_globals.leave('users');
RESET ROLE;
SELECT name, kind, message, sender_role FROM kz_globals.receive(0);
GRANT USAGE ON SCHEMA kz_globals TO kz_grp_none;
GRANT EXECUTE ON FUNCTION kz_globals.join(text), kz_globals.members(text),
  kz_globals.groups_data() TO kz_grp_none;
SET ROLE kz_grp_none;
SELECT * FROM err($$SELECT kz_globals.join('r')$$);
SELECT * FROM err($$SELECT * FROM kz_globals.members('room')$$);
SELECT * FROM err($$SELECT * FROM kz_globals.groups_data()$$);
RESET ROLE;
REVOKE ALL ON SCHEMA kz_globals FROM kz_grp_none;
REVOKE ALL ON FUNCTION kz_globals.join(text), kz_globals.members(text),
  kz_globals.groups_data() FROM kz_grp_none;
DROP ROLE kz_grp_user, kz_grp_reader, kz_grp_none;

-- the last leave empties the table
SELECT kz_globals.leave('room');
SELECT count(*) FROM kz_globals.groups;
