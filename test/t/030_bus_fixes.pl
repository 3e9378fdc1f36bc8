# The nine deliberate fixes of Kazoo's defects (SPEC section 5), each
# checked on a real cluster: two PostgreSQL servers, a simulated Kazoo node
# (test/py/kazoo_sim.py, a real AMQP client speaking the protocol) and one
# broker.  Messages Kazoo could send but a correct peer would not (stale
# unregisters, conflicting advertisements, claims with old timestamps) are
# forged through the simulated node.  Each check fails without its fix.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use KzHarness qw(sql wait_nodes_up greg_now row_of wait_row);

my $broker = KzHarness::Broker->new;
my %gucs = (
	'kz_globals.heartbeat_interval' => '500ms',
	'kz_globals.request_timeout' => '8s');
my $n1 = KzHarness::node('n1', broker => $broker, gucs => \%gucs);
my $n2 = KzHarness::node('n2', broker => $broker,
	gucs => { %gucs, 'kz_globals.on_conflict' => 'terminate' });
my $k = KzHarness::Kazoo->new(broker => $broker, node => 'kazoo1@sim.local',
	args => [ '--heartbeat-ms', 500, '--expires-ms', 30000, '--heartbeat-server-id' ]);
my $KZ = 'kazoo1@sim.local';

# A message from the simulated node with any fields, as if Kazoo sent it.
sub forge
{
	my ($event, $fields, %env) = @_;
	$k->cmd(publish_raw => {
			exchange => 'globals',
			routing_key => "globals.$event.forged",
			json => $fields,
			envelope => { event => $event, %env } });
}

# Everything the simulated node published so far has been processed by
# node: a fresh marker name it registers afterwards is visible there.
my $marker = 0;

sub settle
{
	my (@nodes) = @_;
	my $name = 'marker-' . ++$marker;
	$k->cmd(register => { name => $name });
	wait_row($_, $name, "remote $KZ") or die "marker $name not seen" for @nodes;
	$k->cmd(unregister => { name => $name });
}

for my $node ($n1, $n2)
{
	ok(wait_nodes_up($node, 3),
		$node->name . ' sees both servers and the Kazoo node');
}
ok($k->wait_nodes(qr/^n[12]\@/, 2), 'the Kazoo node sees both servers');
is(sql($n1, "SELECT kazoo FROM kz_globals.nodes WHERE node = '$KZ'"), 't', 'it shows as a Kazoo node');

# --- fix 1: a claim carries its timestamp, and a node answering "pending"
#     applies the rule to its own claim.  n1 claims while the Kazoo node
#     stays silent (n1 waits for it up to 8 s); a rival claim with an older
#     timestamp arrives meanwhile: n1 must give up at once, not win at the
#     timeout (which would make two owners). ---
$k->cmd(deafen => { deaf => JSON::PP::true });
my $s1 = $n1->background_psql('postgres');
my $t0 = time();
$s1->query_until(qr/claiming/, "\\echo claiming\nSELECT 'result:' || kz_globals.register_name('fix1');\n");
sleep 1;
forge('register', { Name => { term => 'fix1' }, State => 'pending',
		Timestamp => greg_now() - 600_000_000 });
my $out = $s1->query_safe('SELECT 1');
my $took = time() - $t0;
like($out, qr/result:false/, 'fix 1: an older rival claim makes our pending claim lose');
cmp_ok($took, '<', 7, 'fix 1: ... at once, not at the 8 s timeout');
$k->cmd(deafen => { deaf => JSON::PP::false });
# fix 2 where it matters: no winner's advertisement follows a lost race
# with a rival claim, so only fix 2 removes our pending row
is(sql($n1, "SELECT count(*) FROM kz_globals.registrations WHERE state = 'pending'"), '0',
	'fix 2: the claim that lost to a rival claim left no pending row');
is($s1->query_safe("SELECT kz_globals.register_name('fix1')"), 't',
	'fix 2: ... so the name can be claimed again');

# --- fix 2: a failed claim leaves no pending row behind ---
is($k->cmd(register => { name => 'fix2' }), 'yes', 'the Kazoo node registers fix2');
wait_row($n1, 'fix2', "remote $KZ");
$k->cmd(register => { name => 'fix2b' });
# n2 has not heard of fix2b yet? it has (advert); a claim from n2 must fail
is(sql($n2, "SELECT kz_globals.register_name('fix2b')"), 'f', 'fix 2: n2 cannot claim fix2b');
is(sql($n2, "SELECT count(*) FROM kz_globals.registrations WHERE state = 'pending'"), '0',
	'fix 2: the failed claim left no pending row');
