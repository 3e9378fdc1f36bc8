/*-------------------------------------------------------------------------
 *
 * test_bus_auth.c
 *	  Unit tests of the signatures between kz_globals nodes
 *	  (src/wire/bus_auth.c): the key file, the canonical bytes (checked
 *	  against an HMAC computed independently with Python's hmac module),
 *	  that a change to any signed part fails the check, the header's form,
 *	  the clock bound, the replay window, and a mutation loop over headers.
 *
 * IDENTIFICATION
 *	  test/unit/test_bus_auth.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "bus_auth.h"
#include "unit.h"

#define SECRET1		"0123456789abcdef-secret"
#define SECRET2		"another secret of twenty-five"
#define TS			INT64CONST(1700000000000000)
#define AGE			INT64CONST(60000000)

/*
 * hmac.new(b"0123456789abcdef-secret", canonical, hashlib.sha256) in
 * Python, for the fields of sample_fields() signed with key "k1" at TS.
 */
#define GOLDEN_MAC	"625658cbf26d61386870fbeab2114db384ffb8014ff0eb81e30c8bfe37190b01"

static const char sample_body[] = "{\"Node\":\"pg1@h\"}";

static KzAuthFields
sample_fields(void)
{
	KzAuthFields f;

	f.exchange = "globals";
	f.routing_key = "globals.register.x";
	f.message_id = "0123456789abcdef";
	f.app_id = "00000000001234ab";
	f.user_id = "pg1";
	f.body = sample_body;
	f.body_len = strlen(sample_body);
	return f;
}

static bool
parse(const char *text, KzAuthKeys *keys, char *err)
{
	err[0] = '\0';
	return kz_auth_parse_keys(text, strlen(text), keys, err, 256);
}

static void
test_parse_keys(void)
{
	KzAuthKeys k;
	char		err[256];

	CHECK(parse("k1:" SECRET1 "\n", &k, err));
	CHECK(k.n == 1);
	CHECK_STR(k.key[0].id, "k1");
	CHECK(k.key[0].secret_len == (int) strlen(SECRET1));
	CHECK(memcmp(k.key[0].secret, SECRET1, strlen(SECRET1)) == 0);

	/* comments, blank lines, CRLF, trailing blanks; order kept */
	CHECK(parse("# keys\n\r\nnew.2026-12_a:" SECRET2 " \t\r\n  \nk1:" SECRET1, &k, err));
	CHECK(k.n == 2);
	CHECK_STR(k.key[0].id, "new.2026-12_a");
	CHECK(k.key[0].secret_len == (int) strlen(SECRET2));
	CHECK_STR(k.key[1].id, "k1");

	/* a secret may hold ':' and inner blanks */
	CHECK(parse("k1:a:b c:d e:f g:h i:j", &k, err));
	CHECK(k.key[0].secret_len == 19);

	/* refusals say which line and never show the secret */
	CHECK(!parse("no colon in this line at all\n", &k, err));
	CHECK(strstr(err, "line 1") != NULL);
	CHECK(!parse("\n\nbad id!:" SECRET1 "\n", &k, err));
	CHECK(strstr(err, "line 3") != NULL);
	CHECK(strstr(err, "secret") == NULL || strstr(err, SECRET1) == NULL);
	CHECK(!parse(":" SECRET1, &k, err));
	CHECK(!parse("k123456789012345678901234567890123:" SECRET1, &k, err));
	CHECK(!parse("k1:fifteen-bytes!!", &k, err));	/* 15 bytes... */
	CHECK(strstr(err, "fifteen") == NULL);
	CHECK(parse("k1:sixteen-bytes!!!", &k, err));	/* ...16 are enough */
	CHECK(!parse("k1:" SECRET1 "\nk1:" SECRET2, &k, err));
	CHECK(strstr(err, "line 2") != NULL);
	CHECK(!parse("a:" SECRET1 "\nb:" SECRET1 "\nc:" SECRET1, &k, err));
	CHECK(strstr(err, "line 3") != NULL);
	CHECK(k.n == 0);			/* zeroed on failure */
	CHECK(!parse("", &k, err));
	CHECK(!parse("# only a comment\n\n", &k, err));
	{
		char		longsecret[KZ_AUTH_SECRET_MAX + 8];

		memcpy(longsecret, "k:", 2);
		memset(longsecret + 2, 'x', KZ_AUTH_SECRET_MAX + 1);
		longsecret[KZ_AUTH_SECRET_MAX + 3] = '\0';
		CHECK(!parse(longsecret, &k, err));
		longsecret[KZ_AUTH_SECRET_MAX + 2] = '\0';
		CHECK(parse(longsecret, &k, err));
	}
	{
		static const char withnul[] = "k1:0123456789\0abcdefgh";

		CHECK(!kz_auth_parse_keys(withnul, sizeof(withnul) - 1, &k, err, sizeof(err)));
	}
}

