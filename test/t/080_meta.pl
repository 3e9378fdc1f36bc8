# Registration metadata across servers (README, "Registration metadata"):
# three PostgreSQL servers whose messages are signed (kz_globals.bus_key_file),
# a simulated Kazoo node and one broker.  Metadata travels with the
# advertisement and is seen on the other servers; set_meta is seen within a
# round trip; a server that joins later gets it with the sync; the owner's
# exit clears it everywhere; a receiver with a smaller max_meta_size records
# the name without it; Kazoo-owned names have none, and the Kazoo node
# reads our advertisements as before; bad metadata from the bus is dropped
# and counted; only the owner session may change it.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use KzHarness qw(sql wait_nodes_up greg_now row_of wait_row session run_in);

my $broker = KzHarness::Broker->new;
my $keyfile = PostgreSQL::Test::Utils::tempdir() . '/bus.keys';
PostgreSQL::Test::Utils::append_to_file($keyfile, "k1:a shared secret for the metadata test\n");
chmod 0600, $keyfile;
my %gucs = (
	'kz_globals.heartbeat_interval' => '500ms',
	'kz_globals.bus_key_file' => $keyfile);
my $n1 = KzHarness::node('n1', broker => $broker, gucs => \%gucs);
my $n2 = KzHarness::node('n2', broker => $broker,
	gucs => { %gucs, 'kz_globals.max_meta_size' => '100' });
my $k = KzHarness::Kazoo->new(broker => $broker, node => 'kazoo1@sim.local',
	args => [ '--heartbeat-ms', 500, '--expires-ms', 30000, '--heartbeat-server-id' ]);
my $N1 = 'n1@127.0.0.1';

ok(wait_nodes_up($_, 3), $_->name . ' sees both servers and the Kazoo node') for $n1, $n2;
ok($k->wait_nodes(qr/^n[12]\@/, 2), 'the Kazoo node sees both servers');

sub stat_of
{
	my ($node, $col) = @_;
	return sql($node, "SELECT $col FROM kz_globals.stats");
}

sub meta_on
{
	my ($node, $name) = @_;
	return sql($node, "SELECT coalesce(kz_globals.meta('$name')::text, 'null')");
}

# waits until meta($name) on $node reads $want; returns the seconds it took
sub wait_meta
{
	my ($node, $name, $want) = @_;
	my $t0 = time();
	my $ok = KzHarness::wait_until("meta of $name on " . $node->name . " to be $want",
		$PostgreSQL::Test::Utils::timeout_default,
		sub { meta_on($node, $name) eq $want });
	return $ok ? time() - $t0 : undef;
}

my $malformed2 = stat_of($n2, 'bus_malformed');

# --- an advertisement carries the metadata ---
my $s1 = session($n1);
my $s1_pid = $s1->query_safe('SELECT pg_backend_pid()');
is($s1->query_safe(q{SELECT kz_globals.register_name('svc', '{"version": "2.1", "shard": 3}'::jsonb)}),
	't', 'n1 registers svc with metadata');
ok(defined wait_meta($n2, 'svc', '{"shard": 3, "version": "2.1"}'), 'n2 sees its metadata');
is(row_of($n2, 'svc', 'state', 'node', 'meta::text'), qq{remote $N1 {"shard": 3, "version": "2.1"}},
	'the registrations view on n2 shows it on the remote row');
# the Kazoo node, which ignores the field, records the registration as ever
ok(KzHarness::wait_until('the Kazoo node to know svc', 30,
		sub { my $r = $k->cmd(lookup => { name => 'svc' }); $r && $r->{node} eq $N1 }),
	'the Kazoo node records svc, owned by n1');

