# Extension upgrades: a 1.0 installation with names registered, a name held
# for another backend and a message waiting is updated with ALTER EXTENSION
# kz_globals UPDATE.  Afterwards the registrations are intact, every
# function of the extension works (the test fails if the extension gains a
# function it does not exercise), and the updated extension is the same as
# a freshly created one of the default version: \dx and \dx+, the members
# (pg_describe_object over pg_depend), function signatures and properties,
# views, types, comments, privileges and initial privileges.  Single server,
# no broker.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'kz_globals'
kz_globals.node_name = 'upgrade\@localhost'
});
$node->start;

sub sql { return $node->safe_psql($_[0], $_[1]); }

my $default = sql('postgres',
	"SELECT default_version FROM pg_available_extensions WHERE name = 'kz_globals'");
isnt($default, '1.0', "the default version ($default) is not 1.0");
like(sql('postgres',
		"SELECT string_agg(version, ',' ORDER BY version) FROM pg_available_extension_versions WHERE name = 'kz_globals'"),
	qr/(^|,)1\.0(,|$)/, 'version 1.0 is still installable');

sql('postgres', 'CREATE DATABASE updated');
sql('postgres', 'CREATE DATABASE fresh');

# --- 1.0, in use ---
sql('updated', "CREATE EXTENSION kz_globals VERSION '1.0'");
is(sql('updated', "SELECT extversion FROM pg_extension WHERE extname = 'kz_globals'"),
	'1.0', 'CREATE EXTENSION kz_globals VERSION 1.0');

my $owner = $node->background_psql('updated');
my $owner_pid = $owner->query_safe('SELECT pg_backend_pid()');
is($owner->query_safe("SELECT kz_globals.register_name('up-owner')"), 't',
	'1.0: a session registers a name');
my $other = $node->background_psql('updated');
my $other_pid = $other->query_safe('SELECT pg_backend_pid()');
is(sql('updated', "SELECT kz_globals.register_name('up-other', $other_pid)"), 't',
	'1.0: a name is registered for another backend');
is(sql('updated', "SELECT (kz_globals.send('up-owner', 'sent before the update')).pid"),
	$owner_pid, '1.0: a message is sent to the owner');
my $token = sql('updated', "SELECT kz_globals.token('up-owner')");
like($token, qr/^\d+$/, '1.0: the name has a fencing token');

# --- the update ---
sql('updated', 'ALTER EXTENSION kz_globals UPDATE');
is(sql('updated', "SELECT extversion FROM pg_extension WHERE extname = 'kz_globals'"),
	$default, "ALTER EXTENSION kz_globals UPDATE goes to $default");

# --- every function after the update ---
my %exercised;

sub exercised { $exercised{$_} = 1 for @_; }

is(sql('updated', "SELECT (kz_globals.whereis_name('up-owner')).pid"), $owner_pid,
	'whereis_name finds the owner registered before the update');
exercised('kz_globals.whereis_name(text)');
is(sql('updated', "SELECT (kz_globals.whereis_name('up-other')).pid"), $other_pid,
	'... and the name registered for another backend');
is(sql('updated',
		"SELECT string_agg(name || ':' || state || ':' || pid, ',' ORDER BY name) FROM kz_globals.registrations"),
	"up-other:local:$other_pid,up-owner:local:$owner_pid",
	'the registrations view shows both');
exercised('kz_globals.registrations_data()');
is(sql('updated', "SELECT string_agg(n, ',' ORDER BY n) FROM kz_globals.registered() AS r(n)"),
	'up-other,up-owner', 'registered() lists both');
exercised('kz_globals.registered()');
is(sql('updated', "SELECT kz_globals.token('up-owner')"), $token,
	'token() is unchanged by the update');
exercised('kz_globals.token(text)');
is(sql('updated', "SELECT kz_globals.kazoo_addressable('abc') AND NOT kz_globals.kazoo_addressable('job-1')"),
	't', 'kazoo_addressable() (new in 1.1) is there after the update');
exercised('kz_globals.kazoo_addressable(text)');
is($owner->query_safe("SELECT kz_globals.assert_owner('up-owner', $token)"), 't',
	'assert_owner() holds for the owner with its token');
exercised('kz_globals.assert_owner(text,bigint)');
is($owner->query_safe(
		"SELECT name || '|' || kind || '|' || message FROM kz_globals.receive(5000)"),
	'up-owner|send|sent before the update',
	'receive() returns the message sent before the update');
exercised('kz_globals.receive(integer)');
is(sql('updated', "SELECT (kz_globals.send('up-owner', 'sent after the update')).pid"),
	$owner_pid, 'send() after the update');
exercised('kz_globals.send(text,text)');
is($owner->query_safe("SELECT message FROM kz_globals.receive(5000)"),
	'sent after the update', '... arrives');

