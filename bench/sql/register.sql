SELECT kz_globals.register_name('bench-' || :client_id);
SELECT kz_globals.unregister_name('bench-' || :client_id);
