# A server cut from the broker (SPEC section 6, "a node is cut from the
# broker (partition)"): three servers, n3 reaching the broker only through a
# TCP proxy the test controls.  The link is cut twice, first silently
# (blackhole: only heartbeats notice) and then with resets.  During each cut
# the majority side (n1, n2) expires n3 and drops its names, n3's
# register_name fails with 08006 and its whereis_name serves its own table,
# and the majority takes names n3's live owners still hold.  On heal both
# sides hold a local owner for those names: rule 5 must leave exactly one
# owner per name, agreed by every node, tell each loser (a system message,
# and termination on n2 where on_conflict = terminate), and lose nothing
# registered by a live owner that was not a conflict loser.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use KzHarness qw(sql wait_nodes_up session);

my $broker = KzHarness::Broker->new;
my $proxy = KzHarness::TcpProxy->new(target_port => $broker->port);
my %gucs = ('kz_globals.heartbeat_interval' => '500ms');
my $n1 = KzHarness::node('n1', broker => $broker, gucs => \%gucs);
my $n2 = KzHarness::node('n2', broker => $broker,
	gucs => { %gucs, 'kz_globals.on_conflict' => 'terminate' });
my $n3 = KzHarness::node('n3',
	gucs => { %gucs, 'kz_globals.amqp_uri' => $proxy->uri });
my @nodes = ($n1, $n2, $n3);
my %node_of = (n1 => $n1, n2 => $n2, n3 => $n3);

# A long-lived session whose psql timer restarts with every query.
# Does node's table hold exactly one row for name, owned by (owner, pid):
# local on the owner's node, remote elsewhere?  Read from the registrations
# view, not with whereis_name: the tables themselves must converge.
sub row_is
{
	my ($node, $name, $owner, $pid) = @_;
	my $state = $node->name eq $owner ? 'local' : 'remote';
	return $node->poll_query_until('postgres',
		"SELECT count(*) = 1 AND bool_and(state = '$state' AND node = '$owner\@127.0.0.1' AND pid = $pid) "
		  . "FROM kz_globals.registrations WHERE name = '$name'");
}

sub no_row
{
	my ($node, $name) = @_;
	return $node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM kz_globals.registrations WHERE name = '$name'");
}

# The whole table of a node, one line per row.
sub table_of
{
	my ($node) = @_;
	return sql($node,
		"SELECT string_agg(name || '=' || node || '/' || coalesce(pid::text, '-'), ' ' ORDER BY name) "
		  . "FROM kz_globals.registrations");
}

# %expect: name => [owner node name, pid].  Every node converges on it, and
# then the three tables are identical and hold nothing else.
sub converged
{
	my ($what, %expect) = @_;
	for my $name (sort keys %expect)
	{
		my ($owner, $pid) = @{ $expect{$name} };
		for my $node (@nodes)
		{
			ok(row_is($node, $name, $owner, $pid),
				"$what: " . $node->name . " has $name owned by $owner/$pid");
		}
	}
	my $want = join(' ', map { "$_=$expect{$_}[0]\@127.0.0.1/$expect{$_}[1]" } sort keys %expect);
	for my $node (@nodes)
	{
		is(table_of($node), $want, "$what: " . $node->name . "'s table is exactly the expected one");
		is(sql($node, "SELECT count(*) FROM kz_globals.registrations WHERE state = 'pending'"), '0',
			"$what: " . $node->name . ' keeps no pending row');
	}
}

sub expect_08006
{
	my ($node, $name, $what) = @_;
	my ($ret, $out, $err) = $node->psql('postgres',
		"\\set VERBOSITY verbose\nSELECT kz_globals.register_name('$name')");
	like($err, qr/08006: kz_globals cannot reach the message broker/,
		"$what: register_name on n3 fails with 08006");
	like($err, qr/HINT:/, "$what: ... with a hint");
	is(sql($node, "SELECT count(*) FROM kz_globals.registrations WHERE name = '$name'"), '0',
		"$what: ... and leaves no row");
}

# The first system message in a session's mailbox (waits up to 30 s).
sub system_message
{
	my ($s) = @_;
	return $s->query_safe(
		"SELECT kind || '|' || message FROM kz_globals.receive(30000)");
}

ok(wait_nodes_up($_, 3), $_->name . ' sees all three servers') for @nodes;
is(sql($n1, "SELECT expires_ms FROM kz_globals.nodes WHERE node = 'n3\@127.0.0.1'"), '1500',
	'n1 expires n3 after 3 heartbeat periods (1500 ms)');