is(row_of($n2, 'fix2b'), "remote $KZ", 'fix 2: the owner stays the Kazoo node');

# --- fix 3: a claim is decided as soon as every node up has answered ---
$t0 = time();
my $s3 = $n1->background_psql('postgres');
is($s3->query_safe("SELECT kz_globals.register_name('fix3')"), 't', 'fix 3: n1 claims fix3');
$took = time() - $t0;
cmp_ok($took, '<', 4, 'fix 3: decided when all answered, well before the 8 s timeout');

# ... and at start-up a node learns the membership before deciding a claim
my $s3b = $n2->background_psql('postgres');
$s3b->query_safe("SELECT kz_globals.register_name('fix3b')");
wait_row($n1, 'fix3b', "remote n2\@127.0.0.1");
$n1->restart;
is(sql($n1, "SELECT kz_globals.register_name('fix3b')"), 'f',
	'fix 3: right after a restart, n1 still refuses a name n2 owns');
is(sql($n1, "SELECT count(*) FROM kz_globals.registrations WHERE name = 'fix3b' AND state = 'local'"), '0',
	'fix 3: ... and did not register it');
$s1->quit;
$s3->quit;

# --- fix 4: an unregister is obeyed only from the node that owns the row ---
my $s4 = $n2->background_psql('postgres');
$s4->query_safe("SELECT kz_globals.register_name('fix4')");
wait_row($n1, 'fix4', "remote n2\@127.0.0.1") or die;
forge('unregister', { Name => { term => 'fix4' }, Reason => { term => { atom => 'normal' } } });
settle($n1);
is(row_of($n1, 'fix4'), "remote n2\@127.0.0.1", 'fix 4: an unregister from another node is ignored');
forge('unregister', { Name => { term => 'fix4' } }, node => 'n2@127.0.0.1');
wait_row($n1, 'fix4', 'none');
is(row_of($n1, 'fix4'), 'none', 'fix 4: ... and one from the owner node is obeyed');
# (the forged one in the owner's name removed the row; the real owner still
#  has it, and its next advertisement would restore it)
$s4->quit;

# --- fix 5: a conflicting advertisement is decided by the same rule on every
#     node; the losing backend is told, or terminated; no superseded row ---
my $s5 = $n1->background_psql('postgres');
$s5->query_safe("SELECT kz_globals.register_name('fix5-older-wins')");
my $tok = sql($n1, "SELECT kz_globals.token('fix5-older-wins')");
wait_row($n2, 'fix5-older-wins', "remote n1\@127.0.0.1");
forge('register', { Name => { term => 'fix5-older-wins' }, State => 'registered',
		Timestamp => $tok - 1_000_000 });
my $sys = $s5->query_safe(
	"SELECT kind || '|' || message FROM kz_globals.receive(10000) WHERE kind = 'system'");
like($sys, qr/^system\|\{"event": "name_lost", "name": "fix5-older-wins", "winner_node": "kazoo1\@sim.local"\}$/,
	'fix 5: the local owner that lost is told');
for my $node ($n1, $n2)
{
	ok(wait_row($node, 'fix5-older-wins', "remote $KZ"), $node->name . ' agrees the older claim won');
	is(sql($node, "SELECT count(*) FROM kz_globals.registrations WHERE name = 'fix5-older-wins'"), '1',
		$node->name . ' keeps no superseded row');
}
ok(sql($n1, 'SELECT conflicts > 0 FROM kz_globals.stats') eq 't', 'fix 5: the conflict is counted');

$s5->query_safe("SELECT kz_globals.register_name('fix5-newer-loses')");
$tok = sql($n1, "SELECT kz_globals.token('fix5-newer-loses')");
wait_row($n2, 'fix5-newer-loses', "remote n1\@127.0.0.1");
forge('register', { Name => { term => 'fix5-newer-loses' }, State => 'registered',
		Timestamp => $tok + 1_000_000 });
settle($n1, $n2);
is(row_of($n1, 'fix5-newer-loses'), "local n1\@127.0.0.1", 'fix 5: a younger claim does not win on n1');
is(row_of($n2, 'fix5-newer-loses'), "remote n1\@127.0.0.1", 'fix 5: ... nor on n2');
is($s5->query_safe("SELECT count(*) FROM kz_globals.receive(0)"), '0', 'fix 5: and nobody is told');

# with on_conflict = terminate (n2) the loser is terminated
my $s5t = $n2->background_psql('postgres');
my $victim = $s5t->query_safe('SELECT pg_backend_pid()');
$s5t->query_safe("SELECT kz_globals.register_name('fix5-terminate')");
$tok = sql($n2, "SELECT kz_globals.token('fix5-terminate')");
forge('register', { Name => { term => 'fix5-terminate' }, State => 'registered',
		Timestamp => $tok - 1_000_000 });
