# The singleton helpers across three servers: standbys waiting in
# register_name_wait() on several servers, exactly one of which takes over
# when the owner exits (timed) or when the owner's whole server dies
# (timed, within node expiry); fencing tokens that strictly increase across
# successive owners and that every server shows alike; assert_owner()
# refusing a stale token and taking the guarded write down with its
# transaction; register_name_wait() timing out with false and being
# cancelled cleanly.
#
# The takeover times are printed (diag) and only a generous bound is
# asserted: this machine is shared.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use KzHarness qw(sql wait_nodes_up run_in);

my $name = 'single';
my $session_timeout = 900;

# the default heartbeat (1 s: a silent node expires after 3 s), so that the
# server-death figure is the one a default installation gets
# (n3 is moved behind a TCP proxy for the partition at the end only: the
# proxy adds latency, and the figures before it are measured without.)
my $broker = KzHarness::Broker->new;
my $proxy = KzHarness::TcpProxy->new(target_port => $broker->port);
my %gucs = ('kz_globals.heartbeat_interval' => '1s');
my @nodes = map { KzHarness::node("n$_", broker => $broker, gucs => \%gucs) } 1 .. 3;
my %node = map { ($_->name => $_) } @nodes;

for my $n (@nodes)
{
	ok(wait_nodes_up($n, 3),
		$n->name . ' sees three nodes up');
}

# A session that keeps going after an error (for standbys, which may be
# cancelled, and owners, which try stale tokens).
sub session
{
	my ($n) = @_;
	my $bg = $n->background_psql('postgres', timeout => $session_timeout, on_error_stop => 0);
	my $pid = $bg->query_safe('SELECT pg_backend_pid()');
	return { node => $n->name, pid => $pid, bg => $bg };
}

# A standby: register_name_wait() without a timeout (or with one), printing
# when it returns, its result, the token and the time (ms since the epoch).
sub stand_by
{
	my ($n, $timeout) = @_;
	my $s = session($n);
	$timeout //= 'NULL';
	$s->{bg}->query_until(qr/standing by/,
		"\\echo standing by\nSELECT 'took-over:' || kz_globals.register_name_wait('$name', $timeout) "
		  . "|| ':' || coalesce(kz_globals.token('$name'), 0) "
		  . "|| ':' || (extract(epoch FROM clock_timestamp()) * 1000)::bigint;\n");
	return $s;
}

# Ends an idle session.
sub quit_session
{
	my ($s) = @_;
	eval { $s->{bg}->quit; 1 } or eval { $s->{bg}->{run}->kill_kill; 1 };
}

# Ends sessions that may be busy (standbys still waiting): their backends
# are terminated first, since a backend waiting on its latch would not
# notice that its psql went away, and would take over later.
sub dispose
{
	for my $s (@_)
	{
		my $n = $node{ $s->{node} };
		sql($n, "SELECT pg_terminate_backend($s->{pid})") if defined $n->{_pid};
		eval { $s->{bg}->{run}->kill_kill; 1 };
	}
}

# The standbys that have returned: [ session, result, token, ms ].
sub returned
{
	my @standbys = @_;
	my @r;
	for my $s (@standbys)
	{
		eval { $s->{bg}->{run}->pump_nb; 1 };
		push @r, [ $s, $1, $2, $3 ] if $s->{bg}->{stdout} =~ /took-over:(\w+):(\d+):(\d+)/;
	}
	return @r;
}

# the waiting standbys must be in register_name_wait (waiting on their latch)
sub all_waiting
{
	my @standbys = @_;
	my %by_node;
	push @{ $by_node{ $_->{node} } }, $_->{pid} for @standbys;
	for my $n (keys %by_node)
	{
		my $pids = join(',', @{ $by_node{$n} });
		return 0 unless $node{$n}->poll_query_until('postgres',
			"SELECT count(*) = " . scalar(@{ $by_node{$n} })
			  . " FROM pg_stat_activity WHERE pid IN ($pids) AND state = 'active' AND wait_event_type = 'Extension'");
	}
	return 1;
}

# Every live server shows $owner_node/$pid as the owner with $token, in its
# table and through token().
sub all_show
{
	return all_show_name($name, @_);
}