# ---------------------------------------------------------------------
# Owners before the first cut
# ---------------------------------------------------------------------
my (%s, %pid);
sub owner
{
	my ($label, $node) = @_;
	$s{$label} = session($node);
	$pid{$label} = $s{$label}->query_safe('SELECT pg_backend_pid()');
	return $s{$label};
}
owner(a1 => $n1)->query_safe("SELECT kz_globals.register_name('p1-keep')");
owner(a2 => $n2)->query_safe("SELECT kz_globals.register_name('p2-keep')");
owner(a3 => $n3)->query_safe(
	"SELECT kz_globals.register_name('p3-keep'), kz_globals.register_name('p3-x'), kz_globals.register_name('p3-r')");
owner(b3 => $n3)->query_safe(
	"SELECT kz_globals.register_name('p3-y'), kz_globals.register_name('p3-s')");
owner(c3 => $n3)->query_safe("SELECT kz_globals.register_name('p3-gone')");

my %expect = (
	'p1-keep' => [ 'n1', $pid{a1} ],
	'p2-keep' => [ 'n2', $pid{a2} ],
	'p3-keep' => [ 'n3', $pid{a3} ],
	'p3-x' => [ 'n3', $pid{a3} ],
	'p3-r' => [ 'n3', $pid{a3} ],
	'p3-y' => [ 'n3', $pid{b3} ],
	'p3-s' => [ 'n3', $pid{b3} ],
	'p3-gone' => [ 'n3', $pid{c3} ]);
converged('before the cut', %expect);

# ---------------------------------------------------------------------
# Cut 1: blackhole, a silent partition
# ---------------------------------------------------------------------
my $t_cut = time();
$proxy->cut('blackhole');

# The majority claims a fresh name at once.  n3 still counts n1 as up, so
# its claim for the same name made later in the cut (see below) is younger.
owner(x1 => $n1)->query_until(qr/claiming/,
	"\\echo claiming\nSELECT 'won:' || kz_globals.register_name('split-both');\n");

# n3 hears no heartbeat either: it expires n1 and n2 after 1.5 s, while its
# own broker connection still looks alive (rabbitmq-c gives up after two
# missed AMQP heartbeats, 4 s).  In that window a claim on n3 has nobody to
# ask and wins: the real "both sides registered it" case of a partition.
# The window is a few seconds; if this machine is too slow to hit it, the
# case is skipped (and said so).
my $in_window = $n3->poll_query_until('postgres',
	"SELECT (SELECT broker_state FROM kz_globals.stats) <> 'connected' OR "
	  . "(SELECT count(*) FROM kz_globals.nodes WHERE state = 'up' AND NOT is_self) = 0");
my ($ret, $out, $err);
my $split_both_n3 = 0;
if ($in_window && sql($n3, 'SELECT broker_state FROM kz_globals.stats') eq 'connected')
{
	owner(y3 => $n3);
	($out, $ret) = $s{y3}->query("SELECT kz_globals.register_name('split-both')");
	$split_both_n3 = ($ret == 0 && $out eq 't');
	note("n3's claim for split-both in the window: " . ($ret ? "error $s{y3}{stderr}" : $out));
	$s{y3}{stderr} = '';    # BackgroundPsql keeps stderr across queries
}
like($s{x1}->query_safe('SELECT 1'), qr/won:true/, 'the majority registers split-both during the cut');

ok($n1->poll_query_until('postgres',
		"SELECT state = 'expired' FROM kz_globals.nodes WHERE node = 'n3\@127.0.0.1'"),
	'blackhole: n1 expires n3');
my $took = time() - $t_cut;
cmp_ok($took, '>=', 1.0, sprintf('... not before about 3 heartbeat periods (%.1f s)', $took));
ok($n2->poll_query_until('postgres',
		"SELECT state = 'expired' FROM kz_globals.nodes WHERE node = 'n3\@127.0.0.1'"),
	'blackhole: n2 expires n3');
for my $node ($n1, $n2)
{
	ok(no_row($node, $_), $node->name . " drops n3's $_") for qw(p3-keep p3-x p3-y p3-gone);
	ok(sql($node, 'SELECT names_expired >= 6 FROM kz_globals.stats') eq 't',
		$node->name . ' counts the expired names');
}