ok($n2->poll_query_until('postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $victim"),
	'fix 5: with on_conflict = terminate the loser is terminated');
eval { $s5t->quit };

# --- fix 6: the events about one name from one node arrive in order: after
#     many register/unregister cycles the other node ends in the same state ---
my $s6 = $n1->background_psql('postgres');
$s6->query_safe(q{
	DO $$ BEGIN
		FOR i IN 1..200 LOOP
			PERFORM kz_globals.register_name('fix6');
			PERFORM kz_globals.unregister_name('fix6');
		END LOOP;
		PERFORM kz_globals.register_name('fix6');
	END $$});
$tok = sql($n1, "SELECT kz_globals.token('fix6')");
ok($n2->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM kz_globals.registrations WHERE name = 'fix6' AND token = $tok"),
	'fix 6: n2 ends with the last registration of 200 cycles');
$s6->query_safe("SELECT kz_globals.unregister_name('fix6')");
ok(wait_row($n2, 'fix6', 'none'), 'fix 6: ... and without it once it is gone');

# --- fix 7: a Kazoo node that restarts (new kz_nodes queue) or expires
#     loses all its rows at once ---
# (The simulated node puts its kz_nodes queue in its heartbeats as
# Server-ID, which is how a restart is recognised here; real Kazoo's
# heartbeats carry no Server-ID: see test/t/070_kazoo_interop.pl.)
$k->cmd(register => { name => 'fix7' });
wait_row($n1, 'fix7', "remote $KZ") or die;
$k->quit;
$k = KzHarness::Kazoo->new(broker => $broker, node => $KZ,
	args => [ '--heartbeat-ms', 500, '--expires-ms', 30000, '--heartbeat-server-id' ]);
ok(wait_row($n1, 'fix7', 'none'), 'fix 7: a restarted Kazoo node loses its old names at once');
my $k2 = KzHarness::Kazoo->new(broker => $broker, node => 'kazoo2@sim.local',
	args => [ '--heartbeat-ms', 500 ]);
ok($n1->poll_query_until('postgres',
		"SELECT state = 'up' FROM kz_globals.nodes WHERE node = 'kazoo2\@sim.local'"), 'kazoo2 is up');
$k2->cmd(register => { name => 'fix7-expiry' });
wait_row($n1, 'fix7-expiry', "remote kazoo2\@sim.local") or die;
$k2->cmd('heartbeat_stop');
ok($n1->poll_query_until('postgres',
		"SELECT state = 'expired' FROM kz_globals.nodes WHERE node = 'kazoo2\@sim.local'"),
	'fix 7: a Kazoo node whose heartbeats stop expires');
is(row_of($n1, 'fix7-expiry'), 'none', 'fix 7: ... and loses its names');
$k2->quit;

# --- fix 8: a node that joins learns every registration at once, in bulk ---
my $s8 = $n2->background_psql('postgres');
$s8->query_safe("SELECT count(*) FROM generate_series(1, 300) g WHERE kz_globals.register_name('bulk-' || g)");
my $n3 = KzHarness::node('n3', broker => $broker, gucs => \%gucs);
ok($n3->poll_query_until('postgres',
		"SELECT count(*) = 300 FROM kz_globals.registrations WHERE name LIKE 'bulk-%' AND node = 'n2\@127.0.0.1'"),
	'fix 8: a new node has all 300 names of n2 in its table, without asking for any');

# --- fix 9: a send to a remote owner goes to its node's queue, mandatory
#     and confirmed: a vanished owner node is an error, not a silent loss ---
$k->cmd(register => { name => 'fix9' });
wait_row($n1, 'fix9', "remote $KZ") or die;
is(sql($n1, "SELECT (kz_globals.send('fix9', 'to kazoo')).node"), $KZ, 'fix 9: send to a Kazoo owner');
my $inbox = $k->cmd(inbox => { wait_ms => 5000 });
is(scalar(grep { $_->{kind} eq 'send' && $_->{message} eq 'to kazoo' } @$inbox), 1,
	'fix 9: ... arrives in its own queue');
$k->quit;    # the node vanishes; its row stays until it expires (30 s)
my ($ret, $o, $err) = $n1->psql('postgres',
	"\\set VERBOSITY verbose\nSELECT kz_globals.send('fix9', 'into the void')");
like($err, qr/42704: no process is registered under the name "fix9".*no longer connected/s,
	'fix 9: a send to a vanished owner node is an error');

$_->quit for $s3b, $s5, $s6, $s8;
done_testing();
