/*-------------------------------------------------------------------------
 *
 * test_protocol.c
 *	  Unit tests of the bus protocol codec's decoder, JSON clean-up, routing
 *	  keys and message ids (src/wire/decode.c, json.c, routing.c) and of the
 *	  claim precedence rule (src/rules/conflict.c).
 *
 * The Kazoo messages below are written as Kazoo 4.3 puts them on the bus:
 * kz_api's envelope, term fields as base64 of term_to_binary/1 (the
 * base64 strings were produced by erl, OTP 25), kz_nodes heartbeats with
 * their nested extra fields.  Each is decoded field by field; then every
 * required field is taken away, every typed field given wrong types, term
 * fields broken, and bodies made too large, too deep or not JSON.  The
 * bodies the worker sends, by its own encoders, go back through the decoder
 * in test_encode.c; here the encoder's pieces (kz_proto_begin, ...) build
 * the bodies no encoder writes.
 *
 * Cross-checks at run time, each skipped with a note when its tool is
 * missing: erl computes routing keys with a copy of Kazoo's functions
 * (kz_amqp_util:encode/1, kz_term:to_hex_binary/1) for names of every kind,
 * and Python's json module parses what the encoder writes.
 *
 * Two deterministic fuzz loops check that decoding always ends with a
 * defined status and a consistent message: one mutates valid bodies byte
 * by byte, the other builds random (valid) JSON objects from our keys and
 * values of every type.  Run the program under valgrind or AddressSanitizer
 * to make that check mean something.
 *
 * IDENTIFICATION
 *	  test/unit/test_protocol.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/base64.h"
#include "compat.h"
#include "conflict.h"
#include "decode.h"
#include "encode.h"
#include "etf.h"
#include "json.h"
#include "protocol.h"
#include "routing.h"
#include "unit.h"
#include "unit_b64.h"

/* Limits used by most tests. */
#define MAX_BODY	65536
#define MAX_NAME	255

/* base64 of term_to_binary(T) for a few terms, from erl. */
#define B64_FOO			"g20AAAADZm9v"	/* <<"foo">> */
#define B64_BAR			"g20AAAADYmFy"	/* <<"bar">> */
#define B64_JOB1		"g20AAAAEam9iMQ=="	/* <<"job1">> */
#define B64_FAX_JOB1	"g2gCZAADZmF4bQAAAARqb2Ix"	/* {fax,<<"job1">>} */
#define B64_GEN_CAST	"g2gCZAAJJGdlbl9jYXN0ZAAFaGVsbG8="	/* {'$gen_cast',hello} */
#define B64_OK			"g2QAAm9r"	/* ok */
#define B64_NORMAL		"g2QABm5vcm1hbA=="	/* normal */
#define B64_ERR_TIMEOUT "g2gCZAAFZXJyb3JkAAd0aW1lb3V0"	/* {error,timeout} */
#define B64_ATOM_NAME	"g2QADWF0b21fZm9yX25hbWU="	/* atom_for_name */

/* term_to_binary(<<"foo">>) */
static const uint8 term_foo[] = {131, 109, 0, 0, 0, 3, 'f', 'o', 'o'};

/* Kazoo's envelope, as kz_api builds it for kz_globals. */
#define KAZOO_ENVELOPE(event) \
	"\"App-Name\":\"kazoo_globals\"", "\"App-Version\":\"4.0.0\"", \
	"\"Event-Category\":\"globals\"", "\"Event-Name\":\"" event "\"", \
	"\"Msg-ID\":\"f1c9a0b3e8d2474c9d6b1c2e3f4a5b6c\"", \
	"\"Node\":\"ecallmgr@host.example.com\"", \
	"\"Server-ID\":\"ecallmgr@host.example.com-<0.1234.0>-abcdef12\""

/*
 * Realistic messages, one per event kind, as lists of members.  They are
 * joined into bodies by build_body, which can leave a member out or add
 * one (a later duplicate key overrides an earlier one).
 */
static const char *const m_register_claim[] = {
	KAZOO_ENVELOPE("register"), "\"Name\":\"" B64_FOO "\"",
	"\"State\":\"pending\"", NULL
};
static const char *const m_register_advert[] = {
	KAZOO_ENVELOPE("register"), "\"Name\":\"" B64_FOO "\"",
	"\"State\":\"registered\"", "\"Timestamp\":63881234567890123", NULL
};
static const char *const m_register_resp[] = {
	KAZOO_ENVELOPE("register_resp"), "\"Name\":\"" B64_FOO "\"",
	"\"State\":\"local\"", "\"Timestamp\":63881234567000000", NULL
};
static const char *const m_query[] = {
	KAZOO_ENVELOPE("query"), "\"Name\":\"" B64_FAX_JOB1 "\"", NULL
};
static const char *const m_query_resp[] = {
	KAZOO_ENVELOPE("query_resp"), "\"Name\":\"" B64_FAX_JOB1 "\"",
	"\"State\":\"none\"", NULL
};
static const char *const m_unregister[] = {
	KAZOO_ENVELOPE("unregister"), "\"Name\":\"" B64_JOB1 "\"",
	"\"Reason\":\"" B64_NORMAL "\"", NULL
};
static const char *const m_send[] = {
	KAZOO_ENVELOPE("send"), "\"Name\":\"" B64_ATOM_NAME "\"",
	"\"Message\":\"" B64_GEN_CAST "\"", NULL
};
static const char *const m_call[] = {
	KAZOO_ENVELOPE("call"), "\"Name\":\"" B64_FOO "\"",
	"\"Message\":\"" B64_FAX_JOB1 "\"", NULL
};
static const char *const m_reply[] = {
	KAZOO_ENVELOPE("reply"), "\"Reply\":\"" B64_ERR_TIMEOUT "\"", NULL
};
static const char *const m_sync[] = {
	"\"App-Name\":\"kazoo_globals\"", "\"App-Version\":\"4.0.0\"",
	"\"Event-Category\":\"globals\"", "\"Event-Name\":\"sync\"",
	"\"Msg-ID\":\"00000000000000010000000000000007\"", "\"Node\":\"pg2@db2\"",
	"\"Server-ID\":\"pg2@db2-kz_globals-1\"", "\"Sync-ID\":12", "\"Part\":0",
	"\"Last\":true",
	"\"Names\":[[\"" B64_FOO "\",63881234567890123,4242],"
	"[\"" B64_FAX_JOB1 "\",63881234567890124],"
	"[\"" B64_ATOM_NAME "\",-5,null]]", NULL
};
static const char *const m_advertise[] = {
	"\"App-Name\":\"kz_nodes\"", "\"App-Version\":\"4.0.0\"",
	"\"Event-Category\":\"nodes\"", "\"Event-Name\":\"advertise\"",
	"\"Msg-ID\":\"a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5\"",
	"\"Node\":\"ecallmgr@host.example.com\"",
	"\"Server-ID\":\"ecallmgr@host.example.com-<0.220.0>-0f1e2d3c\"",
	"\"Expires\":\"6500\"", "\"Globals\":{\"local\":3,\"remote\":5}",
	"\"Zone\":\"local\"",
	"\"Version\":\"4.3.142 - 19\"", "\"Used-Memory\":123456789",
	"\"Processes\":2345", "\"Ports\":42",
	"\"WhApps\":{\"ecallmgr\":{\"Startup\":63881230000,\"Roles\":[\"media\"]},"
	"\"kazoo_globals\":{\"Startup\":63881230001}}",
	"\"Node-Info\":{\"Core-UUID\":\"8a3d\",\"Ratio\":0.25,\"Nothing\":null}",
	"\"Media-Servers\":{\"freeswitch@fs1\":{\"Startup\":63881230002,"
	"\"Interfaces\":{\"sipinterface_1\":{\"info\":{\"url\":\"sip:1.2.3.4\","
	"\"profiles\":[[1,2],[3,{\"deep\":[true,false,null,1.5e-3]}]]}}}}}",
	"\"Channels\":17", "\"Registrations\":3", NULL
};

/* The fields each event requires beyond the envelope. */
typedef struct EventCase
{
	const char *const *members;
	KzEvent		event;
	const char *required[3];
} EventCase;

static const EventCase event_cases[] = {
	{m_register_claim, KZ_EV_REGISTER, {"Name"}},
	{m_register_advert, KZ_EV_REGISTER, {"Name"}},
	{m_register_resp, KZ_EV_REGISTER_RESP, {"Name"}},
	{m_query, KZ_EV_QUERY, {"Name"}},
	{m_query_resp, KZ_EV_QUERY_RESP, {"Name"}},
	{m_unregister, KZ_EV_UNREGISTER, {"Name"}},
	{m_send, KZ_EV_SEND, {"Name", "Message"}},
	{m_call, KZ_EV_CALL, {"Name", "Message"}},
	{m_reply, KZ_EV_REPLY, {"Reply"}},
	{m_sync, KZ_EV_SYNC, {"Names"}},
	{m_advertise, KZ_EV_ADVERTISE, {"Expires"}},
};


/* ---------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------
 */

/* True if a refused message was left empty, as decode.c promises. */
static bool
msg_is_empty(const KzBusMsg *msg)
{
	static const KzBusMsg zero;

	return memcmp(msg, &zero, sizeof(zero)) == 0;
}

/* The key of a member "\"Key\":value" (into a static buffer). */
static const char *
member_key(const char *member)
{
	static char key[64];
	const char *end = strchr(member + 1, '"');
	size_t		len = end - member - 1;

	if (len >= sizeof(key))
		len = sizeof(key) - 1;
	memcpy(key, member + 1, len);
	key[len] = '\0';
	return key;
}

/*
 * Joins members into a JSON object, leaving out the member whose key is
 * omit (if not NULL) and adding extra (if not NULL) at the end.
 */