ok($n3->poll_query_until('postgres',
		"SELECT broker_state = 'connecting' FROM kz_globals.stats"),
	'blackhole: n3 notices (AMQP heartbeats) that the broker is gone');
ok($n3->log_contains(qr/kz_globals lost its broker connection/), '... and logs it');
expect_08006($n3, 'n3-during-blackhole', 'blackhole');
for my $name (qw(p3-keep p3-x p3-r))
{
	is(sql($n3, "SELECT kz_globals.whereis_name('$name') = ('n3\@127.0.0.1', $pid{a3})::kz_globals.owner"),
		't', "blackhole: n3's whereis_name('$name') serves its local table");
}
is(sql($n3, "SELECT kz_globals.whereis_name('nobody-has-this') IS NULL"), 't',
	'blackhole: a miss on n3 is NULL, not an error');

# The majority takes n3's names: p3-x on n1 (notify), p3-y on n2
# (terminate), p3-gone after its owner on n3 exits (no conflict then), and
# registers a fresh name.
is(owner(x1b => $n1)->query_safe("SELECT kz_globals.register_name('p3-x')"), 't',
	'blackhole: n1 takes p3-x, free on the majority side');
is(owner(x2 => $n2)->query_safe("SELECT kz_globals.register_name('p3-y')"), 't',
	'blackhole: n2 takes p3-y');
$s{c3}->quit;
delete $s{c3};
ok(no_row($n3, 'p3-gone'), "blackhole: p3-gone's owner on n3 exits; n3 releases it locally");
is(owner(g1 => $n1)->query_safe("SELECT kz_globals.register_name('p3-gone')"), 't',
	'blackhole: n1 takes p3-gone');
is($s{a1}->query_safe("SELECT kz_globals.register_name('split-new')"), 't',
	'blackhole: n1 registers a fresh name');
ok(row_is($n2, 'p3-x', 'n1', $pid{x1b}), 'blackhole: n2 agrees n1 owns p3-x meanwhile');
is(sql($n3, "SELECT state FROM kz_globals.registrations WHERE name = 'p3-x'"), 'local',
	'blackhole: n3 still has its own local owner of p3-x');
SKIP:
{
	skip "no claim on n3 during the cut", 2 unless $split_both_n3;
	ok(row_is($n3, 'split-both', 'n3', $pid{y3}), 'blackhole: n3 holds split-both as local');
	ok(row_is($n1, 'split-both', 'n1', $pid{x1}), '... while n1 holds it as local too');
}

# ---------------------------------------------------------------------
# Heal 1
# ---------------------------------------------------------------------
my $t_heal = time();
$proxy->heal;
ok($n3->poll_query_until('postgres',
		"SELECT broker_state = 'connected' AND broker_connects >= 2 FROM kz_globals.stats"),
	'heal: n3 reconnects');
ok(wait_nodes_up($_, 3), 'heal: ' . $_->name . ' sees all three servers again') for @nodes;

# rule 5: n3's registrations of p3-x and p3-y are older, they win
delete $expect{'p3-gone'};
%expect = (%expect,
	'p3-gone' => [ 'n1', $pid{g1} ],
	'split-new' => [ 'n1', $pid{a1} ],
	'split-both' => [ 'n1', $pid{x1} ]);
converged('after the blackhole healed', %expect);
note(sprintf('converged %.1f s after the heal', time() - $t_heal));

like(system_message($s{x1b}),
	qr/^system\|\{"event": "name_lost", "name": "p3-x", "winner_node": "n3\@127\.0\.0\.1"\}$/,
	"heal: n1's owner of p3-x lost it to n3's older registration and is told");
is($s{x1b}->query_safe("SELECT count(*) FROM kz_globals.registrations WHERE pid = pg_backend_pid()"), '0',
	'... and owns nothing any more');
ok($n2->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $pid{x2}"),
	"heal: n2's owner of p3-y (on_conflict = terminate) is terminated");
ok($n2->log_contains(qr/backend $pid{x2} lost the name "p3-y" to node "n3\@127\.0\.0\.1"/),
	'... and n2 logs why');
