=pod

=head1 NAME

KzKazoo - real Kazoo nodes (kazoo_globals and kazoo_amqp, compiled from a
Kazoo checkout) for the kz_globals interop TAP tests

=head1 SYNOPSIS

  use KzKazoo;

  plan skip_all => KzKazoo::skip_reason() if KzKazoo::skip_reason();
  my $ebin = KzKazoo::build();    # once per test file
  my $kz = KzKazoo::Node->new(broker => $broker, node => 'kzA@localhost');
  $kz->cmd(register => { name => 'bravo' });    # 'yes' or 'no'
  $kz->kill;                                     # SIGKILL the VM
  $kz->quit;

=head1 DESCRIPTION

C<KAZOO_SRC> names a Kazoo checkout (2600hz/kazoo); test/kazoo/build.sh
compiles the part of it that kz_globals needs into the test's tmp_check,
and test/kazoo/kazoo_node.sh runs one node, driven by test/kazoo/kzt_node.erl
through JSON lines (see there for the commands).  Nodes still running are
stopped by an END block.  A node's log (Kazoo's own log lines, at debug
level) is tmp_check/log/<test>_kazoo_<node>.log.

=cut

package KzKazoo;

use strict;
use warnings;

use Carp;
use Cwd qw(abs_path);
use File::Basename qw(basename dirname);
use IPC::Run;
use JSON::PP;
use POSIX ();
use PostgreSQL::Test::Utils;
use Test::More;

our $KAZOO_DIR = abs_path(dirname(__FILE__) . '/../kazoo');
my $owner_pid = $$;
my @nodes;
my @firehoses;
my $ebin;

=pod

=head1 FUNCTIONS

=over

=item KzKazoo::skip_reason()

Why the interop tests cannot run here (KAZOO_SRC unset or not a Kazoo
checkout, erlc missing), or undef.

=cut

