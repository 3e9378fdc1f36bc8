-- Every bad input is an error with its SQLSTATE, and changes nothing.
SELECT kz_globals.register_name('keep');

-- names: NULL, empty, too long (22023)
SELECT * FROM err($$SELECT kz_globals.register_name(NULL)$$);
SELECT * FROM err($$SELECT kz_globals.register_name('')$$);
SELECT * FROM err($$SELECT kz_globals.register_name(repeat('x', 256))$$);
SELECT * FROM err($$SELECT kz_globals.register_name(repeat('é', 128))$$);
SELECT * FROM err($$SELECT kz_globals.register_name(NULL, pg_backend_pid())$$);
SELECT * FROM err($$SELECT kz_globals.unregister_name(NULL)$$);
SELECT * FROM err($$SELECT kz_globals.unregister_name('')$$);
SELECT * FROM err($$SELECT kz_globals.whereis_name(NULL)$$);
SELECT * FROM err($$SELECT kz_globals.whereis_name(repeat('x', 300))$$);
SELECT * FROM err($$SELECT kz_globals.send(NULL, 'm')$$);
SELECT * FROM err($$SELECT kz_globals.call('', 'm')$$);
SELECT * FROM err($$SELECT kz_globals.token(NULL)$$);
SELECT * FROM err($$SELECT kz_globals.assert_owner(NULL, 1)$$);
SELECT * FROM err($$SELECT kz_globals.register_name_wait('', 10)$$);

-- pids: NULL, not a backend (22023)
SELECT * FROM err($$SELECT kz_globals.register_name('p', NULL::integer)$$);
SELECT * FROM err($$SELECT kz_globals.register_name('p', 0)$$);
SELECT * FROM err($$SELECT kz_globals.register_name('p', -5)$$);
SELECT * FROM err($$SELECT kz_globals.register_name('p', 2147483647)$$);

-- timeouts: negative (22023)
SELECT * FROM err($$SELECT * FROM kz_globals.receive(-1)$$);
SELECT * FROM err($$SELECT kz_globals.call('keep', 'x', -1)$$);
SELECT * FROM err($$SELECT kz_globals.register_name_wait('w', -10)$$);

-- messages: NULL (22023) and too large (54000; the test limit is 1024 bytes)
SELECT * FROM err($$SELECT kz_globals.send('keep', NULL)$$);
SELECT * FROM err($$SELECT kz_globals.send('keep', repeat('m', 1025))$$);
SELECT * FROM err($$SELECT kz_globals.call('keep', NULL)$$);
SELECT * FROM err($$SELECT kz_globals.call('keep', repeat('m', 1025), 10)$$);
SELECT * FROM err($$SELECT kz_globals.reply('l:1:1:1', NULL)$$);
SELECT * FROM err($$SELECT kz_globals.reply('l:1:1:1', repeat('m', 1025))$$);

-- unknown names (42704)
SELECT * FROM err($$SELECT kz_globals.send('nobody', 'm')$$);
SELECT * FROM err($$SELECT kz_globals.call('nobody', 'm', 10)$$);

-- reply tags: NULL and malformed (22023)
SELECT * FROM err($$SELECT kz_globals.reply(NULL, 'r')$$);
SELECT * FROM err($$SELECT kz_globals.reply('', 'r')$$);
SELECT * FROM err($$SELECT kz_globals.reply('garbage', 'r')$$);
SELECT * FROM err($$SELECT kz_globals.reply('l:x:1:1', 'r')$$);
SELECT * FROM err($$SELECT kz_globals.reply('l:1:1:1:extra', 'r')$$);
SELECT * FROM err($$SELECT kz_globals.reply('l:999999:1:1', 'r')$$);
SELECT * FROM err($$SELECT kz_globals.reply('r:notanumber:x', 'r')$$);

-- fencing: a wrong or NULL token (55000, 22023)
SELECT * FROM err($$SELECT kz_globals.assert_owner('keep', 42)$$);
SELECT * FROM err($$SELECT kz_globals.assert_owner('nobody', 42)$$);
SELECT * FROM err($$SELECT kz_globals.assert_owner('keep', NULL)$$);

-- nothing changed: 'keep' is still ours, nothing else appeared
SELECT kz_globals.registered();
SELECT name, state FROM kz_globals.registrations;
SELECT messages_sent, messages_received, calls FROM kz_globals.stats;
-- a well-formed tag of a call this session did not receive is refused
-- (42501): a reply tag is bound to the session that took the call
SELECT * FROM err($$SELECT kz_globals.reply('l:1:1:1', 'r')$$);
SELECT * FROM err($$SELECT kz_globals.reply('r:1:x:y', 'r')$$);
SELECT kz_globals.unregister_name('keep');

