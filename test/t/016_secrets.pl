# The broker password never shows (issue 11): not in SHOW, not in any
# column of pg_settings (for a superuser or a member of
# pg_read_all_settings), not in the server's log (the "parameter changed"
# line, the worker's lines, a rejected value), not in an error; whatever
# characters it holds.  The check hook keeps the password out of the
# setting's value altogether, so no message in any language can show it.
# And kz_globals.amqp_password_file: a URI without a password.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use KzHarness;

my $broker = KzHarness::Broker->new;
my $port = $broker->port;

# Passwords with every awkward character: '/', ',', '@', '%', ':' (percent-
# encoded in the URI, as rabbitmq-c decodes them), and one with a raw ','.
my %users = (
	kzenc => 'S3cr/et,w@ith%:all',
	kzraw => 'pl41n,c0mma');
for my $u (sort keys %users)
{
	$broker->ctl('add_user', $u, $users{$u});
	$broker->ctl('set_permissions', '-p', '/', $u, '.*', '.*', '.*');
}
sub enc { my ($s) = @_; $s =~ s/([^A-Za-z0-9._~-])/sprintf('%%%02X', ord($1))/ge; return $s; }
my $enc_uri = "amqp://kzenc:" . enc($users{kzenc}) . "\@127.0.0.1:$port/%2f";
my $raw_uri = "amqp://kzraw:$users{kzraw}\@127.0.0.1:$port/%2f";
# Every form a secret could take in the output.
my @secrets = ($users{kzenc}, enc($users{kzenc}), $users{kzraw}, 'S3cr', 'pl41n', 'c0mma');

my $node = KzHarness::node('n1', broker => $broker,
	gucs => {
		'kz_globals.amqp_uri' => $enc_uri,
		'log_min_messages' => 'debug1',
		# The text of a statement is the user's: ALTER SYSTEM with a password
		# is logged as typed when statements are (see the README's limits).
		'log_statement' => 'none',
		'log_min_error_statement' => 'panic' });

sub sql { my ($q, %o) = @_; return $node->safe_psql('postgres', $q, %o); }

sub no_secret
{
	my ($what, $text) = @_;
	my @found = grep { index($text, $_) >= 0 } @secrets;
	ok(!@found, "$what shows no password") or diag("found: @found");
}

sub connected
{
	return $node->poll_query_until('postgres',
		"SELECT broker_state = 'connected' AND broker_connects >= $_[0] FROM kz_globals.stats");
}

ok(connected(1), 'the worker logs in with the password taken from the URI');
like(sql('SHOW kz_globals.amqp_uri'), qr{^amqp://kzenc:\*{8}\@127\.0\.0\.1:\d+/%2f$}, 'SHOW masks it');
no_secret('pg_settings (all columns, superuser)',
	sql("SELECT row_to_json(s) FROM pg_settings s WHERE name LIKE 'kz_globals.%'"));
sql('CREATE ROLE settings_reader LOGIN IN ROLE pg_read_all_settings');
no_secret('pg_settings (all columns, pg_read_all_settings)',
	$node->safe_psql('postgres', "SELECT row_to_json(s) FROM pg_settings s WHERE name LIKE 'kz_globals.%'",
		connstr => $node->connstr('postgres') . ' user=settings_reader'));
no_secret('current_setting()', sql("SELECT current_setting('kz_globals.amqp_uri')"));

# A reload with a list: a raw comma inside a password does not split it.
sql("ALTER SYSTEM SET kz_globals.amqp_uri = '$raw_uri, $enc_uri'");
sql('SELECT pg_reload_conf()');
ok(connected(2), 'after a reload the worker logs in as kzraw (a raw comma in its password)');
is(sql('SHOW kz_globals.amqp_uri'),
	"amqp://kzraw:********\@127.0.0.1:$port/%2f,amqp://kzenc:********\@127.0.0.1:$port/%2f",
	'two brokers, both masked');

# A value the check hook rejects is masked in the error and in the log.
my ($rc, $out, $err) = $node->psql('postgres',
	"ALTER SYSTEM SET kz_globals.amqp_uri = 'amqp://h, http://kzraw:$users{kzraw}\@h'");
isnt($rc, 0, 'a list with a non-AMQP URI is refused');
like($err, qr/invalid value for parameter/, '... with an error');
no_secret('the error', $err);

# kz_globals.amqp_password_file for a URI that carries no password.
my $pwfile = $node->data_dir . '/amqp_password';
open(my $fh, '>', $pwfile) or die;
print $fh "$users{kzenc}\n";
close($fh);
chmod 0600, $pwfile;
sql("ALTER SYSTEM SET kz_globals.amqp_uri = 'amqp://kzenc\@127.0.0.1:$port/%2f'");
sql("ALTER SYSTEM SET kz_globals.amqp_password_file = '$pwfile'");
sql('SELECT pg_reload_conf()');
ok(connected(3), 'the worker logs in with the password from amqp_password_file');
sql("ALTER SYSTEM SET kz_globals.amqp_password_file = '$pwfile.missing'");
sql('SELECT pg_reload_conf()');
ok($node->poll_query_until('postgres', "SELECT broker_state <> 'connected' FROM kz_globals.stats"),
	'an unreadable password file: no connection');
ok(KzHarness::wait_until('the log to say why', 20,
		sub { slurp_file($node->logfile) =~ /cannot open kz_globals\.amqp_password_file/ }),
	'the log says the file cannot be opened');
sql("ALTER SYSTEM SET kz_globals.amqp_password_file = '$pwfile'");
sql('SELECT pg_reload_conf()');
ok(connected(4), 'back again');

# The whole server log, at debug1, after all of that.
$node->stop('fast');
no_secret('the server log', slurp_file($node->logfile));
like(slurp_file($node->logfile), qr/parameter "kz_globals.amqp_uri" changed to "amqp:\/\/kzraw:\*{8}\@/,
	'the "parameter changed" line shows the masked value');

done_testing();
