# Leases across two servers (README, "Leases"): a name held by no session,
# acquired on n1 and seen on n2 (node, no pid, the same token); renewed
# from other sessions; refused to send and call (42809) and to renew on the
# other server (0A000); released with the right token only (55000 for a
# wrong one); a rival's acquire failing at once and, with a timeout, taking
# over when the lease goes; kept when the acquiring backend exits; expired
# on both servers when not renewed; not renewable while n1 is cut from the
# broker (08006), so that it runs out on n1 while n2 expires n1, and n2 may
# then take the name.  A simulated Kazoo node sees a lease as n1's
# registration, cannot take it, and sees it go.
#
# Then the motivation, through PgBouncer in transaction mode (Debian's
# pgbouncer, run as the test user on a free loopback port with round-robin
# server connections, so that consecutive transactions of one client land
# on different backends): a worker loop that renews a lease keeps
# leadership across backends and loses it when it stops renewing, while a
# session-held name (register_name) does not survive the same pattern.
use strict;
use warnings;

use File::Path qw(make_path);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use KzHarness qw(sql wait_nodes_up row_of wait_row);

my $broker = KzHarness::Broker->new;
# n1 reaches the broker through a proxy the test can cut
my $proxy = KzHarness::TcpProxy->new(target_port => $broker->port);
my %gucs = ('kz_globals.heartbeat_interval' => '1s');
my $n1 = KzHarness::node('n1', broker => $proxy, gucs => \%gucs);
my $n2 = KzHarness::node('n2', broker => $broker, gucs => \%gucs);
my $N1 = 'n1@127.0.0.1';

ok(wait_nodes_up($_, 2), $_->name . ' sees two nodes up') for ($n1, $n2);

# The SQLSTATE a statement raises ('none' if it succeeds).
for my $n ($n1, $n2)
{
	sql($n, q{
		CREATE FUNCTION public.sqlstate(stmt text) RETURNS text LANGUAGE plpgsql AS $$
		DECLARE code text;
		BEGIN
			EXECUTE stmt;
			RETURN 'none';
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE;
			RETURN code;
		END $$});
}
sub state_of
{
	my ($n, $stmt) = @_;
	$stmt =~ s/'/''/g;
	return sql($n, "SELECT public.sqlstate('$stmt')");
}

# A row as state, node, pid (NULL shown as -) and token.
my @ROW = (qw(state node), q{coalesce(pid::text, '-')}, 'token');

# --- acquire on n1, seen on n2 ---
my $tok = sql($n1, "SELECT kz_globals.acquire_lease('lease-1', 60000)");
like($tok, qr/^\d+$/, 'n1 acquires lease-1 and gets a token');
is(row_of($n1, 'lease-1', @ROW), "local $N1 - $tok", 'n1: a local row without a pid');
ok(wait_row($n2, 'lease-1', "remote $N1 - $tok", @ROW), 'n2 sees the lease: node n1, no pid, the token');
is(sql($n2, "SELECT node || ' ' || coalesce(pid::text, '-') FROM kz_globals.whereis_name('lease-1')"),
	"$N1 -", 'whereis_name on n2: n1, pid NULL');
is(sql($n2, "SELECT kz_globals.token('lease-1')"), $tok, 'token() on n2 is the lease token');
is(sql($n2, "SELECT kazoo FROM kz_globals.registrations WHERE name = 'lease-1'"), 'f',
	'n2 does not take the lease for a Kazoo owner');
is(state_of($n2, "SELECT kz_globals.send('lease-1', 'm')"), '42809', 'send from n2 to a lease: 42809');
is(state_of($n2, "SELECT kz_globals.call('lease-1', 'm', 500)"), '42809', 'call from n2 to a lease: 42809');

# --- renew: from any session of n1, not from n2 ---
is(sql($n1, "SELECT kz_globals.renew_lease('lease-1', $tok, 60000)"), 't', 'another n1 session renews');
is(state_of($n2, "SELECT kz_globals.renew_lease('lease-1', $tok, 60000)"), '0A000',
	'renew on n2, which does not hold it: 0A000');
is(state_of($n2, "SELECT kz_globals.release_lease('lease-1', $tok)"), '0A000',
	'release on n2: 0A000');