static void
test_canonical_and_golden(void)
{
	StringInfoData buf;
	KzAuthKeys	k;
	KzAuthFields f = sample_fields();
	char		err[256];
	char		header[KZ_AUTH_HEADER_MAX];

	initStringInfo(&buf);
	kz_auth_canonical(&buf, "k1", TS, &f);
	CHECK(buf.len == 148);
	CHECK(memcmp(buf.data, "kz_globals bus auth 1\n\0\0\0\002k1\0\0\0\0201700000000000000", 44) == 0);

	CHECK(parse("k1:" SECRET1, &k, err));
	CHECK(kz_auth_sign(&k, TS, &f, header));
	CHECK_STR(header, "1:k1:1700000000000000:" GOLDEN_MAC);

	/* NULL and "" are the same field; nothing else is */
	{
		KzAuthFields g = f;
		char		h2[KZ_AUTH_HEADER_MAX];

		g.message_id = NULL;
		f.message_id = "";
		CHECK(kz_auth_sign(&k, TS, &f, header) && kz_auth_sign(&k, TS, &g, h2));
		CHECK_STR(h2, header);
	}
	/* no key: no signature */
	memset(&k, 0, sizeof(k));
	CHECK(!kz_auth_sign(&k, TS, &f, header));
	pfree(buf.data);
}

/* Signs the sample with keys, then verifies it, changed by change(). */
static KzAuthResult
verify_changed(const KzAuthKeys *signer, const KzAuthKeys *verifier,
			   void (*change) (KzAuthFields *), int64 now)
{
	KzAuthFields f = sample_fields();
	char		header[KZ_AUTH_HEADER_MAX];
	int64		ts = -1;
	KzAuthResult r;

	if (!kz_auth_sign(signer, TS, &f, header))
		return KZ_AUTH_MALFORMED;
	if (change)
		change(&f);
	r = kz_auth_verify(verifier, header, &f, now, AGE, &ts);
	if (r == KZ_AUTH_OK && ts != TS)
		return KZ_AUTH_MALFORMED;
	return r;
}

static void ch_exchange(KzAuthFields *f) { f->exchange = "targeted"; }
static void ch_key(KzAuthFields *f) { f->routing_key = "globals.register.y"; }
static void ch_msgid(KzAuthFields *f) { f->message_id = "0123456789abcdee"; }
static void ch_msgid_gone(KzAuthFields *f) { f->message_id = NULL; }
static void ch_app(KzAuthFields *f) { f->app_id = "00000000001234ac"; }
static void ch_user(KzAuthFields *f) { f->user_id = "evil"; }
static void ch_user_gone(KzAuthFields *f) { f->user_id = NULL; }
static void ch_body(KzAuthFields *f) { f->body = "{\"Node\":\"pg2@h\"}"; }
static void ch_body_short(KzAuthFields *f) { f->body_len--; }

/* Moving bytes between adjacent fields must not keep the signature. */
static void
ch_shift(KzAuthFields *f)
{
	f->exchange = "globalsg";
	f->routing_key = "lobals.register.x";
}

