SELECT kz_globals.call('echo', 'ping', 5000);
