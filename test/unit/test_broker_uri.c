/*-------------------------------------------------------------------------
 *
 * test_broker_uri.c
 *	  Unit tests of broker URI lists and their passwords (src/wire/broker_uri.c):
 *	  every password is masked whatever characters it holds, elements split
 *	  only before the next URI, and unmasking gives back the exact URI.
 *
 * IDENTIFICATION
 *	  test/unit/test_broker_uri.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "broker_uri.h"
#include "unit.h"

/* The list's elements, masked, joined by '|'; the passwords likewise. */
static void
split_all(const char *list, StringInfo masked, StringInfo secrets)
{
	const char *pos = list;
	const char *start;
	const char *end;
	bool		first = true;

	while (kz_uri_next(&pos, &start, &end))
	{
		if (!first)
		{
			appendStringInfoChar(masked, '|');
			appendStringInfoChar(secrets, '|');
		}
		first = false;
		(void) kz_uri_split(start, end, masked, secrets);
	}
}

static void
check_split(const char *list, const char *want_masked, const char *want_secrets)
{
	StringInfoData m;
	StringInfoData s;

	initStringInfo(&m);
	initStringInfo(&s);
	split_all(list, &m, &s);
	CHECK_STR(m.data, want_masked);
	CHECK_STR(s.data, want_secrets);
	pfree(m.data);
	pfree(s.data);
}

/* Masking then unmasking each element with its password gives it back. */
static void
check_roundtrip(const char *list)
{
	const char *pos = list;
	const char *start;
	const char *end;

	while (kz_uri_next(&pos, &start, &end))
	{
		StringInfoData m;
		StringInfoData s;
		StringInfoData back;

		initStringInfo(&m);
		initStringInfo(&s);
		initStringInfo(&back);
		if (kz_uri_split(start, end, &m, &s))
			CHECK(strstr(m.data, ":" KZ_URI_MASK "@") != NULL);
		kz_uri_unmask(m.data, m.data + m.len, s.data, &back);
		CHECK(back.len == end - start && memcmp(back.data, start, back.len) == 0);
		pfree(m.data);
		pfree(s.data);
		pfree(back.data);
	}
}

int
main(int argc, char **argv)
{
	static const char *const lists[] = {
		"amqp://guest:guest@127.0.0.1:5672/%2f",
		"amqp://u:pa/ss@h/vh",
		"amqp://u:pa,ss@h,amqps://v:w@h2:5671",
		"amqp://u:p@ss@h",
		"amqp://u:p%2Fq%40r@h",
		"amqp://u:@h",
		"amqp://h",
		"amqp://u@h",
		" amqp://a:b@h , amqp://c:d@h2 ,",
		"AMQPS://x:y@h",
		"amqp://u:********@h",
		"amqp://u:p,amqp://v:q@h",
		"amqp://a:5672, https://u:q@b",
		"",
	};
	StringInfoData out;
	const char *pos;
	const char *start;
	const char *end;
	size_t		i;

	check_split("amqp://guest:guest@127.0.0.1:5672/%2f",
				"amqp://guest:********@127.0.0.1:5672/%2f", "guest");
	/* '/' in the password: the last '@' ends it, not the first '/' */
	check_split("amqp://u:pa/ss@h/vh", "amqp://u:********@h/vh", "pa/ss");
	/* ',' in the password: no new element until the next amqp:// */
	check_split("amqp://u:pa,ss@h,amqps://v:w@h2:5671",
				"amqp://u:********@h|amqps://v:********@h2:5671", "pa,ss|w");
	check_split("amqp://u:p@ss@h", "amqp://u:********@h", "p@ss");
	check_split("amqp://u:p%2Fq%40r@h", "amqp://u:********@h", "p%2Fq%40r");
	check_split("amqp://u:@h", "amqp://u:********@h", "");
	check_split("amqp://h", "amqp://h", "");
	check_split("amqp://u@h", "amqp://u@h", "");
	check_split(" amqp://a:b@h , amqp://c:d@h2 ,", "amqp://a:********@h|amqp://c:********@h2", "b|d");
	check_split("AMQPS://x:y@h", "AMQPS://x:********@h", "y");
	/* any scheme starts an element (and is refused by the check hook) */
	check_split("amqp://a:5672, https://u:q@b", "amqp://a:5672|https://u:********@b", "|q");
	check_split("amqp://u:p,w@h,x", "amqp://u:********@h,x", "p,w");
	check_split("bogus://u:secret@h", "bogus://u:********@h", "secret");
	check_split("", "", "");
	check_split(",, ,", "", "");

	for (i = 0; i < lengthof(lists); i++)
		check_roundtrip(lists[i]);

	/* schemes */
	pos = "amqp://h,amqps://h,  http://u:p@h";
	CHECK(kz_uri_next(&pos, &start, &end) && kz_uri_scheme_ok(start, end));
	CHECK(kz_uri_next(&pos, &start, &end) && kz_uri_scheme_ok(start, end));
	CHECK(kz_uri_next(&pos, &start, &end) && !kz_uri_scheme_ok(start, end));
	CHECK(!kz_uri_next(&pos, &start, &end));
	pos = "http://u:p@h";
	CHECK(kz_uri_next(&pos, &start, &end) && !kz_uri_scheme_ok(start, end));
	pos = "amqp:/";
	CHECK(kz_uri_next(&pos, &start, &end) && !kz_uri_scheme_ok(start, end));

	/* the whole list, masked */
	initStringInfo(&out);
	kz_uri_mask_list("amqp://u:s3cr/t,@h1, amqp://v:x@h2", &out);
	CHECK_STR(out.data, "amqp://u:********@h1,amqp://v:********@h2");
	resetStringInfo(&out);
	kz_uri_mask_list(NULL, &out);
	CHECK_STR(out.data, "");

	/* unmask leaves a URI whose password is not the mask alone */
	resetStringInfo(&out);
	pos = "amqp://u:other@h";
	kz_uri_unmask(pos, pos + strlen(pos), "secret", &out);
	CHECK_STR(out.data, "amqp://u:other@h");
	resetStringInfo(&out);
	pos = "amqp://h";
	kz_uri_unmask(pos, pos + strlen(pos), "secret", &out);
	CHECK_STR(out.data, "amqp://h");

	return unit_summary(argv[0]);
}
