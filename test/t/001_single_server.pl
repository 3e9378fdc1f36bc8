# Single-server behaviour that needs more than one session or a server
# restart: the library not preloaded, ownership following the backend
# (exit, pg_terminate_backend, FATAL, register_name by pid), crash-restart,
# the worker being killed, two sessions racing for the same names, and
# standbys taking over.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# --- not preloaded: CREATE EXTENSION works, every function says why not ---
my $plain = PostgreSQL::Test::Cluster->new('plain');
$plain->init;
$plain->start;
$plain->safe_psql('postgres', 'CREATE EXTENSION kz_globals');
my ($ret, $out, $err) =
  $plain->psql('postgres', "SELECT kz_globals.register_name('x')");
isnt($ret, 0, 'functions fail when the library is not preloaded');
like($err, qr/must be loaded via shared_preload_libraries/, '... saying why');
like($err, qr/HINT:\s+Add kz_globals to shared_preload_libraries/, '... with a hint');
($ret, $out, $err) = $plain->psql('postgres', 'SELECT * FROM kz_globals.stats');
like($err, qr/shared_preload_libraries/, 'views fail the same way');
$plain->stop;

# --- a preloaded single server ---
my $node = PostgreSQL::Test::Cluster->new('single');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'kz_globals'
kz_globals.node_name = 'single\@localhost'
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION kz_globals');

sub sql { return $node->safe_psql('postgres', $_[0]); }

sub owner_pid { return sql("SELECT (kz_globals.whereis_name('$_[0]')).pid"); }

sub worker_pid
{
	return sql("SELECT pid FROM pg_stat_activity WHERE backend_type = 'kz_globals worker'");
}

ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'kz_globals worker'"),
	'the worker runs and shows in pg_stat_activity');

# normal exit releases every name of the backend at once
my $s = $node->background_psql('postgres');
my $pid = $s->query_safe('SELECT pg_backend_pid()');
$s->query_safe("SELECT kz_globals.register_name('exit-1'), kz_globals.register_name('exit-2')");
is(owner_pid('exit-1'), $pid, 'a session owns its name');
$s->quit;
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM kz_globals.registrations WHERE pid = $pid"),
	'names are released when the owner exits');
is(sql("SELECT kz_globals.register_name('exit-1')"), 't', 'a released name can be taken again');
sql("SELECT kz_globals.unregister_name('exit-1')");

# pg_terminate_backend: the name is free as soon as the backend is gone
$s = $node->background_psql('postgres');
$pid = $s->query_safe('SELECT pg_backend_pid()');
$s->query_safe("SELECT kz_globals.register_name('terminated')");
sql("SELECT pg_terminate_backend($pid, 5000)");
is(sql("SELECT kz_globals.whereis_name('terminated') IS NULL"), 't',
	'a terminated owner is never returned');
is(sql("SELECT count(*) FROM kz_globals.registrations WHERE name = 'terminated'"), '0',
	'... and its row is gone');
$s->quit;

# FATAL (here: idle_session_timeout) releases the names too
$s = $node->background_psql('postgres');
$pid = $s->query_safe('SELECT pg_backend_pid()');
$s->query_safe("SELECT kz_globals.register_name('fatal')");
$s->query_safe("SET idle_session_timeout = '100ms'");
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $pid"),
	'the idle session is terminated by FATAL');
is(sql("SELECT count(*) FROM kz_globals.registrations WHERE name = 'fatal'"), '0',
	'names are released on FATAL');
eval { $s->quit };

# register_name(name, pid) for a backend that never calls kz_globals itself
$s = $node->background_psql('postgres');
$pid = $s->query_safe('SELECT pg_backend_pid()');
is(sql("SELECT kz_globals.register_name('by-pid', $pid)"), 't', 'register another backend by pid');
is(owner_pid('by-pid'), $pid, '... which then owns the name');
$s->quit;
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM kz_globals.registrations WHERE name = 'by-pid'"),
	'its names are released when it exits');

# a process that never armed the exit callback (the autovacuum launcher):
# once it exits it is never returned as an owner (the cluster test checks
# that the worker's sweep also tells the peers)
my $launcher = sql("SELECT pid FROM pg_stat_activity WHERE backend_type = 'autovacuum launcher'");
is(sql("SELECT kz_globals.register_name('swept', $launcher)"), 't',
	'a superuser registers a name for the autovacuum launcher');
sql("SELECT pg_terminate_backend($launcher)");
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM kz_globals.registrations WHERE name = 'swept'"),
	'an owner that exited without the callback is not shown');

# a role that may not signal a backend may not register or unregister for it
sql("CREATE ROLE kz_mallory LOGIN IN ROLE kz_globals_user");
$s = $node->background_psql('postgres');
$pid = $s->query_safe('SELECT pg_backend_pid()');
$s->query_safe("SELECT kz_globals.register_name('guarded')");
($ret, $out, $err) = $node->psql('postgres',
	"SET ROLE kz_mallory; SELECT kz_globals.unregister_name('guarded')");
like($err, qr/permission denied to unregister name "guarded"/, 'another role may not unregister');
($ret, $out, $err) = $node->psql('postgres',
	"SET ROLE kz_mallory; SELECT kz_globals.register_name('x', $pid)");