my $caller = $node->background_psql('updated');
$caller->query_until(qr/calling/,
	"\\echo calling\nSELECT 'answer:' || kz_globals.call('up-owner', 'ping', 10000);\n");
my $tag = $owner->query_safe(
	"SELECT reply_tag FROM kz_globals.receive(5000) WHERE kind = 'call' AND message = 'ping'");
isnt($tag, '', 'the owner receives a call');
is($owner->query_safe("SELECT kz_globals.reply('$tag', 'pong')"), 't', 'reply() is delivered');
exercised('kz_globals.reply(text,text)');
like($caller->query_safe('SELECT 1'), qr/answer:pong/, 'call() gets the reply');
exercised('kz_globals.call(text,text,integer)');

is(sql('updated', "SELECT kz_globals.register_name('up-owner')"), 'f',
	'register_name() refuses a name registered before the update');
is($caller->query_safe("SELECT kz_globals.register_name('up-new')"), 't',
	'register_name() takes a new name');
exercised('kz_globals.register_name(text)');
is(sql('updated', "SELECT kz_globals.register_name('up-for-other', $other_pid)"), 't',
	'register_name(name, pid) after the update');
exercised('kz_globals.register_name(text,integer)');
is(sql('updated', "SELECT (kz_globals.whereis_name('up-for-other')).pid"), $other_pid,
	'... registers that backend');
is($caller->query_safe("SELECT kz_globals.unregister_name('up-new')"), 't',
	'unregister_name() releases a name');
exercised('kz_globals.unregister_name(text)');
is(sql('updated', "SELECT kz_globals.whereis_name('up-new') IS NULL"), 't', '... it is gone');

# a standby waits for the name registered before the update and takes over
my $standby = $node->background_psql('updated');
my $standby_pid = $standby->query_safe('SELECT pg_backend_pid()');
$standby->query_until(qr/standing by/,
	"\\echo standing by\nSELECT 'took-over:' || kz_globals.register_name_wait('up-owner', 60000);\n");
$owner->quit;
ok($node->poll_query_until('updated',
		"SELECT (kz_globals.whereis_name('up-owner')).pid = $standby_pid"),
	'register_name_wait(): the standby takes over when the owner exits');
like($standby->query_safe('SELECT 1'), qr/took-over:t/, '... and returns true');
exercised('kz_globals.register_name_wait(text,integer)');

is(sql('updated', "SELECT node || ':' || state FROM kz_globals.nodes WHERE is_self"),
	'upgrade@localhost:up', 'the nodes view shows this node');
exercised('kz_globals.nodes_data()');
is(sql('updated', "SELECT broker_state || ':' || (claims_won > 0) FROM kz_globals.stats"),
	'disabled:true', 'the stats view counts the claims');
exercised('kz_globals.stats_data()');

# registration metadata (new in 1.1)
is($caller->query_safe(q{SELECT kz_globals.register_name('up-meta', '{"v": 1}'::jsonb)}), 't',
	'register_name(name, meta) after the update');
exercised('kz_globals.register_name(text,jsonb)');
$caller->query_safe(q{SELECT kz_globals.set_meta('up-meta', '{"v": 2}')});
exercised('kz_globals.set_meta(text,jsonb)');
is(sql('updated', "SELECT kz_globals.meta('up-meta')->>'v'"), '2', 'set_meta() and meta()');
exercised('kz_globals.meta(text)');
is(sql('updated', "SELECT meta::text FROM kz_globals.registrations WHERE name = 'up-meta'"),
	'{"v": 2}', 'the registrations view has the meta column');

# leases (new in 1.1)
my $lease = sql('updated', "SELECT kz_globals.acquire_lease('up-lease', 60000)");
like($lease, qr/^\d+$/, 'acquire_lease() after the update');
exercised('kz_globals.acquire_lease(text,integer,integer)');
is(sql('updated', "SELECT kz_globals.renew_lease('up-lease', $lease, 30000)"), 't', 'renew_lease()');
exercised('kz_globals.renew_lease(text,bigint,integer)');
is(sql('updated', "SELECT ttl_ms FROM kz_globals.leases WHERE name = 'up-lease'"), '30000',
	'the leases view shows it');
exercised('kz_globals.leases_data()');
is(sql('updated', "SELECT kz_globals.release_lease('up-lease', $lease)"), 't', 'release_lease()');
exercised('kz_globals.release_lease(text,bigint)');

# process groups (new in 1.1)
is($caller->query_safe("SELECT kz_globals.join('up-group')"), 't', 'join() after the update');
exercised('kz_globals."join"(text)');
is($caller->query_safe("SELECT count(*) FROM kz_globals.members('up-group')"), '1',
	'members() lists the member');
exercised('kz_globals.members(text)');
is($caller->query_safe("SELECT count(*) FROM kz_globals.groups"), '1', 'the groups view shows it');
exercised('kz_globals.groups_data()');
is(sql('updated', "SELECT kz_globals.publish('up-group', 'to all')"), '1',
	'publish() delivers to the member');
