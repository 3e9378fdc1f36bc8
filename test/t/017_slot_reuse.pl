# A backend slot reused (issue 11): a reply meant for a caller that has
# exited never reaches the new backend that took its slot (its PGPROC, so
# its mailbox and reply slot), and neither does a message sent to the old
# owner of a name.  The interleaving is forced: the caller is terminated
# while its call waits, new sessions are opened until one takes the same
# slot (each makes a call, so its tag shows its slot), and only then is the
# old call answered.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use KzHarness qw(sql);

# Few backend slots, so that a new session comes back to a freed one soon
# whatever order PostgreSQL hands them out in (the slot freed last first up
# to 15, the one freed first first from 16 on).
my $max_connections = 12;
my $n1 = KzHarness::node('n1', gucs => { max_connections => $max_connections });

sql($n1, 'CREATE TABLE answers (who text, answer text)');

my $owner = $n1->background_psql('postgres', on_error_stop => 0);
is($owner->query_safe("SELECT kz_globals.register_name('svc')"), 't', 'a session owns svc');

# A caller in the background; its answer lands in the table answers.
sub start_caller
{
	my ($who) = @_;
	my $s = $n1->background_psql('postgres', on_error_stop => 0);
	my $pid = $s->query_safe('SELECT pg_backend_pid()');
	$s->query_until(qr/calling/, <<"SQL");
\\echo calling
INSERT INTO answers SELECT '$who', kz_globals.call('svc', 'question from $who', 30000);
SQL
	return ($s, $pid);
}

# The owner takes the next call; returns its tag's slot and the tag.
sub next_call
{
	my $tag = '';
	KzHarness::wait_until('a call to arrive', 20, sub {
			$tag = $owner->query_safe('SELECT reply_tag FROM kz_globals.receive(0)');
			$tag ne '';
		}) or die 'no call arrived';
	my ($slot) = $tag =~ /^l:(\d+):\d+:\d+$/ or die "odd tag $tag";
	return ($slot, $tag);
}

sub answer_of
{
	my ($who) = @_;
	return sql($n1, "SELECT coalesce((SELECT answer FROM answers WHERE who = '$who'), 'none')");
}

my ($old, $old_pid) = start_caller('old');
my ($old_slot, $old_tag) = next_call();
note("the old caller (pid $old_pid) waits in slot $old_slot");
ok(sql($n1, "SELECT pg_terminate_backend($old_pid)"), 'the old caller is terminated while it waits');
ok(KzHarness::wait_until('the old caller to exit', 20, sub {
			sql($n1, "SELECT count(*) FROM pg_stat_activity WHERE pid = $old_pid") eq '0' }),
	'and has exited');
eval { $old->quit };    # its connection was terminated

# New callers until one takes the old caller's slot: the callers that did
# not land in it stay connected (answered), so that each next one takes
# another free slot, until the old one is the next free.
my ($new, $new_tag, $new_slot, $who);
my @others;
for my $i (1 .. $max_connections)
{
	$who = "new$i";
	my ($s) = start_caller($who);
	my ($slot, $tag) = next_call();
	note("new caller $i is in slot $slot");
	if ($slot == $old_slot)
	{
		($new, $new_tag, $new_slot) = ($s, $tag, $slot);
		last;
	}
	$owner->query_safe("SELECT kz_globals.reply('$tag', 'not this one')");
	push @others, $s;
}
ok(defined $new, "a new caller took slot $old_slot (after " . scalar(@others) . ' others)');
isnt($new_tag, $old_tag, 'with a tag of its own') if defined $new;

my ($out, $err);
SKIP:
{
	skip 'no new session took the slot (reported above)', 4 unless defined $new;

	# The old call answered now: the slot's pid and call id are the new
	# caller's, so nothing may reach it.
	$owner->{stderr} = '';
	($out) = $owner->query("SELECT kz_globals.reply('$old_tag', 'for the old caller')");
	$err = $owner->{stderr};
	note("reply to the old tag: '$out' '$err'");
	is($out, 'f', 'the reply to the exited caller is not delivered (reply() says false)');
	sleep 1;
	is(answer_of($who), 'none', 'the new caller in the same slot did not get it');

	is($owner->query_safe("SELECT kz_globals.reply('$new_tag', 'for the new caller')"), 't',
		'the new call is answered');
	ok($n1->poll_query_until('postgres',
			"SELECT answer = 'for the new caller' FROM answers WHERE who = '$who'"),
		'and the new caller gets its own answer, nothing else');
	$new->quit;
}
$_->quit for @others;

# A message to a name whose owner has exited, in the slot a new session
# took: the name is gone with its owner, so the send fails, and the new
# session's mailbox stays empty.
my $holder = $n1->background_psql('postgres', on_error_stop => 0);
my $holder_pid = $holder->query_safe('SELECT pg_backend_pid()');
is($holder->query_safe("SELECT kz_globals.register_name('held')"), 't', 'a session holds a name');
sql($n1, "SELECT pg_terminate_backend($holder_pid)");
KzHarness::wait_until('the holder to exit', 20, sub {
		sql($n1, "SELECT count(*) FROM pg_stat_activity WHERE pid = $holder_pid") eq '0' });
eval { $holder->quit };
my $next = $n1->background_psql('postgres', on_error_stop => 0);
$n1->psql('postgres', "SELECT kz_globals.send('held', 'for the old holder')",
	stdout => \$out, stderr => \$err);
like($err, qr/no process is registered under the name/, 'a send to the exited holder\'s name fails');
is($next->query_safe('SELECT count(*) FROM kz_globals.receive(0)'), '0',
	'and the session that came next has nothing in its mailbox');
$next->quit;
$owner->quit;
done_testing();
