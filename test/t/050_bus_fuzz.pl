# A bounded hostile-input run (SPEC section 6, "malformed bus message"):
# test/py/bus_fuzz.py publishes a few thousand messages, with a fixed seed,
# into the real broker through every path a server reads: the globals topic
# exchange (globals.*.* keys: both servers), the targeted exchange with n1's
# own queue name as routing key (n1 only) and the nodes fanout (both).
# Invalid JSON, non-objects, missing and null required fields, wrong types,
# bad base64, bad terms, huge bodies, unknown events, out-of-range
# timestamps, deep nesting, random garbage, duplicated keys, unicode
# escapes, random mutations of valid messages, forged Node fields and a
# flood of forged nodes.  Then:
#   - each worker is the same process, still connected;
#   - bus_malformed went up by exactly the number of messages the decoder
#     model (Oracle in bus_fuzz.py) says must be refused, within the few
#     whose terms a mutation changed (the model does not decode terms);
#   - each server logs at most one "dropped a malformed message" line per
#     kind;
#   - forged messages changed nothing they may not change: no local or
#     pending row appeared, no real registration was lost, and the only new
#     rows are remote rows of forged nodes, which go when those nodes expire;
#   - the registry still works across the two servers.
# Before the run, two single messages: an advertisement by a node never
# heard before (its names must stay for the 20 s such a node is kept up),
# and a heartbeat with a huge Expires (its expiry must be capped, not wrap).
# KZ_FUZZ_SEED=N replays another seed; KZ_FUZZ_COUNT=N sets the number of
# random mutations (default 1500).
use strict;
use warnings;

use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use KzHarness qw(sql wait_nodes_up worker_pid session);

my $seed = $ENV{KZ_FUZZ_SEED} // 20501;
my $count = $ENV{KZ_FUZZ_COUNT} // 1500;
my $FUZZ = "$FindBin::RealBin/../py/bus_fuzz.py";
my ($N1, $N2) = ('n1@127.0.0.1', 'n2@127.0.0.1');

my $broker = KzHarness::Broker->new;
my %gucs = ('kz_globals.heartbeat_interval' => '500ms');
my $n1 = KzHarness::node('n1', broker => $broker, gucs => \%gucs);
my $n2 = KzHarness::node('n2', broker => $broker, gucs => \%gucs);
my @nodes = ($n1, $n2);

sub stats
{
	my ($node) = @_;
	my ($malformed, $disc, $conflicts, $state) = split /\|/, sql($node,
		'SELECT bus_malformed, broker_disconnects, conflicts, broker_state FROM kz_globals.stats');
	return { malformed => $malformed, disconnects => $disc, conflicts => $conflicts, state => $state };
}

# The table of a node, one "name=state:node/pid" per row, sorted.
sub table_of
{
	my ($node, $where) = @_;
	$where //= 'true';
	return sql($node,
		"SELECT coalesce(string_agg(name || '=' || state || ':' || node || '/' || coalesce(pid::text, '-'), ' ' ORDER BY name), '') "
		  . "FROM kz_globals.registrations WHERE $where");
}

sub fuzz
{
	my (@args) = @_;
	my ($out, $err) = ('', '');
	my @cmd = ($KzHarness::PYTHON, $FUZZ, '--uri', $broker->uri, @args);
	note("running: @cmd");
	IPC::Run::run(\@cmd, '<', \undef, '>', \$out, '2>', \$err, IPC::Run::timeout(300))
	  or die "bus_fuzz.py failed ($?): $err";
	return decode_json($out);
}

for my $node (@nodes)
{
	ok(wait_nodes_up($node, 2),
		$node->name . ' sees the other server');
}

