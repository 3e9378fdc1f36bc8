# The coder_ring example (examples/coder_ring) on three servers and one
# broker: an owner and standbys of ring "t" on every server, callers on every
# server asking for codes in a loop, and the owner killed again and again
# while they call: pg_terminate_backend, an owner deposed while it is busy
# (its next memo write must be refused by assert_owner), a SIGKILL (the
# server crash-restarts), an immediate stop of a whole server (its peers
# expire it) and a partition (two owners at once until it heals).  At the
# end no code was handed out twice: neither among those
# the callers got nor among those the memo tables of all servers recorded,
# and every code a caller got had been recorded before it was sent.
use strict;
use warnings;

use FindBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use KzHarness qw(sql wait_nodes_up);

my $example = "$FindBin::RealBin/../../examples/coder_ring/coder_ring.sql";
my $ring = 't';
my $name = "ring:$ring";
my $session_timeout = 900;

# Each server reaches the broker through a TCP proxy of its own, so that any
# of them can be cut off.
my $broker = KzHarness::Broker->new;
my %gucs = (
	'kz_globals.heartbeat_interval' => '500ms',
	'restart_after_crash' => 'on');
my %proxy = map { ("n$_" => KzHarness::TcpProxy->new(target_port => $broker->port)) } 1 .. 3;
my @nodes = map { KzHarness::node("n$_", broker => $proxy{"n$_"}, gucs => \%gucs) } 1 .. 3;
my %node = map { ($_->name => $_) } @nodes;
# each server's mark on its codes, and its cycle length (32 ^ base_length):
# n1 uses 1-character base codes so that its ring wraps around many times
my %prefix = (n1 => 'B', n2 => 'C', n3 => 'D');
my %base_length = (n1 => 1, n2 => 2, n3 => 2);

for my $n (@nodes)
{
	ok(wait_nodes_up($n, 3),
		$n->name . ' sees three nodes up');
}

# --- install the example and the test's callers on every server ---
for my $n (@nodes)
{
	sql($n, slurp_file($example));
	is(sql($n, "SELECT coder_ring.create_ring('$ring', prefix => '$prefix{$n->name}', "
			  . "base_length => $base_length{$n->name})"),
		32**$base_length{ $n->name },
		$n->name . " sets up ring $ring with prefix $prefix{$n->name}");
	sql($n, q{
		CREATE TABLE got (code text NOT NULL, caller integer NOT NULL,
						  at timestamptz NOT NULL DEFAULT clock_timestamp());
		CREATE TABLE call_errors (sqlstate text, message text,
								  at timestamptz NOT NULL DEFAULT clock_timestamp());
		CREATE TABLE stop_callers (stop boolean);
		-- a caller: one code after the other, each kept in its own
		-- transaction, until told to stop
		CREATE PROCEDURE call_loop(ring text) LANGUAGE plpgsql AS $$
		BEGIN
			WHILE NOT EXISTS (SELECT FROM stop_callers) LOOP
				BEGIN
					INSERT INTO got (code, caller) VALUES (coder_ring_next(ring, 30000), pg_backend_pid());
				EXCEPTION WHEN OTHERS THEN
					INSERT INTO call_errors VALUES (SQLSTATE, SQLERRM);
				END;
				COMMIT;
			END LOOP;
		END $$;
	});
}

# --- sessions: ring processes (owner or standby) and callers ---
my @sessions;    # { node => name, pid => ..., kind => 'serve' | 'caller', bg => ... }

sub start_session
{
	my ($n, $kind) = @_;
	my $bg = $n->background_psql('postgres', timeout => $session_timeout);
	my $pid = $bg->query_safe('SELECT pg_backend_pid()');
	my $stmt = $kind eq 'serve' ? "CALL coder_ring.serve('$ring')" : "CALL call_loop('$ring')";
	$bg->query_until(qr/started/, "\\echo started\n$stmt;\n");
	push @sessions, { node => $n->name, pid => $pid, kind => $kind, bg => $bg };
	return $pid;
}

