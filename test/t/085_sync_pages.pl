# The sync of a node's names, sent a page at a time (src/worker/bus_out.c)
# while its sessions keep registering and unregistering: a server that joins,
# and one that comes back after missing unregisters, end with exactly the
# owner's names, none lost and none resurrected.
#
# n1 holds 20000 names (78 parts of a sync).  A churn session on n1
# registers and unregisters names, and unregisters held ones, the whole
# time.  n2 joins (the sync to a new node); then n2's connection is cut
# while the test unregisters 600 held names on n1 (n2's queue is gone: it
# never hears those unregisters), and healed: n1 sends n2 its sync again,
# and n2 must drop the 600 it still holds at the sync's last part.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use KzHarness qw(sql wait_nodes_up session);

my $HELD = 20000;
my $N1 = 'n1@127.0.0.1';

my $broker = KzHarness::Broker->new;
my $proxy = KzHarness::TcpProxy->new(target_port => $broker->port);
my %gucs = (
	'kz_globals.heartbeat_interval' => '500ms',
	'kz_globals.max_names' => 60000);
my $n1 = KzHarness::node('n1', broker => $broker, gucs => \%gucs);
my $n2 = KzHarness::node('n2', start => 0,
	gucs => { %gucs, 'kz_globals.amqp_uri' => $proxy->uri });

# n1's names, and what n2 holds as n1's: "count md5" of the sorted names
my $n1_names = "SELECT count(*) || ' ' || coalesce(md5(string_agg(name, ',' ORDER BY name)), '') "
  . "FROM kz_globals.registrations WHERE state = 'local'";
my $n2_names = "SELECT count(*) || ' ' || coalesce(md5(string_agg(name, ',' ORDER BY name)), '') "
  . "FROM kz_globals.registrations WHERE state = 'remote' AND node = '$N1'";

my $holder = session($n1);
is($holder->query_safe(
		"SELECT count(*) FROM generate_series(1, $HELD) g WHERE kz_globals.register_name('held-' || g)"),
	$HELD, "n1 registers $HELD names");

# the churn: until told to stop (at most two minutes), a fresh name
# registered each round and the one before unregistered, and a held name
# unregistered every other round, 2 ms apart
sql($n1, 'CREATE TABLE churn_stop (x int)');
my $churn_sql = q{DO $$
DECLARE
	i int := 0;
BEGIN
	WHILE clock_timestamp() < now() + interval '120 s'
		AND NOT EXISTS (SELECT 1 FROM churn_stop) LOOP
		i := i + 1;
		PERFORM kz_globals.register_name('churn-' || i);
		IF i > 1 THEN
			PERFORM kz_globals.unregister_name('churn-' || (i - 1));
		END IF;
		IF i % 2 = 0 THEN
			PERFORM kz_globals.unregister_name('held-' || ((i * 7919) % } . $HELD . q{ + 1));
		END IF;
		PERFORM pg_sleep(0.002);
	END LOOP;
	RAISE NOTICE 'churn rounds: %', i;
END $$};
my ($churn_out, $churn_err) = ('', '');
my $churn = IPC::Run::start(
	[ 'psql', '-X', '-v', 'ON_ERROR_STOP=1', '-d', $n1->connstr('postgres'), '-c', $churn_sql ],
	'<', \undef, '>', \$churn_out, '2>', \$churn_err);

# --- a server joins while names come and go ---
$n2->start;
sql($n2, 'CREATE EXTENSION kz_globals');
ok(wait_nodes_up($_, 2), $_->name . ' sees both servers') for $n1, $n2;
ok($n2->poll_query_until('postgres',
		"SELECT count(*) > 0 FROM kz_globals.registrations WHERE name LIKE 'held-%'"),
	'n2 has received names of n1');

# --- n2 misses unregisters, then gets the sync again ---
$proxy->cut('reset');
my $gone = sql($n1,
	"SELECT count(*) FROM generate_series(2001, 2600) g WHERE kz_globals.unregister_name('held-' || g)");
cmp_ok($gone, '>', 500, "n1 unregisters held names while n2 is cut off ($gone)");
sleep 1;
$proxy->heal;
# n2 never heard those unregisters: only the sync n1 sends it when it comes
# back, whose last part drops what the sync did not mention, removes them
ok($n2->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM kz_globals.registrations "
		  . "WHERE name IN (SELECT 'held-' || g FROM generate_series(2001, 2600) g)"),
	'n2 is back and has dropped the names it missed the unregisters of');

# the churn runs on a little, then stops
sleep 1;
sql($n1, 'INSERT INTO churn_stop VALUES (1)');
ok($churn->finish, 'the churn session ends without error') or diag($churn_err);
note($churn_err =~ /(churn rounds: \d+)/ ? $1 : 'churn: no count');

# --- settled: n2 holds exactly n1's names ---
my $settled = KzHarness::wait_until('n2 to hold exactly the names of n1',
	$PostgreSQL::Test::Utils::timeout_default,
	sub { sql($n1, $n1_names) eq sql($n2, $n2_names) });
ok($settled, 'n2 holds exactly the names n1 owns');
is(sql($n2, $n2_names), sql($n1, $n1_names), 'same count and same names');
is(sql($n2, "SELECT count(*) FROM kz_globals.registrations WHERE name LIKE 'churn-%'"),
	'0', 'nor any name of the churn, whose session has ended');
my ($left) = split / /, sql($n1, $n1_names);
cmp_ok($left, '<', $HELD - 600, "n1 has fewer names than it registered ($left)");
cmp_ok($left, '>', $HELD / 2, 'but most of them');

$holder->quit;
$proxy->stop;
done_testing();
