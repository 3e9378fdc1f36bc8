# A claim that holds back a rival's advertisement and then does not win
# leaves the name to that rival, not to nobody (issue 16: the model test's
# parallel variant found a server without the winner's row).
#
# The interleaving, forced: n1's worker is stopped (SIGSTOP) while a session
# of n1 has a claim pending; meanwhile a simulated Kazoo node claims the
# same name with a newer timestamp (its clock ahead), n1 cannot answer, so
# the Kazoo node wins and advertises.  When n1's worker resumes, the
# advertisement loses to n1's older pending claim by the conflict rule and
# is held back; then n1's claim is denied (by n2's "remote" answer; the
# Kazoo node is deaf by then).  Kazoo advertises a name again only when
# asked about it, so n1 must turn its pending row into the Kazoo node's
# row.  The same when the claimant exits while its claim, holding the rival
# back, is still under way.  Both fail without the fix (n1: no row).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use KzHarness qw(sql wait_nodes_up worker_pid greg_now row_of wait_row);

my $broker = KzHarness::Broker->new;
# Slow heartbeats: a worker stopped for a second or two must not expire.
my %gucs = (
	'kz_globals.heartbeat_interval' => '2s',
	'kz_globals.request_timeout' => '8s');
my $n1 = KzHarness::node('n1', broker => $broker, gucs => \%gucs);
my $n2 = KzHarness::node('n2', broker => $broker, gucs => \%gucs);
my $KZ = 'kazoo1@sim.local';
my $k = KzHarness::Kazoo->new(broker => $broker, node => $KZ,
	args => [ '--heartbeat-ms', 1000, '--expires-ms', 30000 ]);

# A row as state, node and token.
my @ROW = qw(state node token);

# A session on node claiming name in the background; returns it and its pid.
sub start_claim
{
	my ($node, $name) = @_;
	my $s = $node->background_psql('postgres', on_error_stop => 0);
	my $pid = $s->query_safe('SELECT pg_backend_pid()');
	$s->query_until(qr/claiming/,
		"\\echo claiming\nSELECT 'claim:' || kz_globals.register_name('$name');\n");
	return ($s, $pid);
}

# The Kazoo node claims name while n1's worker is stopped (n1 cannot
# answer; the node decides after 500 ms), with a timestamp 5 s ahead.
sub kazoo_wins_while_n1_stopped
{
	my ($name) = @_;
	my $ts = greg_now() + 5_000_000;
	is($k->cmd(register => { name => $name, timestamp => $ts, timeout_ms => 500 }),
		'yes', "the Kazoo node wins $name while n1 cannot answer");
	ok(wait_row($n2, $name, qr/^remote \Q$KZ\E $ts$/, @ROW), "n2 holds the Kazoo node's $name");
	return $ts;
}

for my $node ($n1, $n2)
{
	ok(wait_nodes_up($node, 3),
		$node->name . ' sees both servers and the Kazoo node');
}
ok($k->wait_nodes(qr/^n[12]\@/, 2), 'the Kazoo node sees both servers');

# 1. The claim is denied after it held the rival back.
{
	my $name = 'held-back';
	my $w1 = worker_pid($n1);
	kill 'STOP', $w1;
	my ($s) = start_claim($n1, $name);
	ok(wait_row($n1, $name, qr/^pending /, @ROW), "n1's claim of $name is pending");
	my $ts = kazoo_wins_while_n1_stopped($name);
	# Deaf, the Kazoo node does not advertise the name again when n1's
	# claim reaches it (Kazoo does, but only if that comes first): n2's
	# "remote" answer alone denies the claim.
	$k->cmd(deafen => { deaf => JSON::PP::true });
	kill 'CONT', $w1;

	like($s->query_until(qr/claim:\w/, ''), qr/claim:f/, "n1's claim of $name is denied");
	ok(wait_row($n1, $name, qr/^remote \Q$KZ\E $ts$/, @ROW),
		"n1 then holds the Kazoo node's $name (was: no row at all)")
	  or diag('n1: ' . row_of($n1, $name, @ROW));
	is(sql($n1, "SELECT node FROM kz_globals.whereis_name('$name')"), $KZ,
		"whereis_name on n1 finds the Kazoo node");
	$k->cmd(deafen => { deaf => JSON::PP::false });
	is($k->cmd(lookup => { name => $name })->{state}, 'local', 'the Kazoo node still owns it');
	$s->quit;
}

# 2. The claimant exits while its claim, holding the rival back, waits for
# answers (the Kazoo node deaf, n2 stopped): the row goes to the rival.
{
	my $name = 'held-back-exit';
	my ($w1, $w2) = (worker_pid($n1), worker_pid($n2));
	kill 'STOP', $w1;
	my ($s, $pid) = start_claim($n1, $name);
	ok(wait_row($n1, $name, qr/^pending /, @ROW), "n1's claim of $name is pending");
	kill 'STOP', $w2;
	my $ts = greg_now() + 5_000_000;
	is($k->cmd(register => { name => $name, timestamp => $ts, timeout_ms => 500 }),
		'yes', "the Kazoo node wins $name while neither server can answer");
	$k->cmd(deafen => { deaf => JSON::PP::true });
	kill 'CONT', $w1;
	# A marker the Kazoo node advertises after: once n1 holds it, n1's
	# worker has had the advertisement of $name too.
	is($k->cmd(register => { name => "$name-marker", timeout_ms => 200 }), 'yes',
		'the Kazoo node registers a marker');
	ok(wait_row($n1, "$name-marker", qr/^remote \Q$KZ\E /, @ROW),
		"n1's worker has resumed and read the Kazoo node's advertisements");
	like(row_of($n1, $name, @ROW), qr/^pending /,
		"n1's claim of $name still waits (n2 and the Kazoo node do not answer)");
	is(sql($n1, "SELECT pg_terminate_backend($pid, 10000)"), 't', 'the claimant is terminated');
	kill 'CONT', $w2;
	$k->cmd(deafen => { deaf => JSON::PP::false });
	ok(wait_row($n1, $name, qr/^remote \Q$KZ\E $ts$/, @ROW),
		"after the claimant's exit n1 holds the Kazoo node's $name")
	  or diag('n1: ' . row_of($n1, $name, @ROW));
	ok(wait_row($n2, $name, qr/^remote \Q$KZ\E $ts$/, @ROW), "n2 holds the Kazoo node's $name");
	eval { $s->{run}->kill_kill; 1 };
}

$k->quit;
done_testing();