exercised('kz_globals.publish(text,text)');
is($caller->query_safe("SELECT name || ':' || kind || ':' || message FROM kz_globals.receive(5000)"),
	'up-group:group:to all', '... which receives it');
is($caller->query_safe("SELECT kz_globals.leave('up-group')"), 't', 'leave() ends the membership');
exercised('kz_globals.leave(text)');

$_->quit for ($other, $caller, $standby);

# Every function of the extension was exercised above.
my $members = sql('updated', q{
	SELECT string_agg(p.oid::regprocedure::text, ',' ORDER BY p.oid::regprocedure::text COLLATE "C")
	FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
	WHERE d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
	  AND d.refclassid = 'pg_extension'::regclass
	  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'kz_globals')});
is($members, join(',', sort keys %exercised),
	'the test exercised every function of the updated extension');

# --- an updated and a fresh install are the same ---
sql('fresh', 'CREATE EXTENSION kz_globals');
is(sql('fresh', "SELECT extversion FROM pg_extension WHERE extname = 'kz_globals'"),
	$default, "a fresh CREATE EXTENSION installs $default");

my $ext = q{(SELECT oid FROM pg_extension WHERE extname = 'kz_globals')};
my $ns = q{'kz_globals'::regnamespace};
my %compare = (
	'\dx' => '\dx kz_globals',
	'\dx+' => '\dx+ kz_globals',
	'\df+' => '\df+ kz_globals.*',
	'\dv+' => '\dv+ kz_globals.*',
	'\dT+' => '\dT+ kz_globals.*',
	'\dn+' => '\dn+ kz_globals',
	'extension row' => qq{
		SELECT e.extname, e.extversion, e.extrelocatable, e.extnamespace::regnamespace,
			   e.extowner::regrole, e.extconfig, e.extcondition
		FROM pg_extension e WHERE e.oid = $ext},
	'members (pg_depend)' => qq{
		SELECT pg_describe_object(classid, objid, objsubid)
		FROM pg_depend
		WHERE refclassid = 'pg_extension'::regclass AND refobjid = $ext AND deptype = 'e'
		ORDER BY 1},
	'functions' => qq{
		SELECT p.oid::regprocedure, pg_get_function_arguments(p.oid),
			   pg_get_function_result(p.oid), p.prokind, p.prosrc, p.probin,
			   p.provolatile, p.proparallel, p.proisstrict, p.prosecdef,
			   p.proleakproof, p.procost, p.prorows, p.proretset, p.proconfig,
			   p.proowner::regrole, p.proacl, obj_description(p.oid, 'pg_proc')
		FROM pg_proc p WHERE p.pronamespace = $ns ORDER BY p.oid::regprocedure::text},
	'relations' => qq{
		SELECT c.relname, c.relkind, c.relowner::regrole, c.relacl,
			   pg_get_viewdef(c.oid), obj_description(c.oid, 'pg_class')
		FROM pg_class c WHERE c.relnamespace = $ns ORDER BY 1},
	'columns' => qq{
		SELECT a.attrelid::regclass, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),
			   a.attnotnull, a.attacl, col_description(a.attrelid, a.attnum)
		FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
		WHERE c.relnamespace = $ns AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attrelid::regclass::text, 2},
	'types' => qq{
		SELECT t.oid::regtype, t.typtype, t.typowner::regrole, t.typacl,
			   obj_description(t.oid, 'pg_type')
		FROM pg_type t WHERE t.typnamespace = $ns ORDER BY t.oid::regtype::text},
	'schema' => q{
		SELECT n.nspname, n.nspowner::regrole, n.nspacl, obj_description(n.oid, 'pg_namespace')
		FROM pg_namespace n WHERE n.nspname = 'kz_globals'},
	'initial privileges (pg_init_privs)' => qq{
		SELECT pg_describe_object(i.classoid, i.objoid, i.objsubid), i.privtype, i.initprivs
		FROM pg_init_privs i
		WHERE pg_describe_object(i.classoid, i.objoid, i.objsubid) ~ 'kz_globals'
		ORDER BY 1},
	'effective privileges of PUBLIC' => qq{
		SELECT p.oid::regprocedure::text, has_function_privilege('public', p.oid, 'EXECUTE')
		FROM pg_proc p WHERE p.pronamespace = $ns
		UNION ALL
		SELECT c.oid::regclass::text, has_table_privilege('public', c.oid, 'SELECT')
		FROM pg_class c WHERE c.relnamespace = $ns
		ORDER BY 1});

for my $what (sort keys %compare)
{
	my $updated = sql('updated', $compare{$what});
	my $fresh = sql('fresh', $compare{$what});
	isnt($fresh, '', "$what: not empty");
	is($updated, $fresh, "$what: the updated extension is the same as a fresh one");
}

$node->stop;
done_testing();