# forget sessions that are gone (their psql has exited or will exit)
sub drop_sessions
{
	my ($filter) = @_;
	my @gone = grep { $filter->($_) } @sessions;
	@sessions = grep { !$filter->($_) } @sessions;
	for my $s (@gone)
	{
		eval { $s->{bg}->{run}->kill_kill; 1 };
	}
	return scalar @gone;
}

sub start_node_sessions
{
	my ($n) = @_;
	start_session($n, 'serve') for 1 .. 2;
	start_session($n, 'caller') for 1 .. 2;
}

# The local rows of the ring on the given servers: [node name, pid, token]
# for each.
sub owners
{
	my @found;
	for my $n (@_)
	{
		my $row = $n->safe_psql('postgres',
			"SELECT pid || ' ' || token FROM kz_globals.registrations WHERE name = '$name' AND state = 'local'");
		push @found, [ $n->name, split(/ /, $row) ] if $row ne '';
	}
	return @found;
}

# The owner as the servers' tables say: the one local row of the ring, or
# undef while there is none.  More than one local row (outside of the
# partition round) is counted and fails the test at the end.
my $double_owner = 0;
sub owner
{
	my @found = owners(@_ ? @_ : @nodes);
	if (@found > 1)
	{
		$double_owner++;
		diag('two local owners: ' . join(', ', map { "@$_" } @found));
	}
	return $found[0];
}

# Waits for an owner other than $old (undef: any), on the given nodes.
sub wait_new_owner
{
	my ($old, $timeout, @live) = @_;
	my $new;
	KzHarness::wait_until('a new owner', $timeout, sub {
			$new = owner(@live);
			return $new && (!$old || $new->[0] ne $old->[0] || $new->[1] ne $old->[1]);
		});
	return $new && (!$old || $new->[0] ne $old->[0] || $new->[1] ne $old->[1]) ? $new : undef;
}

# Every live server shows the same owner and token for the ring.
sub all_agree
{
	my ($owner, @live) = @_;
	for my $n (@live)
	{
		my $want = "$owner->[0]\@127.0.0.1 $owner->[1] $owner->[2]";
		return 0 unless $n->poll_query_until('postgres',
			"SELECT string_agg(node || ' ' || pid || ' ' || token, ',') FROM kz_globals.registrations WHERE name = '$name'",
			$want);
	}
	return 1;
}

sub codes_so_far
{
	my $total = 0;
	$total += sql($_, 'SELECT count(*) FROM got') for @_ ? @_ : @nodes;
	return $total;
}

# let the callers work for a while (and see that they do)
sub let_them_call
{
	my ($seconds, @live) = @_;
	@live = @nodes unless @live;
	my $before = codes_so_far(@live);
	sleep $seconds;
	my $after;
	my $ok = KzHarness::wait_until('callers getting codes', 60, sub {
			$after = codes_so_far(@live);
			return $after > $before;
		});
	return ($ok, $after - $before);
}

# n1's ring processes start first, so that n1 owns the first term and its
# short ring goes round at least once
start_node_sessions($node{n1});
my $owner = wait_new_owner(undef, 60);
is($owner && $owner->[0], 'n1', 'the first ring process on n1 owns the ring');
start_node_sessions($_) for @node{qw(n2 n3)};
ok(all_agree($owner, @nodes), 'every server shows that owner and its token');
my ($moving, $n_codes) = let_them_call(3);
die "no owner, giving up\n" unless $owner;
ok($moving, "callers on all servers get codes ($n_codes in 3 s)");

my %takeover_ms;    # kind of death => [ ms, ... ]
my @tokens = ($owner->[2]);

# One round: kill the owner with $how, wait for the next one (on @live),
# check that all servers agree, let the callers call again.
sub next_owner_after
{
	my ($how, $t0, $old, $timeout, @live) = @_;
	my $new = wait_new_owner($old, $timeout, @live);
	my $ms = int((time() - $t0) * 1000);
	ok($new, "$how: a standby took over from $old->[0] pid $old->[1] (in ${ms} ms)");
	return undef unless $new;
	push @{ $takeover_ms{$how} }, $ms;
	note("$how: $old->[0]/$old->[1] -> $new->[0]/$new->[1] in $ms ms, token $new->[2]");
	ok($new->[2] > $tokens[-1], "$how: the new token is larger than the last one")
	  or diag("tokens: @tokens $new->[2]");
	push @tokens, $new->[2];
	ok(all_agree($new, @live), "$how: every live server shows the new owner and token");
	return $new;
}

