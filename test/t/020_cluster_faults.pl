# Faults of SPEC section 6 in a three-server cluster: the worker killed, the
# broker stopped and restarted, a server crash-restarted, a server that
# vanishes (node expiry).  Nothing registered by a live owner may be lost.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use KzHarness qw(sql wait_nodes_up);

# n1 heartbeats every 500 ms (peers expire it after 1.5 s), n2 and n3 every
# 2 s (n1 expires them after 6 s): a stall of n1 is then seen by its peers
# only, which is the case the resync on request must repair.
my $broker = KzHarness::Broker->new;
my @nodes = map
{
	KzHarness::node("n$_", broker => $broker, gucs => {
		'kz_globals.heartbeat_interval' => ($_ == 1 ? '500ms' : '2s'),
		'restart_after_crash' => 'on' })
} 1 .. 3;
my ($n1, $n2, $n3) = @nodes;

# Is name owned by (node, pid) in the table of each of @seers?  Read from
# the registrations view, not with whereis_name: the tables themselves must
# converge, and a query on a miss would hide a lost row.
sub seen_everywhere
{
	my ($name, $owner_node, $pid, @seers) = @_;
	for my $s (@seers)
	{
		return 0 unless $s->poll_query_until('postgres',
			"SELECT count(*) = 1 FROM kz_globals.registrations "
			  . "WHERE name = '$name' AND node = '$owner_node' AND pid = $pid");
	}
	return 1;
}

ok(wait_nodes_up($_, 3), $_->name . ' sees the cluster') for @nodes;

# one owner session per node, each with two names
my (%owner, %pid);
for my $node (@nodes)
{
	my $n = $node->name;
	$owner{$n} = $node->background_psql('postgres');
	$pid{$n} = $owner{$n}->query_safe('SELECT pg_backend_pid()');
	$owner{$n}->query_safe("SELECT kz_globals.register_name('$n-a'), kz_globals.register_name('$n-b')");
}

sub all_names_visible
{
	my ($what, @seers) = @_;
	for my $node (@nodes)
	{
		my $n = $node->name;
		next unless exists $owner{$n};
		for my $suffix ('a', 'b')
		{
			ok(seen_everywhere("$n-$suffix", "$n\@127.0.0.1", $pid{$n}, @seers),
				"$what: $n-$suffix is seen everywhere");
		}
	}
}
all_names_visible('at start', @nodes);

# --- the worker killed: restarted, reconnects, re-announces; nothing lost ---
my $wpid = sql($n1, "SELECT pid FROM pg_stat_activity WHERE backend_type = 'kz_globals worker'");
sql($n1, "SELECT pg_terminate_backend($wpid)");
ok($n1->poll_query_until('postgres',
		"SELECT broker_state = 'connected' FROM kz_globals.stats, pg_stat_activity a WHERE a.backend_type = 'kz_globals worker' AND a.pid <> $wpid"),
	'n1 worker restarted and reconnected');
all_names_visible('after the worker was killed', @nodes);
is($owner{n1}->query_safe("SELECT kz_globals.register_name('after-worker-kill')"), 't',
	'n1 registers again after the worker restart');
ok(seen_everywhere('after-worker-kill', "n1\@127.0.0.1", $pid{n1}, $n2, $n3), '... and the others see it');

# --- the worker stalls (SIGSTOP) past its expiry, without losing the
#     broker: peers expire it and drop its names, and when it resumes they
#     ask it for its names again (Sync-Request) ---
$wpid = sql($n1, "SELECT pid FROM pg_stat_activity WHERE backend_type = 'kz_globals worker'");
kill 'STOP', $wpid;
ok($n2->poll_query_until('postgres',
		"SELECT state = 'expired' FROM kz_globals.nodes WHERE node = 'n1\@127.0.0.1'"),
	'a stalled n1 is expired by n2');
is(sql($n2, "SELECT count(*) FROM kz_globals.registrations WHERE node = 'n1\@127.0.0.1'"), '0',
	"... which drops n1's names");
sleep 1;    # well within the 6 s after which n1 would expire its peers
kill 'CONT', $wpid;
all_names_visible('after the stalled worker resumed', @nodes);
is(sql($n1, "SELECT count(*) FROM pg_stat_activity WHERE pid = $wpid"), '1',
	'(the same worker, not a restarted one)');

# --- an owner that exits without the exit callback (the autovacuum launcher,
#     registered by a superuser): the worker's sweep releases its names and
#     tells the peers ---
my $launcher = sql($n1, "SELECT pid FROM pg_stat_activity WHERE backend_type = 'autovacuum launcher'");
is(sql($n1, "SELECT kz_globals.register_name('swept', $launcher)"), 't',
	'a name registered for the autovacuum launcher');
