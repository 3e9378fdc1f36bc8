# The broker connection: amqps:// with a self-signed CA and the TLS
# parameters (verify full by name and by IP address, verify peer, verify
# none, a client certificate, a wrong CA refused), and a comma-separated URI
# list that fails over in order.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use KzHarness;

my $broker = KzHarness::Broker->new(tls => 1);
my $certs = $broker->certdir;
my $tls_port = $broker->tls_port;

sub connected
{
	my ($node) = @_;
	return $node->poll_query_until('postgres',
		"SELECT broker_state = 'connected' FROM kz_globals.stats");
}

# TLS, full verification of the broker's name, with a client certificate
my $n1 = KzHarness::node('tls1', gucs => {
		'kz_globals.amqp_uri' => "amqps://guest:guest\@localhost:$tls_port/%2f",
		'kz_globals.amqp_cacert' => "$certs/ca.pem",
		'kz_globals.amqp_cert' => "$certs/client.pem",
		'kz_globals.amqp_key' => "$certs/client.key",
		'kz_globals.amqp_verify' => 'full' });
ok(connected($n1), 'amqps:// with verify = full (host name) and a client certificate');

# TLS to an IP address: the certificate's IP address is checked instead
my $n2 = KzHarness::node('tls2', gucs => {
		'kz_globals.amqp_uri' => "amqps://guest:guest\@127.0.0.1:$tls_port/%2f",
		'kz_globals.amqp_cacert' => "$certs/ca.pem",
		'kz_globals.amqp_verify' => 'full' });
ok(connected($n2), 'amqps:// to 127.0.0.1 with verify = full (the IP address is checked)');

# the two form one registry over TLS
my $s = $n1->background_psql('postgres');
$s->query_safe("SELECT kz_globals.register_name('over-tls')");
ok($n2->poll_query_until('postgres',
		"SELECT (kz_globals.whereis_name('over-tls')).node = 'tls1\@127.0.0.1'"),
	'a name registered over TLS is seen by the other node');
$s->quit;

# a broker whose certificate does not match the CA is refused
my $other = PostgreSQL::Test::Utils::tempdir('other_ca');
KzHarness::rabbitmq('gencert', $other);
$n2->append_conf('postgresql.conf', "kz_globals.amqp_cacert = '$other/ca.pem'\n");
$n2->reload;
ok($n2->poll_query_until('postgres',
		"SELECT broker_state = 'connecting' FROM kz_globals.stats"),
	'with another CA the broker is refused');
ok($n2->wait_for_log(qr/kz_globals cannot connect to the broker/, 0), '... and the log says why');

# verify = peer checks the chain too; verify = none checks nothing
$n2->append_conf('postgresql.conf', "kz_globals.amqp_verify = 'peer'\n");
$n2->reload;
ok($n2->wait_for_log(qr/parameter "kz_globals.amqp_verify" changed to "peer"/, 0)
	  && $n2->poll_query_until('postgres',
		"SELECT broker_state = 'connecting' FROM kz_globals.stats"),
	'verify = peer refuses the broker of another CA too');
$n2->append_conf('postgresql.conf', "kz_globals.amqp_verify = 'none'\n");
$n2->reload;
ok($n2->poll_query_until('postgres',
		"SELECT broker_state = 'connected' AND broker_connects >= 2 FROM kz_globals.stats"),
	'verify = none accepts it');

# a URI change is logged by the server with the password masked
$n2->append_conf('postgresql.conf',
	"kz_globals.amqp_uri = 'amqps://guest:guest\@localhost:$tls_port/%2f'\n");
$n2->reload;
ok($n2->wait_for_log(qr/parameter "kz_globals.amqp_uri" changed to "amqps:\/\/guest:\*{8}\@localhost/, 0),
	'the reload message shows the URI masked');

# the password never appears in the log
my $log = slurp_file($n1->logfile) . slurp_file($n2->logfile);
unlike($log, qr/guest:guest/, 'no password in the server logs');
like($log, qr/amqps:\/\/guest:\*{8}\@/, 'URIs are logged with the password masked');

# failover: the first URI is dead, the second is used
my $dead = PostgreSQL::Test::Cluster::get_free_port();
my $n3 = KzHarness::node('fo', gucs => {
		'kz_globals.amqp_uri' => "amqp://guest:guest\@127.0.0.1:$dead/%2f, " . $broker->uri });
ok(connected($n3), 'a URI list fails over to the next broker');
ok($n3->log_contains(qr/connected to amqp:\/\/guest:\*{8}\@127\.0\.0\.1:${\ $broker->port}/),
	'... the second one');
# and, on a reconnection, the list is tried in order again
$n3->append_conf('postgresql.conf',
	"kz_globals.amqp_uri = '" . $broker->uri . ", amqp://guest:guest\@127.0.0.1:$dead/%2f'\n");
$n3->reload;
ok($n3->poll_query_until('postgres',
		"SELECT broker_state = 'connected' AND broker_connects >= 2 FROM kz_globals.stats"),
	'a changed URI list reconnects at once, first URI first');

done_testing();