# A round: the owner is terminated with pg_terminate_backend, a standby
# takes over, a new standby starts where the owner died, callers get codes.
sub terminate_round
{
	my ($round) = @_;
	my $n = $node{ $owner->[0] };
	my $t0 = time();
	sql($n, "SELECT pg_terminate_backend($owner->[1])");
	my $old = $owner;
	drop_sessions(sub { $_[0]->{pid} == $old->[1] && $_[0]->{node} eq $old->[0] });
	$owner = next_owner_after('terminate', $t0, $old, 30, @nodes) or die "no new owner\n";
	start_session($n, 'serve');
	my ($ok, $got) = let_them_call(2);
	ok($ok, "terminate round $round: callers keep getting codes ($got)");
	return;
}

# --- 1. owners terminated with pg_terminate_backend, four times ---
terminate_round($_) for 1 .. 4;

# --- 2. an owner deposed while busy: its next memo write is refused ---
# The owner's memo row is locked from another session, so the owner stops in
# the middle of a draw (having passed the fence) while calls pile up in its
# mailbox.  A superuser unregisters the ring under it; a standby takes over.
# When the lock goes, the owner finishes the draw it had started (legal: a
# successor on its server reads the memo only after it) and tries the next
# call: assert_owner refuses it.
{
	my $n = $node{ $owner->[0] };
	my $old = $owner;
	my $refused_before = sql($n, "SELECT count(*) FROM coder_ring.refusals WHERE reason = 'fenced'");
	my $locker = $n->background_psql('postgres', timeout => $session_timeout);
	$locker->query_safe('BEGIN');
	$locker->query_safe("SELECT ring FROM coder_ring.memos WHERE ring = '$ring' FOR UPDATE");
	ok($n->poll_query_until('postgres',
			"SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $old->[1]"),
		'deposed: the owner waits for the memo row in the middle of a draw');
	sleep 0.5;    # calls queue up in its mailbox
	my $t0 = time();
	is(sql($n, "SELECT kz_globals.unregister_name('$name')"), 't',
		'deposed: a superuser unregisters the ring under its busy owner');
	$owner = next_owner_after('deposed', $t0, $old, 30, @nodes) or die "no new owner\n";
	$locker->query_safe('COMMIT');
	$locker->quit;
	ok($n->poll_query_until('postgres',
			"SELECT count(*) > $refused_before FROM coder_ring.refusals WHERE reason = 'fenced' AND owner_pid = $old->[1]"),
		"deposed: the old owner's next memo write was refused by assert_owner");
	ok($n->poll_query_until('postgres',
			"SELECT application_name = 'coder_ring $ring standby' FROM pg_stat_activity WHERE pid = $old->[1]"),
		'deposed: the old owner stands by again');
	my ($ok, $got) = let_them_call(2);
	ok($ok, "deposed: callers keep getting codes ($got)");
}

# --- 3. SIGKILL of the owner: its server crash-restarts, and every session
#     there dies with it ---
{
	my $n = $node{ $owner->[0] };
	my $old = $owner;
	my @others = grep { $_->name ne $old->[0] } @nodes;
	my $t0 = time();
	kill 'KILL', $old->[1];
	drop_sessions(sub { $_[0]->{node} eq $old->[0] });
	$owner = next_owner_after('crash-restart', $t0, $old, 60, @others) or die "no new owner\n";
	ok($n->poll_query_until('postgres', "SELECT broker_state = 'connected' FROM kz_globals.stats"),
		"crash-restart: $old->[0] is back");
	start_node_sessions($n);
	my ($ok, $got) = let_them_call(2);
	ok($ok, "crash-restart: callers keep getting codes ($got)");
}