static char *
build_body(const char *const *members, const char *omit, const char *extra)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (i = 0; members[i] != NULL; i++)
	{
		if (omit != NULL && strcmp(member_key(members[i]), omit) == 0)
			continue;
		if (buf.len > 1)
			appendStringInfoChar(&buf, ',');
		appendStringInfoString(&buf, members[i]);
	}
	if (extra != NULL)
	{
		if (buf.len > 1)
			appendStringInfoChar(&buf, ',');
		appendStringInfoString(&buf, extra);
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/* Decodes a NUL-terminated body with the usual limits. */
static KzProtoError
decode(const char *body, KzBusMsg *msg, const char **detail)
{
	return kz_proto_decode(body, strlen(body), MAX_BODY, MAX_NAME, msg, detail);
}

/*
 * Checks that body[0..len) is refused with want and leaves the message
 * empty; prints the body and detail when it is not.
 */
static void
check_refused_len(const char *body, size_t len, KzProtoError want,
				  size_t max_name, int line)
{
	KzBusMsg	msg;
	const char *detail = NULL;
	KzProtoError got;

	got = kz_proto_decode(body, len, MAX_BODY, max_name, &msg, &detail);
	if (got != want)
	{
		fprintf(stderr, "line %d: got %s (%s), want %s, body: %.300s\n",
				line, kz_proto_error_name(got), detail ? detail : "",
				kz_proto_error_name(want), body);
		kz_proto_free(&msg);
	}
	CHECK(got == want);
	if (got == want && want != KZ_PROTO_OK)
	{
		CHECK(msg_is_empty(&msg));
		CHECK(detail != NULL && detail[0] != '\0');
	}
	if (got == KZ_PROTO_OK)
		kz_proto_free(&msg);
}

#define CHECK_REFUSED(body, want) \
	check_refused_len((body), strlen(body), (want), MAX_NAME, __LINE__)
#define CHECK_ACCEPTED(body) \
	check_refused_len((body), strlen(body), KZ_PROTO_OK, MAX_NAME, __LINE__)

/* Builds a body from members plus extra and checks its status. */
static void
check_with(const char *const *members, const char *omit, const char *extra,
		   KzProtoError want, int line)
{
	char	   *body = build_body(members, omit, extra);

	check_refused_len(body, strlen(body), want, MAX_NAME, line);
	pfree(body);
}

#define CHECK_WITH(members, extra, want) \
	check_with((members), NULL, (extra), (want), __LINE__)

/* True if term[0..len) equals the base64-decoded text b64. */
static bool
term_is(const uint8 *term, size_t len, const char *b64)
{
	char		buf[256];
	int			n = pg_b64_decode(b64, strlen(b64), (KzB64Byte *) buf, sizeof(buf));

	return term != NULL && n >= 0 && (size_t) n == len &&
		memcmp(term, buf, len) == 0;
}

/* Appends a binary term buffer holding text. */
static void
binary_term(StringInfo buf, const char *text)
{
	resetStringInfo(buf);
	etf_encode_binary(buf, text, strlen(text));
}

/* Appends s as lower-case hex. */
static void
append_hex(StringInfo buf, const char *s, size_t len)
{
	size_t		i;

	for (i = 0; i < len; i++)
		appendStringInfo(buf, "%02x", (unsigned) (uint8) s[i]);
}

static size_t
rng_below(size_t n)
{
	return n == 0 ? 0 : (size_t) (unit_rng_next() % n);
}

/*
 * Writes text to a fresh temporary file, whose name goes into path (at
 * least 64 bytes); false on failure.  The caller unlinks it.
 */
static bool
write_temp(const char *text, size_t len, char *path)
{
	FILE	   *f;
	int			fd;

	strcpy(path, "/tmp/test_protocol_XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return false;
	f = fdopen(fd, "w");
	if (f == NULL)
		return false;
	fwrite(text, 1, len, f);
	fclose(f);
	return true;
}

/* Reads one line into buf without its newline; false at end of file. */
static bool
read_line(FILE *f, StringInfo buf)
{
	int			ch;

	resetStringInfo(buf);
	while ((ch = fgetc(f)) != EOF && ch != '\n')
		appendStringInfoChar(buf, (char) ch);
	return ch != EOF || buf->len > 0;
}


/* ---------------------------------------------------------------------
 * Decoding Kazoo's messages
 * ---------------------------------------------------------------------
 */

/* Decodes a member list that must be accepted; returns the status. */
static KzProtoError
decode_members(const char *const *members, KzBusMsg *msg)
{
	char	   *body = build_body(members, NULL, NULL);
	const char *detail = NULL;
	KzProtoError err = decode(body, msg, &detail);

	if (err != KZ_PROTO_OK)
		fprintf(stderr, "refused: %s (%s): %s\n", kz_proto_error_name(err),
				detail, body);
	pfree(body);
	return err;
}

/* The envelope every KAZOO_ENVELOPE message carries. */
static void
check_kazoo_envelope(const KzBusMsg *msg)
{
	CHECK_STR(msg->app_name, "kazoo_globals");
	CHECK_STR(msg->msg_id, "f1c9a0b3e8d2474c9d6b1c2e3f4a5b6c");
	CHECK_STR(msg->node, "ecallmgr@host.example.com");
	CHECK_STR(msg->server_id, "ecallmgr@host.example.com-<0.1234.0>-abcdef12");
	CHECK(msg->zone == NULL && msg->session == NULL);
}

/* Claims, advertisements and their replies. */
static void
test_kazoo_register(void)
{
	KzBusMsg	msg;

	CHECK(decode_members(m_register_claim, &msg) == KZ_PROTO_OK);
	CHECK(msg.event == KZ_EV_REGISTER);
	check_kazoo_envelope(&msg);
	CHECK(msg.name_len == sizeof(term_foo) &&
		  memcmp(msg.name, term_foo, sizeof(term_foo)) == 0);
	CHECK(msg.state == KZ_WS_PENDING);
	CHECK(!msg.has_timestamp && msg.timestamp == 0);
	CHECK(msg.message == NULL && msg.reply == NULL && msg.reason == NULL);
	CHECK(msg.pid == 0 && msg.sender_pid == 0 && msg.timeout_ms == 0);
	CHECK(msg.entries == NULL && msg.nentries == 0);
	kz_proto_free(&msg);

	CHECK(decode_members(m_register_advert, &msg) == KZ_PROTO_OK);
	CHECK(msg.event == KZ_EV_REGISTER);
	check_kazoo_envelope(&msg);
	CHECK(term_is(msg.name, msg.name_len, B64_FOO));
	CHECK(msg.state == KZ_WS_REGISTERED);
	CHECK(msg.has_timestamp && msg.timestamp == INT64CONST(63881234567890123));
	kz_proto_free(&msg);

	CHECK(decode_members(m_register_resp, &msg) == KZ_PROTO_OK);
	CHECK(msg.event == KZ_EV_REGISTER_RESP);
	check_kazoo_envelope(&msg);
	CHECK(msg.state == KZ_WS_LOCAL);
	CHECK(msg.has_timestamp && msg.timestamp == INT64CONST(63881234567000000));
	kz_proto_free(&msg);
}

/* Queries, unregister, send, call and reply. */
static void
test_kazoo_others(void)
{
	KzBusMsg	msg;

	CHECK(decode_members(m_query, &msg) == KZ_PROTO_OK);
	CHECK(msg.event == KZ_EV_QUERY);
	check_kazoo_envelope(&msg);
	CHECK(term_is(msg.name, msg.name_len, B64_FAX_JOB1));
	CHECK(msg.state == KZ_WS_ABSENT);
	kz_proto_free(&msg);

	CHECK(decode_members(m_query_resp, &msg) == KZ_PROTO_OK);
	CHECK(msg.event == KZ_EV_QUERY_RESP);
	CHECK(msg.state == KZ_WS_NONE);
	kz_proto_free(&msg);

	CHECK(decode_members(m_unregister, &msg) == KZ_PROTO_OK);
	CHECK(msg.event == KZ_EV_UNREGISTER);
	CHECK(term_is(msg.name, msg.name_len, B64_JOB1));
	CHECK(term_is(msg.reason, msg.reason_len, B64_NORMAL));
	kz_proto_free(&msg);

	CHECK(decode_members(m_send, &msg) == KZ_PROTO_OK);
	CHECK(msg.event == KZ_EV_SEND);
	CHECK(term_is(msg.name, msg.name_len, B64_ATOM_NAME));
	CHECK(term_is(msg.message, msg.message_len, B64_GEN_CAST));
	kz_proto_free(&msg);

	CHECK(decode_members(m_call, &msg) == KZ_PROTO_OK);
	CHECK(msg.event == KZ_EV_CALL);
	CHECK(term_is(msg.message, msg.message_len, B64_FAX_JOB1));
	kz_proto_free(&msg);

	CHECK(decode_members(m_reply, &msg) == KZ_PROTO_OK);
	CHECK(msg.event == KZ_EV_REPLY);
	check_kazoo_envelope(&msg);
	CHECK(msg.name == NULL && msg.name_len == 0);
	CHECK(term_is(msg.reply, msg.reply_len, B64_ERR_TIMEOUT));
	kz_proto_free(&msg);
}

/* A kz_nodes heartbeat, with every extra field Kazoo sends. */
static void
test_kazoo_heartbeat(void)
{
	KzBusMsg	msg;

	CHECK(decode_members(m_advertise, &msg) == KZ_PROTO_OK);
	CHECK(msg.event == KZ_EV_ADVERTISE);
	CHECK_STR(msg.app_name, "kz_nodes");
	CHECK_STR(msg.node, "ecallmgr@host.example.com");
	CHECK_STR(msg.zone, "local");
	CHECK(msg.has_expires && msg.expires_ms == 6500);
	CHECK(msg.globals_nonempty && msg.globals_local == 3);
	CHECK(msg.name == NULL && msg.incarnation == 0 && msg.session == NULL);
	CHECK(msg.pg_version == 0);
	kz_proto_free(&msg);

	/* Expires as an integer; Globals as Kazoo sends an empty table */
	CHECK_WITH(m_advertise, "\"Expires\":12000", KZ_PROTO_OK);
	{
		char	   *body = build_body(m_advertise, "Globals",
									  "\"Globals\":{\"total\":0},\"Expires\":12000");

		CHECK(decode(body, &msg, NULL) == KZ_PROTO_OK);
		CHECK(msg.expires_ms == 12000);
		CHECK(msg.globals_nonempty && msg.globals_local == 0);
		kz_proto_free(&msg);
		pfree(body);
		body = build_body(m_advertise, "Globals", "\"Globals\":{}");
		CHECK(decode(body, &msg, NULL) == KZ_PROTO_OK);
		CHECK(!msg.globals_nonempty && msg.globals_local == 0);
		kz_proto_free(&msg);
		pfree(body);
		body = build_body(m_advertise, "Globals", "\"Globals\":[]");
		CHECK(decode(body, &msg, NULL) == KZ_PROTO_OK);
		CHECK(!msg.globals_nonempty);
		kz_proto_free(&msg);
		pfree(body);
		body = build_body(m_advertise, "Globals", NULL);
		CHECK(decode(body, &msg, NULL) == KZ_PROTO_OK);
		CHECK(!msg.globals_nonempty);
		kz_proto_free(&msg);
		pfree(body);
		/* a non-integer local is ignored, a nested "local" is not ours */
		body = build_body(m_advertise, "Globals",
						  "\"Globals\":{\"local\":\"3\",\"x\":{\"local\":9}}");
		CHECK(decode(body, &msg, NULL) == KZ_PROTO_OK);
		CHECK(msg.globals_nonempty && msg.globals_local == 0);
		kz_proto_free(&msg);
		pfree(body);
		body = build_body(m_advertise, "Globals",
						  "\"Globals\":{\"remote\":1,\"local\":-7}");
		CHECK(decode(body, &msg, NULL) == KZ_PROTO_OK);
		CHECK(msg.globals_nonempty && msg.globals_local == -7);
		kz_proto_free(&msg);
		pfree(body);
	}

	/* our own heartbeat's extensions */
	{
		char	   *body = build_body(m_advertise, NULL,
									  "\"Incarnation\":-42,\"Session\":\"0123456789abcdef\","
									  "\"PG-Globals-Version\":1");

		CHECK(decode(body, &msg, NULL) == KZ_PROTO_OK);
		CHECK(msg.incarnation == -42 && msg.pg_version == 1);
		CHECK_STR(msg.session, "0123456789abcdef");
		kz_proto_free(&msg);
		pfree(body);
	}
}

/* A sync with several names, with and without pid. */
static void
test_kazoo_sync(void)
{
	KzBusMsg	msg;

	CHECK(decode_members(m_sync, &msg) == KZ_PROTO_OK);
	CHECK(msg.event == KZ_EV_SYNC);
	CHECK_STR(msg.node, "pg2@db2");
	CHECK(msg.sync_id == 12 && msg.sync_part == 0 && msg.sync_last);
	CHECK(msg.nentries == 3);
	if (msg.nentries == 3)
	{
		CHECK(term_is(msg.entries[0].name, msg.entries[0].name_len, B64_FOO));
		CHECK(msg.entries[0].timestamp == INT64CONST(63881234567890123));
		CHECK(msg.entries[0].pid == 4242);
		CHECK(term_is(msg.entries[1].name, msg.entries[1].name_len,
					  B64_FAX_JOB1));
		CHECK(msg.entries[1].timestamp == INT64CONST(63881234567890124));
		CHECK(msg.entries[1].pid == 0);
		CHECK(term_is(msg.entries[2].name, msg.entries[2].name_len,
					  B64_ATOM_NAME));
		CHECK(msg.entries[2].timestamp == -5 && msg.entries[2].pid == 0);
	}
	kz_proto_free(&msg);

	/* an empty sync, Last false */
	{
		char	   *body = build_body(m_sync, "Names",
									  "\"Names\":[],\"Last\":false,\"Part\":3");

		CHECK(decode(body, &msg, NULL) == KZ_PROTO_OK);
		CHECK(msg.nentries == 0 && msg.entries == NULL);
		CHECK(!msg.sync_last && msg.sync_part == 3);
		kz_proto_free(&msg);
		pfree(body);
	}

	/* a thousand names */
	{
		StringInfoData names;
		int			i;
		char	   *body;

		initStringInfo(&names);
		appendStringInfoString(&names, "\"Names\":[");
		for (i = 0; i < 1000; i++)
			appendStringInfo(&names, "%s[\"%s\",%d,%d]", i ? "," : "",
							 B64_FOO, i, i);
		appendStringInfoChar(&names, ']');
		body = build_body(m_sync, "Names", names.data);
		CHECK(decode(body, &msg, NULL) == KZ_PROTO_OK);
		CHECK(msg.nentries == 1000);
		CHECK(msg.nentries == 1000 && msg.entries[999].timestamp == 999 &&
			  msg.entries[999].pid == 999);
		kz_proto_free(&msg);
		pfree(body);
		pfree(names.data);
	}
}

/* Zones: Zone, or the zone a federation relay adds. */
static void
test_zones(void)
{
	KzBusMsg	msg;
	char	   *body;

	body = build_body(m_register_advert, NULL,
					  "\"AMQP-Broker\":\"amqp://b2\",\"AMQP-Broker-Zone\":\"us-east\"");
	CHECK(decode(body, &msg, NULL) == KZ_PROTO_OK);
	CHECK_STR(msg.zone, "us-east");
	kz_proto_free(&msg);
	pfree(body);
	body = build_body(m_register_advert, NULL,
					  "\"AMQP-Broker-Zone\":\"us-east\",\"Zone\":\"eu\"");
	CHECK(decode(body, &msg, NULL) == KZ_PROTO_OK);
	CHECK_STR(msg.zone, "eu");
	kz_proto_free(&msg);
	pfree(body);
}


/* ---------------------------------------------------------------------
 * Refusals
 * ---------------------------------------------------------------------
 */

/* Every required field of every event, left out or null. */
static void
test_missing_fields(void)
{
	static const char *const envelope[] = {
		"Event-Category", "Event-Name", "Node"
	};
	size_t		i;
	int			j;

	for (i = 0; i < lengthof(event_cases); i++)
	{
		const EventCase *c = &event_cases[i];
		KzBusMsg	msg;

		CHECK(decode_members(c->members, &msg) == KZ_PROTO_OK);
		CHECK(msg.event == c->event);
		kz_proto_free(&msg);
		for (j = 0; j < (int) lengthof(envelope); j++)
		{
			char		null_member[64];

			check_with(c->members, envelope[j], NULL,
					   KZ_PROTO_MISSING_FIELD, __LINE__);
			snprintf(null_member, sizeof(null_member), "\"%s\":null",
					 envelope[j]);
			check_with(c->members, envelope[j], null_member,
					   KZ_PROTO_MISSING_FIELD, __LINE__);
		}
		for (j = 0; j < 3 && c->required[j] != NULL; j++)
		{
			char		null_member[64];

			check_with(c->members, c->required[j], NULL,
					   KZ_PROTO_MISSING_FIELD, __LINE__);
			snprintf(null_member, sizeof(null_member), "\"%s\":null",
					 c->required[j]);
			check_with(c->members, NULL, null_member,
					   KZ_PROTO_MISSING_FIELD, __LINE__);
		}
		/* the fields every message may leave out */
		check_with(c->members, "App-Name", NULL, KZ_PROTO_OK, __LINE__);
		check_with(c->members, "Msg-ID", NULL, KZ_PROTO_OK, __LINE__);
		check_with(c->members, "Server-ID", NULL, KZ_PROTO_OK, __LINE__);
		check_with(c->members, "App-Version", NULL, KZ_PROTO_OK, __LINE__);
	}
	/* a reply may carry a Name; a query need not carry a State */
	CHECK_WITH(m_reply, "\"Name\":\"" B64_FOO "\"", KZ_PROTO_OK);
	CHECK_REFUSED("{}", KZ_PROTO_MISSING_FIELD);
}

/* A field and a value for it, and what decoding must say. */
typedef struct TypeCase
{
	const char *member;
	KzProtoError want;
} TypeCase;

/* Wrong (and borderline right) types for every typed field. */
static void
test_field_types(void)
{
	static const char *const string_fields[] = {
		"App-Name", "Msg-ID", "Node", "Server-ID", "Zone", "AMQP-Broker-Zone",
		"Session", "State", "Event-Category", "Event-Name"
	};
	static const char *const not_strings[] = {
		"1", "-1.5", "true", "false", "{}", "[]", "{\"a\":\"b\"}", "[\"x\"]"
	};
	static const char *const term_fields[] = {
		"Name", "Message", "Reply", "Reason"
	};
	static const TypeCase cases[] = {
		/* Node */
		{"\"Node\":\"\"", KZ_PROTO_BAD_FIELD},
		{"\"Node\":\"x\"", KZ_PROTO_OK},
		/* Timestamp: int64 */
		{"\"Timestamp\":\"1\"", KZ_PROTO_BAD_FIELD},
		{"\"Timestamp\":1.5", KZ_PROTO_BAD_FIELD},
		{"\"Timestamp\":1.0", KZ_PROTO_BAD_FIELD},
		{"\"Timestamp\":1e3", KZ_PROTO_BAD_FIELD},
		{"\"Timestamp\":1E+3", KZ_PROTO_BAD_FIELD},
		{"\"Timestamp\":-0.0", KZ_PROTO_BAD_FIELD},
		{"\"Timestamp\":true", KZ_PROTO_BAD_FIELD},
		{"\"Timestamp\":{}", KZ_PROTO_BAD_FIELD},
		{"\"Timestamp\":[1]", KZ_PROTO_BAD_FIELD},
		{"\"Timestamp\":9223372036854775808", KZ_PROTO_BAD_FIELD},
		{"\"Timestamp\":-9223372036854775809", KZ_PROTO_BAD_FIELD},
		{"\"Timestamp\":123456789012345678901234567890", KZ_PROTO_BAD_FIELD},
		{"\"Timestamp\":9223372036854775807", KZ_PROTO_OK},
		{"\"Timestamp\":-9223372036854775808", KZ_PROTO_OK},
		{"\"Timestamp\":-0", KZ_PROTO_OK},
		{"\"Timestamp\":0", KZ_PROTO_OK},
		/* int32, non-negative */
		{"\"Pid\":-1", KZ_PROTO_BAD_FIELD},
		{"\"Pid\":2147483648", KZ_PROTO_BAD_FIELD},
		{"\"Pid\":\"5\"", KZ_PROTO_BAD_FIELD},
		{"\"Pid\":5.0", KZ_PROTO_BAD_FIELD},
		{"\"Pid\":2147483647", KZ_PROTO_OK},
		{"\"Sender-Pid\":-2147483648", KZ_PROTO_BAD_FIELD},
		{"\"Sender-Pid\":[]", KZ_PROTO_BAD_FIELD},
		{"\"Sender-Pid\":77", KZ_PROTO_OK},
		{"\"Timeout\":-5", KZ_PROTO_BAD_FIELD},
		{"\"Timeout\":1e4", KZ_PROTO_BAD_FIELD},
		{"\"Timeout\":99999999999", KZ_PROTO_BAD_FIELD},
		{"\"Timeout\":5000", KZ_PROTO_OK},
		{"\"Part\":-1", KZ_PROTO_BAD_FIELD},
		{"\"Part\":false", KZ_PROTO_BAD_FIELD},
		{"\"Part\":0", KZ_PROTO_OK},
		{"\"PG-Globals-Version\":\"1\"", KZ_PROTO_BAD_FIELD},
		{"\"PG-Globals-Version\":-1", KZ_PROTO_BAD_FIELD},
		{"\"PG-Globals-Version\":1", KZ_PROTO_OK},
		/* int64, any sign */
		{"\"Incarnation\":1.5", KZ_PROTO_BAD_FIELD},
		{"\"Incarnation\":\"7\"", KZ_PROTO_BAD_FIELD},
		{"\"Incarnation\":18446744073709551616", KZ_PROTO_BAD_FIELD},
		{"\"Incarnation\":-7", KZ_PROTO_OK},
		{"\"Sync-ID\":{}", KZ_PROTO_BAD_FIELD},
		{"\"Sync-ID\":2.5e1", KZ_PROTO_BAD_FIELD},
		{"\"Sync-ID\":-1", KZ_PROTO_OK},
		/* Expires: integer or decimal digits */
		{"\"Expires\":\"abc\"", KZ_PROTO_BAD_FIELD},
		{"\"Expires\":\"\"", KZ_PROTO_BAD_FIELD},
		{"\"Expires\":\"-1\"", KZ_PROTO_BAD_FIELD},
		{"\"Expires\":\"+1\"", KZ_PROTO_BAD_FIELD},
		{"\"Expires\":\"1.5\"", KZ_PROTO_BAD_FIELD},
		{"\"Expires\":\" 12\"", KZ_PROTO_BAD_FIELD},
		{"\"Expires\":\"12a\"", KZ_PROTO_BAD_FIELD},
		{"\"Expires\":\"99999999999999999999\"", KZ_PROTO_BAD_FIELD},
		{"\"Expires\":-1", KZ_PROTO_BAD_FIELD},
		{"\"Expires\":1.5", KZ_PROTO_BAD_FIELD},
		{"\"Expires\":true", KZ_PROTO_BAD_FIELD},
		{"\"Expires\":{}", KZ_PROTO_BAD_FIELD},
		{"\"Expires\":\"007\"", KZ_PROTO_OK},
		{"\"Expires\":\"0\"", KZ_PROTO_OK},
		{"\"Expires\":0", KZ_PROTO_OK},
		{"\"Expires\":null", KZ_PROTO_OK},
		/* Last: a boolean */
		{"\"Last\":1", KZ_PROTO_BAD_FIELD},
		{"\"Last\":\"true\"", KZ_PROTO_BAD_FIELD},
		{"\"Last\":[]", KZ_PROTO_BAD_FIELD},
		{"\"Last\":false", KZ_PROTO_OK},
		{"\"Last\":null", KZ_PROTO_OK},
		/* Sync-Request: boolean */
		{"\"Sync-Request\":1", KZ_PROTO_BAD_FIELD},
		{"\"Sync-Request\":\"yes\"", KZ_PROTO_BAD_FIELD},
		{"\"Sync-Request\":true", KZ_PROTO_OK},
		{"\"Sync-Request\":null", KZ_PROTO_OK},
		/* Owner-Exited: boolean */
		{"\"Owner-Exited\":1", KZ_PROTO_BAD_FIELD},
		{"\"Owner-Exited\":\"true\"", KZ_PROTO_BAD_FIELD},
		{"\"Owner-Exited\":{}", KZ_PROTO_BAD_FIELD},
		{"\"Owner-Exited\":true", KZ_PROTO_OK},
		{"\"Owner-Exited\":null", KZ_PROTO_OK},
		/* Globals: an object (or an empty array) */
		{"\"Globals\":1", KZ_PROTO_BAD_FIELD},
		{"\"Globals\":\"x\"", KZ_PROTO_BAD_FIELD},
		{"\"Globals\":true", KZ_PROTO_BAD_FIELD},
		{"\"Globals\":[1]", KZ_PROTO_BAD_FIELD},
		{"\"Globals\":[{}]", KZ_PROTO_BAD_FIELD},
		{"\"Globals\":{\"local\":1.5}", KZ_PROTO_OK},
		{"\"Globals\":{\"local\":{\"a\":[1]}}", KZ_PROTO_OK},
		{"\"Globals\":null", KZ_PROTO_OK},
		/* State: any string */
		{"\"State\":\"Pending\"", KZ_PROTO_OK},
		{"\"State\":\"\"", KZ_PROTO_OK},
		/* Names: an array of [name, timestamp, pid?] */
		{"\"Names\":{}", KZ_PROTO_BAD_FIELD},
		{"\"Names\":\"x\"", KZ_PROTO_BAD_FIELD},
		{"\"Names\":1", KZ_PROTO_BAD_FIELD},
		{"\"Names\":[1]", KZ_PROTO_BAD_FIELD},
		{"\"Names\":[null]", KZ_PROTO_BAD_FIELD},
		{"\"Names\":[[]]", KZ_PROTO_BAD_FIELD},
		{"\"Names\":[[\"" B64_FOO "\"]]", KZ_PROTO_BAD_FIELD},
		{"\"Names\":[[1,2]]", KZ_PROTO_BAD_FIELD},
		{"\"Names\":[[null,2]]", KZ_PROTO_BAD_FIELD},
		{"\"Names\":[[\"" B64_FOO "\",\"1\"]]", KZ_PROTO_BAD_FIELD},
		{"\"Names\":[[\"" B64_FOO "\",null]]", KZ_PROTO_BAD_FIELD},
		{"\"Names\":[[\"" B64_FOO "\",1.5]]", KZ_PROTO_BAD_FIELD},
		{"\"Names\":[[\"" B64_FOO "\",1,-1]]", KZ_PROTO_BAD_FIELD},
		{"\"Names\":[[\"" B64_FOO "\",1,2147483648]]", KZ_PROTO_BAD_FIELD},
		{"\"Names\":[[\"" B64_FOO "\",1,\"2\"]]", KZ_PROTO_BAD_FIELD},
		{"\"Names\":[[\"" B64_FOO "\",1,2,3]]", KZ_PROTO_BAD_FIELD},
		{"\"Names\":[[[\"" B64_FOO "\"],1]]", KZ_PROTO_BAD_FIELD},
		{"\"Names\":[[\"" B64_FOO "\",{}]]", KZ_PROTO_BAD_FIELD},
		{"\"Names\":[[\"" B64_FOO "\",1,[]]]", KZ_PROTO_BAD_FIELD},
		{"\"Names\":[{\"a\":1}]", KZ_PROTO_BAD_FIELD},
		{"\"Names\":[[\"" B64_FOO "\",1],2]", KZ_PROTO_BAD_FIELD},
		{"\"Names\":[[\"" B64_FOO "\",1],[\"" B64_FOO "\"]]", KZ_PROTO_BAD_FIELD},
		{"\"Names\":[]", KZ_PROTO_OK},
		{"\"Names\":[[\"" B64_FOO "\",1]]", KZ_PROTO_OK},
		{"\"Names\":[[\"" B64_FOO "\",1,null]]", KZ_PROTO_OK},
		{"\"Names\":[[\"" B64_FOO "\",-1,0]]", KZ_PROTO_OK},
		{"\"Names\":null", KZ_PROTO_OK},
	};
	size_t		i;
	size_t		j;
	char		member[128];

	for (i = 0; i < lengthof(string_fields); i++)
		for (j = 0; j < lengthof(not_strings); j++)
		{
			snprintf(member, sizeof(member), "\"%s\":%s", string_fields[i],
					 not_strings[j]);
			check_with(m_register_claim, NULL, member, KZ_PROTO_BAD_FIELD,
					   __LINE__);
		}
	for (i = 0; i < lengthof(term_fields); i++)
		for (j = 0; j < lengthof(not_strings); j++)
		{
			snprintf(member, sizeof(member), "\"%s\":%s", term_fields[i],
					 not_strings[j]);
			check_with(m_register_claim, NULL, member, KZ_PROTO_BAD_FIELD,
					   __LINE__);
		}
	for (i = 0; i < lengthof(cases); i++)
		check_with(m_register_claim, NULL, cases[i].member, cases[i].want,
				   __LINE__);

	/* the values that pass are the values read */
	{
		KzBusMsg	msg;
		char	   *body = build_body(m_register_claim, NULL,
									  "\"Timestamp\":-9223372036854775808,"
									  "\"Pid\":2147483647,\"Sender-Pid\":0,"
									  "\"Timeout\":5000,\"State\":\"Pending\"");

		CHECK(decode(body, &msg, NULL) == KZ_PROTO_OK);
		CHECK(msg.has_timestamp && msg.timestamp == PG_INT64_MIN);
		CHECK(msg.pid == PG_INT32_MAX && msg.sender_pid == 0);
		CHECK(msg.timeout_ms == 5000);
		CHECK(msg.state == KZ_WS_OTHER);
		kz_proto_free(&msg);
		pfree(body);
		body = build_body(m_register_claim, NULL, "\"Expires\":\"007\"");
		CHECK(decode(body, &msg, NULL) == KZ_PROTO_OK);
		CHECK(msg.has_expires && msg.expires_ms == 7);
		kz_proto_free(&msg);
		pfree(body);
	}

	/* Node: at most 255 bytes */
	{
		char		node[300];

		memset(node, 'n', sizeof(node));
		memcpy(node, "\"Node\":\"", 8);
		memcpy(node + 8 + 255, "\"", 2);
		check_with(m_register_claim, NULL, node, KZ_PROTO_OK, __LINE__);
		memset(node + 8 + 255, 'n', 1);
		memcpy(node + 8 + 256, "\"", 2);
		check_with(m_register_claim, NULL, node, KZ_PROTO_BAD_FIELD, __LINE__);
	}
}

/* Every State string. */
static void
test_states(void)
{
	static const struct
	{
		const char *member;
		KzWireState state;
	}			cases[] = {
		{"\"State\":\"none\"", KZ_WS_NONE},
		{"\"State\":\"pending\"", KZ_WS_PENDING},
		{"\"State\":\"registered\"", KZ_WS_REGISTERED},
		{"\"State\":\"local\"", KZ_WS_LOCAL},
		{"\"State\":\"remote\"", KZ_WS_REMOTE},
		{"\"State\":\"proxy\"", KZ_WS_OTHER},
		{"\"State\":\"none \"", KZ_WS_OTHER},
		{"\"State\":null", KZ_WS_ABSENT},
	};
	size_t		i;

	for (i = 0; i < lengthof(cases); i++)
	{
		KzBusMsg	msg;
		char	   *body = build_body(m_register_resp, "State", cases[i].member);

		CHECK(decode(body, &msg, NULL) == KZ_PROTO_OK);
		CHECK(msg.state == cases[i].state);
		kz_proto_free(&msg);
		pfree(body);
	}
}

/* Term fields: base64, then the term, then the size of a name. */
static void
test_terms(void)
{
	static const char *const bad_base64[] = {
		"g20AAAADZm9", "g20AAAADZm9v=", "g20A AAADZm9v", "g20AAAADZm9v\\n",
		"====", "QQ=A", "Q===", "=QQQ", "-_AA", "g20AAAADZm9v====",
		"QQ==QQ==", "\\u00e9AAA", "g20AAAADZm9v\\u0000"
	};
	static const char *const bad_terms[] = {
		"", "AAAA", "gw==", "g20AAAAE", "g20AAAADZm9vAA==", "g1AAAAAB",
		"g2QA/w==", "hG0AAAADZm9v"
	};
	static const char *const fields[] = {"Name", "Message", "Reply", "Reason"};
	size_t		i;
	size_t		f;
	char		member[128];

	for (f = 0; f < lengthof(fields); f++)
	{
		for (i = 0; i < lengthof(bad_base64); i++)
		{
			snprintf(member, sizeof(member), "\"%s\":\"%s\"", fields[f],
					 bad_base64[i]);
			check_with(m_call, NULL, member, KZ_PROTO_BAD_BASE64, __LINE__);
		}
		for (i = 0; i < lengthof(bad_terms); i++)
		{
			snprintf(member, sizeof(member), "\"%s\":\"%s\"", fields[f],
					 bad_terms[i]);
			check_with(m_call, NULL, member, KZ_PROTO_BAD_TERM, __LINE__);
		}
	}
	/* the same in the names of a sync */
	for (i = 0; i < lengthof(bad_base64); i++)
	{
		snprintf(member, sizeof(member), "\"Names\":[[\"%s\",1]]",
				 bad_base64[i]);
		check_with(m_sync, NULL, member, KZ_PROTO_BAD_BASE64, __LINE__);
	}
	for (i = 0; i < lengthof(bad_terms); i++)
	{
		snprintf(member, sizeof(member), "\"Names\":[[\"%s\",1]]",
				 bad_terms[i]);
		check_with(m_sync, NULL, member, KZ_PROTO_BAD_TERM, __LINE__);
	}

	/* a term buffer that starts with 131 is decoded like any other */
	CHECK_WITH(m_send, "\"Message\":\"g20AAAACg20=\"", KZ_PROTO_OK);

	/* Name: at most max_name bytes once decoded (9 here) */
	{
		char	   *body = build_body(m_register_claim, NULL, NULL);
		char	   *sync = build_body(m_sync, "Names",
									  "\"Names\":[[\"" B64_FOO "\",1]]");

		check_refused_len(body, strlen(body), KZ_PROTO_OK, 9, __LINE__);
		check_refused_len(body, strlen(body), KZ_PROTO_TOO_LARGE, 8, __LINE__);
		check_refused_len(sync, strlen(sync), KZ_PROTO_OK, 9, __LINE__);
		check_refused_len(sync, strlen(sync), KZ_PROTO_TOO_LARGE, 8, __LINE__);
		pfree(body);
		pfree(sync);
		/* max_name limits names, not messages or replies */
		body = build_body(m_send, NULL,
						  "\"Name\":\"" B64_OK "\",\"Message\":\"" B64_ERR_TIMEOUT "\"");
		check_refused_len(body, strlen(body), KZ_PROTO_OK, 6, __LINE__);
		check_refused_len(body, strlen(body), KZ_PROTO_TOO_LARGE, 5, __LINE__);
		pfree(body);
		body = build_body(m_reply, NULL, NULL);
		check_refused_len(body, strlen(body), KZ_PROTO_OK, 1, __LINE__);
		pfree(body);
	}
}

/* \u0000 in a string we keep as a C string is refused; elsewhere not. */
static void
test_embedded_nul(void)
{
	static const char *const kept[] = {
		"App-Name", "Msg-ID", "Node", "Server-ID", "Zone", "Session",
		"Event-Category", "Event-Name", "State"
	};
	size_t		i;
	char		member[128];
	KzBusMsg	msg;
	char	   *body;

	for (i = 0; i < lengthof(kept); i++)
	{
		snprintf(member, sizeof(member), "\"%s\":\"a\\u0000b\"", kept[i]);
		check_with(m_register_claim, NULL, member, KZ_PROTO_BAD_FIELD, __LINE__);
		snprintf(member, sizeof(member), "\"%s\":\"\\u0000\"", kept[i]);
		check_with(m_register_claim, NULL, member, KZ_PROTO_BAD_FIELD, __LINE__);
	}
	/* in fields we ignore, and in keys, it does no harm */
	CHECK_WITH(m_register_claim, "\"X-Extra\":\"a\\u0000b\"", KZ_PROTO_OK);
	CHECK_WITH(m_register_claim, "\"X\":{\"y\":[\"\\u0000\"]}", KZ_PROTO_OK);
	CHECK_WITH(m_register_claim, "\"No\\u0000de\":5", KZ_PROTO_OK);
	CHECK_WITH(m_advertise, "\"Node-Info\":{\"a\":\"\\u0000\"}", KZ_PROTO_OK);
	/* an escaped NUL that is not \u0000 in the input */
	CHECK_WITH(m_register_claim, "\"Node\":\"a\\\\u0000\"", KZ_PROTO_OK);
	body = build_body(m_register_claim, NULL, "\"Node\":\"a\\\\u0000\"");
	CHECK(decode(body, &msg, NULL) == KZ_PROTO_OK);
	CHECK_STR(msg.node, "a\\u0000");
	kz_proto_free(&msg);
	pfree(body);
	/* a raw C0 80 in the input is invalid UTF-8, not a NUL */
	CHECK_WITH(m_register_claim, "\"X\":\"\xc0\x80\"", KZ_PROTO_BAD_JSON);
}

/* Bodies that are not JSON, not an object, not UTF-8. */
static void
test_bad_json(void)
{
	static const char *const bad[] = {
		"", " ", "[]", "\"x\"", "1", "null", "true", "{", "}", "{\"a\"}",
		"{\"a\":}", "{\"a\":1,}", "{,}", "{\"a\":1}x", "{\"a\":1}{}",
		"{\"a\":1} 1", "{'a':1}", "{a:1}", "{\"a\":01}", "{\"a\":1.}",
		"{\"a\":.5}", "{\"a\":+1}", "{\"a\":-}", "{\"a\":NaN}",
		"{\"a\":Infinity}", "{\"a\":tru}", "{\"a\":nul}", "{\"a\":\"x}",
		"{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}", "{\"a\":\"\\u12g4\"}",
		"{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}",
		"{\"a\":\"\\ud800\\u0041\"}", "{\"a\":\"\\ud800\\ud800\"}",
		"{\"a\":\"\\udc00\\ud800\"}", "{\"a\":\"\\ud800x\"}",
		"{\"a\":\"tab\there\"}", "{\"a\":\"nl\nhere\"}",
		"{\"a\":\"\xff\"}", "{\"a\":\"\xc3\"}", "{\"a\":\"\xc0\xaf\"}",
		"{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xf4\x90\x80\x80\"}",
		"{\"a\":\"\xe2\x82\"}", "{\"a\":1}\xc3", "\xef\xbb\xbf{\"a\":1}",
		"{\"a\":[1,2}", "{\"a\":{\"b\":1]}", "{\"a\":\"\\",
		"{\"Event-Category\":\"globals\",\"Event-Name\":\"query\","
		"\"Node\":\"n\",\"Name\":\"" B64_FOO "\",}",
	};
	size_t		i;

	for (i = 0; i < lengthof(bad); i++)
		CHECK_REFUSED(bad[i], KZ_PROTO_BAD_JSON);

	/* a raw NUL ends nothing: the whole length is parsed */
	{
		char	   *body = build_body(m_register_claim, NULL, NULL);
		size_t		len = strlen(body);
		char	   *copy = palloc(len + 8);

		memcpy(copy, body, len);
		memcpy(copy + len, "\0garbag", 8);
		check_refused_len(copy, len + 8, KZ_PROTO_BAD_JSON, MAX_NAME, __LINE__);
		check_refused_len(copy, len + 1, KZ_PROTO_BAD_JSON, MAX_NAME, __LINE__);
		check_refused_len(copy, len, KZ_PROTO_OK, MAX_NAME, __LINE__);
		/* and the length is respected: a prefix is not the body */
		check_refused_len(copy, len - 1, KZ_PROTO_BAD_JSON, MAX_NAME, __LINE__);
		copy[10] = '\0';
		check_refused_len(copy, len, KZ_PROTO_BAD_JSON, MAX_NAME, __LINE__);
		pfree(copy);
		pfree(body);
	}
	{
		KzBusMsg	msg;
		const char *detail = NULL;

		CHECK(kz_proto_decode(NULL, 0, MAX_BODY, MAX_NAME, &msg, &detail) ==
			  KZ_PROTO_BAD_JSON);
		CHECK(msg_is_empty(&msg));
		/* detail may be NULL */
		CHECK(kz_proto_decode("[]", 2, MAX_BODY, MAX_NAME, &msg, NULL) ==
			  KZ_PROTO_BAD_JSON);
	}
}

/* Unicode: escapes become UTF-8, raw UTF-8 is kept, whitespace allowed. */
static void
test_unicode(void)
{
	KzBusMsg	msg;
	char	   *body;

	body = build_body(m_register_claim, NULL,
					  "\"Node\":\"\\u00e9\\u65e5\\ud83d\\ude00\\u0041\\/\\\"\\\\\\b\\f\\n\\r\\t\\u001f\"");
	CHECK(decode(body, &msg, NULL) == KZ_PROTO_OK);
	CHECK_STR(msg.node, "é日😀A/\"\\\b\f\n\r\t\x1f");
	kz_proto_free(&msg);
	pfree(body);

	body = build_body(m_register_claim, NULL, "\"Node\":\"é日😀\x7f\"");
	CHECK(decode(body, &msg, NULL) == KZ_PROTO_OK);
	CHECK_STR(msg.node, "é日😀\x7f");
	kz_proto_free(&msg);
	pfree(body);

	/* upper- and lower-case hex; a surrogate pair in a key */
	body = build_body(m_register_claim, NULL,
					  "\"Server-ID\":\"\\u00C9\\u00e9\",\"\\uD83D\\uDE00\":1");
	CHECK(decode(body, &msg, NULL) == KZ_PROTO_OK);
	CHECK_STR(msg.server_id, "Éé");
	kz_proto_free(&msg);
	pfree(body);

	/* every kind of JSON whitespace between tokens */
	CHECK_ACCEPTED(" \t\r\n{ \"Event-Category\" :\t\"globals\" ,\n"
				   "\"Event-Name\"\r:\"query\",\"Node\":\"n\" , \"Name\" : \""
				   B64_FOO "\" }\n ");
}

/* Nesting: up to KZ_PROTO_MAX_DEPTH (64) levels, the body included. */
static void
test_depth(void)
{
	StringInfoData buf;
	int			depth;

	initStringInfo(&buf);
	for (depth = 62; depth <= 66; depth++)
	{
		int			i;

		/* an unknown field holding depth - 1 nested arrays and objects */
		resetStringInfo(&buf);
		appendStringInfoString(&buf, "{\"Event-Category\":\"globals\","
							   "\"Event-Name\":\"query\",\"Node\":\"n\","
							   "\"Name\":\"" B64_FOO "\",\"Deep\":");
		for (i = 1; i < depth; i++)
			appendStringInfoString(&buf, i % 2 ? "[" : "{\"k\":");
		appendStringInfoChar(&buf, '0');
		for (i = depth - 1; i >= 1; i--)
			appendStringInfoString(&buf, i % 2 ? "]" : "}");
		appendStringInfoChar(&buf, '}');
		check_refused_len(buf.data, buf.len,
						  depth <= 64 ? KZ_PROTO_OK : KZ_PROTO_BAD_JSON,
						  MAX_NAME, __LINE__);
	}

	/* a million brackets are refused at once */
	resetStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	appendStringInfoString(&buf, "\"a\":");
	for (depth = 0; depth < 1000000; depth++)
		appendStringInfoChar(&buf, '[');
	{
		KzBusMsg	msg;

		CHECK(kz_proto_decode(buf.data, buf.len, buf.len, MAX_NAME, &msg,
							  NULL) == KZ_PROTO_BAD_JSON);
		CHECK(msg_is_empty(&msg));
	}
	check_refused_len(buf.data, buf.len, KZ_PROTO_TOO_LARGE, MAX_NAME,
					  __LINE__);

	/* brackets inside strings are not nesting */
	resetStringInfo(&buf);
	appendStringInfoString(&buf, "{\"Event-Category\":\"globals\","
						   "\"Event-Name\":\"query\",\"Node\":\"n\","
						   "\"Name\":\"" B64_FOO "\",\"S\":\"");
	for (depth = 0; depth < 1000; depth++)
		appendStringInfoString(&buf, "[{\\\"");
	appendStringInfoString(&buf, "\"}");
	check_refused_len(buf.data, buf.len, KZ_PROTO_OK, MAX_NAME, __LINE__);
	pfree(buf.data);
}

/* ---------------------------------------------------------------------
 * Long strings: what normalize leaves out of the parsed copy (json.h)
 * ---------------------------------------------------------------------
 */

/* Random bytes, any value (a binary need not be text). */
static char *
random_bytes(size_t len)
{
	char	   *b = palloc(len + 1);
	size_t		i;

	for (i = 0; i < len; i++)
		b[i] = (char) (unit_rng_next() & 0xFF);
	b[len] = '\0';
	return b;
}

/* A send whose Message is the base64 text b64 (with extra, if given). */
static char *
send_body(const char *b64, const char *extra)
{
	StringInfoData m;
	char	   *body;

	initStringInfo(&m);
	appendStringInfo(&m, "\"Message\":\"%s\"", b64);
	if (extra != NULL)
		appendStringInfo(&m, ",%s", extra);
	body = build_body(m_send, "Message", m.data);
	pfree(m.data);
	return body;
}

/*
 * Messages of every length around the one whose base64 is
 * KZ_JSON_SPAN_MIN characters, and large ones up to the limit, decode to
 * the bytes that were encoded.
 */
static void
test_long_messages(void)
{
	static const size_t sizes[] = {
		0, 1, 2, 3, 4, 5, 180, 181, 182, 183, 184, 185, 186, 187, 188, 189,
		190, 191, 192, 255, 256, 257, 1000, 4095, 8192, 40000, 48000
	};
	size_t		i;

	for (i = 0; i < lengthof(sizes); i++)
	{
		char	   *bytes = random_bytes(sizes[i]);
		char	   *b64 = b64_binary(bytes, sizes[i]);
		char	   *body = send_body(b64, NULL);
		KzBusMsg	msg;
		const char *detail = NULL;
		KzProtoError err = kz_proto_decode(body, strlen(body), MAX_BODY, MAX_NAME,
										   &msg, &detail);
		const char *data;
		size_t		dlen;

		CHECK(err == KZ_PROTO_OK);
		if (err != KZ_PROTO_OK)
			fprintf(stderr, "size %zu refused: %s\n", sizes[i], detail ? detail : "");
		else
		{
			CHECK(etf_decode_binary(msg.message, msg.message_len, &data, &dlen) &&
				  dlen == sizes[i] && memcmp(data, bytes, dlen) == 0);
			kz_proto_free(&msg);
		}
		pfree(body);
		pfree(b64);
		pfree(bytes);
	}

	/* a body of exactly max_len is decoded; one byte less is too little */
	{
		char	   *bytes = random_bytes(45000);
		char	   *b64 = b64_binary(bytes, 45000);
		char	   *body = send_body(b64, NULL);
		size_t		len = strlen(body);
		KzBusMsg	msg;

		CHECK(kz_proto_decode(body, len, len, MAX_NAME, &msg, NULL) == KZ_PROTO_OK);
		kz_proto_free(&msg);
		CHECK(kz_proto_decode(body, len, len - 1, MAX_NAME, &msg, NULL) ==
			  KZ_PROTO_TOO_LARGE);
		CHECK(msg_is_empty(&msg));
		pfree(body);
		pfree(b64);
		pfree(bytes);
	}
}

/* Long strings that are not plain, or not well-formed, are refused as before. */
static void
test_long_hostile(void)
{
	char	   *bytes = random_bytes(600);
	char	   *b64 = b64_binary(bytes, 600);
	size_t		b64_len = strlen(b64);
	size_t		where[] = {0, 1, 255, 256, 400, b64_len - 4, b64_len - 2, b64_len - 1};
	char	   *s;
	char	   *body;
	size_t		i;
	KzBusMsg	msg;
	const char *detail = NULL;
	StringInfoData buf;

	/* a character out of the alphabet anywhere, or '=' before the end */
	for (i = 0; i < lengthof(where); i++)
	{
		s = pstrdup(b64);
		s[where[i]] = '!';
		body = send_body(s, NULL);
		CHECK_REFUSED(body, KZ_PROTO_BAD_BASE64);
		pfree(body);
		s[where[i]] = '=';
		body = send_body(s, NULL);
		/* '=' last is padding: base64 of a term cut short */
		CHECK_REFUSED(body, where[i] == b64_len - 1 ? KZ_PROTO_BAD_TERM :
					  KZ_PROTO_BAD_BASE64);
		pfree(body);
		pfree(s);
	}
	/* one character too many or too few */
	s = psprintf("%sA", b64);
	body = send_body(s, NULL);
	CHECK_REFUSED(body, KZ_PROTO_BAD_BASE64);
	pfree(body);
	pfree(s);
	s = pnstrdup(b64, b64_len - 1);
	body = send_body(s, NULL);
	CHECK_REFUSED(body, KZ_PROTO_BAD_BASE64);
	pfree(body);
	pfree(s);

	/* a control character, or bytes that are not UTF-8, inside */
	s = pstrdup(b64);
	s[300] = '\x01';
	body = send_body(s, NULL);
	CHECK_REFUSED(body, KZ_PROTO_BAD_JSON);
	pfree(body);
	s[300] = '\xff';
	body = send_body(s, NULL);
	CHECK(decode(body, &msg, &detail) == KZ_PROTO_BAD_JSON);
	CHECK_STR(detail, psprintf("invalid UTF-8 at byte %zu",
							   (size_t) (strstr(body, "\"Message\":\"") - body) + 11 + 300));
	pfree(body);
	/* the bytes a left-out string's stand-in starts with are refused */
	s[300] = (char) KZ_JSON_SPAN_MARK_0;
	s[301] = (char) KZ_JSON_SPAN_MARK_1;
	body = send_body(s, NULL);
	CHECK_REFUSED(body, KZ_PROTO_BAD_JSON);
	pfree(body);
	initStringInfo(&buf);
	appendStringInfo(&buf, "\"Message\":\"%c%c0\"", KZ_JSON_SPAN_MARK_0,
					 KZ_JSON_SPAN_MARK_1);
	body = build_body(m_send, "Message", buf.data);
	CHECK_REFUSED(body, KZ_PROTO_BAD_JSON);
	pfree(body);
	pfree(s);

	/* unterminated at the end of the body */
	resetStringInfo(&buf);
	appendStringInfo(&buf, "{\"Event-Category\":\"globals\",\"Message\":\"%s", b64);
	CHECK_REFUSED(buf.data, KZ_PROTO_BAD_JSON);
	resetStringInfo(&buf);
	appendStringInfo(&buf, "{\"Event-Category\":\"globals\",\"%s\"", b64);
	CHECK_REFUSED(buf.data, KZ_PROTO_BAD_JSON);
	resetStringInfo(&buf);
	appendStringInfo(&buf, "{\"Event-Category\":\"globals\",\"%s\":1", b64);
	CHECK_REFUSED(buf.data, KZ_PROTO_BAD_JSON);

	/* escapes inside are read as escapes: \/ is '/', \u0041 is 'A' */
	s = pstrdup(b64);
	resetStringInfo(&buf);
	for (i = 0; i < b64_len; i++)
	{
		if (s[i] == '/')
			appendStringInfoString(&buf, "\\/");
		else if (s[i] == 'A')
			appendStringInfoString(&buf, "\\u0041");
		else
			appendStringInfoChar(&buf, s[i]);
	}
	body = send_body(buf.data, NULL);
	CHECK(decode(body, &msg, NULL) == KZ_PROTO_OK);
	{
		const char *data;
		size_t		dlen;

		CHECK(etf_decode_binary(msg.message, msg.message_len, &data, &dlen) &&
			  dlen == 600 && memcmp(data, bytes, 600) == 0);
	}
	kz_proto_free(&msg);
	pfree(body);
	pfree(s);

	/*
	 * Long strings elsewhere: a key (never one we know), a value we keep
	 * (Msg-ID, as it is), one we check (Node: too long), and many of them
	 * (more than the spans first allocated).
	 */
	resetStringInfo(&buf);
	appendStringInfo(&buf, "\"%s\":\"%s\",\"Msg-ID\":\"%s\"", b64, b64, b64);
	for (i = 0; i < 12; i++)
		appendStringInfo(&buf, ",\"X-%zu\":[\"%.300s\",{\"%.300s\":\"%.300s\"}]", i,
						 b64, b64, b64);
	body = send_body(b64, buf.data);
	CHECK(decode(body, &msg, NULL) == KZ_PROTO_OK);
	CHECK_STR(msg.msg_id, b64);
	CHECK(msg.message_len == 606);
	kz_proto_free(&msg);
	pfree(body);
	resetStringInfo(&buf);
	appendStringInfo(&buf, "\"Node\":\"%s\"", b64);
	body = build_body(m_send, "Node", buf.data);
	CHECK_REFUSED(body, KZ_PROTO_BAD_FIELD);
	pfree(body);

	/* a sync's long name and metadata, an entry's long text */
	resetStringInfo(&buf);
	appendStringInfoString(&buf, "\"Names\":[[\"" B64_FOO "\",1,2,\"registered\",\"");
	for (i = 0; i < 300; i++)
		appendStringInfoChar(&buf, 'x');
	appendStringInfoString(&buf, "\"]],\"Metas\":[\"[");
	for (i = 0; i < 200; i++)
		appendStringInfoString(&buf, i ? ",1" : "1");
	appendStringInfoString(&buf, "]\"]");
	body = build_body(m_sync, "Names", buf.data);
	CHECK(decode(body, &msg, &detail) == KZ_PROTO_OK);
	CHECK(msg.nentries == 1 && msg.entries[0].text != NULL &&
		  strlen(msg.entries[0].text) == 300 &&
		  msg.entries[0].meta != NULL && strlen(msg.entries[0].meta) == 401);
	kz_proto_free(&msg);
	pfree(body);
	resetStringInfo(&buf);
	appendStringInfo(&buf, "\"Names\":[[\"%s\",1]]", b64);
	body = build_body(m_sync, "Names", buf.data);
	CHECK_REFUSED(body, KZ_PROTO_TOO_LARGE);	/* a name over MAX_NAME */
	pfree(body);

	pfree(buf.data);
	pfree(b64);
	pfree(bytes);
}

/* kz_json_normalize_spans itself: what it leaves out, and its stand-ins. */
static void
test_spans(void)
{
	StringInfoData buf;
	char	   *json;
	size_t		json_len;
	size_t		where;
	KzJsonSpan *spans;
	int			nspans;
	int			index;
	char		ref[8];
	int			i;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"a\":\"");
	for (i = 0; i < KZ_JSON_SPAN_MIN; i++)
		appendStringInfoChar(&buf, (char) (' ' + i % 95));
	appendStringInfoString(&buf, "\",\"b\":\"");
	for (i = 0; i < KZ_JSON_SPAN_MIN - 1; i++)
		appendStringInfoChar(&buf, 'y');
	appendStringInfoString(&buf, "\"}");
	/* ' ' + i % 95 runs through '"' and '\\': the first string is no span */
	CHECK(kz_json_normalize_spans(buf.data, buf.len, &json, &json_len, &where,
								  &spans, &nspans) == KZ_JSON_OK);
	CHECK(nspans == 0 && spans == NULL);
	CHECK(json_len == (size_t) buf.len && memcmp(json, buf.data, json_len) == 0);
	pfree(json);

	resetStringInfo(&buf);
	appendStringInfoString(&buf, "{\"a\":\"");
	for (i = 0; i < KZ_JSON_SPAN_MIN; i++)
		appendStringInfoChar(&buf, (char) ('#' + i % 57));	/* '#'..'[' */
	appendStringInfoString(&buf, "\",\"b\":\"");
	for (i = 0; i < KZ_JSON_SPAN_MIN - 1; i++)
		appendStringInfoChar(&buf, 'y');
	appendStringInfoString(&buf, "\",\"c\":[\"");
	for (i = 0; i < 1000; i++)
		appendStringInfoChar(&buf, '~');
	appendStringInfoString(&buf, "\"]}");
	CHECK(kz_json_normalize_spans(buf.data, buf.len, &json, &json_len, &where,
								  &spans, &nspans) == KZ_JSON_OK);
	CHECK(nspans == 2);
	if (nspans == 2)
	{
		CHECK(spans[0].offset == 6 && spans[0].len == KZ_JSON_SPAN_MIN);
		CHECK(spans[1].len == 1000 && buf.data[spans[1].offset] == '~' &&
			  buf.data[spans[1].offset - 1] == '"');
		snprintf(ref, sizeof(ref), "\"%c%c0\"", KZ_JSON_SPAN_MARK_0, KZ_JSON_SPAN_MARK_1);
		CHECK(strncmp(json, "{\"a\":", 5) == 0 && strncmp(json + 5, ref, 5) == 0);
		CHECK(json_len < (size_t) buf.len);
		pfree(spans);
	}
	pfree(json);

	/* stand-ins: the marks, then an index below nspans, nothing else */
	snprintf(ref, sizeof(ref), "%c%c1", KZ_JSON_SPAN_MARK_0, KZ_JSON_SPAN_MARK_1);
	CHECK(kz_json_span_index(ref, 2, &index) && index == 1);
	CHECK(!kz_json_span_index(ref, 1, &index));
	CHECK(!kz_json_span_index(ref, 0, &index));
	ref[2] = '\0';
	CHECK(!kz_json_span_index(ref, 2, &index));
	snprintf(ref, sizeof(ref), "%c%c1x", KZ_JSON_SPAN_MARK_0, KZ_JSON_SPAN_MARK_1);
	CHECK(!kz_json_span_index(ref, 2, &index));
	CHECK(!kz_json_span_index("01", 2, &index));
	CHECK(!kz_json_span_index("", 2, &index));

	/* refusals name the same byte with or without spans */
	resetStringInfo(&buf);
	appendStringInfoString(&buf, "{\"a\":\"");
	for (i = 0; i < 500; i++)
		appendStringInfoChar(&buf, 'z');
	appendStringInfoString(&buf, "\",\"b\":\"\xff\"}");
	CHECK(kz_json_normalize_spans(buf.data, buf.len, &json, &json_len, &where,
								  &spans, &nspans) == KZ_JSON_BAD_UTF8);
	CHECK(where == 513 && spans == NULL && nspans == 0);
	pfree(buf.data);
}

/* Bodies over max_len are refused before parsing. */
static void
test_too_large(void)
{
	char	   *body = build_body(m_register_claim, NULL, NULL);
	size_t		len = strlen(body);
	KzBusMsg	msg;
	const char *detail = NULL;

	CHECK(kz_proto_decode(body, len, len, MAX_NAME, &msg, &detail) ==
		  KZ_PROTO_OK);
	kz_proto_free(&msg);
	CHECK(kz_proto_decode(body, len, len - 1, MAX_NAME, &msg, &detail) ==
		  KZ_PROTO_TOO_LARGE);
	CHECK(msg_is_empty(&msg) && detail != NULL);
	/* even when the body would not be JSON */
	CHECK(kz_proto_decode("xxxx", 4, 3, MAX_NAME, &msg, NULL) ==
		  KZ_PROTO_TOO_LARGE);
	CHECK(kz_proto_decode("{}", 2, 0, MAX_NAME, &msg, NULL) ==
		  KZ_PROTO_TOO_LARGE);
	pfree(body);
}

/* Events: the known pairs, and everything else after the envelope. */
static void
test_events(void)
{
	static const struct
	{
		const char *category;
		const char *name;
		KzProtoError want;
	}			cases[] = {
		{"globals", "register", KZ_PROTO_OK},
		{"globals", "register_resp", KZ_PROTO_OK},
		{"globals", "query", KZ_PROTO_OK},
		{"globals", "query_resp", KZ_PROTO_OK},
		{"globals", "unregister", KZ_PROTO_OK},
		{"globals", "send", KZ_PROTO_OK},
		{"globals", "call", KZ_PROTO_OK},
		{"globals", "reply", KZ_PROTO_OK},
		{"globals", "sync", KZ_PROTO_OK},
		{"nodes", "advertise", KZ_PROTO_OK},
		{"globals", "advertise", KZ_PROTO_UNKNOWN_EVENT},
		{"nodes", "register", KZ_PROTO_UNKNOWN_EVENT},
		{"Globals", "register", KZ_PROTO_UNKNOWN_EVENT},
		{"globals", "Register", KZ_PROTO_UNKNOWN_EVENT},
		{"globals", "register ", KZ_PROTO_UNKNOWN_EVENT},
		{"globals", "", KZ_PROTO_UNKNOWN_EVENT},
		{"", "", KZ_PROTO_UNKNOWN_EVENT},
		{"call_event", "CHANNEL_CREATE", KZ_PROTO_UNKNOWN_EVENT},
		{"globals", "publish_targeted_send", KZ_PROTO_UNKNOWN_EVENT},
	};
	size_t		i;

	for (i = 0; i < lengthof(cases); i++)
	{
		char		body[512];
		KzBusMsg	msg;
		KzProtoError got;

		/* every field any event requires, so that only the event matters */
		snprintf(body, sizeof(body),
				 "{\"Event-Category\":\"%s\",\"Event-Name\":\"%s\","
				 "\"Node\":\"n@h\",\"Name\":\"%s\",\"Message\":\"%s\","
				 "\"Reply\":\"%s\",\"Expires\":1,\"Names\":[]}",
				 cases[i].category, cases[i].name, B64_FOO, B64_OK, B64_OK);
		got = decode(body, &msg, NULL);
		CHECK(got == cases[i].want);
		if (got == KZ_PROTO_OK)
		{
			CHECK_STR(kz_proto_event_name(msg.event), cases[i].name);
			kz_proto_free(&msg);
		}
		else
			CHECK(msg.event == KZ_EV_UNKNOWN);
	}

	/* envelope checks come first; then the event; then the other fields */
	CHECK_REFUSED("{\"Event-Category\":\"x\",\"Event-Name\":\"y\"}",
				  KZ_PROTO_MISSING_FIELD);
	CHECK_REFUSED("{\"Event-Category\":\"x\",\"Event-Name\":\"y\",\"Node\":1}",
				  KZ_PROTO_BAD_FIELD);
	CHECK_REFUSED("{\"Event-Category\":\"x\",\"Event-Name\":\"y\",\"Node\":\"n\","
				  "\"Timestamp\":1.5,\"Name\":\"!!\"}",
				  KZ_PROTO_UNKNOWN_EVENT);
	CHECK_REFUSED("{\"Event-Category\":\"x\",\"Event-Name\":\"y\",\"Node\":\"n\"}",
				  KZ_PROTO_UNKNOWN_EVENT);
	/* wrong types come before missing fields, which come before terms */
	CHECK_REFUSED("{\"Event-Category\":\"globals\",\"Event-Name\":\"send\","
				  "\"Node\":\"n\",\"Timestamp\":1.5}", KZ_PROTO_BAD_FIELD);
	CHECK_REFUSED("{\"Event-Category\":\"globals\",\"Event-Name\":\"send\","
				  "\"Node\":\"n\",\"Name\":\"!!\"}", KZ_PROTO_MISSING_FIELD);
}

/* Duplicate keys: the last one wins, whatever the first one was. */
static void
test_duplicates(void)
{
	KzBusMsg	msg;
	char	   *body;

	body = build_body(m_register_claim, NULL,
					  "\"Node\":\"second@host\",\"Timestamp\":1.5,\"Timestamp\":7,"
					  "\"State\":{\"x\":1},\"State\":\"remote\"");
	CHECK(decode(body, &msg, NULL) == KZ_PROTO_OK);
	CHECK_STR(msg.node, "second@host");
	CHECK(msg.timestamp == 7 && msg.state == KZ_WS_REMOTE);
	kz_proto_free(&msg);
	pfree(body);

	CHECK_WITH(m_register_claim, "\"Timestamp\":7,\"Timestamp\":\"x\"",
			   KZ_PROTO_BAD_FIELD);
	CHECK_WITH(m_register_claim, "\"Name\":null", KZ_PROTO_MISSING_FIELD);
	CHECK_WITH(m_register_claim, "\"Name\":\"!!\",\"Name\":\"" B64_OK "\"",
			   KZ_PROTO_OK);

	body = build_body(m_sync, NULL,
					  "\"Names\":[[\"" B64_OK "\",1,2]],\"Names\":[1],"
					  "\"Names\":[[\"" B64_FOO "\",3]]");
	CHECK(decode(body, &msg, NULL) == KZ_PROTO_OK);
	CHECK(msg.nentries == 1 &&
		  term_is(msg.entries[0].name, msg.entries[0].name_len, B64_FOO) &&
		  msg.entries[0].timestamp == 3);
	kz_proto_free(&msg);
	pfree(body);
	CHECK_WITH(m_sync, "\"Names\":[[\"" B64_FOO "\",1]],\"Names\":{}",
			   KZ_PROTO_BAD_FIELD);

	body = build_body(m_advertise, NULL,
					  "\"Globals\":{\"local\":1,\"local\":2},\"Globals\":{\"local\":4}");
	CHECK(decode(body, &msg, NULL) == KZ_PROTO_OK);
	CHECK(msg.globals_local == 4 && msg.globals_nonempty);
	kz_proto_free(&msg);
	pfree(body);
	body = build_body(m_advertise, NULL,
					  "\"Globals\":{\"local\":1,\"local\":\"x\"}");
	CHECK(decode(body, &msg, NULL) == KZ_PROTO_OK);
	CHECK(msg.globals_local == 0 && msg.globals_nonempty);
	kz_proto_free(&msg);
	pfree(body);
	body = build_body(m_advertise, NULL,
					  "\"Globals\":{\"local\":1},\"Globals\":{}");
	CHECK(decode(body, &msg, NULL) == KZ_PROTO_OK);
	CHECK(msg.globals_local == 0 && !msg.globals_nonempty);
	kz_proto_free(&msg);
	pfree(body);
}

/* A known field that is null counts as absent. */
static void
test_null_fields(void)
{
	KzBusMsg	msg;
	char	   *body;

	body = build_body(m_register_claim, NULL,
					  "\"App-Name\":null,\"Msg-ID\":null,\"Server-ID\":null,"
					  "\"Zone\":null,\"AMQP-Broker-Zone\":null,\"State\":null,"
					  "\"Timestamp\":null,\"Message\":null,\"Reply\":null,"
					  "\"Reason\":null,\"Pid\":null,\"Sender-Pid\":null,"
					  "\"Timeout\":null,\"Expires\":null,\"Globals\":null,"
					  "\"Incarnation\":null,\"Session\":null,"
					  "\"PG-Globals-Version\":null,\"Sync-ID\":null,"
					  "\"Part\":null,\"Last\":null,\"Names\":null");
	CHECK(decode(body, &msg, NULL) == KZ_PROTO_OK);
	CHECK(msg.app_name == NULL && msg.msg_id == NULL && msg.server_id == NULL);
	CHECK(msg.zone == NULL && msg.session == NULL);
	CHECK(msg.state == KZ_WS_ABSENT && !msg.has_timestamp && !msg.has_expires);
	CHECK(msg.message == NULL && msg.reply == NULL && msg.reason == NULL);
	CHECK(msg.pid == 0 && msg.sender_pid == 0 && msg.timeout_ms == 0);
	CHECK(!msg.globals_nonempty && msg.incarnation == 0 && msg.pg_version == 0);
	CHECK(msg.sync_id == 0 && msg.sync_part == 0 && !msg.sync_last);
	CHECK(msg.entries == NULL && msg.nentries == 0);
	CHECK(msg.name != NULL && msg.node != NULL);
	kz_proto_free(&msg);
	pfree(body);
}


/* ---------------------------------------------------------------------
 * Encoding
 * ---------------------------------------------------------------------
 */

/* The values every round-trip message carries. */
#define RT_SESSION		UINT64CONST(0x89abcd)	/* KZ_SESSION_BITS wide */
#define RT_NODE			"pg1@db1.example.com"
#define RT_SERVER		"pg1@db1.example.com-kz_globals-00ff"
#define RT_TIMESTAMP	INT64CONST(63881234567890123)

/* Term buffers used in the round trips. */
typedef struct RtTerms
{
	StringInfoData name;
	StringInfoData message;
	StringInfoData reply;
	StringInfoData reason;
	StringInfoData names[3];
} RtTerms;

static void
rt_terms_init(RtTerms *t)
{
	int			i;

	initStringInfo(&t->name);
	etf_encode_binary(&t->name, "fax job 1", 9);
	initStringInfo(&t->message);
	etf_put_version(&t->message);
	etf_put_tuple_header(&t->message, 2);
	etf_put_atom(&t->message, "$gen_cast", 9);
	etf_put_atom(&t->message, "hello", 5);
	initStringInfo(&t->reply);
	etf_put_version(&t->reply);
	etf_put_list_header(&t->reply, 2);
	etf_put_integer(&t->reply, PG_INT64_MIN);
	etf_put_binary(&t->reply, "r", 1);
	etf_put_nil(&t->reply);
	initStringInfo(&t->reason);
	etf_put_version(&t->reason);
	etf_put_atom(&t->reason, "normal", 6);
	for (i = 0; i < 3; i++)
	{
		char		text[16];

		initStringInfo(&t->names[i]);
		snprintf(text, sizeof(text), "name %d", i);
		etf_encode_binary(&t->names[i], text, strlen(text));
	}
}

static void
rt_terms_free(RtTerms *t)
{
	int			i;

	pfree(t->name.data);
	pfree(t->message.data);
	pfree(t->reply.data);
	pfree(t->reason.data);
	for (i = 0; i < 3; i++)
		pfree(t->names[i].data);
}

/*
 * A sync of t's three names by the production encoder (src/wire/encode.c):
 * a body with every kind of JSON value, for the fuzzer and json.loads.
 */
static void
encode_sync(StringInfo out, const RtTerms *t, uint64 seq)
{
	char		msg_id[KZ_MSG_ID_LEN + 1];
	KzEncodeCtx ctx;
	KzNameEntry names[3];
	int			i;

	kz_proto_msg_id(msg_id, RT_SESSION, seq);
	ctx.node = RT_NODE;
	ctx.queue = RT_SERVER;
	ctx.zone = "eu-west";
	ctx.session = RT_SESSION;
	ctx.incarnation = -99;
	ctx.msg_id = msg_id;
	for (i = 0; i < 3; i++)
	{
		names[i].name.len = (uint16) t->names[i].len;
		memcpy(names[i].name.data, t->names[i].data, t->names[i].len);
		names[i].ts = RT_TIMESTAMP + i;
		names[i].pid = i == 1 ? 0 : PG_INT32_MAX - i;
		/* registration metadata, for the fuzz loop to mutate too */
		names[i].meta = i == 2 ? "{\"v\": [1, \"x\"]}" : NULL;
	}
	kz_enc_sync(out, &ctx, PG_INT64_MAX, 2, true, names, 3);
}

/* Sync-Request in a heartbeat: absent is false, true round-trips. */
static void
test_sync_request(void)
{
	StringInfoData out;
	KzBusMsg	msg;
	const char *detail;
	KzEnvelope	env = {KZ_APP_NAME_NODES, "nodes", "advertise",
	"00000000000000010000000000000002", "pg@h", "q"};
	bool		value;

	initStringInfo(&out);
	for (value = false;; value = true)
	{
		resetStringInfo(&out);
		kz_proto_begin(&out, &env);
		kz_proto_add_int(&out, "Expires", 2400);
		if (value)
			kz_proto_add_bool(&out, "Sync-Request", true);
		kz_proto_end(&out);
		CHECK(kz_proto_decode(out.data, out.len, 65536, 320, &msg, &detail) == KZ_PROTO_OK);
		CHECK(msg.event == KZ_EV_ADVERTISE && msg.sync_request == value);
		kz_proto_free(&msg);
		if (value)
			break;
	}
	pfree(out.data);
}

/*
 * Owner-Exited in a reply: absent is false (a real answer), true says the
 * owner ended without answering; Reply is still required.
 */
static void
test_owner_exited(void)
{
	static const uint8 empty[] = {131, 109, 0, 0, 0, 0};
	StringInfoData out;
	KzBusMsg	msg;
	const char *detail;
	KzEnvelope	env = {KZ_APP_NAME_GLOBALS, "globals", "reply",
	"00000000000000010000000000000002", "pg@h", NULL};
	int			variant;

	initStringInfo(&out);
	for (variant = 0; variant < 3; variant++)
	{
		resetStringInfo(&out);
		kz_proto_begin(&out, &env);
		if (variant < 2)
			kz_proto_add_term(&out, "Reply", empty, sizeof(empty));
		if (variant > 0)
			kz_proto_add_bool(&out, "Owner-Exited", true);
		kz_proto_end(&out);
		if (variant == 2)
		{
			CHECK(kz_proto_decode(out.data, out.len, 65536, 320, &msg, &detail) ==
				  KZ_PROTO_MISSING_FIELD);
			continue;
		}
		CHECK(kz_proto_decode(out.data, out.len, 65536, 320, &msg, &detail) == KZ_PROTO_OK);
		CHECK(msg.event == KZ_EV_REPLY && msg.owner_exited == (variant == 1));
		CHECK(msg.reply_len == sizeof(empty));
		kz_proto_free(&msg);
	}
	pfree(out.data);
}

/* A batch event with Names entries of every length, and what is refused. */
static void
test_batches(void)
{
	static const uint8 term_bar[] = {131, 109, 0, 0, 0, 3, 'b', 'a', 'r'};
	static const char *const events[] = {"registry_batch", "claim_batch_resp"};
	static const KzEvent kinds[] = {KZ_EV_REGISTRY_BATCH, KZ_EV_CLAIM_BATCH_RESP};
	static const char *const bad[] = {
		"[[\"" B64_FOO "\",1,2,3]]",			/* state not a string */
		"[[\"" B64_FOO "\",1,2,\"local\",{}]]",	/* text not a string */
		"[[\"" B64_FOO "\",1,2,\"x\",\"a\\u0000b\"]]",	/* NUL in text */
		"[[\"" B64_FOO "\",1,2,\"x\",\"y\",6]]",	/* a claim not a string */
		"[[\"" B64_FOO "\",1,2,\"x\",\"y\",\"z\"]]",	/* a claim not a Msg-ID */
		"[[\"" B64_FOO "\",1,2,\"x\",\"y\",\"0123456789abcdef\",8]]"	/* seven */
	};
	StringInfoData out;
	KzBusMsg	msg;
	const char *detail;
	int			i;
	KzEnvelope	env = {KZ_APP_NAME_GLOBALS, "globals", NULL,
	"00000000000000010000000000000002", "pg@h", "q"};

	initStringInfo(&out);
	for (i = 0; i < (int) lengthof(events); i++)
	{
		resetStringInfo(&out);
		env.event = events[i];
		kz_proto_begin(&out, &env);
		appendStringInfoString(&out, ",\"Names\":[[\"" B64_FOO "\",7,0],"
							   "[\"" B64_BAR "\",8,42,\"local\",\"queue-1\"],"
							   "[\"" B64_FOO "\",9,0,\"\",\"\"]]");
		kz_proto_end(&out);
		CHECK(kz_proto_decode(out.data, out.len, 65536, 320, &msg, &detail) == KZ_PROTO_OK);
		CHECK(msg.event == kinds[i] && msg.nentries == 3);
		if (msg.nentries == 3)
		{
			CHECK(msg.entries[0].timestamp == 7 && msg.entries[0].state == KZ_WS_ABSENT &&
				  msg.entries[0].text == NULL);
			CHECK(msg.entries[1].pid == 42 && msg.entries[1].state == KZ_WS_LOCAL);
			CHECK_STR(msg.entries[1].text, "queue-1");
			CHECK(msg.entries[1].name_len == sizeof(term_bar) &&
				  memcmp(msg.entries[1].name, term_bar, sizeof(term_bar)) == 0);
			CHECK(msg.entries[2].state == KZ_WS_OTHER);	/* "" */
			CHECK_STR(msg.entries[2].text, "");
		}
		kz_proto_free(&msg);
	}

	/* a send_batch carries a message term in each entry */
	resetStringInfo(&out);
	env.event = "send_batch";
	kz_proto_begin(&out, &env);
	appendStringInfoString(&out, ",\"Names\":[[\"" B64_FOO "\",0,99,\"\",\"" B64_BAR "\"]]");
	kz_proto_end(&out);
	CHECK(kz_proto_decode(out.data, out.len, 65536, 320, &msg, &detail) == KZ_PROTO_OK);
	CHECK(msg.event == KZ_EV_SEND_BATCH && msg.nentries == 1);
	if (msg.nentries == 1)
	{
		CHECK(msg.entries[0].pid == 99);
		CHECK(msg.entries[0].message_len == sizeof(term_bar) &&
			  memcmp(msg.entries[0].message, term_bar, sizeof(term_bar)) == 0);
	}
	kz_proto_free(&msg);

	/* a send_batch entry without a message, or with a bad one, is refused */
	resetStringInfo(&out);
	kz_proto_begin(&out, &env);
	appendStringInfoString(&out, ",\"Names\":[[\"" B64_FOO "\",0,1]]}");
	CHECK(kz_proto_decode(out.data, out.len, 65536, 320, &msg, &detail) == KZ_PROTO_MISSING_FIELD);
	resetStringInfo(&out);
	kz_proto_begin(&out, &env);
	appendStringInfoString(&out, ",\"Names\":[[\"" B64_FOO "\",0,1,\"\",\"!!!\"]]}");
	CHECK(kz_proto_decode(out.data, out.len, 65536, 320, &msg, &detail) == KZ_PROTO_BAD_BASE64);

	/* the old per-kind batch events are gone */
	env.event = "claim_batch";
	resetStringInfo(&out);
	kz_proto_begin(&out, &env);
	appendStringInfoString(&out, ",\"Names\":[]}");
	CHECK(kz_proto_decode(out.data, out.len, 65536, 320, &msg, &detail) == KZ_PROTO_UNKNOWN_EVENT);

	/* a registry_batch marks each entry's event with its state */
	env.event = "registry_batch";
	resetStringInfo(&out);
	kz_proto_begin(&out, &env);
	appendStringInfoString(&out, ",\"Names\":[[\"" B64_FOO "\",10,0,\"pending\",\"\"],"
						   "[\"" B64_BAR "\",11,77,\"registered\",\"\"],"
						   "[\"" B64_FOO "\",12,0,\"none\",\"\"]]");
	kz_proto_end(&out);
	CHECK(kz_proto_decode(out.data, out.len, 65536, 320, &msg, &detail) == KZ_PROTO_OK);
	CHECK(msg.event == KZ_EV_REGISTRY_BATCH && msg.nentries == 3);
	if (msg.nentries == 3)
	{
		CHECK(msg.entries[0].state == KZ_WS_PENDING && msg.entries[0].timestamp == 10);
		CHECK(msg.entries[1].state == KZ_WS_REGISTERED && msg.entries[1].pid == 77);
		CHECK(msg.entries[2].state == KZ_WS_NONE && msg.entries[2].timestamp == 12);
	}
	kz_proto_free(&msg);

	/* every batch needs Names; malformed entries are refused */
	resetStringInfo(&out);
	kz_proto_begin(&out, &env);
	kz_proto_end(&out);
	CHECK(kz_proto_decode(out.data, out.len, 65536, 320, &msg, &detail) == KZ_PROTO_MISSING_FIELD);
	for (i = 0; i < (int) lengthof(bad); i++)
	{
		resetStringInfo(&out);
		kz_proto_begin(&out, &env);
		appendStringInfo(&out, ",\"Names\":%s}", bad[i]);
		CHECK(kz_proto_decode(out.data, out.len, 65536, 320, &msg, &detail) == KZ_PROTO_BAD_FIELD);
	}
	pfree(out.data);
}

/* The envelope and fields as the encoder's pieces write them. */
static void
test_pieces(void)
{
	StringInfoData out;

	initStringInfo(&out);
	/* the envelope as kz_proto_begin writes it, byte for byte */
	{
		KzEnvelope	env = {KZ_APP_NAME_GLOBALS, "globals", "query",
		"00000000000000010000000000000002", "pg@h", NULL};

		resetStringInfo(&out);
		kz_proto_begin(&out, &env);
		kz_proto_end(&out);
		CHECK_STR(out.data,
				  "{\"App-Name\":\"kazoo_globals\",\"App-Version\":\"4.0.0\","
				  "\"Event-Category\":\"globals\",\"Event-Name\":\"query\","
				  "\"Msg-ID\":\"00000000000000010000000000000002\","
				  "\"Node\":\"pg@h\"}");
		resetStringInfo(&out);
		env.server_id = "q";
		kz_proto_begin(&out, &env);
		kz_proto_add_term(&out, "Name", term_foo, sizeof(term_foo));
		kz_proto_add_str(&out, "State", "pending");
		kz_proto_add_str(&out, "Left-Out", NULL);
		kz_proto_add_int(&out, "Timestamp", -1);
		kz_proto_add_bool(&out, "Last", false);
		kz_proto_end(&out);
		CHECK_STR(out.data,
				  "{\"App-Name\":\"kazoo_globals\",\"App-Version\":\"4.0.0\","
				  "\"Event-Category\":\"globals\",\"Event-Name\":\"query\","
				  "\"Msg-ID\":\"00000000000000010000000000000002\","
				  "\"Node\":\"pg@h\",\"Server-ID\":\"q\",\"Name\":\"" B64_FOO "\","
				  "\"State\":\"pending\",\"Timestamp\":-1,\"Last\":false}");
	}
	pfree(out.data);
}

/* Each event kind with only what it requires: the rest decodes as absent. */
static void
test_roundtrip_minimal(void)
{
	StringInfoData out;
	StringInfoData term;
	size_t		i;

	initStringInfo(&out);
	initStringInfo(&term);
	binary_term(&term, "minimal");
	for (i = 0; i < lengthof(event_cases); i++)
	{
		KzEvent		event = event_cases[i].event;
		KzEnvelope	env = {KZ_APP_NAME_GLOBALS, "globals", NULL, NULL,
		"n@h", NULL};
		KzBusMsg	msg;

		env.event = kz_proto_event_name(event);
		if (event == KZ_EV_ADVERTISE)
		{
			env.app_name = KZ_APP_NAME_NODES;
			env.category = "nodes";
		}
		resetStringInfo(&out);
		kz_proto_begin(&out, &env);
		if (event == KZ_EV_REPLY)
			kz_proto_add_term(&out, "Reply", (uint8 *) term.data, term.len);
		else if (event == KZ_EV_SYNC)
			appendStringInfoString(&out, ",\"Names\":[]");
		else if (event == KZ_EV_ADVERTISE)
			kz_proto_add_int(&out, "Expires", 0);
		else
			kz_proto_add_term(&out, "Name", (uint8 *) term.data, term.len);
		if (event == KZ_EV_SEND || event == KZ_EV_CALL)
			kz_proto_add_term(&out, "Message", (uint8 *) term.data, term.len);
		kz_proto_end(&out);
		CHECK(kz_proto_decode(out.data, out.len, MAX_BODY, MAX_NAME, &msg,
							  NULL) == KZ_PROTO_OK);
		CHECK(msg.event == event);
		CHECK(msg.msg_id == NULL && msg.server_id == NULL);
		CHECK(msg.state == KZ_WS_ABSENT && !msg.has_timestamp);
		CHECK(msg.pid == 0 && msg.timeout_ms == 0 && msg.nentries == 0);
		CHECK(event == KZ_EV_ADVERTISE ? msg.has_expires : !msg.has_expires);
		kz_proto_free(&msg);
	}
	pfree(out.data);
	pfree(term.data);
}

/* Awkward strings for the escaping tests (NUL-terminated, so no NUL). */
static const char *const awkward[] = {
	"plain", "", "quote \" here", "back\\slash", "\\\"\\\"", "/slash/",
	"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10"
	"\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x20",
	"del \x7f", "é", "日本語", "😀 emoji", "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf",
	"\xe2\x80\xa8 line separator", "{\"json\":[1,2]}", "\\u0000",
	"tab\tnewline\nreturn\r",
};

/* Awkward strings survive our encoder and decoder unchanged. */
static void
test_escaping(void)
{
	StringInfoData out;
	size_t		i;

	initStringInfo(&out);
	for (i = 0; i < lengthof(awkward); i++)
	{
		KzEnvelope	env = {KZ_APP_NAME_GLOBALS, "globals", "query", NULL,
		NULL, NULL};
		KzBusMsg	msg;
		const char *s = awkward[i];

		env.msg_id = s;
		env.node = s[0] ? s : "empty";
		env.server_id = s;
		resetStringInfo(&out);
		kz_proto_begin(&out, &env);
		kz_proto_add_term(&out, "Name", term_foo, sizeof(term_foo));
		kz_proto_add_str(&out, "Session", s);
		kz_proto_add_str(&out, s, "as a key");
		kz_proto_end(&out);
		/* no raw control character ever reaches the body */
		{
			int			j;
			bool		raw = false;

			for (j = 0; j < out.len; j++)
				if ((uint8) out.data[j] < 0x20)
					raw = true;
			CHECK(!raw);
		}
		CHECK(kz_proto_decode(out.data, out.len, MAX_BODY, MAX_NAME, &msg,
							  NULL) == KZ_PROTO_OK);
		CHECK_STR(msg.msg_id, s);
		CHECK_STR(msg.node, s[0] ? s : "empty");
		CHECK_STR(msg.server_id, s);
		CHECK_STR(msg.session, s);
		kz_proto_free(&msg);
	}

	/* the exact escapes */
	resetStringInfo(&out);
	appendStringInfoChar(&out, '{');
	kz_proto_add_str(&out, "k", "\"\\/\b\f\n\r\t\x01\x1f\x7f é");
	CHECK_STR(out.data, "{\"k\":\"\\\"\\\\/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f é\"");

	/* bytes that are not UTF-8 become U+FFFD */
	resetStringInfo(&out);
	appendStringInfoChar(&out, '{');
	kz_proto_add_str(&out, "k", "a\xff" "b\xc3" "c\xed\xa0\x80" "d\xc3\xa9");
	CHECK_STR(out.data, "{\"k\":\"a\\ufffdb\\ufffdc\\ufffd\\ufffd\\ufffdd\xc3\xa9\"");
	pfree(out.data);
}

/*
 * Python's json module must parse every body the encoder writes, and read
 * the same strings back.  For each body it prints one line: for every
 * member, the hex of its key, ':' and the hex of its value when a string,
 * else '#' and the value in compact JSON.
 */
static void
cross_check_python(void)
{
	static const char script[] =
		"import json, sys\n"
		"for line in open(sys.argv[1], encoding='utf-8'):\n"
		"    try:\n"
		"        obj = json.loads(line)\n"
		"        out = []\n"
		"        for k, v in obj.items():\n"
		"            if isinstance(v, str):\n"
		"                out.append(k.encode().hex() + ':' + v.encode().hex())\n"
		"            else:\n"
		"                out.append(k.encode().hex() + ':#' + json.dumps(v, separators=(',', ':')))\n"
		"        print(' ' + ' '.join(out) + ' ')\n"
		"    except Exception as e:\n"
		"        print('error ' + repr(e))\n";
	StringInfoData input;
	StringInfoData line;
	StringInfoData want;
	RtTerms		t;
	char		script_path[64];
	char		input_path[64];
	char		cmd[256];
	FILE	   *f;
	size_t		i;
	int			nlines = 0;
	int			nbad = 0;
	int			nbodies;

	initStringInfo(&input);
	initStringInfo(&line);
	initStringInfo(&want);
	rt_terms_init(&t);
	/* the awkward strings, as Node and as a key */
	for (i = 0; i < lengthof(awkward); i++)
	{
		KzEnvelope	env = {KZ_APP_NAME_GLOBALS, "globals", "query", "id",
		awkward[i], NULL};

		kz_proto_begin(&input, &env);
		kz_proto_add_str(&input, awkward[i], "v");
		kz_proto_end(&input);
		appendStringInfoChar(&input, '\n');
	}
	/* a sync by the production encoder: integers, booleans, arrays */
	encode_sync(&input, &t, 1);
	appendStringInfoChar(&input, '\n');
	nbodies = lengthof(awkward) + 1;

	if (!write_temp(script, strlen(script), script_path) ||
		!write_temp(input.data, input.len, input_path))
	{
		CHECK(false);
		return;
	}
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s %s", script_path,
			 input_path);
	f = popen(cmd, "r");
	CHECK(f != NULL);
	while (f != NULL && read_line(f, &line))
	{
		if (nlines < (int) lengthof(awkward))
		{
			/* Node and the key must be the awkward string's bytes */
			const char *s = awkward[nlines];

			resetStringInfo(&want);
			appendStringInfoString(&want, " 4e6f6465:");	/* Node */
			append_hex(&want, s, strlen(s));
			appendStringInfoChar(&want, ' ');
			if (strstr(line.data, want.data) == NULL)
				nbad++;
			resetStringInfo(&want);
			appendStringInfoChar(&want, ' ');
			append_hex(&want, s, strlen(s));
			appendStringInfoString(&want, ":76 ");	/* :"v" */
			if (strstr(line.data, want.data) == NULL)
				nbad++;
		}
		else
		{
			/* a few values of the sync */
			if (strstr(line.data, " 50617274:#2 ") == NULL ||
				strstr(line.data, " 4c617374:#true ") == NULL ||
				strstr(line.data, " 53796e632d4944:#9223372036854775807 ") == NULL ||
				strstr(line.data, " 4e616d6573:#[[\"") == NULL ||
				strstr(line.data, ",63881234567890124,0],[\"") == NULL)
				nbad++;
		}
		if (nbad > 0 && strncmp(line.data, "error", 5) == 0)
			fprintf(stderr, "python: %s\n", line.data);
		nlines++;
	}
	if (f != NULL)
		pclose(f);
	unlink(script_path);
	unlink(input_path);
	printf("python cross-check: %d of %d bodies parsed by json.loads, "
		   "%d mismatches\n", nlines, nbodies, nbad);
	CHECK(nlines == nbodies);
	CHECK(nbad == 0);
	rt_terms_free(&t);
	pfree(input.data);
	pfree(line.data);
	pfree(want.data);
}


