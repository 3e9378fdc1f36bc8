# Three PostgreSQL servers and one RabbitMQ broker form one registry:
# registration seen and refused everywhere, concurrent claims with exactly
# one owner per name, send and call across servers, release on owner exit,
# views of remote rows and nodes, and the password never shown.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use KzHarness qw(sql wait_nodes_up);

my $broker = KzHarness::Broker->new;
my %gucs = ('kz_globals.heartbeat_interval' => '500ms');
my @nodes = map { KzHarness::node("n$_", broker => $broker, gucs => \%gucs) } 1 .. 3;
my ($n1, $n2, $n3) = @nodes;

# all three see each other
for my $node (@nodes)
{
	ok(wait_nodes_up($node, 3),
		$node->name . ' sees three nodes up');
}
is(sql($n1, 'SELECT broker_state FROM kz_globals.stats'), 'connected', 'the broker is connected');
is(sql($n1, "SELECT count(*) FROM kz_globals.nodes WHERE NOT is_self AND NOT kazoo AND server LIKE 'n%kz_globals-%'"),
	'2', 'peers are kz_globals nodes with their queue');

# the password of kz_globals.amqp_uri is shown masked
like(sql($n1, 'SHOW kz_globals.amqp_uri'), qr{^amqp://guest:\*{8}\@127\.0\.0\.1:\d+}, 'SHOW masks the password');
is(sql($n1, "SELECT count(*) FROM pg_settings WHERE setting LIKE '%guest:guest%'"), '0',
	'pg_settings does not show it');

# a name registered on n1 is seen and refused on n2 and n3
my $owner = $n1->background_psql('postgres');
my $owner_pid = $owner->query_safe('SELECT pg_backend_pid()');
is($owner->query_safe("SELECT kz_globals.register_name('cluster-1')"), 't', 'n1 registers cluster-1');
for my $node ($n2, $n3)
{
	ok($node->poll_query_until('postgres',
			"SELECT (kz_globals.whereis_name('cluster-1')) = ('n1\@127.0.0.1', $owner_pid)::kz_globals.owner"),
		$node->name . ' finds the owner on n1');
	is(sql($node, "SELECT kz_globals.register_name('cluster-1')"), 'f', $node->name . ' cannot take it');
	is(sql($node, "SELECT state || ' ' || node FROM kz_globals.registrations WHERE name = 'cluster-1'"),
		"remote n1\@127.0.0.1", $node->name . ' shows a remote row');
}
is(sql($n2, "SELECT kz_globals.unregister_name('cluster-1')"), 'f',
	'a remote name cannot be unregistered elsewhere');

# a name nobody advertised yet is found with a query on a miss
my $owner3 = $n3->background_psql('postgres');
$owner3->query_safe("SELECT kz_globals.register_name('queried')");
$n2->safe_psql('postgres', "SELECT 1");
is(sql($n1, "SELECT (kz_globals.whereis_name('queried')).node"), "n3\@127.0.0.1", 'whereis_name finds n3');
is(sql($n1, "SET kz_globals.query_on_miss = off; SELECT kz_globals.whereis_name('never') IS NULL"),
	't', 'query_on_miss = off answers from the local table');

# send across servers
is(sql($n2, "SELECT (kz_globals.send('cluster-1', 'hello from n2')).pid"), $owner_pid,
	'send from n2 returns the owner');
my $got = $owner->query_safe(
	"SELECT name || '|' || kind || '|' || message || '|' || sender_node FROM kz_globals.receive(5000)");
is($got, "cluster-1|send|hello from n2|n2\@127.0.0.1", 'the owner on n1 receives it with the sender');

# call across servers: n3 calls the owner on n1, which replies
my $caller = $n3->background_psql('postgres');
$caller->query_until(qr/calling/, "\\echo calling\nSELECT 'answer:' || kz_globals.call('cluster-1', 'ping', 10000);\n");
my $tag = $owner->query_safe(
	"SELECT reply_tag FROM kz_globals.receive(5000) WHERE kind = 'call' AND message = 'ping'");
like($tag, qr/^r:/, 'the owner receives the call with a remote reply tag');
is($owner->query_safe("SELECT kz_globals.reply('$tag', 'pong')"), 't', 'reply is delivered');
like($caller->query_safe('SELECT 1'), qr/answer:pong/, 'the caller on n3 gets the reply');

# the empty text crosses servers as the empty text (not as <<>>), both ways
sql($n2, "SELECT kz_globals.send('cluster-1', '')");
is($owner->query_safe("SELECT '[' || message || ']' FROM kz_globals.receive(5000)"), '[]',
	'an empty message from n2 arrives empty');
$caller->query_until(qr/calling/, "\\echo calling\nSELECT '[' || kz_globals.call('cluster-1', '', 10000) || ']';\n");
$tag = $owner->query_safe("SELECT reply_tag FROM kz_globals.receive(5000) WHERE kind = 'call' AND message = ''");
is($owner->query_safe("SELECT kz_globals.reply('$tag', '')"), 't', 'an empty reply is delivered');
like($caller->query_safe('SELECT 1'), qr/\[\]/, 'the caller on n3 gets it empty');

# concurrent claims for the same names from all three servers: one owner each
my $t0 = sql($n1, "SELECT clock_timestamp() + interval '3 s'");
for my $node (@nodes)
{
	sql($node, 'CREATE TABLE claims (name text, won bool)');
}
my $claim_sql = qq{
	DO \$\$
	BEGIN
		FOR i IN 1..40 LOOP
			PERFORM pg_sleep_until('$t0'::timestamptz + i * interval '50 ms');
			INSERT INTO claims SELECT 'race-' || i, kz_globals.register_name('race-' || i);
		END LOOP;
	END \$\$};
my @racers = map { $_->background_psql('postgres') } @nodes;
$_->query_until(qr/racing/, "\\echo racing\n$claim_sql;\n") for @racers;
$_->query_safe('SELECT 1') for @racers;
my %wins;
for my $i (0 .. 2)
{
	for my $row (split /\n/, sql($nodes[$i], "SELECT name FROM claims WHERE won"))
	{
		push @{ $wins{$row} }, $nodes[$i]->name;
	}
}
my @bad = grep { @{ $wins{"race-$_"} // [] } != 1 } 1 .. 40;
is(scalar(@bad), 0, 'each raced name has exactly one winner')
  or diag(explain({ map { ("race-$_" => $wins{"race-$_"}) } @bad }));
note('wins per node: ' . join(', ', map { my $n = $_->name; "$n=" . scalar(grep { $_->[0] eq $n } map { $wins{$_} } keys %wins) } @nodes));
# every node agrees on every owner
for my $i (1 .. 40)
{
	my $winner = $wins{"race-$i"} ? $wins{"race-$i"}[0] : 'none';
	my @seen = map { sql($_, "SELECT coalesce((kz_globals.whereis_name('race-$i')).node, 'none')") } @nodes;
	if (grep { $_ ne "$winner\@127.0.0.1" } @seen)
	{
		fail("all nodes agree on the owner of race-$i");
		diag("winner $winner, seen: @seen");
		last;
	}
}
pass('every node agrees on every raced owner');
is(sql($_, "SELECT count(*) FROM kz_globals.registrations WHERE state = 'pending'"), '0',
	$_->name . ' keeps no pending rows') for @nodes;

# nothing any node sent was refused by another (batches included)
is(sql($_, 'SELECT bus_malformed FROM kz_globals.stats'), '0',
	$_->name . ' refused no message of its peers') for @nodes;

# each node counts its bus traffic: published and taken, with their bytes;
# a claim on n1 is one more message out of n1 and into each peer
for my $node (@nodes)
{
	my ($sent, $sent_b, $got, $got_b) = split /\|/,
	  sql($node, 'SELECT bus_sent, bus_sent_bytes, bus_received, bus_received_bytes FROM kz_globals.stats');
	ok($sent > 0 && $got > 0 && $sent_b > 100 * $sent && $got_b > 100 * $got,
		$node->name . " counts its bus traffic ($sent sent, $sent_b bytes; $got received, $got_b bytes)");
}
{
	my %before = map { $_->name => sql($_, 'SELECT bus_received FROM kz_globals.stats') } $n2, $n3;
	my $sent = sql($n1, 'SELECT bus_sent FROM kz_globals.stats');
	is(sql($n1, "SELECT kz_globals.register_name('counted', pg_backend_pid())"), 't', 'n1 claims one more name');
	cmp_ok(sql($n1, 'SELECT bus_sent FROM kz_globals.stats'), '>', $sent, 'n1 counts the claim it published');
	for my $node ($n2, $n3)
	{
		ok($node->poll_query_until('postgres',
				"SELECT bus_received > $before{$node->name} FROM kz_globals.stats"),
			$node->name . ' counts the claim it received');
	}
}

# owner exit frees the name everywhere
$owner->quit;
for my $node ($n2, $n3)
{
	ok($node->poll_query_until('postgres',
			"SELECT count(*) = 0 FROM kz_globals.registrations WHERE name = 'cluster-1'"),
		$node->name . ' drops cluster-1 when its owner exits');
}
is(sql($n2, "SELECT kz_globals.register_name('cluster-1')"), 't', 'n2 can take it now');

$_->quit for @racers, $caller, $owner3;
done_testing();
