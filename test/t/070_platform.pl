# What differs between the platforms we support, checked on the one this
# runs on:
#
# - the waits of backends and of the worker show in pg_stat_activity as
#   named wait events from PostgreSQL 17 on (WaitEventExtensionNew), as the
#   one event "Extension" before;
# - the broker's log stays free of complaints: no deprecated feature used
#   by our topology or by a Kazoo-style node (RabbitMQ 4 warns about
#   transient non-exclusive queues, global QoS, classic mirroring), and
#   every server that stops leaves the broker with connection.close (no
#   "client unexpectedly closed TCP connection").
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use KzHarness qw(sql wait_nodes_up worker_pid);

my $broker = KzHarness::Broker->new;
my %gucs = (
	'kz_globals.heartbeat_interval' => '500ms',
	'kz_globals.request_timeout' => '4s');
my $n1 = KzHarness::node('n1', broker => $broker, gucs => \%gucs);
my $n2 = KzHarness::node('n2', broker => $broker, gucs => \%gucs);
my $k = KzHarness::Kazoo->new(broker => $broker, node => 'kazoo1@sim.local',
	args => [ '--heartbeat-ms', 500 ]);

for my $node ($n1, $n2)
{
	ok(wait_nodes_up($node, 3),
		$node->name . ' sees both servers and the Kazoo node up');
}

my $version = sql($n1, 'SHOW server_version_num');
my $named = $version >= 170000;
note($named
	? "PostgreSQL $version: named wait events"
	: "PostgreSQL $version: no named wait events before 17, every wait is \"Extension\"");

# expect_wait NODE PID EVENT WHAT: the process waits as EVENT (17+) or as
# the one extension event (15, 16).
sub expect_wait
{
	my ($node, $pid, $event, $what) = @_;
	my $want = 'Extension/' . ($named ? $event : 'Extension');
	ok( $node->poll_query_until(
			'postgres',
			"SELECT wait_event_type || '/' || wait_event FROM pg_stat_activity WHERE pid = $pid",
			$want),
		"$what waits as $want");
}

# ---------------------------------------------------------------- waits

my $worker = worker_pid($n1);
like($worker, qr/^\d+$/, 'the worker is in pg_stat_activity');
expect_wait($n1, $worker, 'KzGlobalsWorkerMain', 'the worker between rounds');

# receive(): an owner with an empty mailbox
my $owner = $n1->background_psql('postgres');
my $owner_pid = $owner->query_safe('SELECT pg_backend_pid()');
is($owner->query_safe("SELECT kz_globals.register_name('waits')"), 't', 'n1 registers "waits"');
$owner->query_until(qr/receiving/, "\\echo receiving\nSELECT 'got:' || message FROM kz_globals.receive(60000);\n");
expect_wait($n1, $owner_pid, 'KzGlobalsReceive', 'receive()');
sql($n2, "SELECT kz_globals.send('waits', 'wake up')");
like($owner->query_safe('SELECT 1'), qr/got:wake up/, 'the message ends the wait');

# call(): from n2 to the owner on n1, which does not answer yet
my $caller = $n2->background_psql('postgres');
my $caller_pid = $caller->query_safe('SELECT pg_backend_pid()');
$caller->query_until(qr/calling/, "\\echo calling\nSELECT 'answer:' || kz_globals.call('waits', 'ping', 60000);\n");
expect_wait($n2, $caller_pid, 'KzGlobalsCall', 'call()');
my $tag = $owner->query_safe(
	"SELECT reply_tag FROM kz_globals.receive(10000) WHERE kind = 'call'");
$owner->query_safe("SELECT kz_globals.reply('$tag', 'pong')");
like($caller->query_safe('SELECT 1'), qr/answer:pong/, 'the reply ends the wait');

# register_name_wait(): a standby on n2 for the name n1 holds
$caller->query_until(qr/standing by/,
	"\\echo standing by\nSELECT 'standby:' || kz_globals.register_name_wait('waits', 60000);\n");
expect_wait($n2, $caller_pid, 'KzGlobalsRegisterWait', 'register_name_wait()');
is($owner->query_safe("SELECT kz_globals.unregister_name('waits')"), 't', 'n1 lets the name go');
like($caller->query_safe('SELECT 1'), qr/standby:t/, 'the standby on n2 takes it');