/* ---------------------------------------------------------------------
 * Routing keys, message ids, names, the conflict rule
 * ---------------------------------------------------------------------
 */

/* The routing key of a term buffer, as a palloc'd string. */
static char *
routing_key(const char *event, const uint8 *term, size_t len)
{
	StringInfoData out;

	initStringInfo(&out);
	kz_proto_routing_key(&out, event, term, len);
	return out.data;
}

/* Checks the routing key of the binary holding text. */
static void
check_binary_key(const char *text, size_t len, const char *want)
{
	StringInfoData term;
	char	   *key;

	initStringInfo(&term);
	etf_encode_binary(&term, text, len);
	key = routing_key("register", (uint8 *) term.data, term.len);
	CHECK_STR(key, want);
	pfree(key);
	pfree(term.data);
}

/* True if a key never ends inside a %XX escape. */
static bool
escapes_whole(const char *key)
{
	size_t		len = strlen(key);
	const char *pct = strrchr(key, '%');

	return pct == NULL || (size_t) (pct - key) + 3 <= len;
}

/* Routing keys of binaries, other terms, and long names. */
static void
test_routing_keys(void)
{
	static const uint8 atom_for_name[] = {
		131, 100, 0, 13, 'a', 't', 'o', 'm', '_', 'f', 'o', 'r', '_', 'n',
		'a', 'm', 'e'
	};
	StringInfoData buf;
	char	   *key;
	int			i;

	/* research notes §3.2 and Kazoo's kz_amqp_util tests */
	check_binary_key("binary for name", 15, "globals.register.binary+for+name");
	check_binary_key("key", 3, "globals.register.key");
	check_binary_key("routing.key", 11, "globals.register.routing%2Ekey");
	check_binary_key("long.routing.key", 16,
					 "globals.register.long%2Erouting%2Ekey");
	check_binary_key("test&.192. 168. 5. 5#", 21,
					 "globals.register.test%26%2E192%2E+168%2E+5%2E+5%23");
	check_binary_key("*", 1, "globals.register.*");
	check_binary_key("#", 1, "globals.register.#");
	check_binary_key("", 0, "globals.register.");
	check_binary_key("a*b#c", 5, "globals.register.a%2Ab%23c");
	check_binary_key("**", 2, "globals.register.%2A%2A");
	check_binary_key("-~_AZaz09", 9, "globals.register.-~_AZaz09");
	check_binary_key("\0\x7f\x80\xff/%+", 7,
					 "globals.register.%00%7F%80%FF%2F%25%2B");
	check_binary_key("h\xc3\xa9llo", 6, "globals.register.h%C3%A9llo");

	/* an atom: the lower-case hex of the base64 of its term buffer */
	key = routing_key("register", atom_for_name, sizeof(atom_for_name));
	CHECK_STR(key, "globals.register."
			  "6732514144574630623231665a6d3979583235686257553d");
	pfree(key);
	key = routing_key("send", atom_for_name, sizeof(atom_for_name));
	CHECK_STR(key, "globals.send."
			  "6732514144574630623231665a6d3979583235686257553d");
	pfree(key);

	/* every byte value, in each position */
	initStringInfo(&buf);
	for (i = 0; i < 256; i++)
	{
		char		c = (char) i;
		char		want[64];
		bool		safe = (i >= 'a' && i <= 'z') || (i >= 'A' && i <= 'Z') ||
			(i >= '0' && i <= '9') || i == '-' || i == '~' || i == '_';

		if (safe)
			snprintf(want, sizeof(want), "globals.query.x%cx", i);
		else if (i == ' ')
			snprintf(want, sizeof(want), "globals.query.x+x");
		else
			snprintf(want, sizeof(want), "globals.query.x%%%02Xx", i);
		resetStringInfo(&buf);
		etf_encode_binary(&buf, "x", 1);
		buf.data[5] = 3;
		appendStringInfoChar(&buf, c);
		appendStringInfoChar(&buf, 'x');
		key = routing_key("query", (uint8 *) buf.data, buf.len);
		CHECK_STR(key, want);
		pfree(key);
	}

	/* long names: cut at 255 bytes, never inside an escape */
	for (i = 0; i < 3; i++)
	{
		char		text[400];
		size_t		len;

		memset(text, i == 0 ? 'a' : i == 1 ? '.' : 'b', sizeof(text));
		if (i == 2)
			for (len = 0; len < sizeof(text); len += 2)
				text[len] = '.';
		resetStringInfo(&buf);
		etf_encode_binary(&buf, text, sizeof(text));
		key = routing_key("register", (uint8 *) buf.data, buf.len);
		len = strlen(key);
		CHECK(len <= KZ_SHORTSTR_MAX && len >= KZ_SHORTSTR_MAX - 2);
		CHECK(escapes_whole(key));
		CHECK(strncmp(key, "globals.register.", 17) == 0);
		if (i == 0)
			CHECK(len == KZ_SHORTSTR_MAX);
		if (i == 1)
			CHECK(len == 17 + 3 * 79);
		pfree(key);
	}

	/* a long non-binary term: hex digits up to 255 bytes */
	resetStringInfo(&buf);
	etf_put_version(&buf);
	etf_put_tuple_header(&buf, 200);
	for (i = 0; i < 200; i++)
		etf_put_integer(&buf, i * 1000);
	key = routing_key("unregister", (uint8 *) buf.data, buf.len);
	CHECK(strlen(key) == KZ_SHORTSTR_MAX);
	pfree(key);
	key = routing_key("query", (uint8 *) buf.data, buf.len);
	CHECK(strlen(key) == KZ_SHORTSTR_MAX - 1);
	{
		/* the same as the uncut encoding's prefix */
		StringInfoData full;
		char		b64[2048];
		int			n = pg_b64_encode((KzB64Byte *) buf.data, buf.len, b64, sizeof(b64));

		initStringInfo(&full);
		appendStringInfoString(&full, "globals.query.");
		append_hex(&full, b64, n);
		CHECK(n > 0 && strncmp(full.data, key, strlen(key)) == 0);
		pfree(full.data);
	}
	pfree(key);

	/* appends to what the buffer holds; a NULL term is an empty term */
	resetStringInfo(&buf);
	appendStringInfoString(&buf, "prefix:");
	kz_proto_routing_key(&buf, "query", term_foo, sizeof(term_foo));
	CHECK_STR(buf.data, "prefix:globals.query.foo");
	key = routing_key("query", NULL, 0);
	CHECK_STR(key, "globals.query.");
	pfree(key);

	/* random terms: never too long, never a cut escape */
	{
		int			bad = 0;
		uint8		bytes[300];

		for (i = 0; i < 2000; i++)
		{
			size_t		len = rng_below(sizeof(bytes));
			size_t		j;

			for (j = 0; j < len; j++)
				bytes[j] = (uint8) unit_rng_next();
			if (i % 2 == 0 && len >= 6)
			{
				/* a binary term of the right length */
				bytes[0] = 131;
				bytes[1] = 109;
				bytes[2] = bytes[3] = 0;
				bytes[4] = (uint8) ((len - 6) >> 8);
				bytes[5] = (uint8) (len - 6);
			}
			key = routing_key("register", bytes, len);
			if (strlen(key) > KZ_SHORTSTR_MAX || !escapes_whole(key))
				bad++;
			pfree(key);
		}
		CHECK(bad == 0);
	}
	pfree(buf.data);
}