static void
test_verify(void)
{
	KzAuthKeys	k1;
	KzAuthKeys	k2;
	KzAuthKeys	both;
	KzAuthKeys	k1_other_secret;
	char		err[256];

	CHECK(parse("k1:" SECRET1, &k1, err));
	CHECK(parse("k2:" SECRET2, &k2, err));
	CHECK(parse("k2:" SECRET2 "\nk1:" SECRET1, &both, err));
	CHECK(parse("k1:" SECRET2, &k1_other_secret, err));

	CHECK(verify_changed(&k1, &k1, NULL, TS) == KZ_AUTH_OK);
	CHECK(verify_changed(&k1, &k1, ch_exchange, TS) == KZ_AUTH_BAD_MAC);
	CHECK(verify_changed(&k1, &k1, ch_key, TS) == KZ_AUTH_BAD_MAC);
	CHECK(verify_changed(&k1, &k1, ch_msgid, TS) == KZ_AUTH_BAD_MAC);
	CHECK(verify_changed(&k1, &k1, ch_msgid_gone, TS) == KZ_AUTH_BAD_MAC);
	CHECK(verify_changed(&k1, &k1, ch_app, TS) == KZ_AUTH_BAD_MAC);
	CHECK(verify_changed(&k1, &k1, ch_user, TS) == KZ_AUTH_BAD_MAC);
	CHECK(verify_changed(&k1, &k1, ch_user_gone, TS) == KZ_AUTH_BAD_MAC);
	CHECK(verify_changed(&k1, &k1, ch_body, TS) == KZ_AUTH_BAD_MAC);
	CHECK(verify_changed(&k1, &k1, ch_body_short, TS) == KZ_AUTH_BAD_MAC);
	CHECK(verify_changed(&k1, &k1, ch_shift, TS) == KZ_AUTH_BAD_MAC);

	/* rotation: the second key is accepted, an unknown id is not */
	CHECK(verify_changed(&k1, &both, NULL, TS) == KZ_AUTH_OK);
	CHECK(verify_changed(&both, &k1, NULL, TS) == KZ_AUTH_UNKNOWN_KEY);
	CHECK(verify_changed(&both, &k2, NULL, TS) == KZ_AUTH_OK);
	CHECK(verify_changed(&k1, &k2, NULL, TS) == KZ_AUTH_UNKNOWN_KEY);
	/* the same id with another secret */
	CHECK(verify_changed(&k1, &k1_other_secret, NULL, TS) == KZ_AUTH_BAD_MAC);

	/* the clock bound, both ways, inclusive */
	CHECK(verify_changed(&k1, &k1, NULL, TS + AGE) == KZ_AUTH_OK);
	CHECK(verify_changed(&k1, &k1, NULL, TS + AGE + 1) == KZ_AUTH_STALE);
	CHECK(verify_changed(&k1, &k1, NULL, TS - AGE) == KZ_AUTH_OK);
	CHECK(verify_changed(&k1, &k1, NULL, TS - AGE - 1) == KZ_AUTH_STALE);
}

static KzAuthResult
verify_header(const char *header)
{
	KzAuthKeys	k;
	KzAuthFields f = sample_fields();
	char		err[256];
	int64		ts;

	(void) parse("k1:" SECRET1, &k, err);
	return kz_auth_verify(&k, header, &f, TS, AGE, &ts);
}

static void
test_header_form(void)
{
	CHECK(verify_header("1:k1:1700000000000000:" GOLDEN_MAC) == KZ_AUTH_OK);
	CHECK(verify_header(NULL) == KZ_AUTH_UNSIGNED);
	CHECK(verify_header("") == KZ_AUTH_MALFORMED);
	CHECK(verify_header("2:k1:1700000000000000:" GOLDEN_MAC) == KZ_AUTH_MALFORMED);
	CHECK(verify_header("1::1700000000000000:" GOLDEN_MAC) == KZ_AUTH_MALFORMED);
	CHECK(verify_header("1:k1::" GOLDEN_MAC) == KZ_AUTH_MALFORMED);
	CHECK(verify_header("1:k1:+1700000000000000:" GOLDEN_MAC) == KZ_AUTH_MALFORMED);
	CHECK(verify_header("1:k1: 1700000000000000:" GOLDEN_MAC) == KZ_AUTH_MALFORMED);
	CHECK(verify_header("1:k1:9999999999999999999:" GOLDEN_MAC) == KZ_AUTH_MALFORMED);
	CHECK(verify_header("1:k1:01700000000000000:" GOLDEN_MAC) == KZ_AUTH_MALFORMED);
	CHECK(verify_header("1:k1:1700000000000000:" GOLDEN_MAC "0") == KZ_AUTH_MALFORMED);
	CHECK(verify_header("1:k1:1700000000000000:625658CBF26D61386870FBEAB2114DB384FFB8014FF0EB81E30C8BFE37190B01") == KZ_AUTH_MALFORMED);
	CHECK(verify_header("1:k1:1700000000000000:625658cb") == KZ_AUTH_MALFORMED);
	CHECK(verify_header("1:k!:1700000000000000:" GOLDEN_MAC) == KZ_AUTH_MALFORMED);
	CHECK(verify_header("1:k9:1700000000000000:" GOLDEN_MAC) == KZ_AUTH_UNKNOWN_KEY);
	/* a valid MAC for another time: the time is signed */
	CHECK(verify_header("1:k1:1700000000000001:" GOLDEN_MAC) == KZ_AUTH_BAD_MAC);
	CHECK(verify_header("1:k1:1700000000000000:725658cbf26d61386870fbeab2114db384ffb8014ff0eb81e30c8bfe37190b01") == KZ_AUTH_BAD_MAC);
	CHECK(strcmp(kz_auth_result_name(KZ_AUTH_REPLAYED), "unknown") != 0);
}

