# Bus authentication between kz_globals nodes (issue 11).  A hostile
# publisher that holds a valid vhost login (a real AMQP client, pika, on the
# real broker) tries every forgery of the issue: an advertisement that
# steals a name with an old Timestamp, a heartbeat with another incarnation
# (every node drops a real peer's names), a forged Server-ID (sends go to
# the forger's queue), a forged reply to a call, a heartbeat that makes
# nodes send their full sync to any queue, and the replay or alteration of
# a genuine signed message.  Without keys each works (so the test can see
# it); with kz_globals.bus_key_file on both servers each changes nothing
# and kz_globals.stats.bus_rejected grows, while the two signed servers
# still register, find, send and call across.  A forger posing as a Kazoo
# node is accepted with keys (Kazoo cannot sign) and refused with
# kz_globals.bus_require_signature.  Then key rotation in three steps with
# no message refused, after which the old key is refused.  The secrets
# never reach a log.
use strict;
use warnings;

use File::Temp ();
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use KzHarness;

my $broker = KzHarness::Broker->new;
# a slow heartbeat: a forged Server-ID lasts until the next real one
my %gucs = ('kz_globals.heartbeat_interval' => '2s');
my $n1 = KzHarness::node('n1', broker => $broker, gucs => \%gucs);
my $n2 = KzHarness::node('n2', broker => $broker, gucs => \%gucs);
my %node_name = (n1 => 'n1@127.0.0.1', n2 => 'n2@127.0.0.1');

sub sql { my ($node, $q) = @_; return $node->safe_psql('postgres', $q); }

for my $node ($n1, $n2)
{
	ok($node->poll_query_until('postgres',
			"SELECT count(*) = 2 FROM kz_globals.nodes WHERE state = 'up'"),
		$node->name . ' sees both servers');
}

# --- the hostile publisher --------------------------------------------------

# A one-shot pika client: declares spy queues, drains them, publishes any
# body with any properties, signed (as src/wire/bus_auth.h says) if asked.
my $helper = PostgreSQL::Test::Utils::tempdir() . '/hostile.py';
PostgreSQL::Test::Utils::append_to_file($helper, <<'PY');
import hashlib, hmac, json, struct, sys, time
sys.path.insert(0, sys.argv[1])
import etf   # noqa: E402
import pika  # noqa: E402

GREGORIAN_OFFSET_US = 62167219200 * 10 ** 6


def subst(v):
    """{"bin": text}: base64 of the binary term; {"now_us": d}: Kazoo's
    timestamp now, plus d."""
    if isinstance(v, dict):
        if set(v) == {"bin"}:
            return etf.to_b64(v["bin"].encode())
        if set(v) == {"now_us"}:
            return time.time_ns() // 1000 + GREGORIAN_OFFSET_US + v["now_us"]
        return {k: subst(x) for k, x in v.items()}
    if isinstance(v, list):
        return [subst(x) for x in v]
    return v