# a claim waits for the verdict of the worker, which waits for every peer:
# a deaf Kazoo node keeps it waiting (until request_timeout)
$k->cmd(deafen => { deaf => JSON::PP::true });
$owner->query_until(qr/claiming/, "\\echo claiming\nSELECT 'claim:' || kz_globals.register_name('slow-claim');\n");
expect_wait($n1, $owner_pid, 'KzGlobalsClaim', 'a claim');
$k->cmd(deafen => { deaf => JSON::PP::false });
like($owner->query_safe('SELECT 1'), qr/claim:[tf]/, 'the claim ends');

SKIP:
{
	skip "pg_wait_events lists extension events from PostgreSQL 17 on (this is $version)", 1
	  unless $named;
	is( sql($n1,
			"SELECT count(*) FROM pg_wait_events WHERE type = 'Extension' "
			  . "AND name IN ('KzGlobalsWorkerMain', 'KzGlobalsReceive', 'KzGlobalsClaim')"),
		'3', 'pg_wait_events lists the events seen on n1');
}

# ---------------------------------------------------------------- atoms

# Kazoo nodes on OTP 25 write atoms as ATOM_EXT (tag 100), on OTP 26 and
# later as SMALL_ATOM_UTF8_EXT (119): a second simulated node writes them
# the OTP 25 way.  Both kinds of names and messages are read and shown in
# Erlang syntax.
my $k25 = KzHarness::Kazoo->new(broker => $broker, node => 'kazoo25@sim.local',
	args => [ '--heartbeat-ms', 500, '--otp25-atoms' ]);
ok(wait_nodes_up($n1, 4),
	'n1 sees the OTP 25-style Kazoo node up');
is($k25->cmd(register => { name => { atom => 'otp25_name' } }), 'yes',
	'the OTP 25-style node registers an atom');
is($k->cmd(register => { name => { atom => 'otp26_name' } }), 'yes',
	'the OTP 26-style node registers an atom');
ok( $n1->poll_query_until(
		'postgres',
		"SELECT string_agg(name || ' ' || node, ', ' ORDER BY name) FROM kz_globals.registrations "
		  . "WHERE name IN ('otp25_name', 'otp26_name')",
		'otp25_name kazoo25@sim.local, otp26_name kazoo1@sim.local'),
	'n1 shows both atom names in Erlang syntax');
is($owner->query_safe("SELECT kz_globals.register_name('atoms-inbox')"), 't',
	'n1 registers a name for the messages');
ok($k25->cmd(send => { name => 'atoms-inbox', lookup => JSON::PP::true,
			message => { tuple => [ { atom => 'hello' }, { atom => 'Big World' }, 25 ] } }),
	'the OTP 25-style node sends a tuple of atoms');
ok($k->cmd(send => { name => 'atoms-inbox', lookup => JSON::PP::true,
			message => { tuple => [ { atom => 'hello' }, { atom => 'Big World' }, 26 ] } }),
	'so does the OTP 26-style node');
my @got = sort map { $owner->query_safe("SELECT message FROM kz_globals.receive(10000)") } 1 .. 2;
is_deeply(\@got, [ "{hello,'Big World',25}", "{hello,'Big World',26}" ],
	'both messages read as the same Erlang terms');
$k25->quit;

$owner->quit;
$caller->quit;

# ---------------------------------------------------------------- broker log

# A clean stop of every client: the servers (their workers close their
# connections on the way out) and the Kazoo node.
$n1->stop('fast');
$n2->stop('fast');
$k->quit;
my $log_file = $broker->log_file;
my @lines;
ok( KzHarness::wait_until(
		'the broker logs the closing of all four connections', 20,
		sub {
			@lines = split /\n/, slurp_file($log_file);
			return (grep { /closing AMQP connection/ } @lines) >= 4;
		}),
	'the broker logs the closing of every connection');
my @abrupt = grep { /unexpectedly closed|missed heartbeats|connection_closed_abruptly/ } @lines;
is(scalar(@abrupt), 0, 'no connection was dropped without connection.close')
  or diag(join("\n", @abrupt));
my @deprecated = grep { /deprecat/i } @lines;
is(scalar(@deprecated), 0, 'no deprecated feature is used (our topology or the Kazoo node\'s)')
  or diag(join("\n", @deprecated));

done_testing();