/*
 * erl computes the routing key of each name with a copy of Kazoo's
 * kapi_globals:routing_key/2, kz_amqp_util:encode/1 and
 * kz_term:to_hex_binary/1, and prints it with the name's term buffer.
 */
static void
cross_check_erl_keys(void)
{
	static const char script[] =
		"%% -*- coding: utf-8 -*-\n"
		"KeySafe = fun(C) -> (C >= $a andalso C =< $z) orelse"
		" (C >= $A andalso C =< $Z) orelse (C >= $0 andalso C =< $9) orelse"
		" C =:= $- orelse C =:= $~ orelse C =:= $_ end.\n"
		"HexInt = fun(C) when C < 10 -> $0 + C; (C) -> $A + (C - 10) end.\n"
		"EncodeChar = fun(C) -> case KeySafe(C) of true -> <<C>>;"
		" false when C =:= $\\s -> <<$+>>; false when C =:= $. -> <<$%, $2, $E>>;"
		" false -> <<$%, (HexInt(C bsr 4)), (HexInt(C band 15))>> end end.\n"
		"Encode = fun(<<>>) -> <<>>; (<<\"*\">>) -> <<\"*\">>; (<<\"#\">>) -> <<\"#\">>;"
		" (Bin) -> << <<(EncodeChar(B))/binary>> || <<B>> <= Bin >> end.\n"
		"HexChar = fun(N) when N < 10 -> $0 + N; (N) -> $a + N - 10 end.\n"
		"ToHex = fun(Bin) -> << <<(HexChar(B div 16)), (HexChar(B rem 16))>>"
		" || <<B>> <= Bin >> end.\n"
		"RK = fun(Ev, Name) when is_binary(Name) ->"
		" iolist_to_binary([\"globals.\", Ev, \".\", Encode(Name)]);"
		" (Ev, Name) -> iolist_to_binary([\"globals.\", Ev, \".\","
		" ToHex(base64:encode(term_to_binary(Name)))]) end.\n"
		"Names = [<<\"binary for name\">>, atom_for_name,"
		" {kz_globals, 'node@host.example.com', <<\"name\">>},"
		" \"a string with spaces\", <<\"*\">>, <<\"#\">>, <<>>, <<\"a*b#c\">>,"
		" <<\"routing.key\">>, <<\"test&.192. 168. 5. 5#\">>,"
		" <<\"héllo wörld\"/utf8>>, 'Quoted Atom', 'été', 42, -1, 1 bsl 70,"
		" [], {}, <<1:3>>, <<131, 109, 0, 0, 0, 1, 65>>, 3.5, #{a => 1},"
		" <<\"%2E\">>, <<\"~-_\">>, <<\"++\">>, <<\" \">>]"
		" ++ [list_to_binary(lists:seq(I, min(I + 63, 255)))"
		" || I <- lists:seq(0, 255, 64)]"
		" ++ [list_to_binary(lists:duplicate(100, $.)),"
		" list_to_binary(lists:duplicate(300, $a)), list_to_tuple(lists:seq(1, 100)),"
		" list_to_atom(lists:duplicate(200, $z))].\n"
		"Events = [<<\"register\">>, <<\"unregister\">>, <<\"query\">>,"
		" <<\"send\">>, <<\"call\">>].\n"
		"lists:foldl(fun(N, I) -> Ev = lists:nth(I rem 5 + 1, Events),"
		" io:format(\"~s ~s ~s~n\", [Ev, binary:encode_hex(term_to_binary(N)),"
		" RK(Ev, N)]), I + 1 end, 0, Names).\n";
	StringInfoData line;
	StringInfoData term;
	char		path[64];
	char		cmd[256];
	FILE	   *f;
	int			nkeys = 0;
	int			nequal = 0;
	int			ncut = 0;

	if (!write_temp(script, strlen(script), path))
	{
		CHECK(false);
		return;
	}
	snprintf(cmd, sizeof(cmd),
			 "erl -noshell -eval 'case file:script(hd(init:get_plain_arguments())) of "
			 "{ok, _} -> ok; E -> io:format(standard_error, \"~p~n\", [E]) end, "
			 "halt().' -extra %s", path);
	f = popen(cmd, "r");
	CHECK(f != NULL);
	if (f == NULL)
		return;
	initStringInfo(&line);
	initStringInfo(&term);
	while (read_line(f, &line))
	{
		char	   *event = line.data;
		char	   *hex = strchr(event, ' ');
		char	   *want = hex ? strchr(hex + 1, ' ') : NULL;
		char	   *p;
		char	   *key;

		if (want == NULL)
			break;
		*hex++ = '\0';
		*want++ = '\0';
		resetStringInfo(&term);
		for (p = hex; p[0] && p[1]; p += 2)
		{
			char		byte[3] = {p[0], p[1], '\0'};

			appendStringInfoChar(&term, (char) strtol(byte, NULL, 16));
		}
		key = routing_key(event, (uint8 *) term.data, term.len);
		nkeys++;
		if (strlen(want) <= KZ_SHORTSTR_MAX)
		{
			CHECK_STR(key, want);
			if (strcmp(key, want) == 0)
				nequal++;
		}
		else
		{
			/* our key is the longest cut of erl's that fits */
			CHECK(strncmp(key, want, strlen(key)) == 0);
			CHECK(strlen(key) >= KZ_SHORTSTR_MAX - 2);
			CHECK(escapes_whole(key));
			ncut++;
		}
		pfree(key);
	}
	pclose(f);
	unlink(path);
	printf("erl cross-check: %d routing keys from erl, %d equal, %d cut "
		   "to 255 bytes\n", nkeys, nequal, ncut);
	CHECK(nkeys == 34);
	CHECK(nequal + ncut == nkeys && ncut == 4);
	pfree(line.data);
	pfree(term.data);
}