ok(seen_everywhere('swept', "n1\@127.0.0.1", $launcher, $n2), '... is seen on n2');
sql($n1, "SELECT pg_terminate_backend($launcher)");
ok($n2->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM kz_globals.registrations WHERE name = 'swept'"),
	"the sweep releases it and n2 drops it");

# --- the broker stopped: register_name errors, whereis_name serves locally ---
$broker->stop;
ok($n1->poll_query_until('postgres',
		"SELECT broker_state = 'connecting' FROM kz_globals.stats"),
	'n1 notices the broker is gone');
my ($ret, $out, $err) = $n1->psql('postgres',
	"\\set VERBOSITY verbose\nSELECT kz_globals.register_name('during-outage')");
like($err, qr/08006: kz_globals cannot reach the message broker/, 'register_name fails with 08006');
like($err, qr/HINT:.*amqp_uri/s, '... with a hint');
is(sql($n1, "SELECT (kz_globals.whereis_name('n2-a')).node"), "n2\@127.0.0.1",
	'whereis_name answers from the local table during the outage');
is(sql($n1, "SELECT kz_globals.whereis_name('during-outage') IS NULL"), 't',
	'the failed registration left nothing behind');

# --- the broker back (same ports): everyone reconnects, nothing lost ---
$broker->start;
for my $node (@nodes)
{
	ok($node->poll_query_until('postgres',
			"SELECT broker_state = 'connected' FROM kz_globals.stats"),
		$node->name . ' reconnects');
}
all_names_visible('after the broker restart', @nodes);
is($owner{n3}->query_safe("SELECT kz_globals.register_name('after-broker-restart')"), 't',
	'registering works again');
ok(seen_everywhere('after-broker-restart', "n3\@127.0.0.1", $pid{n3}, $n1, $n2),
	'... everywhere');

# --- a graceful broker restart (stop_app/start_app) ---
$broker->restart;
for my $node (@nodes)
{
	ok($node->poll_query_until('postgres',
			"SELECT broker_state = 'connected' AND broker_disconnects >= 2 FROM kz_globals.stats"),
		$node->name . ' reconnects after stop_app/start_app');
}
all_names_visible('after stop_app/start_app', @nodes);

# --- n3 crash-restarts: it comes back empty, its peers drop its names ---
my $victim = $n3->background_psql('postgres');
my $vpid = $victim->query_safe('SELECT pg_backend_pid()');
my $old_start = sql($n1, "SELECT started_at FROM kz_globals.nodes WHERE node = 'n3\@127.0.0.1'");
kill 'KILL', $vpid;
eval { $victim->quit };
eval { $owner{n3}->quit };
delete $owner{n3};
# n3 has restarted once n1 hears its new start time (n3's own stats could
# still say "connected" before the postmaster has noticed the crash)
ok($n1->poll_query_until('postgres',
		"SELECT started_at <> '$old_start' FROM kz_globals.nodes WHERE node = 'n3\@127.0.0.1' AND state = 'up'"),
	'n1 hears n3 again, with a new start time');
ok($n3->poll_query_until('postgres',
		"SELECT broker_state = 'connected' FROM kz_globals.stats"),
	'n3 is back after its crash-restart');
is(sql($n3, "SELECT count(*) FROM kz_globals.registrations WHERE state = 'local'"), '0',
	'n3 starts with no local names');
for my $node ($n1, $n2)
{
	ok($node->poll_query_until('postgres',
			"SELECT count(*) = 0 FROM kz_globals.registrations WHERE node = 'n3\@127.0.0.1'"),
		$node->name . " drops n3's old names");
	ok($node->poll_query_until('postgres',
			"SELECT started_at <> '$old_start' FROM kz_globals.nodes WHERE node = 'n3\@127.0.0.1'"),
		$node->name . ' sees n3\'s new start time');
}
all_names_visible('after n3 crash-restarted', $n1, $n2, $n3);
my $new3 = $n3->background_psql('postgres');
is($new3->query_safe("SELECT kz_globals.register_name('n3-a')"), 't', "n3's old name is free again");
$new3->quit;

# --- n2 vanishes without a word (immediate stop): peers expire it ---
$n2->stop('immediate');
delete $owner{n2};
for my $node ($n1, $n3)
{
	ok($node->poll_query_until('postgres',
			"SELECT state = 'expired' FROM kz_globals.nodes WHERE node = 'n2\@127.0.0.1'"),
		$node->name . ' expires n2');
	is(sql($node, "SELECT count(*) FROM kz_globals.registrations WHERE node = 'n2\@127.0.0.1'"), '0',
		$node->name . " drops n2's names");
}
ok(sql($n1, 'SELECT names_expired > 0 FROM kz_globals.stats') eq 't', 'names_expired counts them');
is($owner{n1}->query_safe("SELECT kz_globals.register_name('n2-a')"), 't',
	"n2's name can be taken once it expired");
all_names_visible('after n2 expired', $n1, $n3);

$_->quit for values %owner;
done_testing();
