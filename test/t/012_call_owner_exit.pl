# A call whose owner ends before answering it fails at once for its caller
# (42704, "exited without answering"), not at the call's timeout: callers on
# the owner's server and on another server, an owner terminated and one
# that exits normally, a call that reaches the owner's server after the
# owner has gone.  A simulated Kazoo caller is not sent that notice (it
# would take it for the answer) and times out as with a Kazoo owner.
# Answered calls are unaffected.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use KzHarness qw(sql wait_nodes_up);

my $broker = KzHarness::Broker->new;
my %gucs = ('kz_globals.heartbeat_interval' => '500ms');
my $n1 = KzHarness::node('n1', broker => $broker, gucs => \%gucs);
my $n2 = KzHarness::node('n2', broker => $broker, gucs => \%gucs);
my $KZ = 'kazoo1@sim.local';
my $k = KzHarness::Kazoo->new(broker => $broker, node => $KZ,
	args => [ '--heartbeat-ms', 500, '--expires-ms', 30000 ]);

for my $node ($n1, $n2)
{
	ok(wait_nodes_up($node, 3),
		$node->name . ' sees both servers and the Kazoo node');
	sql($node, 'CREATE TABLE call_result (who text, sqlstate text, message text, secs float8)');
}

# A caller in the background: one call, its outcome recorded in call_result.
sub start_caller
{
	my ($node, $who, $name, $timeout_ms) = @_;
	my $s = $node->background_psql('postgres');
	$s->query_until(qr/calling/, <<"SQL");
\\echo calling
DO \$\$
DECLARE
	t0 timestamptz := clock_timestamp();
	r text;
BEGIN
	r := kz_globals.call('$name', 'request from $who', $timeout_ms);
	INSERT INTO call_result VALUES ('$who', 'ok', r, extract(epoch FROM clock_timestamp() - t0));
EXCEPTION WHEN OTHERS THEN
	INSERT INTO call_result VALUES ('$who', SQLSTATE, SQLERRM, extract(epoch FROM clock_timestamp() - t0));
END
\$\$;
SQL
	return $s;
}

sub result_of
{
	my ($node, $who) = @_;
	$node->poll_query_until('postgres', "SELECT count(*) > 0 FROM call_result WHERE who = '$who'")
	  or return 'none';
	return sql($node, "SELECT sqlstate || '|' || message || '|' || (secs < 30) FROM call_result WHERE who = '$who'");
}

sub received { my ($node) = @_; return sql($node, 'SELECT messages_received FROM kz_globals.stats'); }

# 1. the owner (on n1) is busy; a call from n1 and one from n2 wait in its
# mailbox; it is terminated: both callers fail at once (60 s timeouts)
my $owner = $n1->background_psql('postgres');
my $owner_pid = $owner->query_safe('SELECT pg_backend_pid()');
is($owner->query_safe("SELECT kz_globals.register_name('svc')"), 't', 'the owner registers svc');
ok($n2->poll_query_until('postgres', "SELECT kz_globals.whereis_name('svc') IS NOT NULL"), 'n2 knows the owner');
$owner->query_until(qr/busy/, "\\echo busy\nSELECT pg_sleep(600);\n");
my $base = received($n1);
my @callers = (start_caller($n1, 'local1', 'svc', 60000), start_caller($n2, 'remote1', 'svc', 60000));
ok($n1->poll_query_until('postgres', "SELECT messages_received >= $base + 2 FROM kz_globals.stats"),
	'both calls are in the owner\'s mailbox');
is(sql($n1, "SELECT pg_terminate_backend($owner_pid)"), 't', 'the owner is terminated');
like(result_of($n1, 'local1'), qr/^42704\|the owner of "svc" exited without answering the call\|true$/,
	'the caller on the owner\'s server fails at once with 42704');
like(result_of($n2, 'remote1'), qr/^42704\|the owner of "svc" exited without answering the call\|true$/,
	'the caller on another server fails at once with 42704');
$_->quit for @callers;
eval { $owner->quit };    # (its psql has gone with its connection)

# 2. an owner that exits normally (its session ends) with a call queued
my $owner2 = $n1->background_psql('postgres');
$owner2->query_safe("SELECT kz_globals.register_name('svc2')");
ok($n2->poll_query_until('postgres', "SELECT kz_globals.whereis_name('svc2') IS NOT NULL"), 'n2 knows svc2');
$owner2->query_until(qr/busy/, "\\echo busy\nSELECT pg_sleep(2);\n");
$base = received($n1);
my $c2 = start_caller($n2, 'remote2', 'svc2', 60000);
ok($n1->poll_query_until('postgres', "SELECT messages_received >= $base + 1 FROM kz_globals.stats"),
	'the call is in svc2\'s mailbox');
