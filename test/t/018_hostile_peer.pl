# What a peer on the bus can make a server do, bounded (issue 11): a flood
# of registrations into a full name table is logged once a minute, not once
# each (the log line was written under the table lock, once per entry, a
# whole sync's worth); a heartbeat cannot keep a node for longer than ten
# minutes (test 050 checks the cap).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use KzHarness qw(sql wait_nodes_up);

my $broker = KzHarness::Broker->new;
my $n1 = KzHarness::node('n1', broker => $broker,
	gucs => { 'kz_globals.heartbeat_interval' => '500ms', 'kz_globals.max_names' => 16 });
my $KZ = 'kazoo1@sim.local';
my $k = KzHarness::Kazoo->new(broker => $broker, node => $KZ,
	args => [ '--heartbeat-ms', 500, '--expires-ms', 30000 ]);

ok(wait_nodes_up($n1, 2),
	'n1 sees the Kazoo node');

my $flood = 40;
is($k->cmd(register => { name => "flood-$_" }), 'yes', "the Kazoo node registers flood-$_")
  for 1 .. $flood;
ok($n1->poll_query_until('postgres',
		"SELECT count(*) = 16 FROM kz_globals.registrations WHERE name LIKE 'flood-%'"),
	'n1 records the first 16 (its table holds 16)');
# the last advertisements have been read once a marker after them has
$k->cmd(unregister => { name => 'flood-1' });
ok($n1->poll_query_until('postgres',
		"SELECT count(*) = 15 FROM kz_globals.registrations WHERE name LIKE 'flood-%'"),
	'n1 has read every advertisement (the unregister after them arrived)');
my @lines = slurp_file($n1->logfile) =~ /name table is full/g;
is(scalar @lines, 1, "$flood registrations into a full table: one log line, not one each")
  or diag(scalar(@lines) . ' lines');
is(sql($n1, 'SELECT 1'), '1', 'n1 answers');

$k->quit;
done_testing();
