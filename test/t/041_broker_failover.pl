# A RabbitMQ cluster of two broker nodes, servers configured with both in
# kz_globals.amqp_uri (a comma-separated list, tried in order on every
# (re)connect).  Servers attached to different brokers of the cluster form
# one registry; when the broker a server uses stops (gracefully, then the
# other one by SIGKILL), the server fails over to the other one, and nothing
# registered by a live owner is lost.
#
# What a broker node's loss takes away, as Kazoo declares the topology:
# the exclusive queues of the connections it hosted (and their bindings).
# The exchanges are non-durable, but a RabbitMQ cluster keeps their
# definitions on every node, so they survive as long as one node runs.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use KzHarness qw(sql wait_nodes_up session);

my $b1 = KzHarness::Broker->new(name => 'rmqA');
my $b2 = KzHarness::Broker->new(name => 'rmqB', join => $b1);
my ($p1, $p2) = ($b1->port, $b2->port);

# Newer RabbitMQ releases (4.3.6 here; not 4.0.5) keep a new cluster's
# metadata (queues, bindings) in Khepri, a Raft store that needs a
# majority of the nodes up: a cluster
# of two cannot declare a queue while one of them is down.  There a third
# broker, used by no server, keeps the majority through each single loss
# below (RabbitMQ's advice for any cluster: an odd number of nodes).
my $khepri = $b1->ctl(qw(-q list_feature_flags name state)) =~ /^khepri_db\s+enabled/m;
my $b3 = $khepri ? KzHarness::Broker->new(name => 'rmqC', join => $b1) : undef;
note($khepri
	? 'metadata store Khepri: a third broker keeps the majority'
	: 'metadata store Mnesia: two brokers');

like($b2->ctl(qw(-q cluster_status)), qr/\Q${\ $b1->nodename }\E.*\Q${\ $b2->nodename }\E|\Q${\ $b2->nodename }\E.*\Q${\ $b1->nodename }\E/s,
	'the two brokers form one RabbitMQ cluster');

# n1 and n3 use b1 first, n2 uses b2 first
my %gucs = ('kz_globals.heartbeat_interval' => '500ms');
my $n1 = KzHarness::node('n1', gucs => { %gucs, 'kz_globals.amqp_uri' => $b1->uri . ', ' . $b2->uri });
my $n2 = KzHarness::node('n2', gucs => { %gucs, 'kz_globals.amqp_uri' => $b2->uri . ',' . $b1->uri });
my $n3 = KzHarness::node('n3', gucs => { %gucs, 'kz_globals.amqp_uri' => $b1->uri . ', ' . $b2->uri });
my @nodes = ($n1, $n2, $n3);

sub connected_to
{
	my ($node, $port, $offset) = @_;
	return $node->wait_for_log(
		qr/kz_globals connected to amqp:\/\/guest:\*{8}\@127\.0\.0\.1:$port\/%2f as node "${\ $node->name }\@127\.0\.0\.1"/,
		$offset);
}

sub queue_of
{
	my ($node) = @_;
	return sql($node, 'SELECT server FROM kz_globals.nodes WHERE is_self');
}

sub stats_of
{
	my ($node) = @_;
	return sql($node, "SELECT broker_connects || '/' || broker_disconnects FROM kz_globals.stats");
}

# %expect: name => [owner node name, pid]; each node's table converges on
# exactly that (read from the registrations view, not by queries).
sub converged
{
	my ($what, %expect) = @_;
	my $want = join(' ', map { "$_=$expect{$_}[0]\@127.0.0.1/$expect{$_}[1]" } sort keys %expect);
	for my $node (@nodes)
	{
		my $q = "SELECT coalesce(string_agg(name || '=' || node || '/' || pid, ' ' ORDER BY name), '') "
		  . "FROM kz_globals.registrations WHERE state IN ('local', 'remote')";
		my $ok = $node->poll_query_until('postgres', $q, $want);
		ok($ok, "$what: " . $node->name . ' has every registration, and nothing else')
		  or diag('has: ' . sql($node, $q) . "\nwant: $want");
	}
}