# --- 4. the owner's whole server stops at once: the peers expire it ---
{
	my $n = $node{ $owner->[0] };
	my $old = $owner;
	my @others = grep { $_->name ne $old->[0] } @nodes;
	my $t0 = time();
	$n->stop('immediate');
	drop_sessions(sub { $_[0]->{node} eq $old->[0] });
	$owner = next_owner_after('server death', $t0, $old, 60, @others) or die "no new owner\n";
	my ($ok, $got) = let_them_call(2, @others);
	ok($ok, "server death: callers on the other servers keep getting codes ($got)");
	$n->start;
	ok(wait_nodes_up($n, 3),
		"server death: $old->[0] is back in the cluster");
	start_node_sessions($n);
}

# --- 5. a partition: the owner's server is cut from the broker.  The other
#     side expires it and elects an owner of its own, so for a while two
#     owners hand out codes, each from its own server's ring (hence the
#     prefixes).  On heal the older claim wins; the other owner is told, and
#     any draw it still tries is refused by the fence. ---
{
	my $n = $node{ $owner->[0] };
	my $old = $owner;
	my @others = grep { $_ != $n } @nodes;
	my $cut_at = sql($n, 'SELECT clock_timestamp()');
	my $t0 = time();
	$proxy{ $n->name }->cut('blackhole');
	my $new = next_owner_after('partition', $t0, $old, 60, @others) or die "no new owner\n";
	my $m = $node{ $new->[0] };
	my ($ok, $got) = let_them_call(3, @others);
	ok($ok, "partition: callers on the other side get codes from the new owner ($got)");
	my $cut_side = sql($n, "SELECT count(*) FROM coder_ring.handed_out WHERE token = $old->[2] AND handed_at > '$cut_at'");
	cmp_ok($cut_side, '>', 0,
		"partition: meanwhile the cut-off owner on $old->[0] served its own server's callers ($cut_side codes)");
	my $both = sql($m, "SELECT count(*) FROM coder_ring.handed_out WHERE token = $new->[2]");
	cmp_ok($both, '>', 0, "partition: two owners at once, each from its own ring ($both codes on $new->[0])");

	$proxy{ $n->name }->heal;
	ok($n->poll_query_until('postgres', "SELECT count(*) = 3 FROM kz_globals.nodes WHERE state = 'up'"),
		"partition healed: $old->[0] sees the cluster again");
	my @one;
	ok(KzHarness::wait_until('one owner after the heal', 60, sub {
				@one = owners(@nodes);
				return @one == 1;
			}),
		'partition healed: one owner remains');
	$owner = $one[0];
	note("partition healed: the owner is $owner->[0]/$owner->[1] with token $owner->[2]");
	is("$owner->[0] $owner->[1]", "$old->[0] $old->[1]", 'partition healed: the older claim won (rule 5)');
	ok(all_agree($owner, @nodes), 'partition healed: every server shows it');
	ok($m->poll_query_until('postgres',
			"SELECT application_name = 'coder_ring $ring standby' FROM pg_stat_activity WHERE pid = $new->[1]"),
		'partition healed: the other owner stood down');
	($ok, $got) = let_them_call(2);
	ok($ok, "partition healed: callers everywhere get codes ($got)");
}

# --- 6. two more terminations, with the whole cluster back ---
terminate_round($_) for 5 .. 6;
is($double_owner, 0, 'never two local owners at once, but during the partition');