sub all_show_name
{
	my ($nm, $owner_node, $pid, $token, @live) = @_;
	for my $n (@live)
	{
		return 0 unless $n->poll_query_until('postgres',
			"SELECT string_agg(state || ' ' || node || ' ' || pid || ' ' || token, ',') "
			  . "|| ' ' || kz_globals.token('$nm') FROM kz_globals.registrations WHERE name = '$nm'",
			($n->name eq $owner_node ? 'local' : 'remote') . " $owner_node\@127.0.0.1 $pid $token $token");
	}
	return 1;
}

sub median
{
	my @v = sort { $a <=> $b } @_;
	return @v ? $v[ int($#v / 2) ] : 'n/a';
}

# --- a reference: how long one claim takes here (a claim is one round trip
#     through the broker to both peers and back) ---
my @claim_ms;
{
	my $s = session($node{n1});
	for my $i (1 .. 20)
	{
		my $t0 = time();
		$s->{bg}->query_safe("SELECT kz_globals.register_name('reference-$i')");
		push @claim_ms, (time() - $t0) * 1000;
	}
	quit_session($s);
}
my $claim_median = sprintf('%.1f', median(@claim_ms));
note("register_name (one claim, seen from psql): median $claim_median ms");

# --- the first owner, on n1 ---
my $holder = session($node{n1});
is($holder->{bg}->query_safe("SELECT kz_globals.register_name('$name')"), 't', 'n1 registers the name');
my $token = $holder->{bg}->query_safe("SELECT kz_globals.token('$name')");
like($token, qr/^\d+$/, "the registration has a token ($token)");
ok(all_show('n1', $holder->{pid}, $token, @nodes), 'every server shows the owner with that token');
is(sql($node{n2}, "SELECT kz_globals.token('nobody') IS NULL"), 't', 'token() of an unknown name is NULL');
my @tokens = ($token);
my @stale_tokens;

# --- owner exit: standbys on the two other servers (two each); exactly one
#     takes over.  Turns 1-4 end the owner's session (quit or
#     pg_terminate_backend), turn 5 has standbys on all three servers. ---
my (@remote_ms, @local_ms);
my @standbys;
for my $turn (1 .. 5)
{
	my $from = $holder->{node};
	my @where = $turn < 5 ? grep { $_->name ne $from } @nodes : @nodes;
	push @standbys, stand_by($_) for map { ($_, $_) } @where;
	ok(all_waiting(@standbys), "turn $turn: " . scalar(@standbys) . ' standbys wait while the owner lives');
	is(scalar(returned(@standbys)), 0, "turn $turn: none of them returned");

	my $how = $turn % 2 ? 'exits' : 'is terminated';
	my $t0 = time();
	if ($turn % 2)
	{
		quit_session($holder);
	}
	else
	{
		sql($node{$from}, "SELECT pg_terminate_backend($holder->{pid})");
		eval { $holder->{bg}->{run}->kill_kill; 1 };
	}
	my @won;
	KzHarness::wait_until("turn $turn takeover", 60, sub {
			@won = grep { $_->[1] eq 'true' } returned(@standbys);
			return @won > 0;
		});
	sleep 0.5;    # would a second one follow?
	my @back = returned(@standbys);
	@won = grep { $_->[1] eq 'true' } @back;
	is(scalar(@won), 1, "turn $turn: owner $how on $from, exactly one standby takes over");
	is(scalar(@back), scalar(@won), "turn $turn: the others keep waiting");
	last unless @won == 1;
	my ($winner, undef, $wtoken, $wms) = @{ $won[0] };
	my $ms = $wms - $t0 * 1000;
	my $kind = $winner->{node} eq $from ? 'same server' : 'other server';
	push @{ $kind eq 'same server' ? \@local_ms : \@remote_ms }, $ms;
	note(sprintf("turn %d: owner on %s %s, standby on %s (%s) took over in %.0f ms", $turn, $from, $how,
			$winner->{node}, $kind, $ms));
	ok($wtoken > $tokens[-1], "turn $turn: the new token is larger than the old one")
	  or diag("old $tokens[-1], new $wtoken");
	ok(all_show($winner->{node}, $winner->{pid}, $wtoken, @nodes),
		"turn $turn: every server shows the new owner ($winner->{node}) with its token");
	$winner->{bg}->{stdout} = '';
	my $own_token = $winner->{bg}->query_safe("SELECT kz_globals.token('$name')");
	is($own_token, $wtoken, "turn $turn: the owner's token() is the one it took over with");
	push @stale_tokens, $tokens[-1];
	push @tokens, $wtoken;
	$holder = $winner;
	@standbys = grep { $_ != $winner } @standbys;
	# the next turn starts with fresh standbys
	dispose(@standbys);
	@standbys = ();
	ok($node{$from}->poll_query_until('postgres',
			"SELECT count(*) = 0 FROM kz_globals.registrations WHERE name = '$name' AND state = 'pending'"),
		"turn $turn: no pending claim is left behind");
}
cmp_ok(median(@remote_ms), '<', 5000, 'owner exit: a standby on another server takes over within 5 s (median)');

# --- fencing: assert_owner() guards a write in the owner's transaction ---
{
	my $n = $node{ $holder->{node} };
	sql($n, "CREATE TABLE fenced (id integer PRIMARY KEY, v text); INSERT INTO fenced VALUES (1, 'initial')");
	my $current = $tokens[-1];
	my $stale = $stale_tokens[-1];
	my ($out, $err) = run_in($holder->{bg},
		"BEGIN; UPDATE fenced SET v = 'by the owner' WHERE id = 1 AND kz_globals.assert_owner('$name', $current); COMMIT;");
	is($err, '', 'assert_owner with the current token lets the owner write');
	is(sql($n, 'SELECT v FROM fenced WHERE id = 1'), 'by the owner', '... and the write is there');

	($out, $err) = run_in($holder->{bg},
		"\\set VERBOSITY verbose\nBEGIN;\nINSERT INTO fenced VALUES (2, 'same transaction');\n"
		  . "UPDATE fenced SET v = 'stale' WHERE id = 1 AND kz_globals.assert_owner('$name', $stale);\nCOMMIT;\n\\set VERBOSITY default");
	like($err, qr/ERROR:\s+55000: this session does not own the name "$name" with token $stale/,
		'assert_owner with the previous owner\'s token raises 55000');
	like($err, qr/HINT:\s+The registration was lost or replaced/, '... with a hint');
	is(sql($n, "SELECT string_agg(id || '=' || v, ',' ORDER BY id) FROM fenced"), '1=by the owner',
		'... and the whole transaction is rolled back: neither the guarded UPDATE nor the INSERT before it');
	is($holder->{bg}->query_safe("SELECT kz_globals.assert_owner('$name', $current)"), 't',
		'the owner session is usable afterwards and still owns the name');

	# the current token is no use to another session, here or elsewhere
	for my $other ($n, grep { $_ != $n } @nodes)
	{
		my ($ret, $o, $e) = $other->psql('postgres',
			"SELECT kz_globals.assert_owner('$name', $current)");
		like($e, qr/does not own the name "$name" with token $current/,
			'assert_owner with the current token fails in another session on ' . $other->name);
	}

	# a deposed owner (its registration removed under it) is refused too
	my $other_name = 'fence-depose';
	$holder->{bg}->query_safe("SELECT kz_globals.register_name('$other_name')");
	my $t = $holder->{bg}->query_safe("SELECT kz_globals.token('$other_name')");
	is(sql($n, "SELECT kz_globals.unregister_name('$other_name')"), 't',
		'a superuser unregisters a name under its owner');
	($out, $err) = run_in($holder->{bg},
		"UPDATE fenced SET v = 'deposed' WHERE id = 1 AND kz_globals.assert_owner('$other_name', $t)");
	like($err, qr/does not own the name "$other_name"/, 'the deposed owner\'s guarded write is refused');
	is(sql($n, 'SELECT v FROM fenced WHERE id = 1'), 'by the owner', '... and nothing was written');
}

# --- register_name_wait with a timeout returns false, leaving nothing ---
{
	my $n = $node{n2}->name eq $holder->{node} ? $node{n3} : $node{n2};
	my $s = session($n);
	my $t0 = time();
	is($s->{bg}->query_safe("SELECT kz_globals.register_name_wait('$name', 700)"), 'f',
		'register_name_wait on a taken name times out with false');
	my $ms = (time() - $t0) * 1000;
	cmp_ok($ms, '>=', 690, sprintf('... after its timeout (%.0f ms)', $ms));
	cmp_ok($ms, '<', 10000, '... and not much later');
	is(sql($n, "SELECT count(*) FROM kz_globals.registrations WHERE pid = $s->{pid} OR state = 'pending'"),
		'0', '... leaving no registration and no pending claim');
	ok(all_show($holder->{node}, $holder->{pid}, $tokens[-1], @nodes), '... and the owner unchanged everywhere');
	is($s->{bg}->query_safe("SELECT kz_globals.register_name_wait('free-name', 700)"), 't',
		'register_name_wait on a free name claims it at once');
	quit_session($s);
}

# --- a waiting standby is cancelled: error, session usable, no stray row ---
{
	my $n = $node{n1}->name eq $holder->{node} ? $node{n2} : $node{n1};
	my $victim = stand_by($n);
	my $other = stand_by($n);
	ok(all_waiting($victim, $other), 'two standbys wait');
	is(sql($n, "SELECT pg_cancel_backend($victim->{pid})"), 't', 'one of them is cancelled');
	my $cancelled = KzHarness::wait_until('the cancel', 30, sub {
			eval { $victim->{bg}->{run}->pump_nb; 1 };
			return $victim->{bg}->{stderr} =~ /canceling statement due to user request/;
		});
	ok($cancelled, 'register_name_wait fails with "canceling statement due to user request"');
	$victim->{bg}->{stderr} = '';
	$victim->{bg}->{stdout} = '';
	is($victim->{bg}->query_safe('SELECT 1'), '1', 'the cancelled session is usable');
	is(sql($n, "SELECT count(*) FROM kz_globals.registrations WHERE pid = $victim->{pid} OR state = 'pending'"),
		'0', 'the cancelled standby left no registration and no pending claim');

	# the owner exits: the other standby takes over, not the cancelled one
	my $t0 = time();
	quit_session($holder);
	my @won;
	KzHarness::wait_until('takeover after a cancel', 60, sub {
			@won = grep { $_->[1] eq 'true' } returned($other);
			return @won > 0;
		});
	is(scalar(@won), 1, 'the owner exits: the remaining standby takes over');
	my $ms = @won ? $won[0][3] - $t0 * 1000 : 0;
	push @{ $holder->{node} eq $n->name ? \@local_ms : \@remote_ms }, $ms if @won;
	ok(all_show($n->name, $other->{pid}, $won[0][2], @nodes), '... and every server shows it')
	  if @won;
	push @tokens, $won[0][2] if @won;
	$other->{bg}->{stdout} = '';
	is($victim->{bg}->query_safe(
			"SELECT count(*) FROM kz_globals.registrations WHERE pid = pg_backend_pid()"), '0',
		'the cancelled session did not take over');
	quit_session($victim);
	$holder = $other;
}

# --- server death: the owner's server stops at once (no unregister); a
#     standby on another server takes over once the peers expire it ---
my $death_ms;
{
	my $dead = $node{ $holder->{node} };
	my @live = grep { $_ != $dead } @nodes;
	my @sb = map { stand_by($_) } map { ($_, $_) } @live;
	ok(all_waiting(@sb), 'standbys wait on the two other servers');
	my $old_token = $tokens[-1];
	my $t0 = time();
	$dead->stop('immediate');
	eval { $holder->{bg}->{run}->kill_kill; 1 };
	my @won;
	KzHarness::wait_until('takeover after a server death', 60, sub {
			@won = grep { $_->[1] eq 'true' } returned(@sb);
			return @won > 0;
		});
	sleep 0.5;
	my @back = returned(@sb);
	@won = grep { $_->[1] eq 'true' } @back;
	is(scalar(@won), 1, 'server death: exactly one standby takes over');
	is(scalar(@back), 1, 'server death: the others keep waiting');
	if (@won == 1)
	{
		my ($winner, undef, $wtoken, $wms) = @{ $won[0] };
		$death_ms = $wms - $t0 * 1000;
		note(sprintf('server death: %s stopped, standby on %s took over in %.0f ms',
				$dead->name, $winner->{node}, $death_ms));
		cmp_ok($death_ms, '<', 3000 + 2000 + 10000,
			'server death: within node expiry (3 s) plus a claim, with room to spare');
		cmp_ok($death_ms, '>', 1000, '... and not before the dead server could have expired');
		ok($wtoken > $old_token, 'server death: the new token is larger than the dead owner\'s');
		ok(all_show($winner->{node}, $winner->{pid}, $wtoken, @live),
			'server death: both live servers show the new owner and token');
		push @tokens, $wtoken;
		$holder = $winner;
		@sb = grep { $_ != $winner } @sb;
	}
	$dead->start;
	ok(wait_nodes_up($dead, 3),
		$dead->name . ' comes back');
	ok(all_show($holder->{node}, $holder->{pid}, $tokens[-1], @nodes),
		'the restarted server learns the current owner and token');
	dispose(@sb);
}

# --- a partition: the owner's server is cut from the broker.  The other
#     side expires it and a standby there takes over, so for a while there
#     are two owners, and assert_owner() passes for each on its own server.
#     On heal the conflict rule (the older claim wins) keeps one of them: the
#     first owner, with the smaller token; the other is told and fenced. ---
{
	my $split = 'split';
	sql($node{n3}, "ALTER SYSTEM SET kz_globals.amqp_uri = '" . $proxy->uri . "'");
	sql($node{n3}, 'SELECT pg_reload_conf()');
	ok(KzHarness::wait_until('n3 through the proxy', 60, sub { $proxy->status->{conns} > 0 }),
		'partition: n3 reconnects through a TCP proxy');
	for my $n (@nodes)
	{
		ok($n->poll_query_until('postgres', "SELECT count(*) = 3 FROM kz_globals.nodes WHERE state = 'up'"),
			'partition: ' . $n->name . ' sees three nodes up');
	}
	my $old = session($node{n3});
	is($old->{bg}->query_safe("SELECT kz_globals.register_name('$split')"), 't', 'partition: n3 owns another name');
	my $t_old = $old->{bg}->query_safe("SELECT kz_globals.token('$split')");
	my $sb = session($node{n1});
	$sb->{bg}->query_until(qr/standing by/,
		"\\echo standing by\nSELECT 'took-over:' || kz_globals.register_name_wait('$split') "
		  . "|| ':' || kz_globals.token('$split') || ':' || (extract(epoch FROM clock_timestamp()) * 1000)::bigint;\n");
	ok(all_waiting($sb), 'partition: a standby on n1 waits');
	my $t0 = time();
	$proxy->cut('blackhole');
	my @won;
	KzHarness::wait_until('takeover across a partition', 60, sub {
			@won = grep { $_->[1] eq 'true' } returned($sb);
			return @won > 0;
		});
	ok(@won == 1, 'partition: the standby on the other side takes over once n3 expires');
	my $t_new = @won ? $won[0][2] : 0;
	note(sprintf('partition: standby on n1 took over in %.0f ms', @won ? $won[0][3] - $t0 * 1000 : -1));
	ok($t_new > $t_old, 'partition: with a larger token');
	$sb->{bg}->{stdout} = '';
	is($old->{bg}->query_safe("SELECT kz_globals.assert_owner('$split', $t_old)"), 't',
		'partition: the cut-off owner still passes assert_owner on its own server');
	is($sb->{bg}->query_safe("SELECT kz_globals.assert_owner('$split', $t_new)"), 't',
		'partition: so does the new owner on the other side');

	$proxy->heal;
	ok(wait_nodes_up($node{n3}, 3),
		'partition healed: n3 sees the cluster again');
	ok(all_show_name($split, 'n3', $old->{pid}, $t_old, @nodes),
		'partition healed: every server keeps the older claim (n3, smaller token)');
	my ($out, $err) = run_in($sb->{bg}, "SELECT kind, message::jsonb ->> 'event', message::jsonb ->> 'winner_node' FROM kz_globals.receive(10000)");
	is($out, "system|name_lost|n3\@127.0.0.1", 'partition healed: the other owner is told it lost the name');
	($out, $err) = run_in($sb->{bg}, "SELECT kz_globals.assert_owner('$split', $t_new)");
	like($err, qr/does not own the name "$split" with token $t_new/,
		'partition healed: and its assert_owner fails from then on');
	is($old->{bg}->query_safe("SELECT kz_globals.assert_owner('$split', $t_old)"), 't',
		'partition healed: the survivor keeps its (smaller) token');
	quit_session($_) for $old, $sb;
}

# the tokens of all successive owners
my @sorted = sort { $a <=> $b } @tokens;
my %distinct = map { ($_ => 1) } @tokens;
ok("@tokens" eq "@sorted" && keys(%distinct) == @tokens,
	scalar(@tokens) . ' successive owners had strictly increasing tokens')
  or diag("tokens: @tokens");

quit_session($holder);

diag(sprintf('takeover after owner exit, standby on another server: median %.0f ms, max %.0f ms (%d turns); '
		  . 'on the same server: %s; server death (heartbeat 1 s): %s ms; one claim: median %s ms',
		median(@remote_ms), (sort { $b <=> $a } @remote_ms)[0] // 0, scalar(@remote_ms),
		(@local_ms ? join(', ', map { sprintf('%.0f ms', $_) } @local_ms) : 'n/a'),
		defined $death_ms ? sprintf('%.0f', $death_ms) : 'n/a', $claim_median));

done_testing();