ok(connected_to($n1, $p1, 0), 'n1 uses b1 (the first of its list)');
ok(connected_to($n2, $p2, 0), 'n2 uses b2 (the first of its list)');
ok(connected_to($n3, $p1, 0), 'n3 uses b1');
ok(wait_nodes_up($_, 3), $_->name . ' sees all three servers across the broker cluster') for @nodes;
is(stats_of($_), '1/0', $_->name . ': one connect, no disconnect') for @nodes;

# --- one registry across the two brokers ---
my (%s, %pid, %expect);
for my $node (@nodes)
{
	my $n = $node->name;
	$s{$n} = session($node);
	$pid{$n} = $s{$n}->query_safe('SELECT pg_backend_pid()');
	is($s{$n}->query_safe("SELECT kz_globals.register_name('$n-a') AND kz_globals.register_name('$n-b')"),
		't', "$n registers $n-a and $n-b");
	$expect{"$n-a"} = $expect{"$n-b"} = [ $n, $pid{$n} ];
}
converged('at start', %expect);
is(sql($n2, "SELECT kz_globals.register_name('n1-a')"), 'f', 'n2 (on b2) cannot take a name n1 (on b1) owns');

is(sql($n2, "SELECT (kz_globals.send('n1-a', 'b2 to b1')).pid"), $pid{n1},
	'send from n2 (b2) to the owner on n1 (b1)');
is($s{n1}->query_safe("SELECT message || '|' || sender_node FROM kz_globals.receive(5000)"),
	'b2 to b1|n2@127.0.0.1', '... arrives through the cluster');
my $caller = session($n1);
$caller->query_until(qr/calling/,
	"\\echo calling\nSELECT 'answer:' || kz_globals.call('n2-a', 'ping', 10000);\n");
my $tag = $s{n2}->query_safe(
	"SELECT reply_tag FROM kz_globals.receive(5000) WHERE kind = 'call' AND message = 'ping'");
is($s{n2}->query_safe("SELECT kz_globals.reply('$tag', 'pong')"), 't', 'n2 replies to a call from n1');
like($caller->query_safe('SELECT 1'), qr/answer:pong/, '... and the caller on b1 gets the reply from b2');

