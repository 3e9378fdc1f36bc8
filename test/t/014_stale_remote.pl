# A "remote" answer to a claim that names an owner this server knows to be
# gone does not deny the claim (issue 14, found against real Kazoo).
#
# Kazoo keeps the rows of a node that died hard (its expiry subscription is
# lost after a cold start), and answers every claim for such a name with
# register_resp State=remote naming the dead owner's queue.  A server that
# took any "remote" answer as a denial could never register that name again
# while the Kazoo node runs.  Here a simulated Kazoo node that keeps an
# expired node's rows (--no-expire-names) answers so, for a second
# simulated node that stopped dead (no heartbeat, deaf) and for a server of
# ours stopped with -m immediate.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use KzHarness qw(sql wait_nodes_up row_of wait_row);

my $broker = KzHarness::Broker->new;
my %gucs = ('kz_globals.heartbeat_interval' => '500ms');
my $n1 = KzHarness::node('n1', broker => $broker, gucs => \%gucs);
my $n2 = KzHarness::node('n2', broker => $broker, gucs => \%gucs);
my $n3 = KzHarness::node('n3', broker => $broker, gucs => \%gucs);
my ($KZ, $DEAD) = ('kazoo1@sim.local', 'kazoo2@sim.local');
my $k = KzHarness::Kazoo->new(broker => $broker, node => $KZ,
	args => [ '--heartbeat-ms', 500, '--expires-ms', 30000, '--no-expire-names' ]);
my $dead = KzHarness::Kazoo->new(broker => $broker, node => $DEAD,
	args => [ '--heartbeat-ms', 300, '--expires-ms', 600 ]);

for my $node ($n1, $n2, $n3)
{
	ok(wait_nodes_up($node, 5),
		$node->name . ' sees three servers and two Kazoo nodes');
}

# 1. A Kazoo node's names after it died hard.
is($dead->cmd(register => { name => 'orphan' }), 'yes', "$DEAD registers orphan");
ok(wait_row($_, 'orphan', qr/^remote \Q$DEAD\E$/), $_->name . " holds ${DEAD}'s orphan") for ($n1, $n2);
$dead->cmd(heartbeat_stop => { deaf => JSON::PP::true });
ok($n1->poll_query_until('postgres',
		"SELECT state <> 'up' FROM kz_globals.nodes WHERE node = '$DEAD'"),
	"n1 expires $DEAD");
ok(wait_row($n1, 'orphan', qr/^none$/), "n1 drops ${DEAD}'s names");
ok($k->wait_nodes($DEAD, 0), "$KZ expires $DEAD");
is($k->cmd(lookup => { name => 'orphan' })->{node}, $DEAD,
	"$KZ still holds ${DEAD}'s orphan (as Kazoo does)");
# Owners keep their sessions: a name goes with the session that holds it.
my $s1 = $n1->background_psql('postgres');
is($s1->query_safe("SELECT kz_globals.register_name('orphan')"), 't',
	"n1 registers orphan although $KZ answers \"remote\" for the dead node");
ok(wait_row($n2, 'orphan', qr/^remote n1\@/), 'n2 agrees')
  or diag('n2: ' . row_of($n2, 'orphan'));

# 2. The names of a server of ours stopped with -m immediate.
my $s3 = $n3->background_psql('postgres');
is($s3->query_safe("SELECT kz_globals.register_name('left-behind')"), 't', 'n3 registers left-behind');
ok(KzHarness::wait_until("$KZ to hold left-behind", 20,
		sub { ($k->cmd(lookup => { name => 'left-behind' }) // {})->{node} =~ /^n3\@/ }),
	"$KZ holds n3's left-behind")
  or diag('lookup: ' . JSON::PP->new->allow_nonref->encode($k->cmd(lookup => { name => 'left-behind' })));
$n3->stop('immediate');
eval { $s3->{run}->kill_kill; 1 };
ok($n1->poll_query_until('postgres',
		"SELECT state <> 'up' FROM kz_globals.nodes WHERE node LIKE 'n3@%'"),
	'n1 expires n3');
ok($k->wait_nodes(qr/^n3\@/, 0), "$KZ expires n3");
like($k->cmd(lookup => { name => 'left-behind' })->{node}, qr/^n3\@/,
	"$KZ still holds n3's left-behind");
is($s1->query_safe("SELECT kz_globals.register_name('left-behind')"), 't',
	"n1 registers left-behind although $KZ answers \"remote\" for n3");

# 3. Still denied: a "remote" answer naming an owner that is up.  n1 is
# restarted, so it does not know the Kazoo node's name (Kazoo nodes send
# no sync); the Kazoo node is deaf, so n2's "remote" answer is the only one.
is($k->cmd(register => { name => 'held-by-kazoo' }), 'yes', "$KZ registers held-by-kazoo");
ok(wait_row($n2, 'held-by-kazoo', qr/^remote \Q$KZ\E$/), 'n2 holds it');
$s1->quit;
$n1->restart;
ok(wait_nodes_up($n1, 3),
	'n1 is back and sees n2 and the live Kazoo node');
is(row_of($n1, 'held-by-kazoo'), 'none', 'n1 does not know held-by-kazoo');
$k->cmd(deafen => { deaf => JSON::PP::true });
is(sql($n1, "SELECT kz_globals.register_name('held-by-kazoo')"), 'f',
	"n1's claim is denied by n2's \"remote\" answer naming the live Kazoo node");
$k->cmd(deafen => { deaf => JSON::PP::false });

$k->quit;
$dead->quit;
done_testing();
