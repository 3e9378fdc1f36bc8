# A reply tag is bound to the session that received the call (issue 11):
# another session, of another role or the same, cannot answer somebody
# else's call, not with the exact tag (learnt somehow) and not by guessing
# (the call id in a local tag is a random nonce, no longer a counter).
# Callers on the owner's server ("l:" tags) and on another server ("r:").
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use KzHarness qw(sql wait_nodes_up session run_in);

my $broker = KzHarness::Broker->new;
my %gucs = ('kz_globals.heartbeat_interval' => '500ms');
my $n1 = KzHarness::node('n1', broker => $broker, gucs => \%gucs);
my $n2 = KzHarness::node('n2', broker => $broker, gucs => \%gucs);

for my $node ($n1, $n2)
{
	ok(wait_nodes_up($node, 2),
		$node->name . ' sees both servers');
	sql($node, "CREATE ROLE $_ LOGIN IN ROLE kz_globals_user") for qw(alice bob mallory);
	sql($node, 'CREATE TABLE answers (who text, answer text)');
	sql($node, 'GRANT ALL ON answers TO PUBLIC');
}

# A caller in the background; its answer lands in the table answers.
sub start_caller
{
	my ($node, $who, $name) = @_;
	my $s = session($node, role => 'bob', on_error_stop => 0);
	$s->query_until(qr/calling/, <<"SQL");
\\echo calling
INSERT INTO answers SELECT '$who', kz_globals.call('$name', 'question', 20000);
SQL
	return $s;
}

sub answer_of
{
	my ($node, $who) = @_;
	return sql($node, "SELECT coalesce((SELECT answer FROM answers WHERE who = '$who'), 'none')");
}

my $owner = session($n2, role => 'alice', on_error_stop => 0);
is($owner->query_safe("SELECT kz_globals.register_name('svc')"), 't', 'alice owns svc on n2');
my $mallory = session($n2, role => 'mallory', on_error_stop => 0);
my $twin = session($n2, role => 'alice', on_error_stop => 0);

for my $case ([ 'remote', $n1, qr/^r:/ ], [ 'local', $n2, qr/^l:/ ])
{
	my ($kind, $from, $shape) = @$case;
	my $caller = start_caller($from, $kind, 'svc');
	my $tag = '';
	ok(KzHarness::wait_until("the $kind call to arrive", 20, sub {
				$tag = $owner->query_safe("SELECT reply_tag FROM kz_globals.receive(0)");
				$tag ne '';
			}), "alice receives the $kind call");
	like($tag, $shape, "a $kind caller's tag");

	my ($out, $err) = run_in($mallory, "SELECT kz_globals.reply('$tag', 'forged')");
	like($err, qr/permission denied to reply to this call/,
		"mallory cannot answer the $kind call with its exact tag");
	($out, $err) = run_in($twin, "SELECT kz_globals.reply('$tag', 'forged')");
	like($err, qr/permission denied to reply to this call/,
		"nor can another session of alice's own role");
	is(answer_of($from, $kind), 'none', 'the caller is still waiting');

	is($owner->query_safe("SELECT kz_globals.reply('$tag', 'genuine')"), 't',
		'the session that received the call answers it');
	ok($from->poll_query_until('postgres',
			"SELECT answer = 'genuine' FROM answers WHERE who = '$kind'"),
		"the $kind caller gets the genuine answer");
	$caller->quit;
}

# Guessing: the old attack walked the call ids of a local tag
# "l:<procno>:<pid>:<n>" with n = 1, 2, ...; every guess is refused and the
# caller still gets its own answer.
{
	my $caller = start_caller($n2, 'guessed', 'svc');
	my $tag = '';
	KzHarness::wait_until('the call to arrive', 20, sub {
			$tag = $owner->query_safe("SELECT reply_tag FROM kz_globals.receive(0)");
			$tag ne '';
		}) or die 'no call';
	my ($procno, $pid, $id) = $tag =~ /^l:(\d+):(\d+):(\d+)$/ or die "odd tag $tag";
	my ($out, $err) = run_in($mallory, <<"SQL");
DO \$\$
DECLARE refused int := 0;
BEGIN
	FOR i IN 1..2000 LOOP
		BEGIN
			PERFORM kz_globals.reply('l:$procno:$pid:' || i, 'forged');
		EXCEPTION WHEN insufficient_privilege THEN
			refused := refused + 1;
		END;
	END LOOP;
	RAISE NOTICE 'refused %', refused;
END
\$\$;
SQL
	like($err, qr/refused 2000/, 'mallory: 2000 guessed tags, all refused');
	is(answer_of($n2, 'guessed'), 'none', 'the caller is still waiting');
	cmp_ok(length($id), '>=', 10, 'the call id in the tag is a large random number, not a counter');
	is($owner->query_safe("SELECT kz_globals.reply('$tag', 'mine')"), 't', 'alice answers');
	ok($n2->poll_query_until('postgres', "SELECT answer = 'mine' FROM answers WHERE who = 'guessed'"),
		'the caller gets alice\'s answer');
	$caller->quit;
}

$_->quit for ($owner, $mallory, $twin);
done_testing();
