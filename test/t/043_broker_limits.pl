# Bounded against the broker (issue 11):
#
#   - a node's queue holds at most kz_globals.queue_max_length messages: a
#     flood at a worker that does not read (SIGSTOP here) stays bounded in
#     the broker, what is dropped is counted in stats.bus_overflow, and the
#     worker carries on afterwards;
#   - while the broker blocks the connections (a memory alarm: every
#     publisher is blocked, so no heartbeat flows) nothing is published and
#     no node expires another; when the alarm ends, everything resumes;
#   - SIGTERM ends the worker promptly even while the broker blocks it.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use KzHarness qw(sql wait_nodes_up worker_pid);

my $broker = KzHarness::Broker->new;
my %gucs = (
	'kz_globals.heartbeat_interval' => '500ms',
	'kz_globals.queue_max_length' => 50);
my $n1 = KzHarness::node('n1', broker => $broker, gucs => \%gucs);
my $n2 = KzHarness::node('n2', broker => $broker, gucs => \%gucs);
my $k = KzHarness::Kazoo->new(broker => $broker, node => 'kazoo1@sim.local',
	args => [ '--heartbeat-ms', 500, '--expires-ms', 30000 ]);

ok(wait_nodes_up($_, 3), $_->name . ' sees both peers') for ($n1, $n2);
my $q1 = sql($n1, 'SELECT server FROM kz_globals.nodes WHERE is_self');

# --- the queue bound ---
my $queues = $broker->ctl(qw(-q list_queues name arguments));
like($queues, qr/^\Q$q1\E\s.*x-max-length.*50/m, "n1's queue is declared with x-max-length 50");
like($queues, qr/^\Q$q1\E\.overflow\s/m, 'and its overflow queue exists');

# The flood must be quick: a stopped worker misses its AMQP heartbeats, and
# after about two of them (4 s) the broker would close its connection and
# delete its queue.  The worker consumes without acknowledgements, so the
# broker hands messages on as fast as the socket takes them, whether or not
# the worker reads; only what the socket buffers cannot take stays in the
# queue.  Hence a flood of 1000 bodies of 60 kB (60 MB, more than any
# socket buffers; each over max_message_size, so the worker discards what
# reaches it as malformed, counted).
my $w1 = worker_pid($n1);
kill 'STOP', $w1;
my $flood = 1000;
is($k->cmd(publish_raw => { exchange => 'targeted', routing_key => $q1,
			body => 'x' x 60000, count => $flood }),
	'published', "$flood messages of 60 kB published at n1's queue while its worker is stopped");
select(undef, undef, undef, 0.5);
kill 'CONT', $w1;
ok($n1->poll_query_until('postgres',
		"SELECT bus_overflow > 0 AND bus_overflow + bus_malformed <= $flood FROM kz_globals.stats"),
	'n1 counts messages the broker dropped from its full queue (bus_overflow)')
  or diag(sql($n1, 'SELECT bus_overflow, bus_malformed FROM kz_globals.stats'));
note('bus_overflow, bus_malformed: ' . sql($n1, 'SELECT bus_overflow, bus_malformed FROM kz_globals.stats'));
ok($n1->wait_for_log(qr/the broker dropped \d+ message\(s\) from this node's full queue/),
	'and logs it');
my $flood_owner = $n1->background_psql('postgres');
is($flood_owner->query_safe("SELECT kz_globals.register_name('after-flood')"), 't',
	'n1 registers a name after the flood');
ok($n2->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM kz_globals.registrations WHERE name = 'after-flood'"),
	'n2 learns of it: the worker carried on');
is(sql($n1, 'SELECT broker_disconnects FROM kz_globals.stats'), '0',
	'the flood cost n1 no reconnection');

# --- a memory alarm blocks every publisher ---
my $bg = $n2->background_psql('postgres');
$bg->query_safe("SELECT kz_globals.register_name('held-by-n2')");
ok($n1->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM kz_globals.registrations WHERE name = 'held-by-n2'"),
	'n1 sees held-by-n2');
$broker->ctl(qw(set_vm_memory_high_watermark absolute 1));
my $blocked = KzHarness::wait_until('the broker blocks the connections', 20, sub {
	$broker->ctl(qw(-q list_connections state)) =~ /^blocked/m });
ok($blocked, 'the broker blocks the connections (memory alarm)')
  or diag($broker->ctl(qw(-q list_connections name state)));
# five heartbeat periods: without the pause, each node would expire the other
sleep 3;
is(sql($n1, "SELECT state FROM kz_globals.nodes WHERE node LIKE 'n2@%'"), 'up',
	'n2 is still up on n1 after 3 s of silence (expiry pauses while blocked)');
is(sql($n1, "SELECT count(*) FROM kz_globals.registrations WHERE name = 'held-by-n2'"), '1',
	'and n1 keeps its row');
my ($out, $err);
my $t0 = time;
my $ok = $n1->psql('postgres', "SELECT kz_globals.register_name('during-alarm')",
	stdout => \$out, stderr => \$err, timeout => 60);
ok(time - $t0 < 30, 'a claim during the alarm returns (it does not wait for the broker)');
like($err // '', qr/broker|unavailable|not connected/i, 'and fails with the broker unavailable')
  or diag("rc $ok, out '$out', err '$err'");

# SIGTERM while blocked: the postmaster restarts the worker
my $w = worker_pid($n1);
kill 'TERM', $w;
ok(KzHarness::wait_until('the blocked worker exits on SIGTERM', 10,
		sub { !kill(0, $w) }),
	'the worker obeys SIGTERM while the broker blocks it');

$broker->ctl(qw(set_vm_memory_high_watermark 0.4));
ok(KzHarness::wait_until('the alarm clears', 30, sub {
	$broker->ctl(qw(-q list_connections state)) !~ /^block/m }),
	'the memory alarm clears');
is($bg->query_safe("SELECT kz_globals.register_name('after-alarm')"), 't',
	'n2 registers a name after the alarm');
ok($n1->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM kz_globals.registrations WHERE name = 'after-alarm'"),
	'n1 learns of it');
ok($n1->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM kz_globals.registrations WHERE name = 'held-by-n2'"),
	'n1 still (or again) knows held-by-n2');
$bg->quit;
$flood_owner->quit;
$k->quit;
done_testing();