# the registrations that must survive
my $o1 = session($n1);
my $p1 = $o1->query_safe('SELECT pg_backend_pid()');
$o1->query_safe("SELECT kz_globals.register_name('base-1'), kz_globals.register_name('mark-1')");
my $o2 = session($n2);
my $p2 = $o2->query_safe('SELECT pg_backend_pid()');
$o2->query_safe("SELECT kz_globals.register_name('base-2'), kz_globals.register_name('mark-2')");
my %baseline = (
	n1 => "base-1=local:$N1/$p1 base-2=remote:$N2/$p2 mark-1=local:$N1/$p1 mark-2=remote:$N2/$p2",
	n2 => "base-1=remote:$N1/$p1 base-2=local:$N2/$p2 mark-1=remote:$N1/$p1 mark-2=local:$N2/$p2");
for my $node (@nodes)
{
	ok($node->poll_query_until('postgres',
			"SELECT coalesce(string_agg(name || '=' || state || ':' || node || '/' || pid, ' ' ORDER BY name), '') FROM kz_globals.registrations",
			$baseline{ $node->name }),
		$node->name . ' has the baseline registrations');
}

# A node heard only through registry messages (never a heartbeat), as a
# Kazoo node whose advertisement comes before its first heartbeat, keeps
# its names for 20 s (README, Limits) before it expires.  (Checked before
# the run: the flood below may fill the node table for 20 s.)
fuzz('--advert', 'fz-unheard@fuzz', 'fz-unheard-1');
sleep 3;
is(table_of($n2, "name = 'fz-unheard-1'"), 'fz-unheard-1=remote:fz-unheard@fuzz/-',
	'an advertisement by a node never heard before creates its remote row, still there 3 s later')
  or diag(join('', grep { /fz-unheard/ } split /^/m, slurp_file($n2->logfile)));
is(sql($n2, "SELECT state || '/' || expires_ms FROM kz_globals.nodes WHERE node = 'fz-unheard\@fuzz'"),
	'up/20000', 'that node stays up for 20 s without a heartbeat');

# A heartbeat's Expires is kept as Expires x 1.25 ms, capped at 10 minutes:
# a huge one must neither wrap around to an expiry of a millisecond nor
# keep a silent (or forged) node, and its names, for weeks.
fuzz('--heartbeat', '3689348814741910324');    # 0x3333333333333334
ok($n2->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM kz_globals.nodes WHERE node = 'fz-expires\@fuzz'"),
	'a heartbeat with a huge Expires is heard');
sleep 1;
is(sql($n2, "SELECT state || '/' || expires_ms FROM kz_globals.nodes WHERE node = 'fz-expires\@fuzz'"),
	'up/600000', '... and its node stays up, its expiry capped at 10 minutes (no overflow)');

my $queue1 = sql($n1, 'SELECT server FROM kz_globals.nodes WHERE is_self');
like($queue1, qr/^n1\@127\.0\.0\.1-kz_globals-[0-9a-f]{16}$/, "n1's queue name (the targeted routing key)");
my $base1_ts = sql($n1, "SELECT token FROM kz_globals.registrations WHERE name = 'base-1'");
my ($max_message, $unit) = split /\|/, sql($n1,
	"SELECT setting, unit FROM pg_settings WHERE name = 'kz_globals.max_message_size'");
is($unit, 'B', 'max_message_size is in bytes (' . $max_message . ')');
my %worker = map { ($_->name => worker_pid($_)) } @nodes;
my %before = map { ($_->name => stats($_)) } @nodes;
is($before{$_}{malformed}, '0', "$_: nothing malformed before the run") for qw(n1 n2);

# --- the run ---
diag("bus fuzz seed $seed (replay with KZ_FUZZ_SEED=$seed), $count random mutations");
my $t0 = time();
my $res = fuzz('--seed', $seed, '--count', $count, '--self1', $N1, '--queue1', $queue1,
	'--self2', $N2, '--max-message-size', $max_message,
	'--mark1', 'mark-1', '--mark2', 'mark-2', '--base1-ts', $base1_ts,
	'--list', "$PostgreSQL::Test::Utils::log_path/050_bus_fuzz_messages.txt");
note("published $res->{total} messages in $res->{publish_seconds} s; paths: "
	  . join(', ', map { "$_ $res->{paths}{$_}" } sort keys %{ $res->{paths} }));
