# A remote sender fills a remote owner's mailbox (kz_globals.mailbox_size =
# 4).  A send to a remote owner succeeds for the sender once the broker has
# routed it to the owner node's queue; a message that finds the mailbox full
# there is dropped at the owner's node and counted in that node's
# kz_globals.stats.messages_dropped.  Nothing crashes, the owner receives
# exactly the first 4 in order, and the mailbox works again once read.  A
# call dropped that way times out for the caller (57014).  (A local sender
# gets 53400 with nothing queued; pg_regress covers that on one server, it
# is checked here once more in cluster mode for contrast.)
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use KzHarness qw(sql wait_nodes_up worker_pid session);

my $broker = KzHarness::Broker->new;
my %gucs = (
	'kz_globals.heartbeat_interval' => '500ms',
	'kz_globals.mailbox_size' => 4);
my $n1 = KzHarness::node('n1', broker => $broker, gucs => \%gucs);
my $n2 = KzHarness::node('n2', broker => $broker, gucs => \%gucs);
my $k = KzHarness::Kazoo->new(broker => $broker, node => 'kazoo1@sim.local',
	args => [ '--heartbeat-ms', 500 ]);

sub stat_of
{
	my ($node, $col) = @_;
	return sql($node, "SELECT $col FROM kz_globals.stats");
}

# Reads the whole mailbox of a session: one line per message.
sub drain
{
	my ($s) = @_;
	my @got;
	while (1)
	{
		my $row = $s->query_safe(
			"SELECT coalesce(name, '') || '|' || kind || '|' || message || '|' || coalesce(sender_node, '') FROM kz_globals.receive(0)");
		last if $row eq '';
		push @got, $row;
	}
	return @got;
}

for my $node ($n1, $n2)
{
	ok(wait_nodes_up($node, 3),
		$node->name . ' sees the cluster');
}
is(sql($n2, 'SHOW kz_globals.mailbox_size'), '4', 'mailboxes hold 4 messages');
my %worker = (n1 => worker_pid($n1), n2 => worker_pid($n2));

my $owner = session($n2);
my $opid = $owner->query_safe('SELECT pg_backend_pid()');
is($owner->query_safe("SELECT kz_globals.register_name('mbox')"), 't', 'the owner on n2 registers mbox');
ok($n1->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM kz_globals.registrations WHERE name = 'mbox' AND state = 'remote' AND pid = $opid"),
	'n1 knows the owner');

# --- 1. a burst of 50 sends from n1 into a mailbox of 4 ---
my $dropped0 = stat_of($n2, 'messages_dropped');
my $received0 = stat_of($n2, 'messages_received');
my $sent = sql($n1, q{
	SELECT count(*) FROM generate_series(1, 50) g
	WHERE (kz_globals.send('mbox', 'm' || g)).pid IS NOT NULL});
is($sent, '50', 'every one of 50 remote sends succeeds for the sender (the broker routed it)');
ok($n2->poll_query_until('postgres',
		"SELECT messages_dropped - $dropped0 FROM kz_globals.stats", '46'),
	'n2 drops the 46 that found the mailbox full, and counts them in messages_dropped');
is(stat_of($n2, 'messages_received') - $received0, 4, 'n2 counts 4 received');
is(stat_of($n1, 'messages_dropped'), '0', 'nothing is counted as dropped on the sender\'s node');
is_deeply([ drain($owner) ], [ map { "mbox|send|m$_|n1\@127.0.0.1" } 1 .. 4 ],
	'the owner receives exactly the first 4, in order');
sleep 1;
is($owner->query_safe('SELECT count(*) FROM kz_globals.receive(0)'), '0',
	'... and nothing else arrives later');

# --- 2. the mailbox works again once read ---
sql($n1, "SELECT kz_globals.send('mbox', 'again-' || g) FROM generate_series(1, 3) g");
my @got;
for (1 .. 3)
{
	push @got, $owner->query_safe("SELECT message FROM kz_globals.receive(10000)");
}
is_deeply(\@got, [ 'again-1', 'again-2', 'again-3' ], 'after reading, new remote messages are delivered');