$owner2->quit;    # ends the session once its statement is done
like(result_of($n2, 'remote2'), qr/^42704\|the owner of "svc2" exited without answering the call\|true$/,
	'an owner whose session ends normally: its caller fails at once');
$c2->quit;

# 3. answered calls still work, and an owner that answered leaves nothing
# behind for the next caller
my $owner3 = $n1->background_psql('postgres');
$owner3->query_safe("SELECT kz_globals.register_name('svc3')");
ok($n2->poll_query_until('postgres', "SELECT kz_globals.whereis_name('svc3') IS NOT NULL"), 'n2 knows svc3');
my $c3 = start_caller($n2, 'remote3', 'svc3', 60000);
my $tag = $owner3->query_safe("SELECT reply_tag FROM kz_globals.receive(10000) WHERE kind = 'call'");
is($owner3->query_safe("SELECT kz_globals.reply('$tag', 'pong')"), 't', 'the owner answers');
like(result_of($n2, 'remote3'), qr/^ok\|pong\|true$/, 'the caller gets the answer');
$c3->quit;
$owner3->quit;

# 4. a Kazoo caller is not told: the proxy would take the notice for the
# owner's answer; it times out as it would with a Kazoo owner
my $owner4 = $n1->background_psql('postgres');
my $owner4_pid = $owner4->query_safe('SELECT pg_backend_pid()');
$owner4->query_safe("SELECT kz_globals.register_name('svc4')");
$owner4->query_until(qr/busy/, "\\echo busy\nSELECT pg_sleep(600);\n");
my $timer = $n1->background_psql('postgres');
$timer->query_until(qr/timer/, "\\echo timer\nSELECT pg_sleep(1.5), pg_terminate_backend($owner4_pid);\n");
my $res = $k->cmd('call', { name => 'svc4', message => 'from kazoo', timeout_ms => 5000 });
is($res->{render}, '{error,timeout}', 'the Kazoo caller gets no notice and times out');
ok($n1->poll_query_until('postgres', "SELECT kz_globals.whereis_name('svc4') IS NULL"), 'svc4 is gone');
$timer->quit;
eval { $owner4->quit };

# 5. a call that reaches the owner's server after the owner has gone there
# (its caller had not yet heard of the exit): n2's worker is stopped while
# its caller's call waits to be published and the owner exits; when the
# worker goes on, the call reaches n1, which has no owner for it any more
# and tells the caller at once.  n2 first slows its heartbeats so that n1
# does not expire it while its worker is stopped.
sql($n2, "ALTER SYSTEM SET kz_globals.heartbeat_interval = '3s'; SELECT pg_reload_conf()");
ok($n1->poll_query_until('postgres',
		"SELECT expires_ms > 5000 FROM kz_globals.nodes WHERE NOT is_self AND NOT kazoo"),
	'n1 has heard n2\'s slower heartbeat');
my $owner5 = $n1->background_psql('postgres');
my $owner5_pid = $owner5->query_safe('SELECT pg_backend_pid()');
$owner5->query_safe("SELECT kz_globals.register_name('svc5')");
ok($n2->poll_query_until('postgres', "SELECT kz_globals.whereis_name('svc5') IS NOT NULL"), 'n2 knows svc5');
my $worker2 = sql($n2, "SELECT pid FROM pg_stat_activity WHERE backend_type = 'kz_globals worker'");
ok(kill('STOP', $worker2), 'n2\'s worker is stopped');
my $c5 = start_caller($n2, 'remote5', 'svc5', 60000);
ok($n2->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE wait_event_type = 'Extension' AND query LIKE '%request from remote5%'"),
	'the call waits for n2\'s worker');
is(sql($n1, "SELECT pg_terminate_backend($owner5_pid)"), 't', 'the owner of svc5 is terminated');
ok($n1->poll_query_until('postgres', "SELECT count(*) = 0 FROM kz_globals.registrations WHERE name = 'svc5'"),
	'svc5 is gone on n1');
ok(kill('CONT', $worker2), 'n2\'s worker goes on');
like(result_of($n2, 'remote5'), qr/^42704\|the owner of "svc5" exited without answering the call\|true$/,
	'a call that arrives after its owner has gone fails at once');
$c5->quit;
eval { $owner5->quit };
sql($n2, "ALTER SYSTEM RESET kz_globals.heartbeat_interval; SELECT pg_reload_conf()");

# nothing malformed crossed the bus, and the workers are fine
for my $node ($n1, $n2)
{
	is(sql($node, 'SELECT bus_malformed FROM kz_globals.stats'), '0', $node->name . ': no malformed message');
	is(sql($node, "SELECT broker_state FROM kz_globals.stats"), 'connected', $node->name . ': still connected');
}

$k->quit;
done_testing();
