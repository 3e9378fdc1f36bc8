# Process groups over three servers and one broker (issue 12): thousands of
# memberships in dozens of groups, seen on every server; publish delivers
# into every member's mailbox and counts them; the broker routes a publish
# to each node with members (one binding per group and node, none for a
# node without members); a member's exit and a node's stop remove their
# members everywhere; a node that starts again gets everyone's members by
# sync.  Every server signs what it publishes (kz_globals.bus_key_file),
# and an unsigned group message from the bus is refused.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use KzHarness qw(sql wait_nodes_up);

my $GROUPS = 40;          # groups g1 .. g40
my $SESSIONS = 18;        # sessions per server, each in every group
my $PER_NODE = $GROUPS * $SESSIONS;
my $TOTAL = 3 * $PER_NODE;

my $keyfile = "${PostgreSQL::Test::Utils::tmp_check}/groups_bus.keys";
PostgreSQL::Test::Utils::append_to_file($keyfile, "k1:group-test-secret-0123456789\n");
chmod 0600, $keyfile;

my $broker = KzHarness::Broker->new;
my %gucs = (
	'kz_globals.heartbeat_interval' => '500ms',
	'kz_globals.bus_key_file' => $keyfile,
	'kz_globals.mailbox_size' => 64);
my @nodes = map { KzHarness::node("n$_", broker => $broker, gucs => \%gucs) } 1 .. 3;
my ($n1, $n2, $n3) = @nodes;
ok(wait_nodes_up($_, 3), $_->name . ' sees three nodes up') for @nodes;

# the broker's bindings of kz_globals.groups: "queue key" lines
sub bindings
{
	my ($out) = $broker->ctl('list_bindings', '-q', '--no-table-headers',
		'source_name', 'routing_key', 'destination_name');
	my @lines;
	for (split /\n/, $out)
	{
		my ($src, $key, $dst) = split /\t/;
		push @lines, "$dst $key" if defined $dst && $src eq 'kz_globals.groups';
	}
	return @lines;
}

sub key_bindings
{
	my ($key) = @_;
	return scalar grep { / \Q$key\E$/ } bindings();
}

# every server's view of the whole table
sub wait_total
{
	my ($want, $what, @on) = @_;
	for my $node (@on)
	{
		ok($node->poll_query_until('postgres',
				"SELECT count(*) = $want FROM kz_globals.groups"),
			$node->name . " $what")
		  or diag(sql($node, 'SELECT count(*) FROM kz_globals.groups'));
	}
}

# sessions on each server, each joining every group
my %sess;
for my $node (@nodes)
{
	for my $i (1 .. $SESSIONS)
	{
		my $s = $node->background_psql('postgres');
		$s->set_query_timer_restart;
		is($s->query_safe("SELECT count(*) FILTER (WHERE kz_globals.join('g' || i)) FROM generate_series(1, $GROUPS) i"),
			$GROUPS, $node->name . " session $i joins $GROUPS groups")
		  if $i == 1;
		$s->query_safe("SELECT kz_globals.join('g' || i) FROM generate_series(1, $GROUPS) i")
		  if $i > 1;
		push @{ $sess{ $node->name } }, $s;
	}
}
wait_total($TOTAL, "lists all $TOTAL memberships", @nodes);
is(sql($n1, "SELECT string_agg(node || ':' || n, ',' ORDER BY node) FROM "
		  . "(SELECT node, count(*) n FROM kz_globals.members('g7') GROUP BY node) s"),
	"n1\@127.0.0.1:$SESSIONS,n2\@127.0.0.1:$SESSIONS,n3\@127.0.0.1:$SESSIONS",
	'members(g7) on n1: every session of every server');
is(sql($n2, "SELECT count(DISTINCT \"group\") FROM kz_globals.groups"), $GROUPS,
	"n2 knows $GROUPS groups");
