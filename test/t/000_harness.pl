# Self-test of the test harness (test/perl/KzHarness.pm, test/harness/*):
# throwaway brokers, restart/kill/pause, TLS, a two-node cluster, the TCP
# proxy's reset and blackhole partitions, and a plain PostgreSQL node.  It
# does not need the kz_globals extension.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use IO::Select;
use IO::Socket::INET;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

use KzHarness;

# The AMQP 0-9-1 protocol header; a broker answers with a connection.start
# method frame (frame type 1 on channel 0).
my $AMQP_HEADER = "AMQP\x00\x00\x09\x01";

# amqp_roundtrip($uri, $queue, $body, @tls_opts): declare, publish and get
# one message with amqp-tools (rabbitmq-c, the library the extension uses).
sub amqp_roundtrip
{
	my ($uri, $queue, $body, @extra) = @_;
	my @url = ("--url=$uri", @extra);
	my ($rc, $out) =
	  KzHarness::run_cmd('timeout', '20', 'amqp-declare-queue', @url,
		'-q', $queue);
	return 0 if $rc;
	($rc, $out) =
	  KzHarness::run_cmd('timeout', '20', 'amqp-publish', @url, '-r', $queue,
		'-b', $body);
	return 0 if $rc;
	($rc, $out) =
	  KzHarness::run_cmd('timeout', '20', 'amqp-get', @url, '-q', $queue);
	return !$rc && $out eq $body;
}

# amqp_declare_fails($uri, $seconds): true if declaring a queue does not
# succeed within $seconds (refused, reset or no answer).
sub amqp_declare_fails
{
	my ($uri, $seconds) = @_;
	my ($rc) =
	  KzHarness::run_cmd('timeout', $seconds, 'amqp-declare-queue',
		"--url=$uri", '-q', 'kzh_probe');
	return $rc != 0;
}

# Open a TCP connection; undef if refused.
sub tcp_connect
{
	my ($port) = @_;
	return IO::Socket::INET->new(
		PeerAddr => '127.0.0.1',
		PeerPort => $port,
		Proto => 'tcp',
		Timeout => 5);
}

# Wait up to $timeout seconds for data; return what arrived ('' on EOF,
# undef on timeout or reset).
sub read_within
{
	my ($sock, $timeout) = @_;
	return undef unless IO::Select->new($sock)->can_read($timeout);
	my $buf;
	my $n = sysread($sock, $buf, 4096);
	return defined $n ? $buf : undef;
}

# Processes still running with one of these broker directories in their
# environment (beam.smp, erl_child_setup, inet_gethost, epmd, the script).
sub leftover_processes
{
	my @dirs = @_;
	my @found;
	for my $env (glob('/proc/[0-9]*/environ'))
	{
		open(my $fh, '<', $env) or next;
		local $/;
		my $content = <$fh> // '';
		close $fh;
		my ($pid) = $env =~ m{/proc/(\d+)/};
		my $stat = '';
		if (open(my $sf, '<', "/proc/$pid/stat"))
		{
			$stat = <$sf> // '';
			close $sf;
		}
		next if $stat =~ /\) Z /;    # zombies are dead, init reaps them
		push @found, $pid
		  if grep { index($content, "RABBITMQ_MNESIA_BASE=$_/mnesia") >= 0 }
		  @dirs;
	}
	return @found;
}

# ---------------------------------------------------------------- broker

my $t0 = time();
my $b1 = KzHarness::Broker->new(name => 'b1', tls => 1);
my $start_time = time() - $t0;
note(sprintf('broker b1 (with TLS) started in %.1f s', $start_time));
is($b1->status, 'running', 'broker b1 is running');
is($b1->uri, 'amqp://guest:guest@127.0.0.1:' . $b1->port . '/%2f',
	'uri format');
ok(amqp_roundtrip($b1->uri, 'kzh_q1', 'hello'), 'AMQP round trip on b1');
like($b1->ctl(qw(-q list_queues name)), qr/^kzh_q1$/m,
	'ctl list_queues shows the queue');

$t0 = time();
$b1->restart;
note(sprintf('restart (stop_app/start_app) took %.1f s', time() - $t0));
ok(amqp_roundtrip($b1->uri, 'kzh_q2', 'after restart'),
	'AMQP works after restart');

$b1->kill;
is($b1->status, 'stopped', 'kill stops the broker');
ok(!tcp_connect($b1->port), 'AMQP port refuses connections after kill');
$t0 = time();
$b1->start;
note(sprintf('start after kill took %.1f s', time() - $t0));
ok(amqp_roundtrip($b1->uri, 'kzh_q3', 'after kill'),
	'AMQP works after kill + start on the same port');

$b1->pause;
is($b1->status, 'paused', 'pause freezes the broker');
ok(amqp_declare_fails($b1->uri, 3), 'a paused broker does not answer');
$b1->resume;
ok(amqp_roundtrip($b1->uri, 'kzh_q4', 'after resume'),
	'AMQP works after resume');

