=pod

=head1 NAME

KzHarness - brokers, PostgreSQL nodes and a partitionable TCP proxy for the
kz_globals TAP tests

=head1 SYNOPSIS

  use PostgreSQL::Test::Cluster;
  use PostgreSQL::Test::Utils;
  use Test::More;
  use FindBin;
  use lib "$FindBin::RealBin/../perl";
  use KzHarness;

  my $broker = KzHarness::Broker->new(tls => 1);
  my $proxy = KzHarness::TcpProxy->new(target_port => $broker->port);
  my $node = KzHarness::node('n1',
	  gucs => { 'kz_globals.amqp_uri' => $proxy->uri('guest', 'guest') });

  $proxy->cut('blackhole');    # silent partition
  $proxy->heal;
  $broker->kill;               # connection reset
  $broker->start;              # same ports, same data

=head1 DESCRIPTION

Everything started here is stopped again by an END block, also when the test
dies, and (through a signal handler) when it gets SIGINT/SIGTERM/SIGHUP.
Broker directories live under C<$PostgreSQL::Test::Utils::tmp_check> and are
removed like the nodes' data directories: only when every test passed and
PG_TEST_NOCLEAN is not set, so that a failing run keeps the broker logs.

Commands and their output are written to the test's log file
(tmp_check/log/regress_log_*), not to the TAP stream.

=cut

package KzHarness;

use strict;
use warnings;

use Carp;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(rmtree);
use File::Temp qw(tempdir);
use IPC::Run;
use POSIX ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes ();

our $HARNESS_DIR = abs_path(dirname(__FILE__) . '/../harness');
our $RABBITMQ_SH = "$HARNESS_DIR/rabbitmq.sh";
our $TCP_PROXY = "$HARNESS_DIR/tcp_proxy.py";
our $KAZOO_SIM = abs_path(dirname(__FILE__) . '/../py/kazoo_sim.py');
our $PYTHON = -x '/usr/bin/python3' ? '/usr/bin/python3' : 'python3';

# Only the process that loaded us cleans up: forked children (IPC::Run,
# our own proxy launcher) must not stop brokers in their END blocks.
my $owner_pid = $$;

# Every broker and proxy started by this test file.
my @brokers;
my @proxies;
my @kazoos;

# Brokers of one test file share an epmd port and an Erlang cookie, so that
# any two of them can form a cluster (see Broker::join).
my ($epmd_port, $cookie, $certdir);

# Die on the usual termination signals so that END blocks run.  (A signal
# ignored by our parent, e.g. SIGINT for a background job, stays ignored.)
my $caught_signal;
for my $sig (qw(INT TERM HUP))
{
	$SIG{$sig} = sub { $caught_signal = $sig; die "KzHarness: caught SIG$sig\n" }
	  if !defined $SIG{$sig} || $SIG{$sig} eq 'DEFAULT';
}

=pod

=head1 FUNCTIONS

=over

=item KzHarness::run_cmd(@cmd)

Run a command, log it and its output to the test log; return
(exit status, combined output).  Never dies.

=cut

sub run_cmd
{
	my @cmd = @_;
	my $out = '';
	print "# running: @cmd\n";
	my $ok = eval {
		IPC::Run::run(\@cmd, '<', \undef, '>', \$out, '2>&1');
		1;
	};
	# The eval must not swallow our signal handler's die.
	die "KzHarness: caught SIG$caught_signal\n" if $caught_signal;
	my $rc = $ok ? $? >> 8 : 255;
	$out .= $@ unless $ok;
	print $out;
	print "# exit status $rc\n" if $rc;
	return ($rc, $out);
}

=pod

=item KzHarness::rabbitmq(@args)

Run C<rabbitmq.sh @args>, return its output; die with the output if it
fails.

=cut

sub rabbitmq
{
	my @args = @_;
	my ($rc, $out) = run_cmd('bash', $RABBITMQ_SH, @args);
	croak "rabbitmq.sh @args failed (exit $rc):\n$out" if $rc;
	return $out;
}

=pod

=item KzHarness::certdir()

Directory with ca.pem, server.pem/key and client.pem/key, created on first
use (rabbitmq.sh gencert) and shared by all brokers of the test file.

=cut