is(sql($n3, "SELECT count(*) FROM kz_globals.groups g JOIN pg_stat_activity a USING (pid) "
		  . "WHERE g.node = 'n3\@127.0.0.1'"),
	$PER_NODE, 'n3 lists its own members with their pids');

# the broker: one binding per group and node, and the members key per node
is(scalar(bindings()), 3 * $GROUPS + 3, 'kz_globals.groups: one binding per group and node, plus one per node');
is(key_bindings('g.g7'), 3, 'g7 is bound once for each of the three nodes');

# publish: counted once per member, delivered into every member's mailbox
is(sql($n1, "SELECT kz_globals.publish('g7', 'hello g7')"), 3 * $SESSIONS,
	'publish from n1 counts every member on the three servers');
my $got = 0;
for my $node (@nodes)
{
	for my $s (@{ $sess{ $node->name } })
	{
		$got += $s->query_safe("SELECT count(*) FROM kz_globals.receive(5000) "
			  . "WHERE kind = 'group' AND name = 'g7' AND message = 'hello g7' AND sender_node = 'n1\@127.0.0.1' "
			  . "AND sender_role = current_user AND sender_database = current_database()");
	}
}
is($got, 3 * $SESSIONS,
	'every member on every server received it once, as kind group, with the sender\'s role and database (signed)');
my $extra = 0;
$extra += $_->query_safe('SELECT count(*) FROM kz_globals.receive(0)') for map { @$_ } values %sess;
is($extra, 0, 'and nothing else');

# a group with members on one server only: the broker routes it there
my $solo = $sess{n3}[0];
is($solo->query_safe("SELECT kz_globals.join('n3-only')"), 't', 'a session on n3 joins n3-only');
ok($n1->poll_query_until('postgres', "SELECT count(*) = 1 FROM kz_globals.members('n3-only')"),
	'n1 sees the member on n3');
is(key_bindings('g.n3-only'), 1, 'n3-only is bound for n3 alone');
is(sql($n2, "SELECT kz_globals.publish('n3-only', 'to n3')"), 1, 'publish from n2 counts the one member');
is($solo->query_safe("SELECT name || '|' || kind || '|' || message || '|' || sender_node FROM kz_globals.receive(5000)"),
	"n3-only|group|to n3|n2\@127.0.0.1", 'the member on n3 receives it');

# leave: seen everywhere; the last local member's leave unbinds
is($solo->query_safe("SELECT kz_globals.leave('n3-only')"), 't', 'it leaves');
ok($_->poll_query_until('postgres', "SELECT count(*) = 0 FROM kz_globals.members('n3-only')"),
	$_->name . ' sees the leave') for $n1, $n2;
ok(KzHarness::wait_until('n3-only unbound', 10, sub { key_bindings('g.n3-only') == 0 }),
	'n3-only is no longer bound');
is(sql($n1, "SELECT kz_globals.publish('n3-only', 'nobody')"), 0, 'a publish to it counts nobody');
is($sess{n2}[1]->query_safe("SELECT kz_globals.leave('g1')"), 't', 'a session on n2 leaves g1');
ok($_->poll_query_until('postgres',
		"SELECT count(*) = " . (3 * $SESSIONS - 1) . " FROM kz_globals.members('g1')"),
	$_->name . ' sees one member less in g1') for @nodes;

# a long group name: hashed into the routing key, delivered by name
my $long = 'L' x 250;
is($sess{n2}[0]->query_safe("SELECT kz_globals.join('$long')"), 't', 'n2 joins a 250-byte group');
ok($n1->poll_query_until('postgres', "SELECT count(*) = 1 FROM kz_globals.members('$long')"),
	'n1 sees it');
is(scalar(grep { / h\.[0-9a-f]{16}$/ } bindings()), 1, 'its key is a hash');
is(sql($n1, "SELECT kz_globals.publish('$long', 'long one')"), 1, 'publish counts the member');
is($sess{n2}[0]->query_safe("SELECT length(name) || '|' || message FROM kz_globals.receive(5000)"),
	'250|long one', 'the member on n2 receives it');