# ---------------------------------------------------------------- TLS

my $cacert = KzHarness::certdir() . '/ca.pem';
my ($rc, $out) = KzHarness::run_cmd(
	'bash', '-c',
	'echo | timeout 20 openssl s_client -connect 127.0.0.1:$0 '
	  . '-CAfile $1 -verify_hostname localhost -verify_return_error',
	$b1->tls_port, $cacert);
like($out, qr/Verify return code: 0 \(ok\)/,
	'TLS listener presents a certificate valid for localhost');
ok( amqp_roundtrip($b1->tls_uri, 'kzh_tls', 'over tls', "--cacert=$cacert"),
	'AMQP round trip over amqps with rabbitmq-c');

# ---------------------------------------------------------------- cluster

$t0 = time();
my $b2 = KzHarness::Broker->new(name => 'b2', join => $b1);
note(sprintf('broker b2 started and joined in %.1f s', time() - $t0));
my $cs = $b1->ctl('cluster_status');
like($cs, qr/Running Nodes.*\Q${\$b1->nodename}\E/s,
	'cluster_status lists b1 as running');
like($cs, qr/Running Nodes.*\Q${\$b2->nodename}\E/s,
	'cluster_status lists b2 as running');
($rc) = KzHarness::run_cmd('amqp-declare-queue', '--url=' . $b1->uri, '-q',
	'kzh_cq');
($rc) = KzHarness::run_cmd('amqp-publish', '--url=' . $b2->uri, '-r',
	'kzh_cq', '-b', 'via b2')
  if !$rc;
is($rc, 0, 'publish on b2 to a queue declared on b1');
($rc, $out) =
  KzHarness::run_cmd('amqp-get', '--url=' . $b1->uri, '-q', 'kzh_cq');
is($out, 'via b2', 'message published on b2 is read from b1');

# ---------------------------------------------------------------- proxy

my $proxy = KzHarness::TcpProxy->new(target_port => $b1->port);
ok(amqp_roundtrip($proxy->uri, 'kzh_pq', 'via proxy'),
	'AMQP round trip through the proxy');

my $s1 = tcp_connect($proxy->port);
ok($s1, 'connected through the proxy');
syswrite($s1, $AMQP_HEADER);
my $reply = read_within($s1, 10);
ok(defined $reply && length($reply) > 0 && ord($reply) == 1,
	'broker answers the protocol header through the proxy');
ok(KzHarness::wait_until('proxy to count the connection', 5,
		sub { $proxy->status->{conns} >= 1 }),
	'proxy reports the open connection');

$proxy->cut('reset');
$reply = read_within($s1, 5);
ok(!defined $reply || $reply eq '', 'cut reset closes open connections');
ok(!tcp_connect($proxy->port), 'cut reset refuses new connections');
ok(amqp_declare_fails($proxy->uri, 5), 'AMQP fails while cut (reset)');
$proxy->heal;
ok(amqp_roundtrip($proxy->uri, 'kzh_pq', 'healed'),
	'AMQP works again after heal');

my $s2 = tcp_connect($proxy->port);
ok(KzHarness::wait_until('proxy to connect upstream', 5,
		sub { $proxy->status->{conns} >= 1 }),
	'second connection is proxied');
$proxy->cut('blackhole');
is($proxy->status->{mode}, 'blackhole', 'proxy is in blackhole mode');
syswrite($s2, $AMQP_HEADER);
ok(!defined read_within($s2, 2),
	'blackhole: an open connection gets no answer');
ok(amqp_declare_fails($proxy->uri, 3),
	'blackhole: new AMQP connections hang');
$proxy->heal;
$reply = read_within($s2, 10);
ok(defined $reply && length($reply) > 0 && ord($reply) == 1,
	'after heal, bytes held back by the blackhole are delivered');
close($s1);
close($s2);
$proxy->stop;

# ---------------------------------------------------------------- postgres

my $node = KzHarness::node(
	'n1',
	extension => 0,
	preload => 0,
	gucs => { 'kz_globals.amqp_uri' => $b1->uri });
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'PostgreSQL node answers');
is($node->safe_psql('postgres', 'SHOW kz_globals.amqp_uri'),
	$b1->uri, 'gucs are written to postgresql.conf');
is($node->safe_psql('postgres', 'SHOW log_line_prefix'),
	'%m [%p] %b ', 'test default log_line_prefix');
$node->stop;

# ---------------------------------------------------------------- stop

# b2 joined b1; stop it first so that b1 is the last node down.
$b2->stop;
$b1->stop;
is($b1->status, 'stopped', 'b1 is stopped');
my @left = leftover_processes($b1->dir, $b2->dir);
is(scalar(@left), 0, 'stop leaves no broker processes behind')
  or diag("left: @left");
ok(KzHarness::wait_until('epmd to exit', 5,
		sub { !tcp_connect($b1->{epmd_port}) }),
	'the private epmd is gone');

done_testing();