sub certdir
{
	if (!defined $certdir)
	{
		my $d = tempdir('kz_certs_XXXX',
			DIR => $PostgreSQL::Test::Utils::tmp_check, CLEANUP => 0);
		rabbitmq('gencert', $d);
		$certdir = $d;
	}
	return $certdir;
}

# The epmd port and cookie shared by this test file's brokers.
sub _cluster_identity
{
	$epmd_port //= PostgreSQL::Test::Cluster::get_free_port();
	$cookie //= join('', map { ('A' .. 'Z')[ int(rand(26)) ] } 1 .. 32);
	return ($epmd_port, $cookie);
}

=pod

=item KzHarness::node($name, %opts)

Create, configure and start a PostgreSQL::Test::Cluster node and return it.
Options:

=over

=item preload => 1

Put kz_globals in shared_preload_libraries and set
C<kz_globals.node_name = '$name@127.0.0.1'>.

=item extension => 1

C<CREATE EXTENSION kz_globals> in the postgres database after start.

=item broker => $broker

Set C<kz_globals.amqp_uri> to C<< $broker->uri >> (or any object with a
C<uri> method, e.g. a TcpProxy).

=item gucs => { name => value, ... }

Appended to postgresql.conf after the defaults, so they override them.
Values are quoted unless they already are (postgresql.conf accepts quoted
values for every type).

=item init => { ... }, start => 1

Options for C<< $node->init >>; C<< start => 0 >> returns the node
configured but not started (and skips CREATE EXTENSION).

=back

=cut