$sess{n2}[0]->query_safe("SELECT kz_globals.leave('$long')");

# a forged, unsigned group message from the bus is refused: not delivered
my $k = KzHarness::Kazoo->new(broker => $broker, node => 'kazoo1@sim.local');
my $rejected = sql($n2, 'SELECT bus_rejected FROM kz_globals.stats');
$k->cmd(publish_raw => {
		exchange => 'kz_globals.groups', routing_key => 'g.g2',
		json => { Name => { term => 'g2' }, Message => { term => 'forged' } },
		envelope => { event => 'group_publish', node => 'n1@127.0.0.1' } });
ok($n2->poll_query_until('postgres', "SELECT bus_rejected > $rejected FROM kz_globals.stats"),
	'n2 refuses an unsigned group_publish');
is($sess{n2}[2]->query_safe('SELECT count(*) FROM kz_globals.receive(300)'), 0,
	'nothing was delivered');

# a member's exit: its memberships go everywhere (g1 had one leave on n2)
my $leaver = pop @{ $sess{n1} };
$leaver->quit;
wait_total($TOTAL - 1 - $GROUPS, 'drops the memberships of a session that ended on n1', @nodes);

# a node's stop: its members go on the other servers
$_->quit for @{ delete $sess{n3} };
$n3->stop;
wait_total($TOTAL - 1 - $GROUPS - $PER_NODE, 'drops the members of n3 once it is stopped', $n1, $n2);
is(sql($n1, "SELECT count(*) FROM kz_globals.groups WHERE node = 'n3\@127.0.0.1'"), 0,
	'no member of n3 left on n1');
is(sql($n2, "SELECT kz_globals.publish('g7', 'after n3')"), 2 * $SESSIONS - 1,
	'a publish counts the members of n1 and n2');
$got = 0;
for my $s (map { @$_ } values %sess)
{
	$got += $s->query_safe("SELECT count(*) FROM kz_globals.receive(5000) WHERE message = 'after n3'");
}
is($got, 2 * $SESSIONS - 1, 'and each of them receives it');
ok(KzHarness::wait_until('n3 unbound', 10, sub { key_bindings('g.g7') == 2 }),
	'g7 is bound for n1 and n2 only');

# n3 starts again: the sync brings it every member of n1 and n2, and its
# own new member reaches them
$n3->start;
# the three servers (the simulated Kazoo node, up since above, makes four:
# "exactly three up" would hold only until its heartbeat arrives)
ok($n3->poll_query_until('postgres',
		"SELECT count(*) = 3 FROM kz_globals.nodes WHERE state = 'up' AND NOT kazoo"),
	'n3 is back');
wait_total($TOTAL - 1 - $GROUPS - $PER_NODE, 'has everyone else\'s members after the sync', $n3);
my $back = $n3->background_psql('postgres');
$back->set_query_timer_restart;
$back->query_safe("SELECT kz_globals.join('g7')");
ok($_->poll_query_until('postgres', "SELECT count(*) = 1 FROM kz_globals.members('g7') WHERE node = 'n3\@127.0.0.1'"),
	$_->name . ' sees the new member on n3') for $n1, $n2;
is($back->query_safe("SELECT kz_globals.publish('g7', 'from n3')"), 2 * $SESSIONS,
	'a publish from n3 counts every member');
is($sess{n1}[0]->query_safe("SELECT message || '|' || sender_node FROM kz_globals.receive(5000) WHERE message = 'from n3'"),
	"from n3|n3\@127.0.0.1", 'a member on n1 receives it');

is(sql($n3, 'SELECT bus_rejected FROM kz_globals.stats'), 0,
	'no signed message was refused on n3 since it started again');