# --- stop the callers, then the ring processes ---
sql($_, 'INSERT INTO stop_callers VALUES (true)') for @nodes;
for my $s (grep { $_->{kind} eq 'caller' } @sessions)
{
	$s->{bg}->query_safe('SELECT 1');    # returns once its CALL is over
	$s->{bg}->quit;
}
drop_sessions(sub { $_[0]->{kind} eq 'caller' });
for my $n (@nodes)
{
	sql($n, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'coder_ring %'");
}
drop_sessions(sub { 1 });

# --- no code was handed out twice ---
my (%got, %memo, @dup_got, @dup_memo, @bad_prefix);
my ($n_got, $n_memo) = (0, 0);
for my $n (@nodes)
{
	for my $code (split /\n/, sql($n, 'SELECT code FROM got'))
	{
		$n_got++;
		push @dup_got, $code if $got{$code}++;
	}
	my $p = $prefix{ $n->name };
	for my $code (split /\n/, sql($n, "SELECT code FROM coder_ring.handed_out WHERE ring = '$ring'"))
	{
		$n_memo++;
		push @dup_memo, $code if $memo{$code}++;
		push @bad_prefix, $code unless $code =~ /^$p[2-9A-HJ-NP-Z]+$/;
	}
}
cmp_ok($n_got, '>', 100, "callers got $n_got codes");
is(scalar(@dup_got), 0, 'no caller got a code another caller got')
  or diag("duplicates: @dup_got[0 .. ($#dup_got < 20 ? $#dup_got : 19)]");
is(scalar(@dup_memo), 0, "no code appears twice in the memo tables of the three servers ($n_memo codes)")
  or diag("duplicates: @dup_memo[0 .. ($#dup_memo < 20 ? $#dup_memo : 19)]");
is(scalar(@bad_prefix), 0, "every server's codes carry its prefix")
  or diag("@bad_prefix[0 .. ($#bad_prefix < 20 ? $#bad_prefix : 19)]");
my @unrecorded = grep { !$memo{$_} } keys %got;
is(scalar(@unrecorded), 0, 'every code a caller got was in a memo table (committed before the reply)')
  or diag("unrecorded: @unrecorded[0 .. ($#unrecorded < 20 ? $#unrecorded : 19)]");
my $burned = $n_memo - scalar(keys %got);
note("codes recorded but never delivered (owner died after COMMIT, or the caller gave up): $burned");

# --- the fence at work ---
my ($fenced, $dups, $errors, $terms, $caller_errors) = (0, 0, 0, 0, 0);
for my $n (@nodes)
{
	$fenced += sql($n, "SELECT count(*) FROM coder_ring.refusals WHERE reason = 'fenced'");
	$dups += sql($n, "SELECT count(*) FROM coder_ring.refusals WHERE reason = 'duplicate'");
	$errors += sql($n, "SELECT count(*) FROM coder_ring.refusals WHERE reason = 'error'");
	$terms += sql($n, "SELECT count(DISTINCT token) FROM coder_ring.handed_out");
	$caller_errors += sql($n, 'SELECT count(*) FROM call_errors');
}
cmp_ok($fenced, '>=', 1, "memo writes of deposed owners refused by assert_owner: $fenced");
is($dups, 0, 'the primary key of handed_out never had to stop a duplicate');
is($errors, 0, 'no draw failed otherwise');
cmp_ok($terms, '>=', 8, "codes were handed out in $terms owner terms");
# each server's memo is exactly what its handed_out rows say: C codes of a
# ring of size S leave uniquizer (C-1) div S and last_max_pos S - (C-1) mod S
# (no refused write left a trace in either)
for my $n (@nodes)
{
	is(sql($n, qq{
		SELECT CASE WHEN c = 0 THEN m.uniquizer = 0 AND m.last_max_pos = r.size + 1
					ELSE m.uniquizer = (c - 1) / r.size AND m.last_max_pos = r.size - (c - 1) % r.size END
		  FROM coder_ring.memos m JOIN coder_ring.rings r USING (ring),
			   (SELECT count(*)::integer AS c FROM coder_ring.handed_out WHERE ring = '$ring') h
		 WHERE ring = '$ring'}), 't',
		$n->name . "'s memo agrees with its handed_out rows");
}
my $n1_cycles = sql($node{n1}, "SELECT uniquizer FROM coder_ring.memos WHERE ring = '$ring'");
cmp_ok($n1_cycles, '>=', 1, "n1's 32-code ring went round $n1_cycles times");
note("callers' calls that failed after 30 s of retries: $caller_errors");
is($caller_errors, 0, 'no caller gave up');
note('takeover times (ms): '
	  . join('; ', map { "$_: @{ $takeover_ms{$_} }" } sort keys %takeover_ms));

done_testing();