for my $cat (sort keys %{ $res->{categories} })
{
	my $c = $res->{categories}{$cat};
	note(sprintf('%-15s %5d messages; refused by n1 %5d (+%d unknown), by n2 %5d (+%d unknown)',
			$cat, $c->{messages}, $c->{n1_malformed}, $c->{n1_unknown}, $c->{n2_malformed}, $c->{n2_unknown}));
}
is_deeply($res->{oracle_disagrees}, [], 'the decoder model agrees with every hand-labelled message');
cmp_ok($res->{total}, '>=', 2000, 'a few thousand messages were published');
cmp_ok($res->{nodes_created}{n1}, '<', 110,
	'the messages before the flood name fewer nodes than the node table holds (so the counts are exact)');

# everything published before the markers has been consumed once they arrive
is($o1->query_safe("SELECT message || '|' || sender_node FROM kz_globals.receive(180000)"),
	"MARKER|$N2", 'n1 consumed every message (its marker arrived)');
is($o2->query_safe("SELECT message || '|' || sender_node FROM kz_globals.receive(180000)"),
	"MARKER|$N1", 'n2 consumed every message (its marker arrived)');
note(sprintf('consumed %d s after the run started', time() - $t0));

# --- the workers survived, and counted exactly what they had to ---
for my $node (@nodes)
{
	my $n = $node->name;
	my $after = stats($node);
	is(worker_pid($node), $worker{$n}, "$n: the worker is the same process");
	is($after->{state}, 'connected', "$n: still connected");
	is($after->{disconnects}, $before{$n}{disconnects}, "$n: never lost its broker connection");
	my $got = $after->{malformed} - $before{$n}{malformed};
	my $want = $res->{$n}{malformed};
	my $unknown = $res->{$n}{unknown};
	if ($unknown == 0)
	{
		is($got, $want, "$n: bus_malformed went up by exactly the $want refused messages");
	}
	else
	{
		ok($got >= $want && $got <= $want + $unknown,
			"$n: bus_malformed went up by $got: the $want that must be refused, and at most $unknown of the mutated terms")
		  or diag("got $got, want $want .. " . ($want + $unknown));
	}

	my $log = slurp_file($node->logfile);
	my %lines;
	$lines{$1}++ while $log =~ /kz_globals dropped a malformed message from the bus: (\w+)/g;
	my @kinds = sort keys %{ $res->{$n}{kinds} };
	is_deeply([ sort keys %lines ], \@kinds, "$n: a log line for each kind refused (@kinds)");
	is_deeply([ grep { $lines{$_} != 1 } sort keys %lines ], [], "$n: ... and only one per kind")
	  or diag(explain(\%lines));
	unlike($log, qr/PANIC|TRAP:|terminated by signal|was terminated|out of memory/,
		"$n: no crash and no memory error in the log");
	# 150 forged nodes flood a table of 128 (if they stay up: see below)
	my $full = () = $log =~ /kz_globals node table is full \(128 nodes\)/g;
	cmp_ok($full, '<=', 1, "$n: a full node table is logged at most once ($full)");
}
my $clash = () = slurp_file($n1->logfile) =~ /another node on the bus uses this node's name "n1\@127\.0\.0\.1"/g;
is($clash, 1, 'n1 warns once about a heartbeat in its own name from another session');

# --- forged messages changed only what the protocol lets them change ---
for my $node (@nodes)
{
	my $n = $node->name;
	my $self = $n eq 'n1' ? $N1 : $N2;
	is(table_of($node, "state <> 'remote'"),
		$n eq 'n1' ? "base-1=local:$N1/$p1 mark-1=local:$N1/$p1" : "base-2=local:$N2/$p2 mark-2=local:$N2/$p2",
		"$n: no local or pending row appeared, and its own are intact");
	is(sql($node, "SELECT count(*) FROM kz_globals.registrations WHERE state = 'remote' AND node = '$self'"),
		'0', "$n: no remote row in its own name");
	is(table_of($node, "name NOT IN ('base-1', 'base-2', 'mark-1', 'mark-2') AND node IN ('$N1', '$N2')"), '',
		"$n: no phantom row attributed to a real server");
}
ok($n2->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM kz_globals.registrations WHERE name = 'base-1' AND state = 'remote' AND node = '$N1' AND pid = $p1"),
	'a forger advertising base-1 with a younger claim does not take it (n2 keeps n1 as owner)');