is(sql($n1, "SELECT kz_globals.assert_owner('lease-1', $tok)"), 't', 'assert_owner on n1 with the token');

# --- a rival acquire fails at once; with a timeout it takes over ---
is(sql($n2, "SELECT kz_globals.acquire_lease('lease-1', 60000) IS NULL"), 't',
	'a rival acquire on n2 fails (NULL)');
is(sql($n2, "SELECT kz_globals.register_name('lease-1')"), 'f', 'register_name on n2 fails');
my $rival = $n2->background_psql('postgres', on_error_stop => 0);
$rival->query_until(qr/waiting/,
	"\\echo waiting\nSELECT 'rival:' || coalesce(kz_globals.acquire_lease('lease-1', 60000, 30000)::text, 'null');\n");

# --- release: the wrong token changes nothing, the right one frees it ---
is(state_of($n1, "SELECT kz_globals.release_lease('lease-1', 42)"), '55000', 'release with a wrong token: 55000');
is(row_of($n1, 'lease-1', @ROW), "local $N1 - $tok", 'n1 still holds it');
is(row_of($n2, 'lease-1', @ROW), "remote $N1 - $tok", 'n2 still sees it');
is(sql($n1, "SELECT kz_globals.release_lease('lease-1', $tok)"), 't', 'release with the token');
# the waiting rival on n2 takes over
my $got = '';
ok(KzHarness::wait_until('the rival to take over', 30, sub {
		eval { $rival->{run}->pump_nb; 1 };
		$got = $1 if $rival->{stdout} =~ /rival:(\w+)/;
		return $got ne '';
	}), 'the rival waiting on n2 returns');
like($got, qr/^\d+$/, 'the rival got the lease');
ok($got > $tok, 'with a greater token');
ok(wait_row($n1, 'lease-1', "remote n2\@127.0.0.1 - $got", @ROW), 'n1 sees n2 hold it');
is(sql($n2, "SELECT kz_globals.release_lease('lease-1', $got)"), 't', 'n2 releases it');
ok(wait_row($n1, 'lease-1', 'none'), 'gone on n1');
$rival->quit;