eval { $s{x2}->quit };
delete $s{x2};
SKIP:
{
	skip "n3 noticed the cut before its peers expired; no claim on n3 during the cut", 2
	  unless $split_both_n3;
	like(system_message($s{y3}),
		qr/^system\|\{"event": "name_lost", "name": "split-both", "winner_node": "n1\@127\.0\.0\.1"\}$/,
		"heal: n3's younger claim of split-both (made in the cut) loses to n1's, and its owner is told");
	is(sql($n3, "SELECT count(*) FROM kz_globals.registrations WHERE name = 'split-both' AND state = 'local'"),
		'0', '... n3 keeps no local row of it');
}
is($s{a1}->query_safe('SELECT count(*) FROM kz_globals.receive(0)'), '0',
	'an owner that lost nothing is sent nothing');
ok(sql($_, 'SELECT conflicts >= 1 FROM kz_globals.stats') eq 't', $_->name . ' counts conflicts')
  for $n1, $n2;

# ---------------------------------------------------------------------
# Cut 2: reset, an outage n3 notices at once
# ---------------------------------------------------------------------
$proxy->cut('reset');
ok($n3->poll_query_until('postgres',
		"SELECT broker_state = 'connecting' FROM kz_globals.stats"),
	'reset: n3 notices at once');
# a disconnected node cannot hear its peers, so it does not expire them:
# its table still answers for their names
is(sql($n3, "SELECT kz_globals.whereis_name('p1-keep') = ('n1\@127.0.0.1', $pid{a1})::kz_globals.owner"),
	't', "reset: n3's whereis_name serves remote rows from its table");
is(sql($n3, "SELECT kz_globals.whereis_name('p3-r') = ('n3\@127.0.0.1', $pid{a3})::kz_globals.owner"),
	't', '... and local ones');
expect_08006($n3, 'n3-during-reset', 'reset');
is(sql($n3, "SELECT (kz_globals.send('p3-s', 'local during the outage')).pid"), $pid{b3},
	'reset: send to a local owner on n3 still works');
is($s{b3}->query_safe("SELECT kind || '|' || message FROM kz_globals.receive(5000)"),
	'send|local during the outage', '... and the owner receives it');
for my $node ($n1, $n2)
{
	ok($node->poll_query_until('postgres',
			"SELECT state = 'expired' FROM kz_globals.nodes WHERE node = 'n3\@127.0.0.1'"),
		'reset: ' . $node->name . ' expires n3');
	ok(no_row($node, 'p3-r'), '... and drops its names');
}
is(owner(z1 => $n1)->query_safe("SELECT kz_globals.register_name('p3-r')"), 't',
	'reset: n1 takes p3-r');
is(owner(z2 => $n2)->query_safe("SELECT kz_globals.register_name('p3-s')"), 't',
	'reset: n2 takes p3-s');
is($s{a2}->query_safe("SELECT kz_globals.register_name('split-new-2')"), 't',
	'reset: n2 registers a fresh name');

$proxy->heal;
ok($n3->poll_query_until('postgres',
		"SELECT broker_state = 'connected' AND broker_connects >= 3 FROM kz_globals.stats"),
	'heal 2: n3 reconnects');
$expect{'split-new-2'} = [ 'n2', $pid{a2} ];
converged('after the reset healed', %expect);
like(system_message($s{z1}),
	qr/^system\|\{"event": "name_lost", "name": "p3-r", "winner_node": "n3\@127\.0\.0\.1"\}$/,
	"heal 2: n1's owner of p3-r is told it lost");
ok($n2->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $pid{z2}"),
	"heal 2: n2's owner of p3-s is terminated");
eval { $s{z2}->quit };
delete $s{z2};

# ---------------------------------------------------------------------
# The registry works normally afterwards
# ---------------------------------------------------------------------
is($s{a3}->query_safe("SELECT kz_globals.register_name('after-heal')"), 't',
	'n3 registers again');
ok(row_is($_, 'after-heal', 'n3', $pid{a3}), $_->name . ' sees it') for $n1, $n2;
is(sql($n1, "SELECT kz_globals.register_name('after-heal')"), 'f', 'n1 cannot take it');
is(sql($n2, "SELECT (kz_globals.send('p3-x', 'hello after the heal')).pid"), $pid{a3},
	'send from n2 reaches the winner on n3');
is($s{a3}->query_safe("SELECT kind || '|' || message || '|' || sender_node FROM kz_globals.receive(5000)"),
	'send|hello after the heal|n2@127.0.0.1', '... which receives it');
is($s{a3}->query_safe("SELECT kz_globals.unregister_name('after-heal')"), 't', 'n3 unregisters it');
ok(no_row($_, 'after-heal'), $_->name . ' drops it') for $n1, $n2;

eval { $_->quit } for values %s;
done_testing();