/* Message ids: format, parse, and refusals. */
static void
test_msg_ids(void)
{
	static const char *const bad[] = {
		"", "0", "0123456789abcde", "0123456789abcdef0",
		"0123456789ABCDEF", "0123456789abcdeg", "01234567 9abcdef",
		"+123456789abcdef", "0x23456789abcdef",
		/* the 32-digit form of earlier versions (and of heartbeats) */
		"0123456789abcdef000000000000002a",
		"f1c9a0b3-e8d2-474c-9d6b-1c2e3f4a5b6c",
	};
	char		id[KZ_MSG_ID_LEN + 1];
	char		long_id[KZ_NODES_MSG_ID_LEN + 1];
	uint64		session;
	uint64		seq;
	size_t		i;

	/* 16 digits, as Kazoo's: 24 bits of session, 40 of sequence */
	kz_proto_msg_id(id, UINT64CONST(0xabcdef), 42);
	CHECK_STR(id, "abcdef000000002a");
	CHECK(kz_proto_parse_msg_id(id, &session, &seq));
	CHECK(session == UINT64CONST(0xabcdef) && seq == 42);

	kz_proto_msg_id(id, 0, 0);
	CHECK_STR(id, "0000000000000000");
	CHECK(kz_proto_parse_msg_id(id, &session, &seq) && session == 0 && seq == 0);

	kz_proto_msg_id(id, KZ_SESSION_MASK, KZ_SEQ_MASK - 1);
	CHECK_STR(id, "fffffffffffffffe");
	CHECK(kz_proto_parse_msg_id(id, &session, &seq));
	CHECK(session == KZ_SESSION_MASK && seq == KZ_SEQ_MASK - 1);

	/* a sequence number is taken modulo 2^40 */
	kz_proto_msg_id(id, 1, KZ_SEQ_MASK + 3);
	CHECK_STR(id, "0000010000000002");

	/* a Kazoo id (kz_binary:rand_hex(8)) parses, into some session */
	CHECK(kz_proto_parse_msg_id("b8f8047a7392ec59", &session, &seq) &&
		  session == UINT64CONST(0xb8f804) && seq == UINT64CONST(0x7a7392ec59));

	for (i = 0; i < 1000; i++)
	{
		uint64		a = unit_rng_next() & KZ_SESSION_MASK;
		uint64		b = unit_rng_next() & KZ_SEQ_MASK;

		kz_proto_msg_id(id, a, b);
		CHECK(strlen(id) == KZ_MSG_ID_LEN &&
			  kz_proto_parse_msg_id(id, &session, &seq) &&
			  session == a && seq == b);
	}

	/* heartbeats: 32 digits, as kz_nodes' */
	kz_proto_nodes_msg_id(long_id, UINT64CONST(0x0123456789abcdef), 42);
	CHECK_STR(long_id, "0123456789abcdef000000000000002a");

	session = seq = 7;
	for (i = 0; i < lengthof(bad); i++)
	{
		CHECK(!kz_proto_parse_msg_id(bad[i], &session, &seq));
		CHECK(session == 7 && seq == 7);
	}
	CHECK(!kz_proto_parse_msg_id(NULL, &session, &seq));
}