# --- set_meta is seen on the other servers within a round trip ---
$s1->query_safe(q{SELECT kz_globals.set_meta('svc', '{"version": "2.2"}')});
my $took = wait_meta($n2, 'svc', '{"version": "2.2"}');
ok(defined $took, 'n2 sees the new metadata');
cmp_ok($took // 99, '<', 2, 'within a round trip (well under a second or two)');
note(sprintf('set_meta seen on n2 after %.3f s', $took // -1));
is($k->cmd(lookup => { name => 'svc' })->{node}, $N1,
	'the Kazoo node takes the advertisement again as the same registration');
is(sql($n2, "SELECT (kz_globals.whereis_name('svc')).pid"), $s1_pid, 'the owner is unchanged on n2');
$s1->query_safe(q{SELECT kz_globals.set_meta('svc', NULL)});
ok(defined wait_meta($n2, 'svc', 'null'), 'clearing it is seen too');
$s1->query_safe(q{SELECT kz_globals.set_meta('svc', '[1, {"two": 2}]')});
ok(defined wait_meta($n2, 'svc', '[1, {"two": 2}]'), 'and setting it again');

# --- only the owner session may change it (42501); a name nobody holds: 42704 ---
my ($out, $err) = run_in(session($n1, on_error_stop => 0), q{SELECT kz_globals.set_meta('svc', '{}')});
like($err, qr/permission denied to set the metadata of name "svc"/,
	'another session of the owner node is refused');
($out, $err) = run_in(session($n2, on_error_stop => 0), q{SELECT kz_globals.set_meta('svc', '{}')});
like($err, qr/permission denied to set the metadata of name "svc"/,
	'a session of another node is refused');
($out, $err) = run_in(session($n2, on_error_stop => 0), q{SELECT kz_globals.set_meta('nobody', '{}')});
like($err, qr/no process is registered under the name "nobody"/, 'a name nobody holds');
is(meta_on($n1, 'svc'), '[1, {"two": 2}]', 'nothing changed on n1');
is(meta_on($n2, 'svc'), '[1, {"two": 2}]', 'nor on n2');

# --- many names at once (advertisements batched between our nodes) ---
$s1->query_safe(q{
	SELECT count(kz_globals.register_name('many-' || i, jsonb_build_object('i', i)))
	  FROM generate_series(1, 40) i});
ok($n2->poll_query_until('postgres',
		q{SELECT count(*) = 40 FROM kz_globals.registrations
		   WHERE name LIKE 'many-%' AND meta = jsonb_build_object('i', substr(name, 6)::int)}),
	'n2 has the metadata of 40 names');

# --- names whose metadata make a sync larger than one message may be: 250
#     names of 1020 bytes each, which the sync to n3 below must split (a
#     single part would be over what any server takes) ---
$s1->query_safe(q{
	SELECT count(kz_globals.register_name('wide-' || i, jsonb_build_array(i, repeat('w', 1010))))
	  FROM generate_series(1, 250) i});
ok($n2->poll_query_until('postgres',
		q{SELECT count(*) = 250 FROM kz_globals.registrations WHERE name LIKE 'wide-%'}),
	'n2 records the 250 names (without their metadata, over its limit)');

# --- metadata over the receiver's kz_globals.max_meta_size (n2: 100 bytes) ---
$s1->query_safe(q{SELECT kz_globals.register_name('big', jsonb_build_array(repeat('b', 200)))});
ok(wait_row($n2, 'big', "remote $N1"), 'n2 records a name whose metadata is over its limit');
is(meta_on($n2, 'big'), 'null', '... without the metadata');
cmp_ok(stat_of($n2, 'bus_malformed'), '>', $malformed2, '... and counts it in bus_malformed');
like(meta_on($n1, 'big'), qr/^\["b{200}"\]$/, 'n1 keeps it');

# --- a Kazoo-owned name has none ---
is($k->cmd(register => { name => 'kzname' }), 'yes', 'the Kazoo node registers kzname');
ok(wait_row($n1, 'kzname', 'remote kazoo1@sim.local true', 'state', 'node', 'kazoo::text'),
	'n1 records it as a Kazoo registration');
is(meta_on($n1, 'kzname'), 'null', 'with no metadata');
is(row_of($n1, 'kzname', "coalesce(meta::text, 'null')"), 'null', 'the view says so too');

# --- metadata from the bus that is not what it must be ---
sub forge_advert
{
	my ($name, $meta) = @_;
	$k->cmd(publish_raw => {
			exchange => 'globals',
			routing_key => 'globals.register.forged',
			json => { Name => { term => $name }, State => 'registered',
				Timestamp => greg_now(), Meta => $meta },
			envelope => { event => 'register' } });
}
my $malformed1 = stat_of($n1, 'bus_malformed');
my $rejected1 = stat_of($n1, 'bus_rejected');
forge_advert('forged-1', '{');
forge_advert('forged-2', '"a string"');
forge_advert('forged-3', '{"a": "\\u0000"}');
forge_advert('forged-4', { object => 'not a string' });
ok($n1->poll_query_until('postgres',
		"SELECT bus_malformed >= $malformed1 + 4 FROM kz_globals.stats"),
	'n1 drops four advertisements with bad metadata and counts them');
# an unsigned message with kz_globals' own Meta field is not a Kazoo node's:
# with bus keys, refused as forged
forge_advert('forged-5', '{"evil": true}');
ok($n1->poll_query_until('postgres',
		"SELECT bus_rejected > $rejected1 FROM kz_globals.stats"),
	'n1 refuses an unsigned advertisement carrying Meta');
is(sql($n1, "SELECT count(*) FROM kz_globals.registrations WHERE name LIKE 'forged-%'"), '0',
	'none of them was recorded');
is(sql($n1, 'SELECT 1'), '1', 'n1 is fine');

# --- a server that joins later gets the metadata with the sync ---
my $n3 = KzHarness::node('n3', broker => $broker, gucs => \%gucs);
ok(wait_nodes_up($n3, 4), 'n3 joins');
ok(defined wait_meta($n3, 'svc', '[1, {"two": 2}]'), 'n3 has the metadata of svc from the sync');
ok($n3->poll_query_until('postgres',
		q{SELECT count(*) = 40 FROM kz_globals.registrations
		   WHERE name LIKE 'many-%' AND meta = jsonb_build_object('i', substr(name, 6)::int)}),
	'and of the 40 others');
like(meta_on($n3, 'big'), qr/^\["b{200}"\]$/, 'n3 (default limit) has the big one');
ok($n3->poll_query_until('postgres',
		q{SELECT count(*) = 250 FROM kz_globals.registrations
		   WHERE name LIKE 'wide-%' AND (meta->>0)::int = substr(name, 6)::int
		     AND octet_length(meta::text) > 1010}),
	'and the 250 wide ones, their sync split into parts every server takes');
is(stat_of($n3, 'bus_rejected'), '0', 'n3 refused nothing: every message of ours is signed');

# --- a new registration's advertisement replaces what was known ---
$s1->query_safe(q{SELECT kz_globals.unregister_name('big')});
ok(wait_row($n3, 'big', 'none'), 'unregistered: gone on n3');
my $s3 = session($n3);
is($s3->query_safe(q{SELECT kz_globals.register_name('big', '{"now": "n3"}'::jsonb)}), 't',
	'n3 registers big again, with other metadata');
ok(defined wait_meta($n1, 'big', '{"now": "n3"}'), 'n1 sees the new owner\'s metadata');
ok(defined wait_meta($n2, 'big', '{"now": "n3"}'), 'n2 too');

# --- the owner's exit clears it everywhere ---
$s1->quit;
for my $node ($n2, $n3)
{
	ok(wait_row($node, 'svc', 'none'), 'svc is gone on ' . $node->name . ' after its owner exits');
	is(meta_on($node, 'svc'), 'null', '... and so is its metadata');
	is(sql($node, "SELECT count(*) FROM kz_globals.registrations WHERE name LIKE 'many-%' OR name LIKE 'wide-%'"),
		'0', '... and the other names of that session');
}
is(meta_on($n1, 'svc'), 'null', 'on n1 as well');

# a name registered again without metadata has none anywhere
my $s1b = session($n1);
$s1b->query_safe(q{SELECT kz_globals.register_name('svc')});
ok(wait_row($n2, 'svc', "remote $N1"), 'svc registered again on n1');
is(meta_on($n2, 'svc'), 'null', 'without metadata');

# --- the owner's node expires: its rows and their metadata go ---
$n3->stop('immediate');
ok(wait_row($n1, 'big', 'none'), 'n3 expired: big is gone on n1');
is(meta_on($n1, 'big'), 'null', '... with its metadata');

$s1b->quit;
$k->quit;
done_testing();