# --- the acquiring backend's exit keeps the lease ---
my $s = $n1->background_psql('postgres');
my $spid = $s->query_safe('SELECT pg_backend_pid()');
my $tok2 = $s->query_safe("SELECT kz_globals.acquire_lease('lease-2', 60000)");
$s->quit;
ok($n1->poll_query_until('postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $spid"),
	'the acquiring backend has exited');
sleep(1.5);		# a worker sweep (1 s) later
is(row_of($n1, 'lease-2', @ROW), "local $N1 - $tok2", 'n1 still holds lease-2');
is(row_of($n2, 'lease-2', @ROW), "remote $N1 - $tok2", 'n2 still sees lease-2');
is(sql($n1, "SELECT kz_globals.release_lease('lease-2', $tok2)"), 't', 'another session releases it');
ok(wait_row($n2, 'lease-2', 'none'), 'gone on n2');

# --- expiry when not renewed, on both servers ---
my $t0 = time();
my $tok3 = sql($n1, "SELECT kz_globals.acquire_lease('lease-3', 1000)");
ok(wait_row($n2, 'lease-3', "remote $N1 - $tok3", @ROW), 'n2 sees lease-3');
ok(wait_row($n1, 'lease-3', 'none'), 'lease-3 expires on n1');
ok(wait_row($n2, 'lease-3', 'none'), 'and on n2');
my $gone = time() - $t0;
diag(sprintf('lease-3 (ttl 1 s) gone on both servers %.2f s after it was acquired', $gone));
ok($gone >= 1.0, 'not before its TTL');
is(state_of($n1, "SELECT kz_globals.renew_lease('lease-3', $tok3, 1000)"), '55000', 'renewing it now: 55000');
is(sql($n1, "SELECT kz_globals.release_lease('lease-3', $tok3)"), 'f', 'releasing it now: false');

# --- cut from the broker, the holder cannot renew; the lease runs out ---
my $tok4 = sql($n1, "SELECT kz_globals.acquire_lease('lease-4', 3000)");
ok(wait_row($n2, 'lease-4', "remote $N1 - $tok4", @ROW), 'n2 sees lease-4');
$proxy->cut('reset');
ok($n1->poll_query_until('postgres', "SELECT broker_state <> 'connected' FROM kz_globals.stats"),
	'n1 has lost the broker');
is(state_of($n1, "SELECT kz_globals.renew_lease('lease-4', $tok4, 3000)"), '08006',
	'renewing while cut from the broker: 08006');
ok(wait_row($n2, 'lease-4', 'none'), 'n2 drops lease-4 with the expired node n1');
ok(wait_row($n1, 'lease-4', 'none'), 'lease-4 runs out on n1');
my $tok5 = sql($n2, "SELECT kz_globals.acquire_lease('lease-4', 60000)");
like($tok5, qr/^\d+$/, 'n2 takes the name during the partition');
ok($tok5 > $tok4, 'with a greater token');
$proxy->heal;
ok(wait_nodes_up($n1, 2), 'n1 is back');
ok(wait_row($n1, 'lease-4', "remote n2\@127.0.0.1 - $tok5", @ROW), 'n1 sees n2 hold lease-4');
is(state_of($n1, "SELECT kz_globals.renew_lease('lease-4', $tok4, 3000)"), '55000',
	'the old token is refused on n1: 55000');
is(sql($n2, "SELECT kz_globals.release_lease('lease-4', $tok5)"), 't', 'n2 releases it');

# --- a Kazoo node sees a lease like any registration of n1 ---
my $KZ = 'kazoo1@sim.local';
my $k = KzHarness::Kazoo->new(broker => $broker, node => $KZ);
ok(wait_nodes_up($n1, 3), 'n1 sees the Kazoo node');
my $tok6 = sql($n1, "SELECT kz_globals.acquire_lease('kzlease', 60000)");
ok(KzHarness::wait_until('the Kazoo node to see kzlease', 30, sub {
		(($k->cmd(lookup => { name => 'kzlease' }) // {})->{node} // '') eq $N1 }),
	'the Kazoo node sees n1 hold kzlease');
is($k->cmd(register => { name => 'kzlease' }), 'no', 'the Kazoo node cannot take it');
is(row_of($n1, 'kzlease', @ROW), "local $N1 - $tok6", 'n1 still holds it');
is(sql($n1, "SELECT kz_globals.release_lease('kzlease', $tok6)"), 't', 'n1 releases it');
ok(KzHarness::wait_until('kzlease to go on the Kazoo node', 30, sub {
		!defined $k->cmd(lookup => { name => 'kzlease' }) }),
	'the Kazoo node sees it go');
is($k->cmd(register => { name => 'kzlease' }), 'yes', 'then the Kazoo node takes it');
ok(wait_row($n1, 'kzlease', "remote $KZ - ", qw(state node), q{coalesce(pid::text, '-')}, q{''}),
	'n1 sees the Kazoo node hold it');
is(sql($n1, "SELECT kz_globals.acquire_lease('kzlease', 60000) IS NULL"), 't',
	'and cannot acquire it');
$k->cmd(unregister => { name => 'kzlease' });

# --- through PgBouncer in transaction mode ---
my $pgbouncer = (grep { -x $_ } map { "$_/pgbouncer" } split(/:/, $ENV{PATH} // ''),
	'/usr/sbin', '/usr/bin')[0];
my $bouncer;

# Starts PgBouncer in front of n1; returns its port.
sub start_pgbouncer
{
	my $dir = PostgreSQL::Test::Utils::tempdir('pgbouncer');
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	my $user = sql($n1, 'SELECT current_user');
	my ($host, $pgport) = ($n1->host, $n1->port);
	PostgreSQL::Test::Utils::append_to_file("$dir/users.txt", qq{"$user" ""\n});
	PostgreSQL::Test::Utils::append_to_file("$dir/pgbouncer.ini", <<"EOF");
[databases]
postgres = host=$host port=$pgport dbname=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/users.txt
pool_mode = transaction
default_pool_size = 3
min_pool_size = 3
server_round_robin = 1
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
EOF
	$bouncer = IPC::Run::start([ $pgbouncer, "$dir/pgbouncer.ini" ],
		'<', \undef, '>', "$dir/stdout.log", '2>', "$dir/stderr.log");
	return $port;
}

END
{
	# stopped also when the test fails or dies
	if ($bouncer)
	{
		eval { $bouncer->signal('TERM'); $bouncer->finish; 1 }
		  or eval { $bouncer->kill_kill; 1 };
	}
}

SKIP:
{
	skip 'pgbouncer is not installed (test/harness/packages.txt lists it)', 12
	  unless $pgbouncer;

	my $bport = start_pgbouncer();
	my $user = sql($n1, 'SELECT current_user');
	my $connstr = "host=127.0.0.1 port=$bport dbname=postgres user=$user";
	ok(KzHarness::wait_until('pgbouncer to accept', 30, sub {
			my ($rc) = IPC::Run::run([ 'psql', '-XAtq', '-d', $connstr, '-c', 'SELECT 1' ],
				'>', \my $out, '2>', \my $err);
			return $rc && $out =~ /^1$/;
		}), 'pgbouncer accepts connections');

	# three transactions at once: three server connections in the pool
	my @hold = map { $n1->background_psql('postgres', extra_params => [ '-d', $connstr ]) } 1 .. 3;
	$_->query_safe('BEGIN; SELECT 1') for @hold;
	$_->query_safe('COMMIT') for @hold;
	$_->quit for @hold;

	# one client: each statement is a transaction on some backend of the pool
	# (a later -d overrides the node's own connection string)
	my $client = $n1->background_psql('postgres', extra_params => [ '-d', $connstr ],
		on_error_stop => 0);
	my $lead = $client->query_safe("SELECT kz_globals.acquire_lease('leader', 1500)");
	like($lead, qr/^\d+$/, 'the worker loop acquires "leader" through pgbouncer');
	my (%backends, $renewed, $seen);
	for my $i (1 .. 15)
	{
		my $r = $client->query_safe(
			"SELECT public.sqlstate('SELECT kz_globals.renew_lease(''leader'', $lead, 1500)') "
			  . "|| ':' || pg_backend_pid()");
		my ($code, $pid) = split /:/, $r;
		$backends{$pid} = 1;
		$renewed++ if $code eq 'none';
		$seen++ if row_of($n2, 'leader', @ROW) eq "remote $N1 - $lead";
		sleep(0.3);
	}
	diag('the loop ran on backends ' . join(', ', sort keys %backends));
	cmp_ok(scalar(keys %backends), '>=', 2, 'its transactions ran on several backends');
	is($renewed, 15, 'every renewal succeeded, whichever backend ran it');
	is($seen, 15, 'n2 saw n1 hold "leader" with the same token throughout');
	is($client->query_safe("SELECT kz_globals.assert_owner('leader', $lead)"), 't',
		'assert_owner holds through the pooler');

	# the loop stops renewing: leadership is lost on both servers
	my $stop = time();
	ok(wait_row($n1, 'leader', 'none'), 'not renewed, "leader" expires on n1');
	ok(wait_row($n2, 'leader', 'none'), 'and on n2');
	diag(sprintf('"leader" (ttl 1.5 s) gone on both %.2f s after the last renewal', time() - $stop));
	is($client->query_safe(
			"SELECT public.sqlstate('SELECT kz_globals.renew_lease(''leader'', $lead, 1500)')"),
		'55000', 'a late renewal fails: 55000');

	# the same pattern with a session-held name: the name belongs to
	# whichever backend ran register_name, not to the client
	is($client->query_safe("SELECT kz_globals.register_name('leader-session')"), 't',
		'register_name through pgbouncer');
	my $stok = $client->query_safe("SELECT kz_globals.token('leader-session')");
	my ($ok, $refused) = (0, 0);
	for my $i (1 .. 6)
	{
		my $code = $client->query_safe(
			"SELECT public.sqlstate('SELECT kz_globals.assert_owner(''leader-session'', $stok)')");
		$code eq 'none' ? $ok++ : $code eq '55000' ? $refused++ : 0;
	}
	diag("assert_owner on the session-held name: $ok held, $refused refused (55000)");
	cmp_ok($refused, '>=', 1, 'a session-held name is not owned by the next transactions of the same client');
	$client->quit;
	is(sql($n1, "SELECT kz_globals.unregister_name('leader-session')"), 't', 'cleaned up');

	$bouncer->signal('TERM');
	$bouncer->finish;
	undef $bouncer;
}

done_testing();