sub node
{
	my ($name, %opts) = @_;
	my $preload = $opts{preload} // 1;
	my $extension = $opts{extension} // 1;
	my $start = $opts{start} // 1;

	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%{ $opts{init} // {} });

	my @gucs = ([ log_line_prefix => '%m [%p] %b ' ]);
	if ($preload)
	{
		push @gucs, [ shared_preload_libraries => 'kz_globals' ],
		  [ 'kz_globals.node_name' => "$name\@127.0.0.1" ];
	}
	push @gucs, [ 'kz_globals.amqp_uri' => $opts{broker}->uri ]
	  if $opts{broker};
	my $user_gucs = $opts{gucs} // {};
	push @gucs, map { [ $_ => $user_gucs->{$_} ] } sort keys %$user_gucs;

	$node->append_conf('postgresql.conf',
		join('', map { "$_->[0] = " . _guc_value($_->[1]) . "\n" } @gucs));

	if ($start)
	{
		$node->start;
		$node->safe_psql('postgres', 'CREATE EXTENSION kz_globals')
		  if $extension;
	}
	return $node;
}

sub _guc_value
{
	my ($v) = @_;
	return $v if $v =~ /^'.*'$/s;
	$v =~ s/'/''/g;
	return "'$v'";
}

=pod

=item KzHarness::wait_until($description, $timeout, sub { ... })

Call the sub every 0.1 s until it returns true; return true, or false after
$timeout seconds.  Logs the description.

=cut

sub wait_until
{
	my ($what, $timeout, $check) = @_;
	my $deadline = time() + $timeout;
	while (1)
	{
		return 1 if $check->();
		if (time() >= $deadline)
		{
			print "# timed out after ${timeout}s waiting for $what\n";
			return 0;
		}
		select(undef, undef, undef, 0.1);
	}
}

=pod

=back

=head2 Helpers of the tests

Imported on request: C<use KzHarness qw(sql wait_nodes_up ...)>.

=over

=item sql($node, $query)

C<< $node->safe_psql('postgres', $query) >>.

=item wait_nodes_up($node, $count)

True once $node shows $count nodes up in kz_globals.nodes (itself
included), false after PostgreSQL::Test::Cluster's poll timeout.

=item worker_pid($node)

The pid of the node's kz_globals worker.

=item session($node, role => $role, %opts)

A background psql session on the postgres database (as $role if given;
other options go to background_psql), whose query timer restarts with
each query.

=item run_in($session, $query)

Runs the query in a background psql session that does not stop on
errors; returns (stdout, stderr).

=item greg_now()

Now in Gregorian microseconds, as Kazoo's timestamps.

=item row_of($node, $name, @columns)

The node's row of name as its columns (default C<state node>) joined by
spaces, or 'none'.

=item wait_row($node, $name, $want, @columns)

Waits until row_of matches $want (a regex, or a string to equal); true,
or false after PostgreSQL::Test::Utils's default timeout.

=back

=cut

use Exporter qw(import);
our @EXPORT_OK = qw(sql wait_nodes_up worker_pid session run_in greg_now row_of wait_row);

sub sql
{
	my ($node, $q) = @_;
	return $node->safe_psql('postgres', $q);
}

sub wait_nodes_up
{
	my ($node, $count) = @_;
	return $node->poll_query_until('postgres',
		"SELECT count(*) = $count FROM kz_globals.nodes WHERE state = 'up'");
}

sub worker_pid
{
	my ($node) = @_;
	return sql($node, "SELECT pid FROM pg_stat_activity WHERE backend_type = 'kz_globals worker'");
}

sub session
{
	my ($node, %opts) = @_;
	my $role = delete $opts{role};
	# psql's -U, not a connstr: PostgreSQL 15's background_psql has no
	# connstr option and would silently connect as the default user
	push @{ $opts{extra_params} //= [] }, '-U', $role if defined $role;
	my $s = $node->background_psql('postgres', %opts);
	die "session as $role is " . $s->query_safe('SELECT current_user')
	  if defined $role && $s->query_safe('SELECT current_user') ne $role;
	$s->set_query_timer_restart;
	return $s;
}

sub run_in
{
	my ($s, $q) = @_;
	$s->{stderr} = '';
	my ($out) = $s->query($q);
	my $err = $s->{stderr};
	$s->{stderr} = '';
	return ($out, $err);
}

sub greg_now
{
	return int((Time::HiRes::time() + 62167219200) * 1_000_000);
}

sub row_of
{
	my ($node, $name, @columns) = @_;
	@columns = qw(state node) unless @columns;
	my $row = join(" || ' ' || ", @columns);
	return sql($node,
		"SELECT coalesce((SELECT $row FROM kz_globals.registrations WHERE name = '$name'), 'none')");
}

sub wait_row
{
	my ($node, $name, $want, @columns) = @_;
	return wait_until("$name on " . $node->name . " to be $want",
		$PostgreSQL::Test::Utils::timeout_default,
		sub {
			my $row = row_of($node, $name, @columns);
			return ref($want) ? $row =~ $want : $row eq $want;
		});
}

END
{
	# Keep the test's exit status: system() and friends below change $?.
	my $exit_code = $?;
	if ($$ == $owner_pid)
	{
		for my $k (@kazoos)
		{
			eval { $k->quit; 1 } or print "# stopping simulated Kazoo node: $@";
		}
		for my $p (@proxies)
		{
			eval { $p->stop; 1 } or print "# stopping proxy: $@";
		}
		for my $b (reverse @brokers)
		{
			eval { $b->stop; 1 } or print "# stopping broker: $@";
		}
		# The shared epmd outlives its last node only if a stop failed.
		if (defined $epmd_port)
		{
			run_cmd('epmd', '-port', $epmd_port, '-kill');
		}
		if ($exit_code == 0
			&& !defined $ENV{PG_TEST_NOCLEAN}
			&& PostgreSQL::Test::Utils::all_tests_passing())
		{
			rmtree($_->{dir}) for @brokers;
			rmtree($certdir) if defined $certdir;
		}
	}
	$? = $exit_code;
}

=pod

=head1 KzHarness::Broker

=over

=item KzHarness::Broker->new(%opts)

Start a broker on free loopback ports, state in a fresh directory below
tmp_check.  Options: C<< tls => 1 >> (also listen for amqps with the
certificates of C<KzHarness::certdir>), C<< join => $other >> (join the
cluster of another Broker after booting), C<< conf => [ 'key = value', ... ]
>> (extra rabbitmq.conf lines), C<< start => 0 >> (only allocate ports and
the directory; call C<start> later), C<< name => 'label' >> (used in the
directory name).

=cut

package KzHarness::Broker;

use strict;
use warnings;
use Carp;
use File::Temp qw(tempdir);

sub new
{
	my ($class, %opts) = @_;

	# As PostgreSQL's own suites that need an outside service do: a test
	# that needs a broker runs only when PG_TEST_EXTRA names amqp (make test
	# sets it), and is skipped with the reason otherwise.
	Test::More::plan(skip_all =>
		  'needs a RabbitMQ broker: set PG_TEST_EXTRA=amqp (make test does)')
	  unless ($ENV{PG_TEST_EXTRA} // '') =~ /\bamqp\b/;
	my ($epmd, $cookie) = KzHarness::_cluster_identity();
	my $label = $opts{name} // 'rmq';
	my $self = bless {
		port => PostgreSQL::Test::Cluster::get_free_port(),
		dist_port => PostgreSQL::Test::Cluster::get_free_port(),
		tls_port => $opts{tls} ? PostgreSQL::Test::Cluster::get_free_port()
		: undef,
		dir => tempdir("${label}_XXXX",
			DIR => $PostgreSQL::Test::Utils::tmp_check, CLEANUP => 0),
		epmd_port => $epmd,
		cookie => $cookie,
		conf => $opts{conf} // [],
	}, $class;
	$self->{nodename} = "rmqt$self->{port}\@localhost";
	push @brokers, $self;
	if ($opts{start} // 1)
	{
		$self->start;
		$self->join($opts{join}) if $opts{join};
	}
	return $self;
}

=pod

=item Accessors

C<port>, C<tls_port>, C<dir>, C<nodename>, C<certdir>,
C<uri> (C<amqp://guest:guest@127.0.0.1:PORT/%2f>), C<tls_uri>
(C<amqps://guest:guest@localhost:TLSPORT/%2f>: host "localhost" because
rabbitmq-c 0.11 only matches DNS names in certificates), C<log_file> (the
broker's main log).

=cut

sub port { return $_[0]->{port} }
sub tls_port { return $_[0]->{tls_port} }
sub dir { return $_[0]->{dir} }
sub nodename { return $_[0]->{nodename} }
sub certdir { return KzHarness::certdir() }

sub log_file
{
	my ($self) = @_;
	return "$self->{dir}/log/$self->{nodename}.log";
}

sub uri
{
	my ($self) = @_;
	return "amqp://guest:guest\@127.0.0.1:$self->{port}/%2f";
}

sub tls_uri
{
	my ($self) = @_;
	croak "broker was not created with tls => 1" unless $self->{tls_port};
	return "amqps://guest:guest\@localhost:$self->{tls_port}/%2f";
}

=pod

=item $broker->start

Start the broker (again); waits until the AMQP port listens.  Ports and data
directory stay the same, and a node that joined a cluster stays a member.
Restarting a cluster member that was not the last one stopped makes RabbitMQ
wait for the other members, so stop cluster nodes in reverse start order or
start the other one first.

=cut

sub start
{
	my ($self) = @_;
	# instance.env is written before the broker is launched: from then on
	# "start DIR" and "stop DIR" know the instance, even if this first start
	# was interrupted.
	if (-e "$self->{dir}/instance.env")
	{
		KzHarness::rabbitmq('start', $self->{dir});
	}
	else
	{
		my @opts = (
			'--dist-port' => $self->{dist_port},
			'--epmd-port' => $self->{epmd_port},
			'--cookie' => $self->{cookie});
		push @opts, '--tls' => $self->{tls_port},
		  '--certdir' => KzHarness::certdir()
		  if $self->{tls_port};
		push @opts, map { ('--conf' => $_) } @{ $self->{conf} };
		KzHarness::rabbitmq('start', $self->{dir}, $self->{port}, @opts);
	}
	return $self;
}

=pod

=item $broker->stop, kill, pause, resume, restart

C<stop>: graceful (SIGKILL after 30 s), no processes left behind.
C<kill>: SIGKILL the Erlang VM (clients get a reset); C<start> it again
later.  C<pause>/C<resume>: SIGSTOP/SIGCONT (a frozen broker: only client
heartbeats notice).  C<restart>: rabbitmqctl stop_app + start_app (clients
get connection.close 320), waits for the port.

=cut

sub stop
{
	my ($self) = @_;
	return $self unless -e "$self->{dir}/instance.env";
	KzHarness::rabbitmq('stop', $self->{dir});
	return $self;
}

sub kill
{
	my ($self) = @_;
	KzHarness::rabbitmq('kill', $self->{dir});
	return $self;
}

sub pause
{
	my ($self) = @_;
	KzHarness::rabbitmq('pause', $self->{dir});
	return $self;
}

sub resume
{
	my ($self) = @_;
	KzHarness::rabbitmq('resume', $self->{dir});
	return $self;
}

sub restart
{
	my ($self) = @_;
	KzHarness::rabbitmq('restart', $self->{dir});
	return $self;
}

=pod

=item $broker->ctl(@args)

Run C<rabbitmqctl -n NODE @args> and return its output (stdout and stderr);
dies if it fails.  Example: C<< $broker->ctl(qw(-q list_queues name
messages)) >>, C<< $broker->ctl('close_all_connections', 'test') >>.

=item $broker->try_ctl(@args)

The same, but returns (exit status, output) and never dies.

=item $broker->status

"running", "paused" or "stopped".

=cut

sub ctl
{
	my ($self, @args) = @_;
	return KzHarness::rabbitmq('ctl', $self->{dir}, @args);
}

sub try_ctl
{
	my ($self, @args) = @_;
	return KzHarness::run_cmd('bash', $KzHarness::RABBITMQ_SH, 'ctl',
		$self->{dir}, @args);
}

sub status
{
	my ($self) = @_;
	my ($rc, $out) =
	  KzHarness::run_cmd('bash', $KzHarness::RABBITMQ_SH, 'status',
		$self->{dir});
	return $out =~ /^(running|paused|stopped)\b/ ? $1 : "unknown: $out";
}

=pod

=item $broker->join($other)

Make this broker a member of $other's cluster (stop_app, reset,
join_cluster, start_app): this broker's queues and messages are lost.  Both
must be running.

=back

=cut

sub join
{
	my ($self, $other) = @_;
	KzHarness::rabbitmq('join', $self->{dir}, $other->{dir});
	return $self;
}

=pod

=head1 KzHarness::TcpProxy

A child process (test/harness/tcp_proxy.py) forwarding a free loopback port
to a target port, for partition tests.

=over

=item KzHarness::TcpProxy->new(target_port => $port, [target_host => '127.0.0.1'])

Start the proxy and wait until it is ready.

=item port, uri($user, $password)

The port to connect to instead of the target, and an AMQP URI for it
(guest/guest by default).

=item cut($mode)

C<'reset'> (the default): every proxied connection gets a TCP RST and new
connections are refused.  C<'blackhole'>: connections stay open but no byte
moves, new connections hang: a silent partition only heartbeats detect.

=item heal

Forward again (data held back by a blackhole is delivered; the port listens
again after a reset).

=item status

Hash with mode, conns (open proxied connections) and accepted (total).

=item stop

Terminate the proxy (also done at exit).

=back

=cut

package KzHarness::TcpProxy;

use strict;
use warnings;
use Carp;
use File::Basename qw(basename);
use IO::Socket::INET;
use POSIX ();

sub new
{
	my ($class, %opts) = @_;
	croak "target_port is required" unless $opts{target_port};
	my $self = bless {
		target_host => $opts{target_host} // '127.0.0.1',
		target_port => $opts{target_port},
		port => PostgreSQL::Test::Cluster::get_free_port(),
		control_port => PostgreSQL::Test::Cluster::get_free_port(),
	}, $class;
	# Named after the test file, like the nodes' logs, so that test/run.sh
	# shows it when that file fails.
	my $test = basename($0, '.pl');
	$self->{log} = "$PostgreSQL::Test::Utils::log_path/${test}_tcp_proxy_$self->{port}.log";

	my @cmd = (
		$KzHarness::PYTHON, $KzHarness::TCP_PROXY,
		'--listen-port' => $self->{port},
		'--target-host' => $self->{target_host},
		'--target-port' => $self->{target_port},
		'--control-port' => $self->{control_port},
		'--parent-pid' => $$);
	print "# starting: @cmd\n";
	my $pid = fork();
	croak "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		# In the child: no Perl-level cleanup may run here, hence _exit.
		if (open(STDOUT, '>>', $self->{log}) && open(STDERR, '>&', \*STDOUT))
		{
			open(STDIN, '<', '/dev/null');
			exec(@cmd);
		}
		POSIX::_exit(127);
	}
	$self->{pid} = $pid;
	push @proxies, $self;

	my $ready = KzHarness::wait_until('tcp proxy control port', 10, sub {
			return 0 if waitpid($pid, POSIX::WNOHANG()) == $pid;
			my $s = IO::Socket::INET->new(
				PeerAddr => '127.0.0.1',
				PeerPort => $self->{control_port},
				Proto => 'tcp');
			return $s ? 1 : 0;
		});
	croak "tcp_proxy did not start, see $self->{log}" unless $ready;
	return $self;
}

sub port { return $_[0]->{port} }

sub uri
{
	my ($self, $user, $password) = @_;
	$user //= 'guest';
	$password //= 'guest';
	return "amqp://$user:$password\@127.0.0.1:$self->{port}/%2f";
}

# Send one control command, return the reply (croak on "error ...").
sub _control
{
	my ($self, $cmd) = @_;
	croak "tcp proxy is not running" unless $self->{pid};
	my $s = IO::Socket::INET->new(
		PeerAddr => '127.0.0.1',
		PeerPort => $self->{control_port},
		Proto => 'tcp',
		Timeout => 10) or croak "cannot reach tcp proxy control port: $!";
	print $s "$cmd\n";
	$s->flush;
	my $reply = <$s>;
	close $s;
	croak "no reply from tcp proxy to '$cmd'" unless defined $reply;
	chomp $reply;
	print "# tcp proxy $self->{port}: $cmd -> $reply\n";
	croak "tcp proxy: $reply" unless $reply =~ /^ok\b/;
	return $reply;
}

sub cut
{
	my ($self, $mode) = @_;
	$mode //= 'reset';
	croak "cut mode must be 'reset' or 'blackhole'"
	  unless $mode eq 'reset' || $mode eq 'blackhole';
	$self->_control("cut $mode");
	return $self;
}

sub heal
{
	my ($self) = @_;
	$self->_control('heal');
	return $self;
}

sub status
{
	my ($self) = @_;
	my $reply = $self->_control('status');
	my %h = $reply =~ /(\w+)=(\S+)/g;
	return \%h;
}

sub stop
{
	my ($self) = @_;
	my $pid = delete $self->{pid};
	return unless $pid;
	eval {
		local $self->{pid} = $pid;
		$self->_control('quit');
		1;
	};
	my $gone = KzHarness::wait_until('tcp proxy exit', 5,
		sub { return waitpid($pid, POSIX::WNOHANG()) == $pid });
	if (!$gone)
	{
		kill 'KILL', $pid;
		waitpid($pid, 0);
	}
	return;
}

=pod

=head1 KzHarness::Kazoo

A simulated Kazoo node (test/py/kazoo_sim.py) run as a child process and
driven through its line protocol: one JSON command per line in, one JSON
result per line out.  Terms are written as that protocol says: a Perl
string is a binary, C<< { atom => 'x' } >>, C<< { tuple => [...] } >> and
so on.

  my $k = KzHarness::Kazoo->new(broker => $broker, node => 'kazoo1@sim.local',
	  args => [ '--heartbeat-ms', 500 ]);
  $k->cmd(register => { name => { atom => 'fax' } });    # 'yes' or 'no'
  my ($ok, $res) = $k->try_cmd(send => { name => 'x', message => 'm' });
  $k->quit;

=over

=item new(broker => $b | uri => $uri, node => $name, args => [...])

Starts the node and waits for its ready line.  Dies if it does not start.

=item cmd($name, \%args)

Runs a command and returns its result; dies if it fails.

=item try_cmd($name, \%args)

Runs a command and returns (1, result) or (0, error).

=item quit

Stops the node (also done at the end of the test).

=back

=cut

package KzHarness::Kazoo;

use strict;
use warnings;
use Carp;
use File::Basename qw(basename);
use IPC::Run;
use JSON::PP;

my $json = JSON::PP->new->canonical->allow_nonref;

sub new
{
	my ($class, %opts) = @_;
	my $uri = $opts{uri} // $opts{broker}->uri;
	my $node = $opts{node} // 'kazoo1@sim.local';
	my $test = basename($0, '.pl');
	my $self = bless {
		node => $node,
		in => '',
		out => '',
		log => "$PostgreSQL::Test::Utils::log_path/${test}_kazoo_$node.log",
	}, $class;
	$self->{log} =~ s/[^\w\/.@-]/_/g;
	my @cmd = ($KzHarness::PYTHON, $KzHarness::KAZOO_SIM,
		'--uri' => $uri, '--node' => $node, '--verbose', @{ $opts{args} // [] });
	print "# starting: @cmd\n";
	$self->{timer} = IPC::Run::timer(60);
	$self->{run} = IPC::Run::start(\@cmd, '<', \$self->{in}, '>', \$self->{out},
		'2>>', $self->{log}, $self->{timer});
	push @kazoos, $self;
	my $ready = $self->_read_line;
	croak "simulated Kazoo node $node did not start: " . ($ready // 'no output')
	  unless defined $ready && $ready =~ /"ready"\s*:\s*true/;
	$self->{ready} = $json->decode($ready);
	return $self;
}

sub node { return $_[0]->{node} }
sub queue { return $_[0]->{ready}{queue} }

=pod

=over

=item wait_nodes($pattern, $count)

Waits (30 s at most) until the simulated node lists exactly $count nodes
whose names match $pattern (a regex, or a string to equal); true, or
false.

=back

=cut

sub wait_nodes
{
	my ($self, $pattern, $count) = @_;
	return KzHarness::wait_until("$self->{node} to list $count nodes like $pattern", 30,
		sub {
			my @found = grep {
				my $n = $_->{node} // '';
				ref($pattern) ? $n =~ $pattern : $n eq $pattern
			} @{ $self->cmd('nodes') };
			return @found == $count;
		});
}

# Reads one line of output, waiting up to the timer.
sub _read_line
{
	my ($self) = @_;
	$self->{timer}->start(60);
	while ($self->{out} !~ /\n/)
	{
		return undef if $self->{timer}->is_expired || !$self->{run}->pumpable;
		$self->{run}->pump;
	}
	$self->{out} =~ s/^([^\n]*)\n//;
	return $1;
}

sub try_cmd
{
	my ($self, $name, $args) = @_;
	my %req = (%{ $args // {} }, cmd => $name);
	my $line = $json->encode(\%req);
	print "# kazoo $self->{node} <- $line\n";
	$self->{in} .= "$line\n";
	my $reply = $self->_read_line;
	croak "simulated Kazoo node $self->{node} did not answer $name" unless defined $reply;
	print "# kazoo $self->{node} -> $reply\n";
	my $res = $json->decode($reply);
	return $res->{ok} ? (1, $res->{result}) : (0, $res->{error});
}

sub cmd
{
	my ($self, $name, $args) = @_;
	my ($ok, $res) = $self->try_cmd($name, $args);
	croak "simulated Kazoo node $self->{node}: $name failed: " . $json->encode($res) unless $ok;
	return $res;
}

sub quit
{
	my ($self) = @_;
	return unless $self->{run};
	my $run = delete $self->{run};
	$self->{in} .= "{\"cmd\":\"quit\"}\n";
	eval { $run->finish; 1 } or eval { $run->kill_kill; 1 };
	return;
}


=pod

=head1 KzHarness::Supervisor

The process behind F<test/perl/kz_cluster.pl> (see there): a broker and N
servers for programs that are not TAP tests, kept until SIGTERM.  Its
servers are plain ones: PostgreSQL::Test::Cluster's test settings
(fsync off, no restart after a crash, every statement logged, minimal WAL)
are set back to PostgreSQL's defaults, and they take 200 connections.

=cut

package KzHarness::Supervisor;

use strict;
use warnings;
use IO::Select;
use IO::Socket::UNIX;

my %plain_gucs = (
	fsync => 'on',
	restart_after_crash => 'on',
	log_statement => 'none',
	wal_level => 'replica',
	max_wal_senders => 10,
	max_connections => 200);

# serve(DIR, N, options): see kz_cluster.pl start.
sub serve
{
	my ($dir, $n, @args) = @_;
	my ($first, $with_broker, $nbrokers, @conf) = (1, 1, 1);
	while (@args)
	{
		my $opt = shift @args;
		if ($opt eq '--first') { $first = shift @args }
		elsif ($opt eq '--no-broker') { $with_broker = 0 }
		elsif ($opt eq '--brokers') { $nbrokers = shift @args }
		elsif ($opt eq '--conf') { push @conf, shift @args }
		else { die "kz_cluster.pl: unknown option $opt\n" }
	}
	die "kz_cluster.pl: --brokers needs a number from 1\n"
	  unless $nbrokers =~ /^[1-9]\d*$/;
	# No test runs here: nothing to report at exit.
	Test::More->builder->no_ending(1);

	my $self = bless { dir => $dir, first => $first, nodes => [] }, __PACKAGE__;
	if ($with_broker)
	{
		# the first broker, and the others as members of its cluster
		$self->{brokers} = [ KzHarness::Broker->new ];
		push @{ $self->{brokers} },
		  KzHarness::Broker->new(join => $self->{brokers}[0])
		  for 2 .. $nbrokers;
		$self->{broker} = $self->{brokers}[0];
	}
	$self->add_node($first + $_, @conf) for 0 .. $n - 1;
	if ($with_broker)
	{
		for my $node (@{ $self->{nodes} })
		{
			KzHarness::wait_nodes_up($node, $n)
			  or die $node->name . " does not see the cluster\n";
		}
	}
	my $listener = IO::Socket::UNIX->new(Local => "$dir/ctl.sock", Listen => 5)
	  or die "listen on $dir/ctl.sock: $!\n";
	$self->write_env;

	# From now on a signal ends the loop below, which stops the servers
	# gently; before, it dies (KzHarness) and the END blocks stop them.
	my $stop = 0;
	$SIG{$_} = sub { $stop = 1 } for qw(TERM INT HUP);
	my $select = IO::Select->new($listener);
	while (!$stop)
	{
		next unless $select->can_read(0.5);
		my $conn = $listener->accept or next;
		$self->answer($conn);
		close($conn);
	}
	$_->stop('fast') for @{ $self->{nodes} };
	unlink("$dir/ctl.sock");
	exit 0;
}

# add_node(I, conf lines): start server pgI.
sub add_node
{
	my ($self, $i, @conf) = @_;
	my %gucs = %plain_gucs;
	for my $line (@conf)
	{
		$line =~ /^\s*([\w.]+)\s*=\s*(.*?)\s*$/ or die "not 'name = value': $line\n";
		$gucs{$1} = $2;
	}
	my %opts = (gucs => \%gucs);
	# with several brokers, the servers are spread over them in turn
	$opts{broker} = $self->{brokers}[ scalar(@{ $self->{nodes} }) % @{ $self->{brokers} } ]
	  if $self->{brokers};
	my $node = KzHarness::node("pg$i", %opts);
	push @{ $self->{nodes} }, $node;
	return $node;
}

# The lines of cluster.env for one node.
sub node_env
{
	my ($self, $node) = @_;
	my ($i) = $node->name =~ /(\d+)$/;
	return ("PORT_$i=" . $node->port, "DATA_$i=" . $node->data_dir,
		"LOG_$i=" . $node->logfile);
}

sub write_env
{
	my ($self) = @_;
	my @nodes = @{ $self->{nodes} };
	my @lines = ("KZ_CLUSTER_PID=$$");
	push @lines, 'BROKER_PORT=' . $self->{broker}->port,
	  'BROKER_URI=' . $self->{broker}->uri
	  if $self->{broker};
	push @lines, 'PGHOST=' . $nodes[0]->host, 'PGDATABASE=postgres',
	  'PGBIN=' . $ENV{KZ_CLUSTER_PGBIN},
	  'NODES=' . scalar(@nodes), "FIRST=$self->{first}";
	push @lines, $self->node_env($_) for @nodes;
	/^\w+=[\w.\/:@%,+-]*$/ or die "a value needs quoting in cluster.env: $_\n" for @lines;
	open(my $fh, '>', "$self->{dir}/cluster.env.tmp") or die "cluster.env: $!\n";
	print $fh map { "$_\n" } @lines;
	close($fh) or die "cluster.env: $!\n";
	rename("$self->{dir}/cluster.env.tmp", "$self->{dir}/cluster.env")
	  or die "cluster.env: $!\n";
	return;
}

# One request of kz_cluster.pl add: "add\t--conf\tLINE...".
sub answer
{
	my ($self, $conn) = @_;
	my $req = <$conn> // '';
	chomp $req;
	my ($cmd, @args) = split /\t/, $req;
	my @reply = eval {
		die "unknown request: $req\n" unless ($cmd // '') eq 'add';
		my @conf;
		while (@args)
		{
			my $opt = shift @args;
			die "unknown option $opt\n" unless $opt eq '--conf';
			push @conf, shift @args;
		}
		my ($last) = $self->{nodes}[-1]->name =~ /(\d+)$/;
		my $node = $self->add_node($last + 1, @conf);
		$self->write_env;
		('ok', $self->node_env($node));
	};
	@reply = ("error: $@") unless @reply;
	print $conn map { "$_\n" } @reply;
	return;
}

1;
