# Registration metadata across a partition (README, "Registration
# metadata", what it guarantees): three servers, n3 reaching the broker only
# through a TCP proxy the test cuts.  During the cut the majority drops n3's
# names with their metadata and takes one of them with its own; n3 changes
# the metadata of its names meanwhile.  On heal every server agrees again on
# each name's owner and shows the winning registration's metadata, the one
# its owner set last: a value is never shown with another registration.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use KzHarness qw(sql wait_nodes_up session);

my $broker = KzHarness::Broker->new;
my $proxy = KzHarness::TcpProxy->new(target_port => $broker->port);
my %gucs = ('kz_globals.heartbeat_interval' => '500ms');
my $n1 = KzHarness::node('n1', broker => $broker, gucs => \%gucs);
my $n2 = KzHarness::node('n2', broker => $broker, gucs => \%gucs);
my $n3 = KzHarness::node('n3', gucs => { %gucs, 'kz_globals.amqp_uri' => $proxy->uri });
my @nodes = ($n1, $n2, $n3);

ok(wait_nodes_up($_, 3), $_->name . ' sees all three servers') for @nodes;

# node's view of name: "owner-node pid meta", or "none"
sub view
{
	my ($node, $name) = @_;
	return sql($node,
		"SELECT coalesce((SELECT node || ' ' || pid || ' ' || coalesce(meta::text, 'null') "
		  . "FROM kz_globals.registrations WHERE name = '$name' AND state <> 'pending'), 'none')");
}

sub converge
{
	my ($name, $want, $what, @on) = @_;
	for my $node (@on ? @on : @nodes)
	{
		ok(KzHarness::wait_until("$name on " . $node->name, $PostgreSQL::Test::Utils::timeout_default,
				sub { view($node, $name) eq $want }),
			"$what: " . $node->name . " shows $want");
	}
}

my $o3 = session($n3);
my $o3_pid = $o3->query_safe('SELECT pg_backend_pid()');
is($o3->query_safe(q{SELECT kz_globals.register_name('held', '{"side": "n3", "v": 1}'::jsonb)}), 't',
	'n3 registers held with metadata');
is($o3->query_safe(q{SELECT kz_globals.register_name('quiet', '{"q": 1}'::jsonb)}), 't',
	'and quiet');
converge('held', qq{n3\@127.0.0.1 $o3_pid {"v": 1, "side": "n3"}}, 'before the cut');
converge('quiet', qq{n3\@127.0.0.1 $o3_pid {"q": 1}}, 'before the cut');

# --- the cut: the majority expires n3 and drops its names and metadata ---
$proxy->cut('reset');
converge('held', 'none', 'cut: n3 expired', $n1, $n2);
is(view($n1, 'quiet'), 'none', 'cut: quiet and its metadata are gone on n1 too');

# n3's owner changes its metadata, which cannot leave n3 now
$o3->query_safe(q{SELECT kz_globals.set_meta('held', '{"side": "n3", "v": 2}')});
is(sql($n3, "SELECT kz_globals.meta('held')::text"), '{"v": 2, "side": "n3"}',
	'cut: set_meta works on n3 for its own session');

# the majority takes held, with its own metadata
my $o1 = session($n1);
my $o1_pid = $o1->query_safe('SELECT pg_backend_pid()');
is($o1->query_safe(q{SELECT kz_globals.register_name('held', '{"side": "n1"}'::jsonb)}), 't',
	'cut: n1 registers held, with other metadata');
converge('held', qq{n1\@127.0.0.1 $o1_pid {"side": "n1"}}, 'cut: the majority', $n1, $n2);
is(view($n3, 'held'), qq{n3\@127.0.0.1 $o3_pid {"v": 2, "side": "n3"}}, 'cut: n3 still shows its own');

# --- heal: one owner per name everywhere, with that registration's metadata ---
$proxy->heal;
ok(wait_nodes_up($_, 3), 'heal: ' . $_->name . ' sees all three servers again') for @nodes;
converge('held', qq{n3\@127.0.0.1 $o3_pid {"v": 2, "side": "n3"}},
	'heal: the older registration (n3) wins, with the metadata it set during the cut');
converge('quiet', qq{n3\@127.0.0.1 $o3_pid {"q": 1}}, 'heal: quiet is back with its metadata');
like($o1->query_safe("SELECT message FROM kz_globals.receive(10000) WHERE kind = 'system'"),
	qr/"event": "name_lost", "name": "held"/, "heal: n1's owner is told it lost held");

# and a change after the heal reaches everyone again
$o3->query_safe(q{SELECT kz_globals.set_meta('held', '{"side": "n3", "v": 3}')});
converge('held', qq{n3\@127.0.0.1 $o3_pid {"v": 3, "side": "n3"}}, 'after the heal: set_meta');

$o3->quit;
converge('held', 'none', "n3's owner exits");
$o1->quit;
done_testing();
