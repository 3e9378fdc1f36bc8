#!/usr/bin/perl
#
# kz_cluster.pl - a throwaway kz_globals cluster for the programs that are
# not TAP tests (make demo, make bench, the model tests, make
# valgrindcheck), built from the TAP tests' own harness (KzHarness.pm,
# PostgreSQL::Test::Cluster): one RabbitMQ broker and N PostgreSQL servers
# with the extension, all as the current (unprivileged) user, listening on
# free loopback ports and on Unix sockets, all state below one directory.
#
#   kz_cluster.pl start DIR N [--first K] [--no-broker] [--brokers B] [--conf 'name = value']...
#       Start a supervisor process that owns the broker and the servers
#       pgK..pg(K+N-1) (K defaults to 1): kz_globals preloaded and created in
#       the postgres database, kz_globals.node_name 'pgI@127.0.0.1',
#       kz_globals.amqp_uri the broker's, then the --conf lines.  With
#       --brokers B, B brokers in one RabbitMQ cluster (the others join the
#       first) and the servers spread over them in turn.  Returns
#       once every server sees all N (skipped with --no-broker), after
#       writing DIR/cluster.env and printing it; fails, with the log's tail,
#       if anything did not start (then nothing is left running).
#   kz_cluster.pl add DIR [--conf 'name = value']...
#       One more server, numbered after the last, with only these --conf
#       lines; returns once it runs, printing its lines of cluster.env.
#   kz_cluster.pl stop DIR
#       Stop the servers (fast) and the broker; the supervisor exits.
#       Succeeds when nothing runs.
#
# DIR/cluster.env (shell syntax, one NAME=value a line): KZ_CLUSTER_PID,
# BROKER_PORT and BROKER_URI (unless --no-broker; the first broker's),
# PGHOST (the servers' socket directory), PGDATABASE, NODES, FIRST, and
# per server I: PORT_I, DATA_I, LOG_I.  Logs are in DIR/tmp_check/log, as a TAP test's.
#
# The supervisor stops everything when it gets SIGTERM, SIGINT or SIGHUP
# (the caller's Ctrl-C, or a time limit): KzHarness and
# PostgreSQL::Test::Cluster do that in their END blocks.  PostgreSQL's
# test modules (lib/pgxs/src/test/perl of the PostgreSQL of pg_config:
# $PG_CONFIG or the first on PATH) must be installed, as for the TAP tests.
# Set PG_TEST_NOCLEAN or KEEP=1 to keep the data directories.

use strict;
use warnings;