# without bus keys, malformed group messages are dropped and counted: a
# publish under another group's key, one whose group is not a binary, and
# membership entries whose group or pid is wrong
for my $node ($n1, $n2, $n3)
{
	sql($node, "ALTER SYSTEM SET kz_globals.bus_key_file = ''; SELECT pg_reload_conf()");
}
ok($n1->poll_query_until('postgres', "SELECT current_setting('kz_globals.bus_key_file') = ''"),
	'n1 runs without bus keys');
sleep 1;    # the workers reload too
my $malformed = sql($n1, 'SELECT bus_malformed FROM kz_globals.stats');
my $members_before = sql($n1, 'SELECT count(*) FROM kz_globals.groups');
$k->cmd(publish_raw => {
		exchange => 'kz_globals.groups', routing_key => 'g.g8',
		json => { Name => { term => 'g7' }, Message => { term => 'wrong key' } },
		envelope => { event => 'group_publish' } });
$k->cmd(publish_raw => {
		exchange => 'kz_globals.groups', routing_key => 'g.g8',
		json => { Name => { term => { atom => 'g8' } }, Message => { term => 'atom' } },
		envelope => { event => 'group_publish' } });
$k->cmd(publish_raw => {
		exchange => 'kz_globals.groups', routing_key => 'members',
		json => { Names => [ [ { term => { atom => 'g8' } }, 1, 123, 'registered', '' ],
				[ { term => 'g8' }, 1, 0, 'registered', '' ],
				[ { term => '' }, 1, 5, 'registered', '' ] ] },
		envelope => { event => 'group_members' } });
ok($n1->poll_query_until('postgres', "SELECT bus_malformed >= $malformed + 5 FROM kz_globals.stats"),
	'n1 drops and counts each malformed group message and entry')
  or diag(sql($n1, 'SELECT bus_malformed FROM kz_globals.stats'));
is($sess{n1}[0]->query_safe('SELECT count(*) FROM kz_globals.receive(300)'), 0,
	'none was delivered to a member of g7 or g8 on n1');
is(sql($n1, 'SELECT count(*) FROM kz_globals.groups'), $members_before,
	'and no membership was recorded');
like(slurp_file($n1->logfile), qr/dropped a malformed process-group message/,
	'the drop is logged');
is(sql($n1, 'SELECT 1'), '1', 'n1 answers');
$k->quit;

# a broker account without permission on kz_globals.groups (the recipe
# before process groups): n1 connects all the same, says why, and its
# publishes reach its own members only
{
	my $re = '^(n1@127\.0\.0\.1-kz_globals-.*|globals|targeted|nodes)$';
	(my $write = $re) =~ s/\)\$\z/|amq\\.default)\$/;
	$broker->ctl('add_user', 'pg1', 'pg1-password');
	$broker->ctl('set_permissions', '-p', '/', 'pg1', $re, $write, $re);
	my $offset = -s $n1->logfile;
	sql($n1, "ALTER SYSTEM SET kz_globals.amqp_uri = 'amqp://pg1:pg1-password\@127.0.0.1:"
		  . $broker->port . "/%2f'; SELECT pg_reload_conf()");
	ok($n1->wait_for_log(qr/process groups are limited to this server/, $offset),
		'n1, whose broker account may not use kz_globals.groups, says so');
	ok($n1->poll_query_until('postgres',
			"SELECT broker_state = 'connected' AND broker_connects >= 2 FROM kz_globals.stats"),
		'and is connected');
	my $local = sql($n1, "SELECT count(*) FROM kz_globals.members('g7') WHERE node = 'n1\@127.0.0.1'");
	is(sql($n1, "SELECT kz_globals.publish('g7', 'limited')"), $local,
		"a publish from n1 reaches its $local own members only");
	is(sql($n1, "SELECT kz_globals.register_name('limited-ok')"), 't', 'names work as before');
}

$back->quit;
$_->quit for map { @$_ } values %sess;
done_testing();
