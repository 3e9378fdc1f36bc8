/*-------------------------------------------------------------------------
 *
 * test_reply_tag.c
 *	  Unit tests of reply tags (src/wire/reply_tag.c): what the writers
 *	  produce reads back the same, and nothing else reads as a tag.
 *
 * IDENTIFICATION
 *	  test/unit/test_reply_tag.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "reply_tag.h"
#include "unit.h"

static void
local_round_trip(int procno, int pid, uint64 call_id)
{
	char		tag[KZ_TAG_LOCAL_SIZE];
	int			p = -1,
				q = -1;
	uint64		c = 0;

	kz_tag_local(tag, procno, pid, call_id);
	CHECK(kz_tag_parse_local(tag, &p, &q, &c));
	CHECK(p == procno && q == pid && c == call_id);
	CHECK(!kz_tag_parse_remote(tag, (int64 *) &c, NULL, NULL));
}

static void
remote_round_trip(int64 deadline, const char *msg_id, const char *queue)
{
	char	   *tag = kz_tag_remote(deadline, msg_id, queue);
	int64		d = 0;
	char	   *m = NULL;
	char	   *q = NULL;
	int			a,
				b;
	uint64		c;

	CHECK(kz_tag_parse_remote(tag, &d, &m, &q));
	CHECK(d == deadline);
	CHECK_STR(m, msg_id);
	CHECK_STR(q, queue);
	CHECK(!kz_tag_parse_local(tag, &a, &b, &c));
}

static void
not_local(const char *tag)
{
	int			a,
				b;
	uint64		c;

	CHECK(!kz_tag_parse_local(tag, &a, &b, &c));
	if (kz_tag_parse_local(tag, &a, &b, &c))
		fprintf(stderr, "read as a local tag: \"%s\"\n", tag);
}

static void
not_remote(const char *tag)
{
	int64		d;

	CHECK(!kz_tag_parse_remote(tag, &d, NULL, NULL));
	if (kz_tag_parse_remote(tag, &d, NULL, NULL))
		fprintf(stderr, "read as a remote tag: \"%s\"\n", tag);
}

int
main(int argc, char **argv)
{
	local_round_trip(0, 1, 0);
	local_round_trip(17, 4242, UINT64CONST(0xffffffffff));
	local_round_trip(PG_INT32_MAX, PG_INT32_MAX, PG_UINT64_MAX);
	remote_round_trip(0, "a", "q");
	remote_round_trip(PG_INT64_MAX, "0123456789abcdef", "n1@127.0.0.1-kz_globals-0a1b");
	remote_round_trip(812345678901234, "id", "queue:with:colons");

	not_local("");
	not_local("l:");
	not_local("l:1:2");
	not_local("l:1:2:");
	not_local("l:1:2:3x");
	not_local("l:1:2:3:");
	not_local("l:-1:2:3");
	not_local("l:+1:2:3");
	not_local("l: 1:2:3");
	not_local("l:1:0:3");		/* no process has pid 0 */
	not_local("l:2147483648:2:3");	/* procno beyond int */
	not_local("l:1:2147483648:3");
	not_local("l:1:2:18446744073709551616");	/* call id beyond uint64 */
	not_local("L:1:2:3");
	not_local("r:1:2:3");

	not_remote("");
	not_remote("r:");
	not_remote("r:5");
	not_remote("r:5:");
	not_remote("r:5:id");
	not_remote("r:5::queue");
	not_remote("r:5:id:");
	not_remote("r:-5:id:queue");
	not_remote("r:x:id:queue");
	not_remote("r:9223372036854775808:id:queue");	/* beyond int64 */
	not_remote("l:1:2:3");

	return unit_summary(argv[0]);
}