ok(sql($n1, 'SELECT conflicts FROM kz_globals.stats') > $before{n1}{conflicts},
	'... n1 counts the conflict it won');
is(table_of($n1, "name LIKE 'fz-own-%'"), '', 'messages in n1\'s own name created nothing on n1');
for my $node (@nodes)
{
	is(table_of($node, "name IN ('fz-legit-1', 'fz-sync-1', 'fz-sync-2')"),
		"fz-legit-1=remote:fz-forger\@fuzz/- fz-sync-1=remote:fz-forger\@fuzz/4242 fz-sync-2=remote:fz-forger\@fuzz/-",
		$node->name . ': a forged node\'s well-formed advertisement and sync create its remote rows, as the protocol says');
}
# the forged heartbeat in n2's name made n1 drop n2's names; n2's next real
# heartbeat has its real incarnation, and n1 asks it for them again
ok($n1->poll_query_until('postgres',
		"SELECT count(*) = 2 FROM kz_globals.registrations WHERE node = '$N2' AND pid = $p2"),
	"n1 has n2's names again after a heartbeat forged in n2's name");
ok($n1->log_contains(qr/node "n2\@127\.0\.0\.1" restarted/), '... which it took for a restart');

# --- once the forged nodes expire, exactly the baseline is left ---
fuzz('--expire-forged', '--queue1', $queue1);
for my $node (@nodes)
{
	ok(wait_nodes_up($node, 2),
		$node->name . ': every forged node expires');
	ok($node->poll_query_until('postgres',
			"SELECT coalesce(string_agg(name || '=' || state || ':' || node || '/' || pid, ' ' ORDER BY name), '') FROM kz_globals.registrations",
			$baseline{ $node->name }),
		$node->name . ': exactly the baseline registrations are left')
	  or diag(table_of($node));
	cmp_ok(sql($node, 'SELECT count(*) FROM kz_globals.nodes'), '<=', 128, $node->name . ': at most 128 nodes listed');
}

# --- the registry still works across the two servers ---
is($o1->query_safe("SELECT kz_globals.register_name('after-fuzz')"), 't', 'n1 registers a name');
ok($n2->poll_query_until('postgres',
		"SELECT (kz_globals.whereis_name('after-fuzz')) = ('$N1', $p1)::kz_globals.owner"),
	'n2 finds it');
is(sql($n2, "SELECT kz_globals.register_name('after-fuzz')"), 'f', 'n2 cannot take it');
is(sql($n2, "SELECT (kz_globals.send('after-fuzz', 'still here?')).pid"), $p1, 'send from n2');
is($o1->query_safe("SELECT message || '|' || sender_node FROM kz_globals.receive(10000)"),
	"still here?|$N2", '... is received on n1');
my $caller = session($n1);
$caller->query_until(qr/calling/, "\\echo calling\nSELECT 'answer:' || kz_globals.call('base-2', 'ping', 10000);\n");
my $tag = $o2->query_safe("SELECT reply_tag FROM kz_globals.receive(10000) WHERE kind = 'call'");
is($o2->query_safe("SELECT kz_globals.reply('$tag', 'pong')"), 't', 'n2 answers a call from n1');
like($caller->query_safe('SELECT 1'), qr/answer:pong/, '... and n1 gets the reply');
is($o1->query_safe("SELECT kz_globals.unregister_name('after-fuzz')"), 't', 'n1 unregisters it');
ok($n2->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM kz_globals.registrations WHERE name = 'after-fuzz'"),
	'n2 drops it');
is(sql($n2, "SELECT kz_globals.whereis_name('fz-legit-1') IS NULL"), 't',
	'a name only a forged node claimed is gone');
is(worker_pid($_), $worker{ $_->name }, $_->name . ': still the same worker at the end') for @nodes;

$_->quit for $o1, $o2, $caller;
done_testing();