static void
test_window(void)
{
	KzAuthWindow w;
	int			i;

	memset(&w, 0, sizeof(w));
	CHECK(kz_auth_window_accept(&w, 100));
	CHECK(!kz_auth_window_accept(&w, 100));
	CHECK(kz_auth_window_accept(&w, 102));
	CHECK(kz_auth_window_accept(&w, 101));	/* a little out of order */
	CHECK(!kz_auth_window_accept(&w, 101));
	CHECK(!kz_auth_window_accept(&w, 102));
	for (i = 0; i < KZ_AUTH_WINDOW; i++)
		CHECK(kz_auth_window_accept(&w, 1000 + i));
	CHECK(w.n == KZ_AUTH_WINDOW);
	/* full: older than the oldest kept is refused, as is a repeat */
	CHECK(!kz_auth_window_accept(&w, 100));
	CHECK(!kz_auth_window_accept(&w, 999));
	CHECK(!kz_auth_window_accept(&w, 1000 + KZ_AUTH_WINDOW - 1));
	CHECK(kz_auth_window_accept(&w, 5000));
	/* 1000 was the oldest and is gone; 1001 is kept */
	CHECK(!kz_auth_window_accept(&w, 1000));
	CHECK(!kz_auth_window_accept(&w, 1001));
	CHECK(kz_auth_window_accept(&w, 4999));
}

/*
 * Mutated headers (a byte changed, cut short, bytes inserted) and mutated
 * key files: never a crash or an overread (the sanitizer run), and a
 * header that differs from the genuine one never verifies.
 */
static void
test_fuzz(void)
{
	const char *genuine = "1:k1:1700000000000000:" GOLDEN_MAC;
	const char *keyfile = "# k\nk1:" SECRET1 "\r\nk2:" SECRET2 "\n";
	int			n = unit_fuzz_iterations();
	int			accepted_changed = 0;
	int			i;

	for (i = 0; i < n; i++)
	{
		char		buf[KZ_AUTH_HEADER_MAX + 16];
		size_t		len = strlen(genuine);
		KzAuthKeys	k;
		char		err[256];
		char	   *file;
		size_t		flen = strlen(keyfile);

		memcpy(buf, genuine, len + 1);
		switch (unit_rng_next() % 3)
		{
			case 0:
				buf[unit_rng_next() % len] = (char) (unit_rng_next() % 255 + 1);
				break;
			case 1:
				buf[unit_rng_next() % len] = '\0';
				break;
			case 2:
				{
					size_t		at = unit_rng_next() % len;

					memmove(buf + at + 1, buf + at, len - at + 1);
					buf[at] = (char) (unit_rng_next() % 255 + 1);
				}
				break;
		}
		if (verify_header(buf) == KZ_AUTH_OK && strcmp(buf, genuine) != 0)
			accepted_changed++;

		file = malloc(flen);
		memcpy(file, keyfile, flen);
		file[unit_rng_next() % flen] = (char) (unit_rng_next() % 256);
		(void) kz_auth_parse_keys(file, unit_rng_next() % (flen + 1), &k, err, sizeof(err));
		free(file);
	}
	CHECK(accepted_changed == 0);
}

int
main(int argc, char **argv)
{
	test_parse_keys();
	test_canonical_and_golden();
	test_verify();
	test_header_form();
	test_window();
	test_fuzz();
	return unit_summary(argv[0]);
}
