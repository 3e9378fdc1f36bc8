SELECT kz_globals.whereis_name('bench-hit');