/* The names of enums, for logs. */
static void
test_enum_names(void)
{
	int			i;

	CHECK_STR(kz_proto_error_name(KZ_PROTO_OK), "ok");
	CHECK_STR(kz_proto_error_name(KZ_PROTO_BAD_JSON), "bad_json");
	CHECK_STR(kz_proto_error_name(KZ_PROTO_UNKNOWN_EVENT), "unknown_event");
	CHECK_STR(kz_proto_error_name(KZ_PROTO_NUM_ERRORS), "unknown_error");
	for (i = 0; i < KZ_PROTO_NUM_ERRORS; i++)
		CHECK(strcmp(kz_proto_error_name((KzProtoError) i), "unknown_error") != 0);
	CHECK_STR(kz_proto_event_name(KZ_EV_REGISTER_RESP), "register_resp");
	CHECK_STR(kz_proto_event_name(KZ_EV_SYNC), "sync");
	CHECK_STR(kz_proto_event_name(KZ_EV_ADVERTISE), "advertise");
	CHECK_STR(kz_proto_event_name(KZ_EV_UNKNOWN), "unknown");
	CHECK_STR(kz_proto_state_name(KZ_WS_ABSENT), "absent");
	CHECK_STR(kz_proto_state_name(KZ_WS_NONE), "none");
	CHECK_STR(kz_proto_state_name(KZ_WS_REGISTERED), "registered");
	CHECK_STR(kz_proto_state_name(KZ_WS_REMOTE), "remote");
	CHECK_STR(kz_proto_state_name(KZ_WS_OTHER), "other");
}