# --- 3. one mailbox per backend, whatever the name: two names share it ---
$owner->query_safe("SELECT kz_globals.register_name('mbox-2')");
ok($n1->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM kz_globals.registrations WHERE name = 'mbox-2' AND state = 'remote'"),
	'n1 knows mbox-2');
$dropped0 = stat_of($n2, 'messages_dropped');
sql($n1, q{
	SELECT kz_globals.send(CASE WHEN g % 2 = 1 THEN 'mbox' ELSE 'mbox-2' END, 'x' || g)
	FROM generate_series(1, 10) g});
ok($n2->poll_query_until('postgres',
		"SELECT messages_dropped - $dropped0 FROM kz_globals.stats", '6'),
	'with two names, the 6 over the backend\'s 4 are dropped');

# --- 4. a local sender on the owner's node gets 53400 while it is full ---
my ($ret, $out, $err) = $n2->psql('postgres',
	"\\set VERBOSITY verbose\nSELECT kz_globals.send('mbox', 'local')");
like($err, qr/53400/, 'a local send into the full mailbox fails with 53400');
is_deeply([ drain($owner) ],
	[ 'mbox|send|x1|n1@127.0.0.1', 'mbox-2|send|x2|n1@127.0.0.1',
	  'mbox|send|x3|n1@127.0.0.1', 'mbox-2|send|x4|n1@127.0.0.1' ],
	'the owner gets the first 4 of both names, and not the refused local one');

# --- 5. a remote call into a full mailbox is dropped and times out ---
sql($n2, "SELECT kz_globals.send('mbox', 'fill' || g) FROM generate_series(1, 4) g");
$dropped0 = stat_of($n2, 'messages_dropped');
($ret, $out, $err) = $n1->psql('postgres',
	"\\set VERBOSITY verbose\nSELECT kz_globals.call('mbox', 'are you there', 1500)");
like($err, qr/57014.*mbox.*1500/s, 'a remote call into a full mailbox times out (57014, names name and timeout)');
ok($n2->poll_query_until('postgres',
		"SELECT messages_dropped - $dropped0 FROM kz_globals.stats", '1'),
	'... the call was dropped and counted at the owner\'s node');

# --- 6. a Kazoo node floods it too ---
$dropped0 = stat_of($n2, 'messages_dropped');
for my $i (1 .. 20)
{
	$k->cmd(send => { name => 'mbox', message => "k$i", lookup => JSON::PP::true });
}
ok($n2->poll_query_until('postgres',
		"SELECT messages_dropped - $dropped0 FROM kz_globals.stats", '20'),
	'20 sends from a Kazoo node into the full mailbox are all dropped and counted');
is_deeply([ drain($owner) ], [ map { "mbox|send|fill$_|n2\@127.0.0.1" } 1 .. 4 ],
	'the owner still has exactly the 4 that filled it');
$k->cmd(send => { name => 'mbox', message => 'k-after', lookup => JSON::PP::true });
is($owner->query_safe("SELECT message || '|' || sender_node FROM kz_globals.receive(10000)"),
	'k-after|kazoo1@sim.local', 'and, once read, a Kazoo send is delivered');

# --- nothing crashed ---
is(worker_pid($n1), $worker{n1}, 'n1 kept the same worker');
is(worker_pid($n2), $worker{n2}, 'n2 kept the same worker');
for my $node ($n1, $n2)
{
	my $log = slurp_file($node->logfile);
	unlike($log, qr/terminated by signal|server process .* was terminated|PANIC|TRAP:/,
		$node->name . ': no crash in the server log');
	is(sql($node, "SELECT broker_state || '/' || broker_disconnects FROM kz_globals.stats"),
		'connected/0', $node->name . ' stayed connected all along');
}
is($owner->query_safe("SELECT kz_globals.whereis_name('mbox') = ('n2\@127.0.0.1', $opid)::kz_globals.owner"),
	't', 'the owner still holds its name');

$owner->quit;
done_testing();
