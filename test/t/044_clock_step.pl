# A step of a server's wall clock neither stops its heartbeats nor makes it
# expire peers that are talking (issue 11): heartbeats, expiry and the
# start-up wait are measured on the monotonic clock.  n1 runs with
# test/clock/wall_clock_shift.c preloaded (it shifts the wall clock of
# every process of n1, not the monotonic clock, as a step of the system
# clock does), and its clock is stepped back by a minute, then forward by
# two.  With the schedule on the wall clock, a step back stops n1's
# heartbeats for as long as the step (n2 expires n1 and drops its names
# while their owners keep them), and a step forward makes n1 expire every
# peer at once.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use KzHarness;

my $shim = "$PostgreSQL::Test::Utils::tmp_check/wall_clock_shift.so";
my $cc = system('gcc', '-shared', '-fPIC', '-O2', '-Wall', '-Werror', '-o', $shim,
	"$KzHarness::HARNESS_DIR/../clock/wall_clock_shift.c", '-ldl');
BAIL_OUT('cannot build test/clock/wall_clock_shift.c') if $cc != 0;

my $broker = KzHarness::Broker->new;
my %gucs = ('kz_globals.heartbeat_interval' => '500ms');

# The shift in seconds, written in place: every process of n1 has the file
# mapped, so the step is seen by all of them at once.
my $clock = "$PostgreSQL::Test::Utils::tmp_check/wall_clock_n1";
sub set_clock
{
	my ($seconds) = @_;
	my $fh;
	open($fh, -e $clock ? '+<' : '>', $clock) or die "$clock: $!";
	binmode $fh;
	print $fh pack('q', $seconds);
	close($fh);
}
set_clock(0);

my $n1;
{
	local $ENV{LD_PRELOAD} = $shim;
	local $ENV{KZ_WALL_CLOCK_FILE} = $clock;
	$n1 = KzHarness::node('n1', broker => $broker, gucs => \%gucs);
}
my $n2 = KzHarness::node('n2', broker => $broker, gucs => \%gucs);

sub sql { my ($node, $q) = @_; return $node->safe_psql('postgres', $q); }

for my $node ($n1, $n2)
{
	ok($node->poll_query_until('postgres',
			"SELECT count(*) = 2 FROM kz_globals.nodes WHERE state = 'up'"),
		$node->name . ' sees both servers');
}
my $owner = $n1->background_psql('postgres');
is($owner->query_safe("SELECT kz_globals.register_name('clock-owner')"), 't', 'n1 registers a name');
ok($n2->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM kz_globals.registrations WHERE name = 'clock-owner' AND node LIKE 'n1@%'"),
	'n2 sees it');

sub expirations
{
	my ($node) = @_;
	my $log = slurp_file($node->logfile);
	my @hits = $log =~ /kz_globals: node "[^"]+" expired/g;
	return scalar @hits;
}

sub steady
{
	my ($what) = @_;
	my ($e1, $e2) = (expirations($n1), expirations($n2));
	# 6 s: twelve heartbeat periods, four times the expiry time (and
	# long enough for every process of n1 to have seen its new clock)
	for (1 .. 30)
	{
		select(undef, undef, undef, 0.2);
		last if expirations($n1) != $e1 || expirations($n2) != $e2;
	}
	diag("$what: n2 last heard n1 "
		  . sql($n2, "SELECT clock_timestamp() - last_heartbeat FROM kz_globals.nodes WHERE node LIKE 'n1@%'")
		  . ' ago');
	is(expirations($n2), $e2, "$what: n2 does not expire n1");
	is(expirations($n1), $e1, "$what: n1 does not expire n2");
	is(sql($n2, "SELECT count(*) FROM kz_globals.nodes WHERE state = 'up'"), '2',
		"$what: n2 sees both servers up");
	is(sql($n1, "SELECT count(*) FROM kz_globals.nodes WHERE state = 'up'"), '2',
		"$what: n1 sees both servers up");
	is(sql($n2, "SELECT count(*) FROM kz_globals.registrations WHERE name = 'clock-owner'"), '1',
		"$what: n2 still holds n1's name");
}

like(sql($n1, 'SELECT now()::text'), qr/^\d/, 'n1 answers with its wall clock shifted');
set_clock(-60);
# n2's start time comes from n2's own clock, in its heartbeats
ok($n1->poll_query_until('postgres',
		"SELECT clock_timestamp() < (SELECT started_at FROM kz_globals.nodes WHERE node LIKE 'n2@%')"),
	"n1's wall clock is behind n2's start");
steady('clock stepped back a minute');

set_clock(60);
ok($n1->poll_query_until('postgres',
		"SELECT clock_timestamp() > (SELECT started_at FROM kz_globals.nodes WHERE node LIKE 'n2@%') + interval '30 s'"),
	"n1's wall clock is a minute ahead");
steady('clock stepped forward two minutes');

$owner->quit;
done_testing();