# Everything but "serve" is done here, before PostgreSQL's test modules are
# loaded (they set up a test's directories and log as they load).
BEGIN
{
	use File::Basename qw(dirname);
	use Cwd qw(abs_path);
	use IO::Socket::UNIX;
	use POSIX ();

	our $HERE = dirname(abs_path(__FILE__));
	# POSIX::_exit below does not flush.
	$| = 1;

	sub usage
	{
		print STDERR
		  "usage: kz_cluster.pl start DIR N [--first K] [--no-broker] [--brokers B] [--conf 'name = value']...\n"
		  . "       kz_cluster.pl add DIR [--conf 'name = value']...\n"
		  . "       kz_cluster.pl stop DIR\n";
		exit 2;
	}

	sub bail
	{
		print STDERR "kz_cluster.pl: @_\n";
		exit 1;
	}

	# The settings the supervisor saved, as a hash.
	sub read_env
	{
		my ($dir) = @_;
		open(my $fh, '<', "$dir/cluster.env") or return {};
		my %env = map { /^(\w+)=(.*)$/ ? ($1 => $2) : () } <$fh>;
		return \%env;
	}

	# A process that exists and is not a zombie.
	sub alive
	{
		my ($pid) = @_;
		open(my $fh, '<', "/proc/$pid/stat") or return 0;
		my $stat = <$fh> // '';
		return $stat =~ /\) [^Z] / ? 1 : 0;
	}

	sub show_logs
	{
		my ($dir) = @_;
		for my $f ("$dir/supervisor.log", glob("$dir/tmp_check/log/regress_log_*"))
		{
			next unless -s $f;
			open(my $fh, '<', $f) or next;
			my @lines = <$fh>;
			splice(@lines, 0, @lines - 40) if @lines > 40;
			print STDERR "----- $f (last lines)\n", @lines;
		}
	}

	# Run the supervisor in the background; wait until it has written
	# cluster.env, or has died.
	sub cmd_start
	{
		my ($dir, @args) = @_;
		usage() unless defined $dir && @args && $args[0] =~ /^\d+$/;
		File::Path::make_path($dir);
		$dir = abs_path($dir);
		my $old = read_env($dir);
		bail("a cluster runs in $dir already")
		  if $old->{KZ_CLUSTER_PID} && alive($old->{KZ_CLUSTER_PID});
		unlink("$dir/cluster.env", "$dir/ctl.sock");

		my $pid = fork() // bail("fork: $!");
		if ($pid == 0)
		{
			# Its own output goes to a file: a caller reading our output
			# through a pipe must not wait for the supervisor to end.
			open(STDIN, '<', '/dev/null');
			open(STDOUT, '>>', "$dir/supervisor.log") or POSIX::_exit(127);
			open(STDERR, '>&', \*STDOUT) or POSIX::_exit(127);
			{ exec($^X, abs_path(__FILE__), 'serve', $dir, @args) };
			POSIX::_exit(127);
		}
		# Every server started by hand takes a few seconds; a broker up to a
		# minute on a loaded machine.
		my $deadline = time() + ($ENV{KZ_CLUSTER_TIMEOUT} // 600);
		while (!-e "$dir/cluster.env")
		{
			if (waitpid($pid, POSIX::WNOHANG()) == $pid || time() > $deadline)
			{
				kill('TERM', $pid) if alive($pid);
				waitpid($pid, 0);
				show_logs($dir);
				bail("the cluster in $dir did not start");
			}
			select(undef, undef, undef, 0.1);
		}
		open(my $fh, '<', "$dir/cluster.env") or bail("$dir/cluster.env: $!");
		print <$fh>;
		POSIX::_exit(0);
	}

	# Ask the supervisor to add a server, print its settings.
	sub cmd_add
	{
		my ($dir, @args) = @_;
		usage() unless defined $dir;
		my $sock = IO::Socket::UNIX->new(Peer => "$dir/ctl.sock")
		  or bail("no cluster runs in $dir ($dir/ctl.sock: $!)");
		print $sock join("\t", 'add', @args), "\n";
		$sock->flush;
		my @reply = <$sock>;
		bail("the supervisor did not answer") unless @reply;
		if ($reply[0] !~ /^ok$/)
		{
			show_logs($dir);
			bail(@reply);
		}
		print @reply[ 1 .. $#reply ];
		POSIX::_exit(0);
	}

	# SIGTERM to the supervisor, then wait until it has stopped everything.
	sub cmd_stop
	{
		my ($dir) = @_;
		usage() unless defined $dir;
		my $pid = read_env($dir)->{KZ_CLUSTER_PID};
		POSIX::_exit(0) unless $pid && alive($pid);
		kill('TERM', $pid);
		my $deadline = time() + 120;
		while (alive($pid))
		{
			bail("the supervisor ($pid) did not stop within 120 s") if time() > $deadline;
			select(undef, undef, undef, 0.1);
		}
		POSIX::_exit(0);
	}

	require File::Path;
	my $cmd = shift(@ARGV) // '';
	cmd_start(@ARGV) if $cmd eq 'start';
	cmd_add(@ARGV) if $cmd eq 'add';
	cmd_stop(@ARGV) if $cmd eq 'stop';
	usage() unless $cmd eq 'serve';

	# serve DIR N [options]: the supervisor.  Its directories and logs are
	# a TAP test's (TESTDIR up to PostgreSQL 15, TESTDATADIR and TESTLOGDIR
	# from 16 on), and it runs the installed binaries.
	my $dir = $ARGV[0];
	$ENV{TESTDIR} = $dir;
	$ENV{TESTDATADIR} = "$dir/tmp_check";
	$ENV{TESTLOGDIR} = "$dir/tmp_check/log";
	File::Path::make_path($ENV{TESTLOGDIR});
	my $pg_config = $ENV{PG_CONFIG} || 'pg_config';
	chomp(my $bindir = `$pg_config --bindir`);
	chomp(my $pgxs = `$pg_config --pgxs`);
	bail("$pg_config failed") unless $bindir && $pgxs;
	my $pgxs_top = dirname($pgxs) . '/../..';
	$ENV{PATH} = "$bindir:$ENV{PATH}";
	$ENV{KZ_CLUSTER_PGBIN} = $bindir;
	$ENV{PG_REGRESS} = "$pgxs_top/src/test/regress/pg_regress";
	unshift(@INC, "$pgxs_top/src/test/perl", $HERE);
	# The broker is what this cluster is for (KzHarness::Broker skips a
	# TAP test without it).
	$ENV{PG_TEST_EXTRA} = 'amqp';
	$ENV{PG_TEST_NOCLEAN} = 1 if ($ENV{KEEP} // '') eq '1';
}

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use KzHarness;

KzHarness::Supervisor::serve(@ARGV);