def signature(sign, exchange, key, props, body):
    """The x-kz-auth value, computed from bus_auth.h's description."""
    ts = sign.get("ts", time.time_ns() // 1000)
    out = b"kz_globals bus auth 1\n"
    for f in (sign["id"], str(ts), exchange, key, props.get("message_id") or "",
              props.get("app_id") or "", props.get("user_id") or ""):
        f = f.encode()
        out += struct.pack(">I", len(f)) + f
    out += struct.pack(">I", len(body)) + body
    mac = hmac.new(sign["secret"].encode(), out, hashlib.sha256).hexdigest()
    return "1:%s:%d:%s" % (sign["id"], ts, mac)


def text(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, dict):
        return {k: text(x) for k, x in v.items()}
    return v


def main():
    req = json.loads(sys.argv[2])
    conn = pika.BlockingConnection(pika.URLParameters(req["uri"]))
    ch = conn.channel()
    out = {}
    for op in req["ops"]:
        if op["op"] == "spy":
            ch.queue_declare(op["queue"], auto_delete=False)
            ch.queue_bind(op["queue"], op["exchange"], op["routing_key"])
        elif op["op"] == "drain":
            msgs = []
            while True:
                m, p, body = ch.basic_get(op["queue"], auto_ack=True)
                if m is None:
                    break
                msgs.append({"exchange": m.exchange, "routing_key": m.routing_key,
                             "body": body.decode(), "properties": text({
                                 "headers": p.headers, "user_id": p.user_id,
                                 "app_id": p.app_id, "message_id": p.message_id,
                                 "content_type": p.content_type})})
            out[op["queue"]] = msgs
        elif op["op"] == "publish":
            body = op["body"]
            if not isinstance(body, str):
                body = json.dumps(subst(body))
            body = body.encode()
            props = {k: v for k, v in op.get("properties", {}).items()
                     if v is not None}
            props.setdefault("content_type", "application/json")
            if op.get("confirm"):
                ch.confirm_delivery()   # a refusal by the broker raises
            if "sign" in op:
                headers = dict(props.get("headers") or {})
                headers["x-kz-auth"] = signature(op["sign"], op["exchange"],
                                                 op["routing_key"], props, body)
                props["headers"] = headers
            ch.basic_publish(op["exchange"], op["routing_key"], body,
                             pika.BasicProperties(**props))
    conn.close()
    print(json.dumps(out))


main()
PY

my $json = JSON::PP->new->canonical;
my $etf_dir = "$KzHarness::HARNESS_DIR/../py";

# Runs the hostile client's operations; returns its result (queue => msgs).
sub hostile
{
	my (@ops) = @_;
	my ($rc, $out) = KzHarness::run_cmd($KzHarness::PYTHON, $helper, $etf_dir,
		$json->encode({ uri => $broker->uri, ops => \@ops }));
	die "hostile publisher failed: $out" if $rc;
	my ($line) = grep { /^\{/ } split /\n/, $out;
	return $json->decode($line);
}

sub spy { my ($q, $ex, $key) = @_; hostile({ op => 'spy', queue => $q, exchange => $ex, routing_key => $key }); }
sub drain { my ($q) = @_; return hostile({ op => 'drain', queue => $q })->{$q}; }

my $msg_seq = 0;
sub msg_id { return sprintf('%016x', 0xfeed0000 + ++$msg_seq); }

# Kazoo's envelope, any Node.
sub envelope
{
	my ($event, $node, %more) = @_;
	return {
		'App-Name' => ($event eq 'advertise' ? 'kz_nodes' : 'kazoo_globals'),
		'App-Version' => '4.0.0',
		'Event-Category' => ($event eq 'advertise' ? 'nodes' : 'globals'),
		'Event-Name' => $event,
		'Msg-ID' => msg_id(),
		'Node' => $node,
		%more
	};
}

sub publish
{
	my ($exchange, $key, $body, %opt) = @_;
	hostile({ op => 'publish', exchange => $exchange, routing_key => $key,
		body => $body, properties => $opt{properties} // {}, confirm => $opt{confirm},
		($opt{sign} ? (sign => $opt{sign}) : ()) });
}

# An advertisement: $node owns $name since $ts (Gregorian µs).
sub forged_advert
{
	my ($name, $node, $server, $ts, $pid, %opt) = @_;
	# numbers, not strings, in the JSON (values from SQL are strings)
	$ts = 0 + $ts unless ref $ts;
	my $body = envelope('register', $node, 'Server-ID' => $server,
		Name => { bin => $name }, State => 'registered', Timestamp => $ts,
		($pid ? (Pid => 0 + $pid) : ()));
	publish('globals', 'globals.register.x', $body, %opt);
}

sub stat_of { my ($node, $col) = @_; return sql($node, "SELECT $col FROM kz_globals.stats"); }
sub server_of { my ($node, $of) = @_; return sql($node, "SELECT server FROM kz_globals.nodes WHERE node = '$of'"); }
sub owner_of { my ($node, $name) = @_; return sql($node, "SELECT node || '/' || coalesce(pid::text, '') FROM kz_globals.whereis_name('$name')"); }

# Waits until bus_rejected on $node is above $before; true if it is.
sub rejected_since
{
	my ($node, $before, $what) = @_;
	return KzHarness::wait_until("bus_rejected on " . $node->name . " after $what", 10,
		sub { stat_of($node, 'bus_rejected') > $before });
}

sub session
{
	my ($node) = @_;
	my $s = $node->background_psql('postgres', on_error_stop => 0);
	$s->set_query_timer_restart;	# the timeout is per query, not per session
	return $s;
}

# A session that owns $name, and the peer sees it.
sub owner
{
	my ($node, $name, $peer) = @_;
	my $s = session($node);
	is($s->query_safe("SELECT kz_globals.register_name('$name')"), 't', $node->name . " owns $name");
	ok($peer->poll_query_until('postgres',
			"SELECT count(*) = 1 FROM kz_globals.registrations WHERE name = '$name' AND state = 'remote'"),
		$peer->name . " sees $name");
	return $s;
}

# --- key files --------------------------------------------------------------

my $keydir = PostgreSQL::Test::Utils::tempdir();
my %secret = (k1 => 'first shared secret 0123456789', k2 => 'second shared secret 9876543210');
sub keyfile
{
	my ($label, @ids) = @_;
	my $path = "$keydir/$label.keys";
	unlink $path;
	PostgreSQL::Test::Utils::append_to_file($path, join('', map { "$_:$secret{$_}\n" } @ids));
	chmod 0600, $path;
	return $path;
}

# Sets GUCs on a node, reloads, and waits for the worker's line about keys.
sub configure
{
	my ($node, $wait_for, %set) = @_;
	my $offset = -s $node->logfile;
	$node->append_conf('postgresql.conf', join('', map { "$_ = '$set{$_}'\n" } sort keys %set));
	$node->reload;
	$node->wait_for_log($wait_for, $offset) if $wait_for;
}

# --- sender identity -----------------------------------------------------------

# Roles on n2 that send to an owner on n1.
sql($n2, join('', map { "CREATE ROLE $_ LOGIN; GRANT kz_globals_user TO $_;" } qw(kz_ident_a kz_ident_b)));

# Sends from n2 as each of the two roles at once (so that the worker's
# batches hold both), $n sends each; what $owner receives, as
# "message|sender_node|sender_role|sender_database" lines, sorted.
sub sends_from_roles
{
	my ($name, $owner, $n) = @_;
	my @bg;
	for my $role (qw(kz_ident_a kz_ident_b))
	{
		my $s = session($n2);
		$s->query_safe("SET ROLE $role");
		$s->query_until(qr/sending/, <<"SQL");
\\echo sending
SELECT count(kz_globals.send('$name', '$role ' || i)) FROM generate_series(1, $n) i;
SQL
		push @bg, $s;
	}
	my @got;
	KzHarness::wait_until('the sends', 30, sub {
			my $rows = $owner->query_safe(
				"SELECT string_agg(concat_ws('|', message, sender_node, coalesce(sender_role, '-'), coalesce(sender_database, '-')), E'\\n') FROM kz_globals.receive(0)");
			push @got, $rows if $rows ne '';
			@got >= 2 * $n;
		});
	$_->quit for @bg;
	return sort @got;
}

# The lines sends_from_roles expects: with the role and database, or "-".
sub expected_from_roles
{
	my ($n, $known) = @_;
	return sort map {
		my $role = $_;
		map { "$role $_|$node_name{n2}|" . ($known ? "$role|postgres" : '-|-') } 1 .. $n
	} qw(kz_ident_a kz_ident_b);
}

# --- the forgeries ------------------------------------------------------------

my $OLD_TS = '63000000000000000';		# 1996: older than any real claim

# 1. steal a name of n1 with an old Timestamp, posing as n2
sub try_steal
{
	my ($name, $node) = @_;
	forged_advert($name, $node, server_of($n1, $node_name{n2}), $OLD_TS, 4242);
}

# 2. a heartbeat of n2 with another incarnation: n1 drops n2's names
sub try_incarnation
{
	my $body = envelope('advertise', $node_name{n2}, 'Server-ID' => server_of($n1, $node_name{n2}),
		Expires => 4800, Zone => 'local', Globals => { local => 1, remote => 0, pending => 0 },
		Version => 'kz_globals 1.0', Incarnation => 999_999_999, Session => '0000000000abcdef',
		'PG-Globals-Version' => 1);
	publish('nodes', '', $body);
}

# 3. n2's names advertised with the forger's queue as n2's Server-ID
sub try_server_id
{
	my ($name, $ts, $pid) = @_;
	forged_advert($name, $node_name{n2}, 'kz-spy-sends', $ts, $pid);
}

# 5. a "new kz_globals node" whose queue is any queue: everyone syncs to it
sub try_sync_request
{
	my ($node) = @_;
	my $body = envelope('advertise', $node, 'Server-ID' => 'kz-spy-sync',
		Expires => 4800, Zone => 'local', Globals => { local => 0, remote => 0, pending => 0 },
		Version => 'kz_globals 1.0', Incarnation => 12345, Session => '0000000000fedcba',
		'PG-Globals-Version' => 1, 'Sync-Request' => JSON::PP::true);
	publish('nodes', '', $body);
}

spy('kz-spy-sends', 'targeted', 'kz-spy-sends');
spy('kz-spy-sync', 'targeted', 'kz-spy-sync');
spy('kz-spy-globals', 'globals', 'globals.*.*');

# 4. a reply to a call from n2 to a name on n1, before the owner answers
# (with $forge, as n1 or as the node $forge names; without, a plain call).  The Msg-ID is in the owner's reply
# tag here; a forger reads it from a queue of its own bound to targeted
# with n1's queue name.  Returns what the call returned.
sub call_across
{
	my ($name, $owner, $forge) = @_;
	my $caller = session($n2);
	$caller->query_until(qr/calling/, <<"SQL");
\\echo calling
INSERT INTO answers SELECT '$name', kz_globals.call('$name', 'question', 15000);
SQL
	my $tag = '';
	KzHarness::wait_until('the call to arrive', 20, sub {
			$tag = $owner->query_safe("SELECT reply_tag FROM kz_globals.receive(0)");
			$tag ne '';
		}) or return 'no call arrived';
	my ($msg_id, $queue) = $tag =~ /^r:-?\d+:([0-9a-f]+):(.*)$/ or return "bad tag $tag";
	my $as = $forge && $forge ne '1' ? $forge : $node_name{n1};
	my $body = envelope('reply', $as, Name => { bin => $name },
		Reply => { bin => 'forged answer' });
	$body->{'Msg-ID'} = $msg_id;
	if ($forge)
	{
		publish('targeted', $queue, $body);
		sleep 1;
	}
	$owner->query_safe("SELECT kz_globals.reply('$tag', 'genuine answer')");
	my $answer = 'none';
	KzHarness::wait_until('the call to return', 20, sub {
			$answer = sql($n2, "SELECT coalesce((SELECT answer FROM answers WHERE name = '$name'), 'none')");
			$answer ne 'none';
		});
	$caller->quit;
	return $answer;
}
sql($n2, 'CREATE TABLE answers (name text, answer text)');

# --- without keys, every forgery works ---------------------------------------

{
	my $o1 = owner($n1, 'a-svc1', $n2);
	my $o2 = owner($n2, 'a-svc2', $n1);

	try_steal('a-svc1', $node_name{n2});
	ok($n1->poll_query_until('postgres',
			"SELECT owner = '$node_name{n2}/4242' FROM (SELECT node || '/' || pid AS owner FROM kz_globals.whereis_name('a-svc1')) o"),
		'no keys: a forged advertisement steals a-svc1 on n1');

	my $expired = stat_of($n1, 'names_expired');
	try_incarnation();
	ok(KzHarness::wait_until('n1 to drop names', 10, sub { stat_of($n1, 'names_expired') > $expired }),
		"no keys: a heartbeat with another incarnation makes n1 drop n2's names");

	ok($n1->poll_query_until('postgres',
			"SELECT count(*) = 1 FROM kz_globals.registrations WHERE name = 'a-svc2' AND state = 'remote'"),
		'n1 has a-svc2 again (n2 heartbeat and synced)');
	my ($ts, $pid) = split /\|/, sql($n1,
		"SELECT token, pid FROM kz_globals.registrations WHERE name = 'a-svc2'");
	# n2's own heartbeats (every 2 s) put its real queue back: forge, then
	# send at once, a few times if a heartbeat came in between
	my ($redirected, $stolen) = (0, 0);
	for my $try (1 .. 5)
	{
		try_server_id('a-svc2', $ts, $pid);
		next unless KzHarness::wait_until('the forged Server-ID', 2,
			sub { server_of($n1, $node_name{n2}) eq 'kz-spy-sends' });
		$redirected = 1;
		sql($n1, "SELECT kz_globals.send('a-svc2', 'for n2 only')");
		$stolen = grep { $_->{body} =~ /"Event-Name":"send/ } @{ drain('kz-spy-sends') };
		last if $stolen;
	}
	ok($redirected, "no keys: a forged Server-ID redirects n1's messages for n2");
	ok($stolen >= 1, "no keys: n1's send to a-svc2 went to the forger's queue");

	is(call_across('a-svc1b', owner($n1, 'a-svc1b', $n2), 1), 'forged answer',
		'no keys: a forged reply answers the call');

	drain('kz-spy-sync');
	try_sync_request('ghost@evil');
	ok(KzHarness::wait_until('a sync in the spy queue', 10,
			sub { grep { $_->{body} =~ /"Event-Name":"sync"/ } @{ drain('kz-spy-sync') } }),
		'no keys: a forged heartbeat makes a node send its full sync to any queue');
	# an unsigned message names no role: nothing vouches for it
	my $o3 = owner($n1, 'a-svc3', $n2);
	is_deeply([ sends_from_roles('a-svc3', $o3, 20) ], [ expected_from_roles(20, 0) ],
		'no keys: messages from another server show no sender role or database');
	my $queue = server_of($n2, $node_name{n1});
	publish('targeted', $queue, envelope('send', $node_name{n2}, Name => { bin => 'a-svc3' },
		Message => { bin => 'posing' }, 'Sender-Pid' => 1, 'Sender-Role' => 'postgres',
		'Sender-Database' => 'postgres'));
	my $posing = '';
	KzHarness::wait_until('the forged send', 10, sub {
			$posing = $o3->query_safe("SELECT concat_ws('|', message, coalesce(sender_role, '-')) FROM kz_globals.receive(0)");
			$posing ne '';
		});
	is($posing, 'posing|-', 'no keys: an unsigned message claiming role postgres shows none');
	$_->quit for $o1, $o2, $o3;
}

# --- with keys on both servers, none does ---------------------------------------

my $k1 = keyfile('k1', 'k1');
configure($_, qr/keys accepted: "k1"/, 'kz_globals.bus_key_file' => $k1) for $n1, $n2;
for my $node ($n1, $n2)
{
	ok($node->poll_query_until('postgres',
			"SELECT count(*) = 2 FROM kz_globals.nodes WHERE state = 'up' AND NOT kazoo"),
		$node->name . ' still sees both servers, signed');
}
# a moment for messages signed by one and not yet checked by the other
sleep 2;
my %base = map { $_->name => stat_of($_, 'bus_rejected') } $n1, $n2;

{
	my $o1 = owner($n1, 'b-svc1', $n2);
	my $o2 = owner($n2, 'b-svc2', $n1);

	# two signed servers work together: find, send, call
	is(owner_of($n2, 'b-svc1'), "$node_name{n1}/" . $o1->query_safe('SELECT pg_backend_pid()'),
		'keys: n2 finds b-svc1 on n1');
	sql($n2, "SELECT kz_globals.send('b-svc1', 'hello signed')");
	ok(KzHarness::wait_until('the send', 10, sub {
				$o1->query_safe("SELECT message FROM kz_globals.receive(0)") eq 'hello signed' }),
		'keys: a send from n2 reaches b-svc1 on n1');
	is_deeply([ sends_from_roles('b-svc1', $o1, 20) ], [ expected_from_roles(20, 1) ],
		'keys: each message from another server shows its sender role and database');
	{
		my $caller = session($n2);
		$caller->query_safe('SET ROLE kz_ident_b');
		$caller->query_until(qr/calling/, <<"SQL");
\\echo calling
SELECT kz_globals.call('b-svc1', 'who am i', 15000);
SQL
		my $seen = '';
		KzHarness::wait_until('the call', 20, sub {
				$seen = $o1->query_safe("SELECT concat_ws('|', kind, sender_role, sender_database, reply_tag) FROM kz_globals.receive(0)");
				$seen ne '';
			});
		my ($kind, $role, $db, $tag) = split /\|/, $seen, 4;
		is("$kind|$role|$db", 'call|kz_ident_b|postgres', 'keys: a call from another server shows its sender role and database');
		$o1->query_safe("SELECT kz_globals.reply('$tag', 'you are kz_ident_b')") if $tag;
		$caller->quit;
	}
	is(stat_of($n1, 'bus_rejected'), $base{n1}, 'keys: nothing refused between the two servers (n1)');
	is(stat_of($n2, 'bus_rejected'), $base{n2}, 'keys: nothing refused between the two servers (n2)');

	my $r = stat_of($n1, 'bus_rejected');
	my $before = owner_of($n1, 'b-svc1');
	try_steal('b-svc1', $node_name{n2});
	ok(rejected_since($n1, $r, 'the forged advertisement'), 'keys: the forged advertisement is refused and counted');
	is(owner_of($n1, 'b-svc1'), $before, 'keys: b-svc1 keeps its owner');

	$r = stat_of($n1, 'bus_rejected');
	my $expired = stat_of($n1, 'names_expired');
	try_incarnation();
	ok(rejected_since($n1, $r, 'the forged heartbeat'), 'keys: the heartbeat with another incarnation is refused');
	is(stat_of($n1, 'names_expired'), $expired, "keys: n1 drops none of n2's names");

	my ($ts, $pid) = split /\|/, sql($n1, "SELECT token, pid FROM kz_globals.registrations WHERE name = 'b-svc2'");
	my $server = server_of($n1, $node_name{n2});
	$r = stat_of($n1, 'bus_rejected');
	try_server_id('b-svc2', $ts, $pid);
	ok(rejected_since($n1, $r, 'the forged Server-ID'), 'keys: the forged Server-ID is refused');
	is(server_of($n1, $node_name{n2}), $server, "keys: n2's queue on n1 is unchanged");
	drain('kz-spy-sends');
	sql($n1, "SELECT kz_globals.send('b-svc2', 'for n2 only')");
	ok(KzHarness::wait_until('the send', 10, sub {
				$o2->query_safe("SELECT message FROM kz_globals.receive(0)") eq 'for n2 only' }),
		'keys: the send reaches b-svc2 on n2');
	is(scalar @{ drain('kz-spy-sends') }, 0, "keys: nothing reached the forger's queue");

	$r = stat_of($n2, 'bus_rejected');
	is(call_across('b-svc1b', owner($n1, 'b-svc1b', $n2), 1), 'genuine answer',
		'keys: the forged reply is refused, the owner answers the call');
	cmp_ok(stat_of($n2, 'bus_rejected'), '>', $r, 'keys: the forged reply is counted on n2');

	$r = stat_of($n2, 'bus_rejected');
	is(call_across('b-svc1c', owner($n1, 'b-svc1c', $n2), 'kazoo-ish0@evil'), 'genuine answer',
		'keys: a forged reply posing as a Kazoo node is refused too (only the owner node answers)');
	cmp_ok(stat_of($n2, 'bus_rejected'), '>', $r, 'keys: and counted on n2');

	$r = stat_of($n1, 'bus_rejected');
	drain('kz-spy-sync');
	try_sync_request('ghost2@evil');
	ok(rejected_since($n1, $r, 'the forged sync request'), 'keys: the forged heartbeat of a "new node" is refused');
	sleep 1;
	is(scalar @{ drain('kz-spy-sync') }, 0, 'keys: nobody sent a sync to the queue it named');
	is(sql($n1, "SELECT count(*) FROM kz_globals.nodes WHERE node = 'ghost2\@evil'"), '0',
		'keys: the forged node is not in the node table');

	# a genuine signed message, replayed as is, or with a changed body
	drain('kz-spy-globals');
	my $s = session($n2);
	$s->query_safe("SELECT kz_globals.register_name('b-replayed')");
	$s->quit;
	my ($genuine) = grep { $_->{body} =~ /"Node":"\Q$node_name{n2}\E"/ && $_->{properties}{headers} }
	  @{ drain('kz-spy-globals') };
	ok($genuine, "the forger captured a signed message of n2");
	like($genuine->{properties}{headers}{'x-kz-auth'} // '', qr/^1:k1:\d+:[0-9a-f]{64}$/,
		'it carries the signature header');
	is($genuine->{properties}{user_id}, 'guest', 'and user-id, the broker user that published it');
	$r = stat_of($n1, 'bus_rejected');
	my $offset = -s $n1->logfile;
	publish($genuine->{exchange}, $genuine->{routing_key}, $genuine->{body},
		properties => $genuine->{properties});
	ok(rejected_since($n1, $r, 'the replay'), 'keys: a replayed signed message is refused');
	ok($n1->wait_for_log(qr/signature already seen/, $offset), 'and logged as a replay');
	$r = stat_of($n1, 'bus_rejected');
	(my $altered = $genuine->{body}) =~ s/"Msg-ID":"[0-9a-f]+"/"Msg-ID":"00000000000000aa"/;
	$offset = -s $n1->logfile;
	publish($genuine->{exchange}, $genuine->{routing_key}, $altered,
		properties => $genuine->{properties});
	ok(rejected_since($n1, $r, 'the altered message'), 'keys: a signed message with a changed body is refused');
	ok($n1->wait_for_log(qr/signature does not match/, $offset), 'and logged as not matching');

	# posing as a Kazoo node: nothing to check it by
	forged_advert('b-kazoo', 'kazoo-ish@evil', 'kz-spy-sends', $OLD_TS, undef);
	ok($n1->poll_query_until('postgres',
			"SELECT count(*) = 1 FROM kz_globals.registrations WHERE name = 'b-kazoo' AND kazoo"),
		'keys, bus_require_signature off: an unsigned forger posing as a Kazoo node is believed');
	$_->quit for $o1, $o2;
}

# --- bus_require_signature: no unsigned message at all --------------------------

configure($_, undef, 'kz_globals.bus_require_signature' => 'on') for $n1, $n2;
for my $node ($n1, $n2)
{
	ok($node->poll_query_until('postgres', "SELECT current_setting('kz_globals.bus_require_signature') = 'on'"),
		$node->name . ' requires signatures');
}
sleep 1;
{
	my $r = stat_of($n1, 'bus_rejected');
	forged_advert('c-kazoo', 'kazoo-ish2@evil', 'kz-spy-sends', $OLD_TS, undef);
	ok(rejected_since($n1, $r, 'the Kazoo-shaped forgery'), 'require_signature: the Kazoo-shaped forger is refused');
	is(sql($n1, "SELECT count(*) FROM kz_globals.registrations WHERE name = 'c-kazoo'"), '0',
		'require_signature: c-kazoo is not recorded');
	my $o1 = owner($n1, 'c-svc1', $n2);
	is(call_across('c-svc1', $o1, 1), 'genuine answer',
		'require_signature: the signed servers call each other (a forged reply refused)');
}

# --- key rotation -------------------------------------------------------------------

my %rot = map { $_->name => stat_of($_, 'bus_rejected') } $n1, $n2;
# 1. n1 accepts k2 too, still signs with k1; n2 knows k1 only
configure($n1, qr/keys accepted: "k1" \(signs\), "k2"/, 'kz_globals.bus_key_file' => keyfile('n1-1', 'k1', 'k2'));
{
	my $o = owner($n1, 'd-svc1', $n2);
	is(call_across('d-svc1', $o, 0), 'genuine answer', 'rotation, n1 {k1, k2}, n2 {k1}: they call each other');
	$o->quit;
}
configure($n2, qr/keys accepted: "k1" \(signs\), "k2"/, 'kz_globals.bus_key_file' => keyfile('n2-1', 'k1', 'k2'));
# 2. k2 signs, k1 is still accepted: first n1, then n2
configure($n1, qr/keys accepted: "k2" \(signs\), "k1"/, 'kz_globals.bus_key_file' => keyfile('n1-2', 'k2', 'k1'));
{
	my $o = owner($n2, 'd-svc2', $n1);
	sql($n1, "SELECT kz_globals.send('d-svc2', 'n1 signs with k2')");
	ok(KzHarness::wait_until('the send', 10, sub {
				$o->query_safe("SELECT message FROM kz_globals.receive(0)") eq 'n1 signs with k2' }),
		'rotation, n1 {k2, k1}, n2 {k1, k2}: a send from n1 reaches n2');
	$o->quit;
}
configure($n2, qr/keys accepted: "k2" \(signs\), "k1"/, 'kz_globals.bus_key_file' => keyfile('n2-2', 'k2', 'k1'));
# 3. k1 is gone everywhere
configure($n1, qr/keys accepted: "k2"$/m, 'kz_globals.bus_key_file' => keyfile('n1-3', 'k2'));
configure($n2, qr/keys accepted: "k2"$/m, 'kz_globals.bus_key_file' => keyfile('n2-3', 'k2'));
{
	my $o = owner($n1, 'd-svc3', $n2);
	is(call_across('d-svc3', $o, 0), 'genuine answer', 'rotation, both {k2}: they call each other');
	$o->quit;
}
is(stat_of($n1, 'bus_rejected'), $rot{n1}, 'rotation: n1 refused nothing on the way');
is(stat_of($n2, 'bus_rejected'), $rot{n2}, 'rotation: n2 refused nothing on the way');

# After rotation: a kz_globals node's advertisement signed with k1 is
# refused; the same signed with k2 is believed (the forger's signer is right).
{
	my $r = stat_of($n1, 'bus_rejected');
	my $now = { now_us => 0 };
	forged_advert('d-signed', 'signer@py', 'kz-spy-sends', $now, 77,
		sign => { id => 'k1', secret => $secret{k1} }, properties => { user_id => 'guest' });
	ok(rejected_since($n1, $r, 'the message signed with k1'), 'after rotation: a message signed with the old key is refused');
	is(sql($n1, "SELECT count(*) FROM kz_globals.registrations WHERE name = 'd-signed'"), '0',
		'after rotation: and changes nothing');
	forged_advert('d-signed', 'signer@py', 'kz-spy-sends', $now, 77,
		sign => { id => 'k2', secret => $secret{k2} }, properties => { user_id => 'guest' });
	ok($n1->poll_query_until('postgres',
			"SELECT count(*) = 1 FROM kz_globals.registrations WHERE name = 'd-signed' AND node = 'signer\@py'"),
		'after rotation: the same signed with the new key is accepted');
}

# --- secrets ----------------------------------------------------------------------

{
	my $offset = -s $n1->logfile;
	my $open = keyfile('open', 'k2');
	chmod 0644, $open;
	configure($n1, qr/cannot use kz_globals.bus_key_file/, 'kz_globals.bus_key_file' => $open);
	ok(1, 'a key file others can read is refused');
	my $bad = "$keydir/bad.keys";
	PostgreSQL::Test::Utils::append_to_file($bad, "k3 $secret{k1}\n");
	chmod 0600, $bad;
	configure($n1, qr/line 1 is not of the form/, 'kz_globals.bus_key_file' => $bad);
	ok(1, 'a malformed key file is refused, naming the line');
	my $o = owner($n1, 'e-svc1', $n2);
	is(owner_of($n2, 'e-svc1'), "$node_name{n1}/" . $o->query_safe('SELECT pg_backend_pid()'),
		'the keys read before stay in use');
	$o->quit;
	is(sql($n1, 'SHOW kz_globals.bus_key_file'), $bad, 'SHOW gives the path only');
	for my $node ($n1, $n2)
	{
		my $log = slurp_file($node->logfile);
		for my $k (sort keys %secret)
		{
			unlike($log, qr/\Q$secret{$k}\E/, $node->name . " log never shows secret $k");
		}
	}
}

# --- one broker account per server (README, "Bus authentication") ---------------

{
	my $re = '^(n1@127\.0\.0\.1-kz_globals-.*|globals|targeted|nodes|kz_globals\.groups)$';
	$broker->ctl('add_user', 'pg1', 'pg1-password');
	(my $write = $re) =~ s/\)\$\z/|amq\\.default)\$/;
	$broker->ctl('set_permissions', '-p', '/', 'pg1', $re, $write, $re);
	$broker->ctl('set_topic_permissions', '-p', '/', 'pg1', 'globals', '^globals\.', '^globals\.');
	my $offset = -s $n1->logfile;
	configure($n1, undef, 'kz_globals.amqp_uri' => 'amqp://pg1:pg1-password@127.0.0.1:' . $broker->port . '/%2f',
		'kz_globals.bus_key_file' => keyfile('n1-4', 'k2'));
	ok($n1->wait_for_log(qr/connected to amqp:\/\/pg1:\*+\@/, $offset), 'n1 connects as broker user pg1, with the README\'s permissions');
	drain('kz-spy-globals');
	my $o = owner($n1, 'f-svc1', $n2);
	is(call_across('f-svc1', $o, 0), 'genuine answer', 'pg1: the servers call each other');
	$o->quit;
	my @from_n1 = grep { $_->{body} =~ /"Node":"\Q$node_name{n1}\E"/ } @{ drain('kz-spy-globals') };
	ok(@from_n1 && !grep({ ($_->{properties}{user_id} // '') ne 'pg1' } @from_n1),
		"pg1: every message of n1 says user-id pg1");
	my $ok = eval {
		publish('globals', 'globals.register.x', envelope('register', $node_name{n1}),
			properties => { user_id => 'pg1' }, confirm => 1);
		1;
	};
	ok(!$ok && $@ =~ /PRECONDITION_FAILED|user_id/i,
		'the broker refuses user-id pg1 from another account');
}

done_testing();
