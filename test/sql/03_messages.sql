-- send, receive, call and reply within one server.

SELECT kz_globals.register_name('inbox');

-- send returns the owner; receive returns the oldest message first
SELECT (kz_globals.send('inbox', 'first')).pid = pg_backend_pid() AS sent_to_me;
SELECT (kz_globals.send('inbox', 'second')).node = current_setting('kz_globals.node_name') AS same_node;
SELECT name, kind, message, sender_node = current_setting('kz_globals.node_name') AS node_ok,
       sender_pid = pg_backend_pid() AS pid_ok, reply_tag, sent_at <= now() + interval '1 min' AS sent_ok
  FROM kz_globals.receive(0);
SELECT name, kind, message FROM kz_globals.receive(0);
-- empty mailbox: no row after the timeout
SELECT count(*) FROM kz_globals.receive(0);
SELECT count(*) FROM kz_globals.receive(20);

-- text is kept exactly, including the empty string and multibyte text
SELECT kz_globals.send('inbox', '') IS NOT NULL AS sent;
SELECT kz_globals.send('inbox', 'ünïcødé ✓ 日本') IS NOT NULL AS sent;
SELECT message = '' AS empty_ok FROM kz_globals.receive(0);
SELECT message FROM kz_globals.receive(0);

-- a full mailbox (kz_globals.mailbox_size = 4 here) refuses, queuing nothing
SELECT count(kz_globals.send('inbox', 'm' || g)) FROM generate_series(1, 4) g;
SELECT * FROM err($$SELECT kz_globals.send('inbox', 'one too many')$$);
SELECT string_agg(message, ',') FROM (SELECT (kz_globals.receive(0)).message FROM generate_series(1, 5)) s;

-- a call nobody answers times out with 57014, naming the name and timeout;
-- the request stays in the owner's mailbox, and a late reply returns false
SELECT * FROM err($$SELECT kz_globals.call('inbox', 'are you there?', 50)$$);
CREATE TEMP TABLE late AS SELECT * FROM kz_globals.receive(0);
SELECT name, kind, message, reply_tag ~ '^l:[0-9]+:[0-9]+:[0-9]+$' AS tag_ok FROM late;
SELECT kz_globals.reply(reply_tag, 'too late') FROM late;

-- receive() says which role and database sent a message from this server
SELECT kz_globals.send('inbox', 'who am I') IS NOT NULL AS sent;
SELECT message, sender_role = current_user AS role_ok,
       sender_database = current_database() AS db_ok
  FROM kz_globals.receive(0);

-- counters
SELECT messages_sent >= 8 AS sent, messages_received >= 9 AS received, calls >= 1 AS calls
  FROM kz_globals.stats;

-- a message already queued stays readable after the name is released
SELECT kz_globals.send('inbox', 'still here') IS NOT NULL AS sent;
SELECT kz_globals.unregister_name('inbox');
SELECT name, message FROM kz_globals.receive(0);