# concurrent claims from servers on different brokers: one owner each
$_->safe_psql('postgres', 'CREATE TABLE claims (name text, won bool)') for @nodes;
my $t0 = sql($n1, "SELECT clock_timestamp() + interval '2 s'");
my @racers = map { session($_) } @nodes;
$_->query_until(qr/racing/, qq{\\echo racing
DO \$\$ BEGIN
	FOR i IN 1..20 LOOP
		PERFORM pg_sleep_until('$t0'::timestamptz + i * interval '50 ms');
		INSERT INTO claims SELECT 'race-' || i, kz_globals.register_name('race-' || i);
	END LOOP;
END \$\$;
}) for @racers;
$_->query_safe('SELECT 1') for @racers;
my %wins;
for my $node (@nodes)
{
	push @{ $wins{$_} }, $node->name for split /\n/, sql($node, 'SELECT name FROM claims WHERE won');
}
my @bad = grep { @{ $wins{"race-$_"} // [] } != 1 } 1 .. 20;
is(scalar(@bad), 0, 'concurrent claims across the two brokers: exactly one winner per name')
  or diag(explain({ map { ("race-$_" => $wins{"race-$_"}) } @bad }));
$_->quit for @racers;    # the racers exit: their names are released
for my $node (@nodes)
{
	ok($node->poll_query_until('postgres',
			"SELECT count(*) = 0 FROM kz_globals.registrations WHERE name LIKE 'race-%'"),
		$node->name . ' drops the racers\' names when they exit');
}

# --- b1 stops: n1 and n3 fail over to b2 ---
my %queue_before = map { ($_->name => queue_of($_)) } @nodes;
my %off = map { ($_->name => -s $_->logfile) } @nodes;
$b1->stop;
ok($n1->wait_for_log(qr/kz_globals lost its broker connection/, $off{n1}), 'n1 logs the loss of b1');
ok(connected_to($n1, $p2, $off{n1}), 'n1 fails over to b2, the second URI of its list');
ok(connected_to($n3, $p2, $off{n3}), 'n3 fails over to b2');
for my $n ('n1', 'n3')
{
	my $node = $n eq 'n1' ? $n1 : $n3;
	ok($node->poll_query_until('postgres',
			"SELECT broker_state = 'connected' AND broker_connects = 2 AND broker_disconnects = 1 FROM kz_globals.stats"),
		"$n: stats count one disconnect and a second connect");
	isnt(queue_of($node), $queue_before{$n}, "$n has a new queue");
}
is(stats_of($n2), '1/0', 'n2, on b2 all along, kept its connection');
is(queue_of($n2), $queue_before{n2}, '... and its queue');
ok(!$n2->log_contains(qr/lost its broker connection/), '... and logged no loss');
ok(wait_nodes_up($_, 3), $_->name . ' sees all three servers after the failover') for @nodes;
for my $node ($n2, $n3)
{
	ok($node->poll_query_until('postgres',
			"SELECT server = '" . queue_of($n1) . "' FROM kz_globals.nodes WHERE node = 'n1\@127.0.0.1'"),
		$node->name . " knows n1's new queue");
}
converged('after b1 stopped', %expect);

# what survived on b2
my $exchanges = $b2->ctl(qw(-q list_exchanges name type durable auto_delete));
for my $x ([ globals => 'topic' ], [ targeted => 'direct' ], [ nodes => 'fanout' ])
{
	like($exchanges, qr/^$x->[0]\s+$x->[1]\s+false\s+false$/m,
		"the non-durable $x->[1] exchange $x->[0] survives the loss of b1");
}
my $queues = $b2->ctl(qw(-q list_queues name exclusive));
like($queues, qr/^\Q$queue_before{n2}\E\s+true$/m, "n2's exclusive queue on b2 survives");
unlike($queues, qr/^\Q$queue_before{n1}\E\s/m, "n1's old queue (on b1) is gone");
like($queues, qr/^\Q${\ queue_of($n1) }\E\s+true$/m, "n1's new exclusive queue is on b2");

# the registry keeps working on the surviving broker
is($s{n1}->query_safe("SELECT kz_globals.register_name('after-failover')"), 't',
	'n1 registers after the failover');
$expect{'after-failover'} = [ 'n1', $pid{n1} ];
converged('after a registration on b2', %expect);
is(sql($n3, "SELECT (kz_globals.send('n1-b', 'to the new queue')).pid"), $pid{n1},
	'send reaches n1 at its new queue');
is($s{n1}->query_safe('SELECT message FROM kz_globals.receive(5000)'), 'to the new queue',
	'... and n1 receives it');

# --- b1 comes back (it rejoins the cluster); nobody needs to move ---
$b1->start;
ok(KzHarness::wait_until('b1 back in the cluster', 60, sub {
			my ($rc, $out) = $b1->try_ctl(qw(-q list_queues name));
			return $rc == 0 && index($out, $queue_before{n2}) >= 0;
		}),
	"b1 is back and sees the cluster's queues");
is(stats_of($n1), '2/1', 'n1 stays on b2 when b1 returns');

# --- b2 dies (SIGKILL: connections reset, no close): every server now
#     fails over, to b1 ---
%off = map { ($_->name => -s $_->logfile) } @nodes;
$b2->kill;
ok(connected_to($_, $p1, $off{ $_->name }), $_->name . ' fails over to b1') for @nodes;
ok($n2->poll_query_until('postgres',
		"SELECT broker_state = 'connected' AND broker_connects = 2 AND broker_disconnects = 1 FROM kz_globals.stats"),
	'n2: stats count its failover');
ok(wait_nodes_up($_, 3), $_->name . ' sees all three servers on b1') for @nodes;
converged('after every server moved to b1', %expect);
is(sql($n2, "SELECT (kz_globals.send('n3-a', 'all on b1')).pid"), $pid{n3}, 'send works on b1');
is($s{n3}->query_safe('SELECT message FROM kz_globals.receive(5000)'), 'all on b1', '... and is received');
is($s{n2}->query_safe("SELECT kz_globals.unregister_name('n2-b')"), 't', 'n2 unregisters a name');
delete $expect{'n2-b'};
converged('after an unregister on b1', %expect);

$_->quit for values %s;
$caller->quit;
done_testing();