sub skip_reason
{
	my $src = $ENV{KAZOO_SRC};
	return 'KAZOO_SRC is not set: the interop tests against real Kazoo need a Kazoo checkout (README, "Tests")'
	  unless defined $src && $src ne '';
	return "KAZOO_SRC=$src is not a readable Kazoo checkout (no core/kazoo_globals/src/kz_globals.erl)"
	  unless -r "$src/core/kazoo_globals/src/kz_globals.erl";
	return 'erlc not found (apt-get install erlang-base erlang-dev erlang-src erlang-poolboy)'
	  unless grep { -x "$_/erlc" } split(/:/, $ENV{PATH} // '');
	return undef;
}

=pod

=item KzKazoo::build()

Compile Kazoo (once per test file) and return the ebin directory.  Dies
with the compiler's output if it fails.

=cut

sub build
{
	return $ebin if defined $ebin;
	my $out = "$PostgreSQL::Test::Utils::tmp_check/kazoo_build";
	my ($rc, $log) = KzKazoo::run_cmd('bash', "$KAZOO_DIR/build.sh", $out);
	croak "building Kazoo from $ENV{KAZOO_SRC} failed:\n$log" if $rc;
	$ebin = "$out/ebin";
	return $ebin;
}

=pod

=item KzKazoo::commit(), KzKazoo::version()

The commit of the checkout the nodes were built from, and its VERSION.

=cut

sub commit { return _slurp(dirname(build()) . '/kazoo_commit') }
sub version { return _slurp(dirname(build()) . '/kazoo_version') }

sub _slurp
{
	my ($f) = @_;
	open(my $fh, '<', $f) or return 'unknown';
	my $s = <$fh> // 'unknown';
	chomp $s;
	return $s;
}

sub run_cmd
{
	my @cmd = @_;
	my $out = '';
	print "# running: @cmd\n";
	my $ok = eval { IPC::Run::run(\@cmd, '<', \undef, '>', \$out, '2>&1'); 1 };
	my $rc = $ok ? $? >> 8 : 255;
	$out .= $@ unless $ok;
	print $out;
	return ($rc, $out);
}

=pod

=item KzKazoo::write_capture_meta($file, $node)

Write where a capture came from (Kazoo commit and version, OTP release of
$node, RabbitMQ version, date) as JSON, for test/kazoo/golden.py.

=cut

sub write_capture_meta
{
	my ($file, $node) = @_;
	my $rmq = `dpkg-query -W -f='\${Version}' rabbitmq-server 2>/dev/null` // '';
	my %meta = (
		kazoo_commit => commit(),
		kazoo_version => version(),
		otp_release => $node->otp_release,
		rabbitmq => $rmq,
		captured => POSIX::strftime('%Y-%m-%d', gmtime()));
	open(my $fh, '>', $file) or croak "cannot write $file: $!";
	print $fh JSON::PP->new->canonical->encode(\%meta), "\n";
	close $fh;
	return;
}

END
{
	my $exit_code = $?;
	if ($$ == $owner_pid)
	{
		for my $n (@nodes)
		{
			eval { $n->quit; 1 } or print "# stopping Kazoo node: $@";
		}
		for my $f (@firehoses)
		{
			eval { $f->stop; 1 } or print "# stopping firehose: $@";
		}
	}
	$? = $exit_code;
}

=pod

=back

=head1 KzKazoo::Node

=over

=item new(broker => $b | uri => $uri, node => 'kzA@localhost')

Start a node and wait (60 s at most) until kz_globals consumes.  Accessors:
C<node>, C<queue> (its kz_globals queue), C<otp_release>, C<started>
(time() when it was ready).

=item cmd($name, \%args), try_cmd($name, \%args)

Run a command; C<cmd> returns its result or dies, C<try_cmd> returns (1,
result) or (0, error).

=item start_cmd($name, \%args), finish_cmd()

The two halves of C<try_cmd>, for a command that blocks (a call) while the
test does something else.

=item warm_up_left()

Seconds until the node has run 2 minutes (until then its claims and queries
wait 10 s for replies from 10 nodes, Kazoo's start-up rule).

=item kill, quit

SIGKILL the Erlang VM (no goodbye on the bus); stop it cleanly.

=back

=cut

package KzKazoo::Node;

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
	my $node = $opts{node} // croak 'node is required';
	my $test = basename($0, '.pl');
	my $log = "$PostgreSQL::Test::Utils::log_path/${test}_kazoo_$node.log";
	$log =~ s/[^\w\/.@-]/_/g;
	my $self = bless { node => $node, in => '', out => '', log => $log }, $class;
	my @cmd = ('bash', "$KzKazoo::KAZOO_DIR/kazoo_node.sh", KzKazoo::build(),
		$node, $uri, $log);
	print "# starting: @cmd\n";
	$self->{timer} = IPC::Run::timer(60);
	$self->{run} = IPC::Run::start(\@cmd, '<', \$self->{in}, '>', \$self->{out},
		'2>>', "$log.stderr", $self->{timer});
	push @nodes, $self;
	my $ready = $self->_read_line(60);
	croak "Kazoo node $node did not start: " . ($ready // 'no output') . " (see $log)"
	  unless defined $ready && $ready =~ /"ready"\s*:\s*true/;
	$self->{ready} = $json->decode($ready);
	$self->{started} = time();
	return $self;
}

sub node { return $_[0]->{node} }
sub queue { return $_[0]->{ready}{queue} }
sub otp_release { return $_[0]->{ready}{otp_release} }
sub started { return $_[0]->{started} }
sub log_file { return $_[0]->{log} }

sub warm_up_left
{
	my ($self) = @_;
	my $left = $self->{started} + 125 - time();
	return $left > 0 ? $left : 0;
}

# One line of our protocol (lines that are not JSON objects are skipped:
# the VM may print a crash report before it dies).
sub _read_line
{
	my ($self, $timeout) = @_;
	$self->{timer}->start($timeout);
	while (1)
	{
		while ($self->{out} =~ s/^([^\n]*)\n//)
		{
			my $line = $1;
			return $line if $line =~ /^\{/;
			print "# kazoo $self->{node} says: $line\n";
		}
		return undef if $self->{timer}->is_expired || !$self->{run}->pumpable;
		eval { $self->{run}->pump; 1 } or return undef;
	}
}

sub start_cmd
{
	my ($self, $name, $args) = @_;
	croak "Kazoo node $self->{node} is not running" unless $self->{run};
	my $line = $json->encode({ %{ $args // {} }, cmd => $name });
	print "# kazoo $self->{node} <- $line\n";
	$self->{in} .= "$line\n";
	$self->{pending} = $name;
	# IPC::Run writes our input only while pumping: deliver it now.
	$self->{run}->pump_nb while length($self->{in}) && $self->{run}->pumpable;
	return;
}

sub finish_cmd
{
	my ($self, $timeout) = @_;
	my $name = delete $self->{pending};
	my $reply = $self->_read_line($timeout // 60);
	croak "Kazoo node $self->{node} did not answer $name" unless defined $reply;
	print "# kazoo $self->{node} -> $reply\n";
	my $res = $json->decode($reply);
	return $res->{ok} ? (1, $res->{result}) : (0, $res->{error});
}

sub try_cmd
{
	my ($self, $name, $args, $timeout) = @_;
	$self->start_cmd($name, $args);
	return $self->finish_cmd($timeout);
}

sub cmd
{
	my ($self, $name, $args, $timeout) = @_;
	my ($ok, $res) = $self->try_cmd($name, $args, $timeout);
	croak "Kazoo node $self->{node}: $name failed: " . $json->encode($res) unless $ok;
	return $res;
}

sub kill
{
	my ($self) = @_;
	my $run = delete $self->{run} or return;
	# kazoo_node.sh execs erl, which execs the VM: one pid.
	$run->signal('KILL');
	eval { $run->finish; 1 };
	return;
}

sub quit
{
	my ($self) = @_;
	my $run = delete $self->{run} or return;
	$self->{in} .= "{\"cmd\":\"quit\"}\n";
	$self->{timer}->start(15);
	eval { $run->finish; 1 } or eval { $run->kill_kill; 1 };
	return;
}

=pod

=head1 KzKazoo::Firehose

RabbitMQ's firehose tracer, recorded (test/kazoo/firehose.py): turns
tracing on and appends every message published on the broker to a file, one
JSON object per line, until C<stop> (also done at exit).

  my $f = KzKazoo::Firehose->new(broker => $broker, out => $file);
  $f->stop;

=cut

package KzKazoo::Firehose;

use strict;
use warnings;
use Carp;
use IPC::Run;

sub new
{
	my ($class, %opts) = @_;
	my $broker = $opts{broker};
	$broker->ctl('trace_on');
	my $self = bless { out => '', broker => $broker }, $class;
	my @cmd = ('/usr/bin/python3', "$KzKazoo::KAZOO_DIR/firehose.py",
		'--uri' => $broker->uri, '--out' => $opts{out});
	print "# starting: @cmd\n";
	$self->{timer} = IPC::Run::timer(30);
	$self->{run} = IPC::Run::start(\@cmd, '<', \undef, '>', \$self->{out},
		'2>>', "$opts{out}.stderr", $self->{timer});
	push @firehoses, $self;
	while ($self->{out} !~ /"ready"/)
	{
		croak "firehose.py did not start (see $opts{out}.stderr)"
		  if $self->{timer}->is_expired || !$self->{run}->pumpable;
		$self->{run}->pump;
	}
	return $self;
}

sub stop
{
	my ($self) = @_;
	my $run = delete $self->{run} or return;
	$run->signal('TERM');
	$self->{timer}->start(10);
	eval { $run->finish; 1 } or eval { $run->kill_kill; 1 };
	eval { $self->{broker}->try_ctl('trace_off'); 1 };
	return;
}

1;