/* kz_claim_beats: older wins, then the bytewise smaller node. */
static void
test_claim_beats(void)
{
	CHECK(kz_claim_beats(1, "b@h", 2, "a@h"));
	CHECK(!kz_claim_beats(2, "a@h", 1, "b@h"));
	CHECK(kz_claim_beats(5, "a@h", 5, "b@h"));
	CHECK(!kz_claim_beats(5, "b@h", 5, "a@h"));
	/* never itself */
	CHECK(!kz_claim_beats(5, "a@h", 5, "a@h"));
	CHECK(!kz_claim_beats(PG_INT64_MIN, "", PG_INT64_MIN, ""));
	/* bytewise: upper case before lower case, prefix first, high bytes last */
	CHECK(kz_claim_beats(5, "B@h", 5, "a@h"));
	CHECK(kz_claim_beats(5, "ab", 5, "abc"));
	CHECK(!kz_claim_beats(5, "abc", 5, "ab"));
	CHECK(kz_claim_beats(5, "z", 5, "\xc3\xa9"));
	CHECK(!kz_claim_beats(5, "\xc3\xa9", 5, "z"));
	CHECK(kz_claim_beats(5, "pg1@db10", 5, "pg1@db2"));
	/* the timestamp decides before the name */
	CHECK(kz_claim_beats(-1, "zzz", 0, "aaa"));
	CHECK(kz_claim_beats(PG_INT64_MIN, "z", PG_INT64_MAX, "a"));
	CHECK(!kz_claim_beats(PG_INT64_MAX, "a", PG_INT64_MIN, "z"));
	/* exactly one of two different claims wins */
	{
		static const char *const nodes[] = {"a", "b", "a@h", "B", ""};
		static const int64 ts[] = {PG_INT64_MIN, -1, 0, 1, PG_INT64_MAX};
		int			i,
					j,
					k,
					l;
		int			bad = 0;

		for (i = 0; i < 5; i++)
			for (j = 0; j < 5; j++)
				for (k = 0; k < 5; k++)
					for (l = 0; l < 5; l++)
					{
						bool		ab = kz_claim_beats(ts[i], nodes[j], ts[k], nodes[l]);
						bool		ba = kz_claim_beats(ts[k], nodes[l], ts[i], nodes[j]);
						bool		same = (i == k && j == l);

						if (same ? (ab || ba) : (ab == ba))
							bad++;
					}
		CHECK(bad == 0);
	}
}