like($err, qr/permission denied to register a name for PID/, 'nor register for the backend');
is(owner_pid('guarded'), $pid, 'the name is untouched');
is(sql("SELECT kz_globals.unregister_name('guarded')"), 't', 'a superuser may unregister it');
$s->quit;

# mailboxes follow the backend: a new backend in the same slot starts empty
$s = $node->background_psql('postgres');
$s->query_safe("SELECT kz_globals.register_name('mbox')");
sql("SELECT kz_globals.send('mbox', 'for the old session')");
$s->quit;
$s = $node->background_psql('postgres');
is($s->query_safe('SELECT count(*) FROM kz_globals.receive(0)'), '0',
	'a new session does not see an old mailbox');
$s->quit;

# the worker, when killed, is restarted and nothing registered is lost
$s = $node->background_psql('postgres');
$pid = $s->query_safe('SELECT pg_backend_pid()');
$s->query_safe("SELECT kz_globals.register_name('survivor')");
my $wpid = worker_pid();
sql("SELECT pg_terminate_backend($wpid)");
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'kz_globals worker' AND pid <> $wpid"),
	'the worker is restarted after pg_terminate_backend');
is(owner_pid('survivor'), $pid, 'registrations survive a worker restart');

# crash-restart: kill -9 a backend; the table starts empty with a new incarnation
my $started = sql("SELECT started_at FROM kz_globals.nodes WHERE is_self");
my $victim = $node->background_psql('postgres');
my $vpid = $victim->query_safe('SELECT pg_backend_pid()');
kill 'KILL', $vpid;
eval { $victim->quit };
eval { $s->quit };
# (the new start time, not just a worker: the old one may still be there
# for a moment before the postmaster notices the crash)
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'kz_globals worker' "
		  . "AND (SELECT started_at FROM kz_globals.nodes WHERE is_self) <> '$started'"),
	'the server comes back after a crash-restart');
is(sql('SELECT count(*) FROM kz_globals.registrations'), '0', 'the table starts empty after it');
isnt(sql("SELECT started_at FROM kz_globals.nodes WHERE is_self"), $started,
	'and the node has a new start time');

# two sessions racing for the same names: exactly one winner per name.  Both
# wake for round i at the same instant (t0 + i * 20 ms) and claim 'race-i'.
sql("CREATE TABLE race (round int, pid int, won bool)");
my $t0 = sql("SELECT clock_timestamp() + interval '2 s'");
my $race_sql = qq{
	DO \$\$
	BEGIN
		FOR i IN 1..300 LOOP
			PERFORM pg_sleep_until('$t0'::timestamptz + i * interval '20 ms');
			INSERT INTO race SELECT i, pg_backend_pid(), kz_globals.register_name('race-' || i);
		END LOOP;
	END \$\$};
my @racers = map { $node->background_psql('postgres') } 1 .. 2;
$_->query_until(qr/racing/, "\\echo racing\n$race_sql;\n") for @racers;
$_->query_safe('SELECT 1') for @racers;    # returns once the race is over
is(sql("SELECT count(*) FROM (SELECT round FROM race GROUP BY round HAVING count(*) FILTER (WHERE won) <> 1) bad"),
	'0', 'every raced name has exactly one winner');
is(sql("SELECT count(DISTINCT round) FROM race"), '300', 'all 300 rounds ran');
is(sql("SELECT count(*) FROM race r WHERE won AND (kz_globals.whereis_name('race-' || round)).pid <> r.pid"),
	'0', 'and whereis_name agrees with every winner');
my $split = sql("SELECT string_agg(c::text, ',' ORDER BY c) FROM (SELECT count(*) FILTER (WHERE won) c FROM race GROUP BY pid) s");
note("wins per racer: $split");
like($split, qr/^[1-9][0-9]*,[1-9][0-9]*$/, 'both racers won some rounds (the race was real)');
$_->quit for @racers;

# standbys: when the owner exits exactly one standby takes over, in turn
my $owner = $node->background_psql('postgres');
$owner->query_safe("SELECT kz_globals.register_name('singleton')");
my @standbys = map { $node->background_psql('postgres') } 1 .. 3;
$_->query_until(qr/standing by/,
	"\\echo standing by\nSELECT 'took-over:' || kz_globals.register_name_wait('singleton', 60000);\n")
  for @standbys;
sleep 1;
is(sql("SELECT count(*) FROM kz_globals.registrations WHERE name = 'singleton'"), '1',
	'standbys wait while the owner lives');
my $holder = $owner;
for my $turn (1 .. 3)
{
	$holder->quit;
	ok($node->poll_query_until('postgres',
			"SELECT kz_globals.whereis_name('singleton') IS NOT NULL"),
		"turn $turn: a standby took over");
	sleep 0.2;
	$_->{run}->pump_nb for @standbys;
	my @won = grep { $_->{stdout} =~ /took-over:true/ } @standbys;
	is(scalar(@won), 1, "turn $turn: exactly one standby took over");
	last unless @won == 1;
	$holder = $won[0];
	$holder->{stdout} = '';
	is(owner_pid('singleton'), $holder->query_safe('SELECT pg_backend_pid()'),
		"turn $turn: the new owner is that standby");
	@standbys = grep { $_ != $holder } @standbys;
}
$holder->quit;
$_->quit for @standbys;

$node->stop;
done_testing();
