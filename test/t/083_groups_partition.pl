# Process groups across a partition and its heal (issue 12): n1 reaches the
# broker through a proxy the test cuts.  While cut, the other servers drop
# n1's members once they expire n1, and a publish there reaches their own
# members only; n1's own members still get what is published on n1.  After
# the heal every server lists every member again, and one publish reaches
# all of them, once each.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use KzHarness qw(sql wait_nodes_up session);

my $broker = KzHarness::Broker->new;
my $proxy = KzHarness::TcpProxy->new(target_port => $broker->port);
my %gucs = ('kz_globals.heartbeat_interval' => '500ms');
my $n1 = KzHarness::node('n1', broker => $proxy, gucs => \%gucs);
my ($n2, $n3) = map { KzHarness::node("n$_", broker => $broker, gucs => \%gucs) } 2, 3;
my @nodes = ($n1, $n2, $n3);
ok(wait_nodes_up($_, 3), $_->name . ' sees the three servers') for @nodes;

# members: three on n1, two on n2, one on n3, all in group "gp"
my %members = (n1 => [ map { session($n1) } 1 .. 3 ], n2 => [ map { session($n2) } 1 .. 2 ],
	n3 => [ session($n3) ]);
for my $name (sort keys %members)
{
	is($_->query_safe("SELECT kz_globals.join('gp')"), 't', "a session on $name joins gp")
	  for @{ $members{$name} };
}

sub count_on
{
	my ($node) = @_;
	return sql($node, "SELECT count(*) FROM kz_globals.members('gp')");
}

sub wait_count
{
	my ($node, $want) = @_;
	return KzHarness::wait_until($node->name . " to list $want members", 30,
		sub { count_on($node) == $want });
}

ok(wait_count($_, 6), $_->name . ' lists the six members') for @nodes;

# What each member of a server received since the last look: the messages,
# sorted, joined by commas, one entry per member.
sub received
{
	my ($name) = @_;
	my @got;
	for my $s (@{ $members{$name} })
	{
		my @m;
		while (1)
		{
			my $msg = $s->query_safe(
				"SELECT coalesce((SELECT message FROM kz_globals.receive(200) WHERE kind = 'group' AND name = 'gp'), '')");
			last if $msg eq '';
			push @m, $msg;
		}
		push @got, join(',', sort @m);
	}
	return join(' ', @got);
}

is(sql($n2, "SELECT kz_globals.publish('gp', 'before')"), '6', 'before the cut: a publish on n2 counts six');
is(received($_), join(' ', ('before') x @{ $members{$_} }), "each member on $_ gets it once")
  for qw(n1 n2 n3);

# --- the cut ---
$proxy->cut('reset');
ok($n1->poll_query_until('postgres', "SELECT broker_state <> 'connected' FROM kz_globals.stats"),
	'n1 has lost the broker');
ok(wait_count($n2, 3), "n2 drops n1's members once it expires n1");
ok(wait_count($n3, 3), "n3 too");
is(sql($n2, "SELECT kz_globals.publish('gp', 'during')"), '3',
	'during the cut: a publish on n2 counts the members it can reach');
is(received('n2'), 'during during', 'the members on n2 get it');
is(received('n3'), 'during', 'the member on n3 gets it');
is(received('n1'), '  ', 'the members on n1 do not');
cmp_ok(sql($n1, "SELECT kz_globals.publish('gp', 'inside')"), '>=', 3,
	"a publish on the cut-off n1 counts at least its own members");
is(received('n1'), 'inside inside inside', "n1's own members get it");
is(received('n2') . '|' . received('n3'), ' |', 'nobody across the cut does');

# a member leaves on each side meanwhile
my $gone1 = pop @{ $members{n1} };
my $gone2 = pop @{ $members{n2} };
is($gone1->query_safe("SELECT kz_globals.leave('gp')"), 't', 'a member on n1 leaves during the cut');
is($gone2->query_safe("SELECT kz_globals.leave('gp')"), 't', 'a member on n2 leaves during the cut');

# --- the heal ---
$proxy->heal;
ok(wait_nodes_up($_, 3), $_->name . ' sees the three servers again') for @nodes;
ok(wait_count($_, 4), $_->name . ' lists the four members left, none twice') for @nodes;
is(sql($n3, "SELECT kz_globals.publish('gp', 'after')"), '4', 'after the heal: a publish on n3 counts four');
is(received($_), join(' ', ('after') x @{ $members{$_} }), "each member on $_ gets it once")
  for qw(n1 n2 n3);
is($_->query_safe("SELECT count(*) FROM kz_globals.receive(200)"), '0',
	'a member that left gets nothing') for $gone1, $gone2;

$_->quit for map { @$_ } values %members;
$_->quit for $gone1, $gone2;
done_testing();