/* ---------------------------------------------------------------------
 * Fuzzing
 * ---------------------------------------------------------------------
 */

/* Snippets the fuzzer inserts: the pieces most likely to confuse. */
static const char *const fuzz_snippets[] = {
	"\\u0000", "\\ud800", "\\udc00", "\\ud83d\\ude00", "\\u00e9", "\\",
	"\"", "[[[[", "]]", "{\"a\":", "}", ":", ",", "null", "true", "1e99999",
	"-", "0.5", "99999999999999999999", "\xc3", "\xe2\x82", "\xc0\x80",
	"\xff", "\"Names\":[[\"" B64_FOO "\",1,2]]", "\"Node\":\"x\"",
	"\"Name\":\"" B64_FAX_JOB1 "\"", "\"Globals\":{\"local\":", "=", "g2",
};

/* Applies one random mutation to buf. */
static void
mutate(StringInfo buf)
{
	size_t		len = buf->len;
	size_t		pos = rng_below(len + 1);

	switch (rng_below(7))
	{
		case 0:					/* flip a bit */
			if (len > 0)
				buf->data[pos % len] ^= (char) (1 << rng_below(8));
			break;
		case 1:					/* a random byte */
			if (len > 0)
				buf->data[pos % len] = (char) unit_rng_next();
			break;
		case 2:					/* truncate */
			buf->len = pos;
			break;
		case 3:					/* insert a snippet */
			{
				const char *s = fuzz_snippets[rng_below(lengthof(fuzz_snippets))];
				size_t		n = strlen(s);

				enlargeStringInfo(buf, n);
				memmove(buf->data + pos + n, buf->data + pos, len - pos);
				memcpy(buf->data + pos, s, n);
				buf->len += n;
			}
			break;
		case 4:					/* delete a range */
			{
				size_t		n = rng_below(16) + 1;

				n = Min(n, len - pos);

				memmove(buf->data + pos, buf->data + pos + n, len - pos - n);
				buf->len -= n;
			}
			break;
		case 5:					/* duplicate a range */
			{
				size_t		n = rng_below(64) + 1;

				n = Min(n, len - pos);

				enlargeStringInfo(buf, n);
				memmove(buf->data + pos + n, buf->data + pos, len - pos);
				buf->len += n;
			}
			break;
		default:				/* swap two bytes */
			if (len > 1)
			{
				size_t		other = rng_below(len);
				char		c = buf->data[pos % len];

				buf->data[pos % len] = buf->data[other];
				buf->data[other] = c;
			}
			break;
	}
	buf->data[buf->len] = '\0';
}

/* What a decoded message must satisfy, whatever the input was. */
static bool
msg_consistent(const KzBusMsg *msg)
{
	int			i;

	if (msg->event == KZ_EV_UNKNOWN || msg->node == NULL ||
		msg->node[0] == '\0' || strlen(msg->node) > KZ_SHORTSTR_MAX)
		return false;
	if ((msg->name != NULL && etf_validate(msg->name, msg->name_len) != ETF_OK) ||
		(msg->message != NULL &&
		 etf_validate(msg->message, msg->message_len) != ETF_OK) ||
		(msg->reply != NULL && etf_validate(msg->reply, msg->reply_len) != ETF_OK) ||
		(msg->reason != NULL &&
		 etf_validate(msg->reason, msg->reason_len) != ETF_OK))
		return false;
	if (msg->name_len > MAX_NAME || msg->pid < 0 || msg->timeout_ms < 0)
		return false;
	for (i = 0; i < msg->nentries; i++)
		if (etf_validate(msg->entries[i].name, msg->entries[i].name_len) != ETF_OK)
			return false;
	return true;
}

/*
 * Mutates valid bodies of every kind and decodes them from buffers of
 * exactly their length (so that valgrind or ASan sees any overread).
 */
static void
test_fuzz(void)
{
	StringInfoData seeds[lengthof(event_cases) + 1];
	StringInfoData buf;
	RtTerms		t;
	int			counts[KZ_PROTO_NUM_ERRORS];
	int			nseeds = 0;
	int			undefined = 0;
	int			inconsistent = 0;
	int			iter;
	size_t		i;

	memset(counts, 0, sizeof(counts));
	rt_terms_init(&t);
	for (i = 0; i < lengthof(event_cases); i++)
	{
		char	   *body = build_body(event_cases[i].members, NULL, NULL);

		initStringInfo(&seeds[nseeds]);
		appendStringInfoString(&seeds[nseeds++], body);
		pfree(body);
	}
	initStringInfo(&seeds[nseeds]);
	encode_sync(&seeds[nseeds++], &t, 1);

	unit_rng_state = UINT64CONST(20240611);
	initStringInfo(&buf);
	for (iter = 0; iter < unit_fuzz_iterations(); iter++)
	{
		const StringInfoData *seed = &seeds[rng_below(nseeds)];
		int			nmut = 1 + (int) rng_below(4);
		KzBusMsg	msg;
		const char *detail = NULL;
		KzProtoError err;
		char	   *exact;

		resetStringInfo(&buf);
		appendBinaryStringInfo(&buf, seed->data, seed->len);
		while (nmut-- > 0 && buf.len < 16384)
			mutate(&buf);
		exact = palloc(buf.len + 1);
		memcpy(exact, buf.data, buf.len);
		err = kz_proto_decode(exact, buf.len, 16384, MAX_NAME, &msg, &detail);
		if ((int) err < 0 || err >= KZ_PROTO_NUM_ERRORS)
			undefined++;
		else
			counts[err]++;
		if (err == KZ_PROTO_OK && !msg_consistent(&msg))
			inconsistent++;
		if (err != KZ_PROTO_OK && (!msg_is_empty(&msg) || detail == NULL))
			inconsistent++;
		kz_proto_free(&msg);
		pfree(exact);
	}
	printf("fuzz: %d mutated bodies:", unit_fuzz_iterations());
	for (i = 0; i < KZ_PROTO_NUM_ERRORS; i++)
		printf(" %s %d", kz_proto_error_name((KzProtoError) i), counts[i]);
	printf("\n");
	CHECK(undefined == 0);
	CHECK(inconsistent == 0);
	/* the mutations reach every outcome but size */
	for (i = 0; i < KZ_PROTO_NUM_ERRORS; i++)
		CHECK(i == KZ_PROTO_TOO_LARGE || counts[i] > 0);

	for (i = 0; i < (size_t) nseeds; i++)
		pfree(seeds[i].data);
	pfree(buf.data);
	rt_terms_free(&t);
}

/* Keys the structured fuzzer picks from: ours, and some of Kazoo's. */
static const char *const fuzz_keys[] = {
	"App-Name", "Event-Category", "Event-Name", "Msg-ID", "Node", "Server-ID",
	"Zone", "AMQP-Broker-Zone", "Name", "State", "Timestamp", "Message",
	"Reply", "Reason", "Pid", "Sender-Pid", "Timeout", "Expires", "Globals",
	"Incarnation", "Session", "PG-Globals-Version", "Sync-ID", "Part", "Last",
	"Names", "local", "WhApps", "Node-Info", "X"
};

/* Scalars the structured fuzzer picks from. */
static const char *const fuzz_scalars[] = {
	"\"" B64_FOO "\"", "\"" B64_GEN_CAST "\"", "\"" B64_OK "\"", "\"g20=\"",
	"\"AAAA\"", "\"!!\"", "\"\"", "\"globals\"", "\"nodes\"", "\"register\"",
	"\"sync\"", "\"advertise\"", "\"reply\"", "\"call\"", "\"pending\"",
	"\"n@h\"", "\"a\\u0000b\"", "\"\\u00e9\\ud83d\\ude00\"", "\"123\"",
	"0", "-1", "1", "2147483648", "9223372036854775807",
	"-9223372036854775809", "1.5", "1e3", "true", "false", "null"
};

/* Appends a random JSON value, at most depth levels deep. */
static void
fuzz_value(StringInfo buf, int depth)
{
	size_t		kind = rng_below(depth > 0 ? 10 : 6);
	int			n;
	int			i;

	if (kind < 6)
	{
		appendStringInfoString(buf,
							   fuzz_scalars[rng_below(lengthof(fuzz_scalars))]);
		return;
	}
	n = (int) rng_below(4);
	if (kind < 8)
	{
		appendStringInfoChar(buf, '[');
		for (i = 0; i < n; i++)
		{
			if (i > 0)
				appendStringInfoChar(buf, ',');
			fuzz_value(buf, depth - 1);
		}
		appendStringInfoChar(buf, ']');
		return;
	}
	appendStringInfoChar(buf, '{');
	for (i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoChar(buf, ',');
		appendStringInfo(buf, "\"%s\":",
						 fuzz_keys[rng_below(lengthof(fuzz_keys))]);
		fuzz_value(buf, depth - 1);
	}
	appendStringInfoChar(buf, '}');
}

/*
 * Random valid JSON objects made of our keys and values of every type,
 * mostly with a valid envelope, so that the decoder's checks (rather than
 * the JSON syntax) are what the inputs exercise.
 */
static void
test_fuzz_structured(void)
{
	static const char *const events[][2] = {
		{"globals", "register"}, {"globals", "register_resp"},
		{"globals", "query"}, {"globals", "query_resp"},
		{"globals", "unregister"}, {"globals", "send"}, {"globals", "call"},
		{"globals", "reply"}, {"globals", "sync"}, {"nodes", "advertise"}
	};
	StringInfoData buf;
	int			counts[KZ_PROTO_NUM_ERRORS];
	int			bad = 0;
	int			iter;
	int			i;

	memset(counts, 0, sizeof(counts));
	unit_rng_state = UINT64CONST(4711);
	initStringInfo(&buf);
	for (iter = 0; iter < unit_fuzz_iterations(); iter++)
	{
		int			n = (int) rng_below(10);
		KzBusMsg	msg;
		const char *detail = NULL;
		KzProtoError err;

		resetStringInfo(&buf);
		appendStringInfoChar(&buf, '{');
		if (rng_below(10) < 8)
		{
			size_t		e = rng_below(lengthof(events));

			appendStringInfo(&buf, "\"Event-Category\":\"%s\","
							 "\"Event-Name\":\"%s\",\"Node\":\"n@h\"",
							 events[e][0], events[e][1]);
			if (rng_below(2))
				appendStringInfoString(&buf, ",\"Name\":\"" B64_FOO "\","
									   "\"Message\":\"" B64_OK "\",\"Reply\":\"" B64_OK "\","
									   "\"Expires\":5,\"Names\":[[\"" B64_FOO "\",1]]");
		}
		for (i = 0; i < n; i++)
		{
			if (buf.len > 1)
				appendStringInfoChar(&buf, ',');
			appendStringInfo(&buf, "\"%s\":",
							 fuzz_keys[rng_below(lengthof(fuzz_keys))]);
			fuzz_value(&buf, 4);
		}
		appendStringInfoChar(&buf, '}');
		err = kz_proto_decode(buf.data, buf.len, MAX_BODY, MAX_NAME, &msg,
							  &detail);
		if ((int) err < 0 || err >= KZ_PROTO_NUM_ERRORS ||
			err == KZ_PROTO_BAD_JSON || err == KZ_PROTO_TOO_LARGE)
			bad++;
		else
			counts[err]++;
		if (err == KZ_PROTO_OK ? !msg_consistent(&msg) :
			(!msg_is_empty(&msg) || detail == NULL))
			bad++;
		kz_proto_free(&msg);
	}
	printf("structured fuzz: %d random objects:", unit_fuzz_iterations());
	for (i = 0; i < KZ_PROTO_NUM_ERRORS; i++)
		printf(" %s %d", kz_proto_error_name((KzProtoError) i), counts[i]);
	printf("\n");
	CHECK(bad == 0);
	for (i = 0; i < KZ_PROTO_NUM_ERRORS; i++)
		CHECK(i == KZ_PROTO_TOO_LARGE || i == KZ_PROTO_BAD_JSON ||
			  counts[i] > 0);
	pfree(buf.data);
}

static void
test_queue_node(void)
{
	char		node[64];
	char		tiny[4];

	CHECK(kz_proto_queue_node("kzA@localhost-kz_globals-<0.266.0>-8c4dc5dc", node, sizeof(node)));
	CHECK_STR(node, "kzA@localhost");
	CHECK(kz_proto_queue_node("pg1@127.0.0.1-kz_globals-0123456789abcdef", node, sizeof(node)));
	CHECK_STR(node, "pg1@127.0.0.1");
	/* a node name holding the marker itself: the last one counts */
	CHECK(kz_proto_queue_node("a-kz_globals-b@h-kz_globals-01", node, sizeof(node)));
	CHECK_STR(node, "a-kz_globals-b@h");
	CHECK(kz_proto_queue_node("my-host@x-y-kz_globals-", node, sizeof(node)));
	CHECK_STR(node, "my-host@x-y");

	strcpy(node, "unchanged");
	CHECK(!kz_proto_queue_node(NULL, node, sizeof(node)));
	CHECK(!kz_proto_queue_node("", node, sizeof(node)));
	CHECK(!kz_proto_queue_node("-kz_globals-01", node, sizeof(node)));
	CHECK(!kz_proto_queue_node("kzA@localhost-kz_nodes-<0.1.0>-01", node, sizeof(node)));
	CHECK(!kz_proto_queue_node("amq.gen-JzTY20BRgKO-HjmUJj0wLg", node, sizeof(node)));
	CHECK_STR(node, "unchanged");
	CHECK(!kz_proto_queue_node("node@h-kz_globals-01", tiny, sizeof(tiny)));
	CHECK(kz_proto_queue_node("abc-kz_globals-01", tiny, sizeof(tiny)));
	CHECK_STR(tiny, "abc");
}

int
main(int argc, char **argv)
{
	test_kazoo_register();
	test_kazoo_others();
	test_kazoo_heartbeat();
	test_kazoo_sync();
	test_zones();
	test_missing_fields();
	test_field_types();
	test_states();
	test_terms();
	test_embedded_nul();
	test_bad_json();
	test_unicode();
	test_depth();
	test_too_large();
	test_long_messages();
	test_long_hostile();
	test_spans();
	test_events();
	test_duplicates();
	test_null_fields();
	test_pieces();
	test_roundtrip_minimal();
	test_sync_request();
	test_owner_exited();
	test_batches();
	test_escaping();
	test_routing_keys();
	test_msg_ids();
	test_queue_node();
	test_enum_names();
	test_claim_beats();
	test_fuzz();
	test_fuzz_structured();

	if (access("/usr/bin/python3", X_OK) == 0)
		cross_check_python();
	else
		printf("/usr/bin/python3 not found: skipping the JSON cross-check\n");
	if (system("command -v erl >/dev/null 2>&1") == 0)
		cross_check_erl_keys();
	else
		printf("erl not found on PATH: skipping the routing key cross-check\n");

	return unit_summary(argv[0]);
}
