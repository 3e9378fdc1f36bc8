/*-------------------------------------------------------------------------
 *
 * test_encode.c
 *	  Unit tests of the encoders the worker publishes with
 *	  (src/wire/encode.c), against the decoder (src/wire/decode.c).
 *
 * For every kind of message kz_globals sends, the production encoder's
 * body goes through the decoder and every field must come back as it went
 * in (round trips); the bodies of kz_globals' own events (batches, sync)
 * are also compared byte for byte with golden bodies, since no Kazoo
 * capture covers them (test_kazoo_fixtures.c does that for Kazoo's
 * events).  The claim id of a registry_batch's claims and of the answers
 * in a claim_batch_resp is checked in both shapes: with it (current nodes)
 * and without (kz_globals 1.0), which the decoder must still take.
 *
 * IDENTIFICATION
 *	  test/unit/test_encode.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <stdio.h>
#include <string.h>

#include "common/base64.h"
#include "mb/pg_wchar.h"
#include "compat.h"
#include "decode.h"
#include "encode.h"
#include "etf.h"
#include "json.h"
#include "protocol.h"
#include "routing.h"
#include "unit.h"
#include "unit_b64.h"

#define MAX_BODY	65536
#define MAX_NAME	320

#define T_NODE		"pg1@db1.example.com"
#define T_QUEUE		"pg1@db1.example.com-kz_globals-89abcd"
#define T_ZONE		"eu-west"
#define T_SESSION	UINT64CONST(0x89abcd)	/* KZ_SESSION_BITS wide */
#define T_INCARN	INT64CONST(63881234500000000)
#define T_TS		INT64CONST(63881234567890123)

/* base64 of term_to_binary(<<"foo">>) and of <<"bar">> */
#define B64_FOO		"g20AAAADZm9v"
#define B64_BAR		"g20AAAADYmFy"

static char t_msg_id[KZ_MSG_ID_LEN + 1];

/* The context as the worker fills it in, under Msg-ID msg_id. */
static KzEncodeCtx
context(const char *msg_id)
{
	KzEncodeCtx ctx;

	ctx.node = T_NODE;
	ctx.queue = T_QUEUE;
	ctx.zone = T_ZONE;
	ctx.session = T_SESSION;
	ctx.incarnation = T_INCARN;
	ctx.msg_id = msg_id;
	ctx.sender_role = NULL;
	ctx.sender_db = NULL;
	return ctx;
}

/* Decodes body; checks that it decodes, and the envelope every body has. */
static bool
decode_ours(const StringInfoData *body, KzEvent event, const char *app,
			const char *msg_id, KzBusMsg *msg)
{
	const char *detail = NULL;
	KzProtoError err = kz_proto_decode(body->data, body->len, MAX_BODY, MAX_NAME,
									   msg, &detail);

	if (err != KZ_PROTO_OK)
		fprintf(stderr, "refused (%s: %s): %s\n", kz_proto_error_name(err),
				detail ? detail : "", body->data);
	CHECK(err == KZ_PROTO_OK);
	if (err != KZ_PROTO_OK)
		return false;
	CHECK(msg->event == event);
	CHECK_STR(msg->app_name, app);
	CHECK_STR(msg->node, T_NODE);
	CHECK_STR(msg->msg_id, msg_id);
	return true;
}

/* A binary term of text. */
static StringInfo
binary(const char *text)
{
	StringInfo	t = makeStringInfo();

	etf_encode_binary(t, text, strlen(text));
	return t;
}

/* Is term[0..len) the binary text? */
static bool
is_binary(const uint8 *term, size_t len, const char *text)
{
	const char *data;
	size_t		dlen;

	return term != NULL && etf_decode_binary(term, len, &data, &dlen) &&
		dlen == strlen(text) && memcmp(data, text, dlen) == 0;
}

static bool
same_term(const uint8 *got, size_t got_len, const StringInfo want)
{
	return got != NULL && got_len == (size_t) want->len &&
		memcmp(got, want->data, want->len) == 0;
}

/* ---------------------------------------------------------------------
 * Kazoo's events, by our encoders, back through the decoder
 * ---------------------------------------------------------------------
 */

static void
test_claim_advert(void)
{
	StringInfo	name = binary("fax job 1");
	StringInfoData out;
	KzEncodeCtx ctx = context(t_msg_id);
	KzBusMsg	msg;

	initStringInfo(&out);
	kz_enc_claim(&out, &ctx, (uint8 *) name->data, name->len, T_TS);
	if (decode_ours(&out, KZ_EV_REGISTER, KZ_APP_NAME_GLOBALS, t_msg_id, &msg))
	{
		CHECK(msg.state == KZ_WS_PENDING);
		CHECK(same_term(msg.name, msg.name_len, name));
		CHECK(msg.has_timestamp && msg.timestamp == T_TS);
		CHECK_STR(msg.server_id, T_QUEUE);
		CHECK(msg.pid == 0 && msg.zone == NULL);
	}
	kz_proto_free(&msg);
	/* System-Log-ID: the Msg-ID, as Kazoo's request worker writes it */
	CHECK(strstr(out.data, "\"System-Log-ID\":\"89abcd0000000007\"") != NULL);

	resetStringInfo(&out);
	kz_enc_advert(&out, &ctx, (uint8 *) name->data, name->len, T_TS, 4242, NULL);
	if (decode_ours(&out, KZ_EV_REGISTER, KZ_APP_NAME_GLOBALS, t_msg_id, &msg))
	{
		CHECK(msg.state == KZ_WS_REGISTERED);
		CHECK(same_term(msg.name, msg.name_len, name));
		CHECK(msg.has_timestamp && msg.timestamp == T_TS);
		CHECK_STR(msg.server_id, T_QUEUE);
		CHECK_STR(msg.zone, T_ZONE);
		CHECK(msg.pid == 4242);
	}
	kz_proto_free(&msg);

	/* no Pid for a pid we do not know */
	resetStringInfo(&out);
	kz_enc_advert(&out, &ctx, (uint8 *) name->data, name->len, T_TS, 0, NULL);
	CHECK(strstr(out.data, "\"Pid\"") == NULL);
	pfree(out.data);
}

static void
test_answers(void)
{
	static const KzWireState states[] = {KZ_WS_NONE, KZ_WS_PENDING, KZ_WS_LOCAL,
	KZ_WS_REMOTE, KZ_WS_REGISTERED};
	const char *req_id = "0123456789abcdef";
	StringInfo	name = binary("worker7");
	StringInfoData out;
	KzEncodeCtx ctx = context(req_id);
	KzBusMsg	msg;
	int			i;

	initStringInfo(&out);
	for (i = 0; i < (int) lengthof(states); i++)
	{
		const char *server = states[i] == KZ_WS_REMOTE ? "other-queue" : NULL;

		resetStringInfo(&out);
		kz_enc_register_resp(&out, &ctx, server, (uint8 *) name->data, name->len,
							 states[i], T_TS, states[i] == KZ_WS_NONE ? 0 : 77);
		if (!decode_ours(&out, KZ_EV_REGISTER_RESP, KZ_APP_NAME_GLOBALS, req_id, &msg))
			continue;
		CHECK(msg.state == states[i]);
		CHECK(same_term(msg.name, msg.name_len, name));
		if (states[i] == KZ_WS_NONE)
		{
			/* Kazoo's form: State alone */
			CHECK(msg.server_id == NULL && !msg.has_timestamp && msg.pid == 0);
		}
		else
		{
			CHECK_STR(msg.server_id, server ? server : T_QUEUE);
			CHECK(msg.has_timestamp && msg.timestamp == T_TS && msg.pid == 77);
		}
		kz_proto_free(&msg);
	}

	resetStringInfo(&out);
	kz_enc_query_resp(&out, &ctx, (uint8 *) name->data, name->len, true, T_TS, 88);
	if (decode_ours(&out, KZ_EV_QUERY_RESP, KZ_APP_NAME_GLOBALS, req_id, &msg))
	{
		CHECK(msg.state == KZ_WS_LOCAL);
		CHECK_STR(msg.server_id, T_QUEUE);
		CHECK(msg.has_timestamp && msg.timestamp == T_TS && msg.pid == 88);
		kz_proto_free(&msg);
	}
	resetStringInfo(&out);
	kz_enc_query_resp(&out, &ctx, (uint8 *) name->data, name->len, false, T_TS, 88);
	if (decode_ours(&out, KZ_EV_QUERY_RESP, KZ_APP_NAME_GLOBALS, req_id, &msg))
	{
		CHECK(msg.state == KZ_WS_NONE);
		CHECK(msg.server_id == NULL && !msg.has_timestamp && msg.pid == 0);
		kz_proto_free(&msg);
	}
	pfree(out.data);
}

static void
test_query_unregister(void)
{
	StringInfo	name = binary("a name with spaces");
	StringInfoData out;
	KzEncodeCtx ctx = context(t_msg_id);
	KzBusMsg	msg;

	initStringInfo(&out);
	kz_enc_query(&out, &ctx, (uint8 *) name->data, name->len);
	if (decode_ours(&out, KZ_EV_QUERY, KZ_APP_NAME_GLOBALS, t_msg_id, &msg))
	{
		CHECK(same_term(msg.name, msg.name_len, name));
		CHECK_STR(msg.server_id, T_QUEUE);
		CHECK(msg.state == KZ_WS_ABSENT);
		kz_proto_free(&msg);
	}

	resetStringInfo(&out);
	kz_enc_unregister(&out, &ctx, (uint8 *) name->data, name->len, T_TS);
	if (decode_ours(&out, KZ_EV_UNREGISTER, KZ_APP_NAME_GLOBALS, t_msg_id, &msg))
	{
		static const uint8 normal[] = {131, ETF_ATOM_EXT, 0, 6, 'n', 'o', 'r', 'm', 'a', 'l'};

		CHECK(same_term(msg.name, msg.name_len, name));
		CHECK(msg.server_id == NULL);
		CHECK(msg.has_timestamp && msg.timestamp == T_TS);
		CHECK(msg.reason_len == sizeof(normal) &&
			  memcmp(msg.reason, normal, sizeof(normal)) == 0);
		kz_proto_free(&msg);
	}
	pfree(out.data);
}

static void
test_send_call_reply(void)
{
	StringInfo	name = binary("job12");
	StringInfoData out;
	KzEncodeCtx ctx = context(t_msg_id);
	KzBusMsg	msg;

	initStringInfo(&out);
	kz_enc_send(&out, &ctx, (uint8 *) name->data, name->len, "{\"a\": 1}", 8, 4343);
	if (decode_ours(&out, KZ_EV_SEND, KZ_APP_NAME_GLOBALS, t_msg_id, &msg))
	{
		CHECK(same_term(msg.name, msg.name_len, name));
		CHECK(is_binary(msg.message, msg.message_len, "{\"a\": 1}"));
		CHECK(msg.sender_pid == 4343);
		CHECK(msg.server_id == NULL);
		kz_proto_free(&msg);
	}

	resetStringInfo(&out);
	kz_enc_call(&out, &ctx, (uint8 *) name->data, name->len, "ping", 4, 4344, 5000);
	if (decode_ours(&out, KZ_EV_CALL, KZ_APP_NAME_GLOBALS, t_msg_id, &msg))
	{
		CHECK(same_term(msg.name, msg.name_len, name));
		CHECK(is_binary(msg.message, msg.message_len, "ping"));
		CHECK(msg.sender_pid == 4344 && msg.timeout_ms == 5000);
		CHECK_STR(msg.server_id, T_QUEUE);
		kz_proto_free(&msg);
	}

	resetStringInfo(&out);
	kz_enc_reply(&out, &ctx, "pong", 4, false);
	if (decode_ours(&out, KZ_EV_REPLY, KZ_APP_NAME_GLOBALS, t_msg_id, &msg))
	{
		CHECK(is_binary(msg.reply, msg.reply_len, "pong"));
		CHECK(!msg.owner_exited && msg.server_id == NULL && msg.name == NULL);
		kz_proto_free(&msg);
	}

	/* the owner ended: an empty Reply (the worker passes no body) */
	resetStringInfo(&out);
	kz_enc_reply(&out, &ctx, NULL, 0, true);
	if (decode_ours(&out, KZ_EV_REPLY, KZ_APP_NAME_GLOBALS, t_msg_id, &msg))
	{
		CHECK(is_binary(msg.reply, msg.reply_len, ""));
		CHECK(msg.owner_exited);
		kz_proto_free(&msg);
	}
	pfree(out.data);
}

static void
test_heartbeat(void)
{
	char		id[KZ_NODES_MSG_ID_LEN + 1];
	StringInfoData out;
	KzEncodeCtx ctx = context(id);
	KzHeartbeat hb;
	KzBusMsg	msg;
	int			sync;

	kz_proto_nodes_msg_id(id, T_SESSION, 12);
	initStringInfo(&out);
	for (sync = 0; sync < 2; sync++)
	{
		memset(&hb, 0, sizeof(hb));
		hb.expires_ms = 2400;
		hb.version = "kz_globals 1.0 (PostgreSQL 15)";
		hb.local = 3;
		hb.remote = 5;
		hb.pending = 1;
		hb.sync_request = sync;
		resetStringInfo(&out);
		kz_enc_heartbeat(&out, &ctx, &hb);
		if (!decode_ours(&out, KZ_EV_ADVERTISE, KZ_APP_NAME_NODES, id, &msg))
			continue;
		CHECK(msg.has_expires && msg.expires_ms == 2400);
		CHECK(msg.globals_nonempty && msg.globals_local == 3);
		CHECK(msg.incarnation == T_INCARN);
		CHECK_STR(msg.session, "000000000089abcd");
		CHECK(msg.pg_version == KZ_PG_PROTOCOL_VERSION);
		CHECK(msg.sync_request == (sync == 1));
		CHECK_STR(msg.server_id, T_QUEUE);
		CHECK_STR(msg.zone, T_ZONE);
		kz_proto_free(&msg);
	}
	/* Globals is never empty, even with no rows */
	memset(&hb, 0, sizeof(hb));
	hb.version = "v";
	resetStringInfo(&out);
	kz_enc_heartbeat(&out, &ctx, &hb);
	CHECK(strstr(out.data, "\"Globals\":{\"local\":0,\"remote\":0,\"pending\":0}") != NULL);
	pfree(out.data);
}

/* ---------------------------------------------------------------------
 * kz_globals' own events: round trips and golden bodies
 * ---------------------------------------------------------------------
 */

/* A KzOutEntry for name (a binary). */
static KzOutEntry
out_entry(const char *name, int64 ts, int32 pid, KzWireState state)
{
	KzOutEntry	e;
	StringInfo	t = binary(name);

	memset(&e, 0, sizeof(e));
	e.name.len = (uint16) t->len;
	memcpy(e.name.data, t->data, t->len);
	e.ts = ts;
	e.pid = pid;
	e.state = state;
	return e;
}

/* The head of a body of ours (Server-ID ours) under Msg-ID t_msg_id. */
static void
golden_head(StringInfo want, const char *event)
{
	appendStringInfo(want,
					 "{\"App-Name\":\"kazoo_globals\",\"App-Version\":\"4.0.0\","
					 "\"Event-Category\":\"globals\",\"Event-Name\":\"%s\","
					 "\"Msg-ID\":\"%s\",\"Node\":\"" T_NODE "\","
					 "\"Server-ID\":\"" T_QUEUE "\"", event, t_msg_id);
}

static void
test_registry_batch(void)
{
	KzOutEntry	e[3];
	StringInfoData out;
	StringInfoData want;
	KzEncodeCtx ctx = context(t_msg_id);
	KzBusMsg	msg;
	char		claim_id[KZ_MSG_ID_LEN + 1];

	e[0] = out_entry("foo", 10, 0, KZ_WS_PENDING);
	e[0].claim_id = 41;
	e[1] = out_entry("bar", 11, 77, KZ_WS_REGISTERED);
	e[2] = out_entry("foo", 12, 0, KZ_WS_NONE);
	kz_proto_msg_id(claim_id, T_SESSION, 41);

	initStringInfo(&out);
	kz_enc_registry_batch(&out, &ctx, e, 3);
	initStringInfo(&want);
	golden_head(&want, "registry_batch");
	appendStringInfo(&want, ",\"Names\":[[\"" B64_FOO "\",10,0,\"pending\",\"%s\"],"
					 "[\"" B64_BAR "\",11,77,\"registered\",\"\"],"
					 "[\"" B64_FOO "\",12,0,\"none\",\"\"]]}", claim_id);
	CHECK_STR(out.data, want.data);
	if (decode_ours(&out, KZ_EV_REGISTRY_BATCH, KZ_APP_NAME_GLOBALS, t_msg_id, &msg))
	{
		CHECK(msg.nentries == 3);
		CHECK_STR(msg.server_id, T_QUEUE);
		if (msg.nentries == 3)
		{
			CHECK(msg.entries[0].state == KZ_WS_PENDING && msg.entries[0].timestamp == 10);
			CHECK(is_binary(msg.entries[0].name, msg.entries[0].name_len, "foo"));
			CHECK_STR(msg.entries[0].claim, claim_id);
			CHECK(msg.entries[1].state == KZ_WS_REGISTERED && msg.entries[1].pid == 77);
			CHECK(msg.entries[1].claim == NULL);
			CHECK(msg.entries[2].state == KZ_WS_NONE && msg.entries[2].timestamp == 12);
			CHECK(msg.entries[2].claim == NULL);
		}
		kz_proto_free(&msg);
	}

	/* a claim without an id (none given): "" as kz_globals 1.0 sent it */
	e[0].claim_id = 0;
	resetStringInfo(&out);
	kz_enc_registry_batch(&out, &ctx, e, 1);
	resetStringInfo(&want);
	golden_head(&want, "registry_batch");
	appendStringInfoString(&want, ",\"Names\":[[\"" B64_FOO "\",10,0,\"pending\",\"\"]]}");
	CHECK_STR(out.data, want.data);
	if (decode_ours(&out, KZ_EV_REGISTRY_BATCH, KZ_APP_NAME_GLOBALS, t_msg_id, &msg))
	{
		CHECK(msg.nentries == 1 && msg.entries[0].claim == NULL &&
			  msg.entries[0].state == KZ_WS_PENDING);
		kz_proto_free(&msg);
	}
	pfree(out.data);
	pfree(want.data);
}

static void
test_claim_batch_resp(void)
{
	const char *req_id = "0123456789abcdef";
	const char *claim = "0089abcd00000029";
	KzOutEntry	e[3];
	StringInfoData out;
	StringInfoData want;
	KzEncodeCtx ctx = context(req_id);
	KzBusMsg	msg;
	int			shape;

	e[0] = out_entry("foo", 10, 0, KZ_WS_NONE);
	e[1] = out_entry("bar", 11, 77, KZ_WS_LOCAL);
	strlcpy(e[1].server, T_QUEUE, sizeof(e[1].server));
	e[2] = out_entry("foo", 9, 5, KZ_WS_REMOTE);
	strlcpy(e[2].server, "other-queue", sizeof(e[2].server));

	initStringInfo(&out);
	initStringInfo(&want);
	/* shape 0: answers to claims that came with their ids; 1: without */
	for (shape = 0; shape < 2; shape++)
	{
		int			i;

		for (i = 0; i < 3; i++)
			strlcpy(e[i].claim, shape == 0 ? claim : "", sizeof(e[i].claim));
		resetStringInfo(&out);
		kz_enc_claim_batch_resp(&out, &ctx, e, 3);
		resetStringInfo(&want);
		appendStringInfo(&want,
						 "{\"App-Name\":\"kazoo_globals\",\"App-Version\":\"4.0.0\","
						 "\"Event-Category\":\"globals\",\"Event-Name\":\"claim_batch_resp\","
						 "\"Msg-ID\":\"%s\",\"Node\":\"" T_NODE "\","
						 "\"Server-ID\":\"" T_QUEUE "\"", req_id);
		if (shape == 0)
			appendStringInfo(&want, ",\"Names\":[[\"" B64_FOO "\",10,0,\"none\",\"\",\"%s\"],"
							 "[\"" B64_BAR "\",11,77,\"local\",\"" T_QUEUE "\",\"%s\"],"
							 "[\"" B64_FOO "\",9,5,\"remote\",\"other-queue\",\"%s\"]]}",
							 claim, claim, claim);
		else
			appendStringInfoString(&want, ",\"Names\":[[\"" B64_FOO "\",10,0,\"none\",\"\"],"
								   "[\"" B64_BAR "\",11,77,\"local\",\"" T_QUEUE "\"],"
								   "[\"" B64_FOO "\",9,5,\"remote\",\"other-queue\"]]}");
		CHECK_STR(out.data, want.data);
		if (!decode_ours(&out, KZ_EV_CLAIM_BATCH_RESP, KZ_APP_NAME_GLOBALS, req_id, &msg))
			continue;
		CHECK(msg.nentries == 3);
		for (i = 0; i < msg.nentries && i < 3; i++)
		{
			CHECK(msg.entries[i].state == e[i].state);
			CHECK(msg.entries[i].timestamp == e[i].ts && msg.entries[i].pid == e[i].pid);
			CHECK_STR(msg.entries[i].text, e[i].server);
			if (shape == 0)
				CHECK_STR(msg.entries[i].claim, claim);
			else
				CHECK(msg.entries[i].claim == NULL);
		}
		kz_proto_free(&msg);
	}
	pfree(out.data);
	pfree(want.data);
}

/*
 * The claim in a batch entry, as the decoder checks it: a Msg-ID, only in
 * a registry_batch's claims and a claim_batch_resp's answers.
 */
static void
test_claim_ids_refused(void)
{
	static const struct
	{
		const char *event;
		const char *names;
		KzProtoError want;
	}			cases[] = {
		/* a registry_batch claim's text must be "" or a Msg-ID */
		{"registry_batch", "[[\"" B64_FOO "\",1,0,\"pending\",\"x\"]]", KZ_PROTO_BAD_FIELD},
		{"registry_batch", "[[\"" B64_FOO "\",1,0,\"pending\",\"0089ABCD00000029\"]]", KZ_PROTO_BAD_FIELD},
		{"registry_batch", "[[\"" B64_FOO "\",1,0,\"pending\",\"0089abcd0000002\"]]", KZ_PROTO_BAD_FIELD},
		/* other events' text is not a claim */
		{"registry_batch", "[[\"" B64_FOO "\",1,0,\"registered\",\"x\"]]", KZ_PROTO_OK},
		{"registry_batch", "[[\"" B64_FOO "\",1,0,\"pending\",null]]", KZ_PROTO_OK},
		/* no sixth element but in a claim_batch_resp */
		{"registry_batch", "[[\"" B64_FOO "\",1,0,\"pending\",\"\",\"0089abcd00000029\"]]", KZ_PROTO_BAD_FIELD},
		{"sync", "[[\"" B64_FOO "\",1,0,\"\",\"\",\"0089abcd00000029\"]]", KZ_PROTO_BAD_FIELD},
		{"claim_batch_resp", "[[\"" B64_FOO "\",1,0,\"none\",\"\",\"nope\"]]", KZ_PROTO_BAD_FIELD},
		{"claim_batch_resp", "[[\"" B64_FOO "\",1,0,\"none\",\"\",\"\"]]", KZ_PROTO_BAD_FIELD},
		{"claim_batch_resp", "[[\"" B64_FOO "\",1,0,\"none\",\"\",7]]", KZ_PROTO_BAD_FIELD},
		{"claim_batch_resp", "[[\"" B64_FOO "\",1,0,\"none\",\"\",null]]", KZ_PROTO_OK},
		{"claim_batch_resp", "[[\"" B64_FOO "\",1,0,\"none\",\"\",\"0089abcd00000029\",1]]", KZ_PROTO_BAD_FIELD},
		{"claim_batch_resp", "[[\"" B64_FOO "\",1,0,\"none\",\"\",\"0089abcd00000029\"]]", KZ_PROTO_OK},
	};
	StringInfoData out;
	int			i;

	initStringInfo(&out);
	for (i = 0; i < (int) lengthof(cases); i++)
	{
		KzEnvelope	env = {KZ_APP_NAME_GLOBALS, "globals", NULL,
		"0123456789abcdef", "pg@h", "q"};
		KzBusMsg	msg;
		const char *detail = NULL;
		KzProtoError err;

		env.event = cases[i].event;
		resetStringInfo(&out);
		kz_proto_begin(&out, &env);
		appendStringInfo(&out, ",\"Names\":%s}", cases[i].names);
		err = kz_proto_decode(out.data, out.len, MAX_BODY, MAX_NAME, &msg, &detail);
		if (err != cases[i].want)
			fprintf(stderr, "case %d: %s (%s)\n", i, kz_proto_error_name(err),
					detail ? detail : "");
		CHECK(err == cases[i].want);
		kz_proto_free(&msg);
	}
	pfree(out.data);
}

static void
test_send_batch(void)
{
	StringInfo	foo = binary("foo");
	StringInfo	bar = binary("bar");
	KzSendEntry e[2];
	StringInfoData out;
	StringInfoData want;
	KzEncodeCtx ctx = context(t_msg_id);
	KzBusMsg	msg;

	e[0].name = (uint8 *) foo->data;
	e[0].name_len = foo->len;
	e[0].sender_pid = 99;
	e[0].body = "bar";
	e[0].body_len = 3;
	e[1].name = (uint8 *) bar->data;
	e[1].name_len = bar->len;
	e[1].sender_pid = 98;
	e[1].body = "foo";
	e[1].body_len = 3;
	initStringInfo(&out);
	kz_enc_send_batch(&out, &ctx, e, 2);
	initStringInfo(&want);
	golden_head(&want, "send_batch");
	appendStringInfoString(&want, ",\"Names\":[[\"" B64_FOO "\",0,99,\"\",\"" B64_BAR "\"],"
						   "[\"" B64_BAR "\",0,98,\"\",\"" B64_FOO "\"]]}");
	CHECK_STR(out.data, want.data);
	if (decode_ours(&out, KZ_EV_SEND_BATCH, KZ_APP_NAME_GLOBALS, t_msg_id, &msg))
	{
		CHECK(msg.nentries == 2);
		if (msg.nentries == 2)
		{
			CHECK(is_binary(msg.entries[0].name, msg.entries[0].name_len, "foo"));
			CHECK(msg.entries[0].pid == 99);
			CHECK(is_binary(msg.entries[0].message, msg.entries[0].message_len, "bar"));
			CHECK(is_binary(msg.entries[1].message, msg.entries[1].message_len, "foo"));
			CHECK(msg.entries[1].claim == NULL);
		}
		kz_proto_free(&msg);
	}
	pfree(out.data);
	pfree(want.data);
}

static void
test_sync(void)
{
	KzNameEntry names[3];
	StringInfoData out;
	StringInfoData want;
	KzEncodeCtx ctx = context(t_msg_id);
	KzBusMsg	msg;
	int			i;

	for (i = 0; i < 3; i++)
	{
		StringInfo	t = binary(i == 1 ? "bar" : "foo");

		names[i].name.len = (uint16) t->len;
		memcpy(names[i].name.data, t->data, t->len);
		names[i].ts = T_TS + i;
		names[i].pid = i == 1 ? 0 : PG_INT32_MAX - i;
		names[i].meta = NULL;
	}
	initStringInfo(&out);
	kz_enc_sync(&out, &ctx, PG_INT64_MAX, 2, true, names, 3);
	initStringInfo(&want);
	golden_head(&want, "sync");
	appendStringInfoString(&want, ",\"Sync-ID\":9223372036854775807,\"Part\":2,\"Last\":true,"
						   "\"Names\":[[\"" B64_FOO "\",63881234567890123,2147483647],"
						   "[\"" B64_BAR "\",63881234567890124,0],"
						   "[\"" B64_FOO "\",63881234567890125,2147483645]]}");
	CHECK_STR(out.data, want.data);
	if (decode_ours(&out, KZ_EV_SYNC, KZ_APP_NAME_GLOBALS, t_msg_id, &msg))
	{
		CHECK(msg.sync_id == PG_INT64_MAX && msg.sync_part == 2 && msg.sync_last);
		CHECK(msg.nentries == 3);
		for (i = 0; i < msg.nentries && i < 3; i++)
		{
			CHECK(msg.entries[i].name_len == names[i].name.len &&
				  memcmp(msg.entries[i].name, names[i].name.data, names[i].name.len) == 0);
			CHECK(msg.entries[i].timestamp == names[i].ts);
			CHECK(msg.entries[i].pid == names[i].pid);
			CHECK(msg.entries[i].state == KZ_WS_ABSENT && msg.entries[i].claim == NULL);
		}
		kz_proto_free(&msg);
	}

	/* an empty sync: one part, Last, no names */
	resetStringInfo(&out);
	kz_enc_sync(&out, &ctx, 1, 0, true, names, 0);
	if (decode_ours(&out, KZ_EV_SYNC, KZ_APP_NAME_GLOBALS, t_msg_id, &msg))
	{
		CHECK(msg.sync_last && msg.sync_part == 0 && msg.nentries == 0);
		kz_proto_free(&msg);
	}
	pfree(out.data);
	pfree(want.data);
}

/*
 * Names of every kind in every message that carries one: binaries of each
 * length modulo 3 (base64 padding), empty, with every byte value, at the
 * size limit, and terms that are not binaries (atoms, tuples, integers).
 */
static void
test_names(void)
{
	StringInfoData names[12];
	StringInfoData out;
	KzEncodeCtx ctx = context(t_msg_id);
	char		all[MAX_NAME];
	int			nnames = 0;
	int			i;
	int			kind;

	for (i = 0; i < MAX_NAME; i++)
		all[i] = (char) (i % 256);
	for (i = 0; i < 12; i++)
		initStringInfo(&names[i]);
	etf_encode_binary(&names[nnames++], "", 0);
	etf_encode_binary(&names[nnames++], "a", 1);
	etf_encode_binary(&names[nnames++], "ab", 2);
	etf_encode_binary(&names[nnames++], "abc", 3);
	etf_encode_binary(&names[nnames++], "a.b*c#d e", 9);
	etf_encode_binary(&names[nnames++], all, 256);	/* every byte value */
	etf_encode_binary(&names[nnames++], all, MAX_NAME - 6); /* MAX_NAME as a term */
	etf_put_version(&names[nnames]);
	etf_put_atom(&names[nnames++], "atom_for_name", 13);
	etf_put_version(&names[nnames]);
	etf_put_tuple_header(&names[nnames], 2);
	etf_put_atom(&names[nnames], "fax", 3);
	etf_put_binary(&names[nnames++], "job1", 4);
	etf_put_version(&names[nnames]);
	etf_put_integer(&names[nnames++], PG_INT64_MIN);
	etf_put_version(&names[nnames]);
	etf_put_list_header(&names[nnames], 1);
	etf_put_integer(&names[nnames], 7);
	etf_put_nil(&names[nnames++]);
	etf_put_version(&names[nnames]);
	etf_put_nil(&names[nnames++]);

	initStringInfo(&out);
	for (i = 0; i < nnames; i++)
	{
		const uint8 *n = (const uint8 *) names[i].data;
		size_t		len = names[i].len;

		CHECK(etf_validate(n, len) == ETF_OK);
		for (kind = 0; kind < 8; kind++)
		{
			static const KzEvent events[] = {KZ_EV_REGISTER, KZ_EV_REGISTER,
				KZ_EV_REGISTER_RESP, KZ_EV_QUERY, KZ_EV_QUERY_RESP, KZ_EV_UNREGISTER,
			KZ_EV_SEND, KZ_EV_CALL};
			KzBusMsg	msg;

			resetStringInfo(&out);
			switch (kind)
			{
				case 0:
					kz_enc_claim(&out, &ctx, n, len, T_TS);
					break;
				case 1:
					kz_enc_advert(&out, &ctx, n, len, T_TS, 1, NULL);
					break;
				case 2:
					kz_enc_register_resp(&out, &ctx, NULL, n, len, KZ_WS_LOCAL, T_TS, 1);
					break;
				case 3:
					kz_enc_query(&out, &ctx, n, len);
					break;
				case 4:
					kz_enc_query_resp(&out, &ctx, n, len, true, T_TS, 1);
					break;
				case 5:
					kz_enc_unregister(&out, &ctx, n, len, T_TS);
					break;
				case 6:
					kz_enc_send(&out, &ctx, n, len, "m", 1, 1);
					break;
				default:
					kz_enc_call(&out, &ctx, n, len, "m", 1, 1, 1);
					break;
			}
			if (!decode_ours(&out, events[kind], KZ_APP_NAME_GLOBALS, t_msg_id, &msg))
				continue;
			CHECK(msg.name_len == len && memcmp(msg.name, n, len) == 0);
			kz_proto_free(&msg);
		}
	}
	for (i = 0; i < 12; i++)
		pfree(names[i].data);
	pfree(out.data);
}

/*
 * The sending session's role and database (ours): on a send, a call and a
 * send_batch when the worker gives them, absent otherwise; a bad one from
 * the bus refuses the whole message.
 */
static void
test_sender_identity(void)
{
	static const struct
	{
		const char *fields;
		KzProtoError want;
	}			bad[] = {
		{",\"Sender-Role\":\"alice\",\"Sender-Database\":\"app\"", KZ_PROTO_OK},
		{",\"Sender-Role\":\"\"", KZ_PROTO_BAD_FIELD},
		{",\"Sender-Database\":\"\"", KZ_PROTO_BAD_FIELD},
		{",\"Sender-Role\":\"a\\tb\"", KZ_PROTO_BAD_FIELD},
		{",\"Sender-Role\":\"a\\u007fb\"", KZ_PROTO_BAD_FIELD},
		{",\"Sender-Role\":\"a\\u0000b\"", KZ_PROTO_BAD_FIELD},
		{",\"Sender-Role\":7", KZ_PROTO_BAD_FIELD},
		{",\"Sender-Database\":[\"app\"]", KZ_PROTO_BAD_FIELD},
		{",\"Sender-Role\":\"" "0123456789012345678901234567890123456789012345678901234567890123" "\"",
		KZ_PROTO_BAD_FIELD},
		{",\"Sender-Role\":\"" "012345678901234567890123456789012345678901234567890123456789012" "\"",
		KZ_PROTO_OK},
	};
	StringInfo	name = binary("job12");
	StringInfoData out;
	KzEncodeCtx ctx = context(t_msg_id);
	KzSendEntry e;
	KzBusMsg	msg;
	int			i;

	initStringInfo(&out);
	kz_enc_send(&out, &ctx, (uint8 *) name->data, name->len, "m", 1, 7);
	if (decode_ours(&out, KZ_EV_SEND, KZ_APP_NAME_GLOBALS, t_msg_id, &msg))
	{
		CHECK(msg.sender_role == NULL && msg.sender_db == NULL);
		CHECK(!msg.verified);
		kz_proto_free(&msg);
	}
	ctx.sender_role = "r\xc3\xb4le \"x\"";
	ctx.sender_db = "app db";
	resetStringInfo(&out);
	kz_enc_send(&out, &ctx, (uint8 *) name->data, name->len, "m", 1, 7);
	if (decode_ours(&out, KZ_EV_SEND, KZ_APP_NAME_GLOBALS, t_msg_id, &msg))
	{
		CHECK_STR(msg.sender_role, ctx.sender_role);
		CHECK_STR(msg.sender_db, ctx.sender_db);
		CHECK(!msg.verified);	/* only the receiver's check sets it */
		kz_proto_free(&msg);
	}
	resetStringInfo(&out);
	kz_enc_call(&out, &ctx, (uint8 *) name->data, name->len, "m", 1, 7, 100);
	if (decode_ours(&out, KZ_EV_CALL, KZ_APP_NAME_GLOBALS, t_msg_id, &msg))
	{
		CHECK_STR(msg.sender_role, ctx.sender_role);
		CHECK_STR(msg.sender_db, ctx.sender_db);
		kz_proto_free(&msg);
	}
	e.name = (uint8 *) name->data;
	e.name_len = name->len;
	e.sender_pid = 7;
	e.body = "m";
	e.body_len = 1;
	resetStringInfo(&out);
	kz_enc_send_batch(&out, &ctx, &e, 1);
	if (decode_ours(&out, KZ_EV_SEND_BATCH, KZ_APP_NAME_GLOBALS, t_msg_id, &msg))
	{
		CHECK_STR(msg.sender_role, ctx.sender_role);
		CHECK_STR(msg.sender_db, ctx.sender_db);
		CHECK(msg.nentries == 1);
		kz_proto_free(&msg);
	}

	for (i = 0; i < (int) lengthof(bad); i++)
	{
		KzEnvelope	env = {KZ_APP_NAME_GLOBALS, "globals", "send",
		"0123456789abcdef", "pg@h", NULL};
		const char *detail = NULL;
		KzProtoError err;

		resetStringInfo(&out);
		kz_proto_begin(&out, &env);
		appendStringInfoString(&out, ",\"Name\":\"" B64_FOO "\",\"Message\":\"" B64_BAR "\"");
		appendStringInfo(&out, "%s}", bad[i].fields);
		err = kz_proto_decode(out.data, out.len, MAX_BODY, MAX_NAME, &msg, &detail);
		if (err != bad[i].want)
			fprintf(stderr, "identity case %d: %s (%s)\n", i, kz_proto_error_name(err),
					detail ? detail : "");
		CHECK(err == bad[i].want);
		kz_proto_free(&msg);
	}
	pfree(out.data);
}

/* Strings the encoders escape: they come back as they went in. */
static void
test_escaped_context(void)
{
	StringInfoData out;
	KzEncodeCtx ctx = context(t_msg_id);
	KzHeartbeat hb;
	KzBusMsg	msg;

	ctx.node = "pg\"1\\@h\tost é";
	ctx.zone = "zone\n\x01";
	memset(&hb, 0, sizeof(hb));
	hb.version = "v";
	initStringInfo(&out);
	kz_enc_heartbeat(&out, &ctx, &hb);
	CHECK(kz_proto_decode(out.data, out.len, MAX_BODY, MAX_NAME, &msg, NULL) == KZ_PROTO_OK);
	CHECK_STR(msg.node, ctx.node);
	CHECK_STR(msg.zone, ctx.zone);
	kz_proto_free(&msg);
	pfree(out.data);
}

/*
 * Registration metadata (protocol.h): Meta on an advertisement, Metas
 * beside the Names of a registry_batch and a sync, each a JSON string of
 * JSON text; then what the decoder refuses.
 */
static void
test_meta_round_trip(void)
{
	static const char *meta = "{\"v\": \"2.1\", \"shard\": [1, \"\xc3\xa9\\\"x\\u001f\", -1.5e+300]}";
	StringInfo	name = binary("svc");
	StringInfoData out;
	StringInfoData want;
	KzEncodeCtx ctx = context(t_msg_id);
	KzBusMsg	msg;
	KzOutEntry	e[3];
	KzNameEntry names[2];
	int			i;

	initStringInfo(&out);
	kz_enc_advert(&out, &ctx, (uint8 *) name->data, name->len, T_TS, 4242, meta);
	/* a string field after Kazoo's, which Kazoo's from_json never reads */
	CHECK(strstr(out.data, ",\"Meta\":\"{\\\"v\\\": \\\"2.1\\\"") != NULL);
	if (decode_ours(&out, KZ_EV_REGISTER, KZ_APP_NAME_GLOBALS, t_msg_id, &msg))
	{
		CHECK_STR(msg.meta, meta);
		CHECK(msg.pid == 4242 && msg.state == KZ_WS_REGISTERED);
		kz_proto_free(&msg);
	}

	/* a registry_batch: Metas only when some entry has metadata */
	e[0] = out_entry("foo", 10, 0, KZ_WS_PENDING);
	e[1] = out_entry("bar", 11, 77, KZ_WS_REGISTERED);
	e[2] = out_entry("foo", 12, 0, KZ_WS_NONE);
	resetStringInfo(&out);
	kz_enc_registry_batch(&out, &ctx, e, 3);
	CHECK(strstr(out.data, "Metas") == NULL);
	e[1].meta = "[1,2]";
	resetStringInfo(&out);
	kz_enc_registry_batch(&out, &ctx, e, 3);
	CHECK(strstr(out.data, "\"Metas\":[null,\"[1,2]\",null]}") != NULL);
	if (decode_ours(&out, KZ_EV_REGISTRY_BATCH, KZ_APP_NAME_GLOBALS, t_msg_id, &msg))
	{
		CHECK(msg.nentries == 3);
		if (msg.nentries == 3)
		{
			CHECK(msg.entries[0].meta == NULL && msg.entries[2].meta == NULL);
			CHECK_STR(msg.entries[1].meta, "[1,2]");
		}
		kz_proto_free(&msg);
	}

	/* a sync */
	for (i = 0; i < 2; i++)
	{
		names[i].name.len = (uint16) name->len;
		memcpy(names[i].name.data, name->data, name->len);
		names[i].ts = T_TS + i;
		names[i].pid = 10 + i;
		names[i].meta = i == 0 ? meta : NULL;
	}
	resetStringInfo(&out);
	kz_enc_sync(&out, &ctx, 5, 0, true, names, 2);
	initStringInfo(&want);
	kz_json_append_string(&want, meta);
	CHECK(strstr(out.data, ",\"Metas\":[") != NULL && strstr(out.data, want.data) != NULL);
	if (decode_ours(&out, KZ_EV_SYNC, KZ_APP_NAME_GLOBALS, t_msg_id, &msg))
	{
		CHECK(msg.nentries == 2);
		if (msg.nentries == 2)
		{
			CHECK_STR(msg.entries[0].meta, meta);
			CHECK(msg.entries[1].meta == NULL);
		}
		kz_proto_free(&msg);
	}
	pfree(out.data);
	pfree(want.data);
}

/* Metadata the decoder refuses (BAD_FIELD: the message is dropped). */
static void
test_meta_refused(void)
{
	static const struct
	{
		const char *event;
		const char *fields;
		KzProtoError want;
	}			cases[] = {
		{"register", ",\"Meta\":\"{\\\"a\\\":1}\"", KZ_PROTO_OK},
		{"register", ",\"Meta\":\" [ ] \"", KZ_PROTO_OK},
		{"register", ",\"Meta\":null", KZ_PROTO_OK},
		/* not a string, not an object or array, not JSON, \u0000 */
		{"register", ",\"Meta\":{\"a\":1}", KZ_PROTO_BAD_FIELD},
		{"register", ",\"Meta\":7", KZ_PROTO_BAD_FIELD},
		{"register", ",\"Meta\":\"7\"", KZ_PROTO_BAD_FIELD},
		{"register", ",\"Meta\":\"\\\"s\\\"\"", KZ_PROTO_BAD_FIELD},
		{"register", ",\"Meta\":\"\"", KZ_PROTO_BAD_FIELD},
		{"register", ",\"Meta\":\"{\"", KZ_PROTO_BAD_FIELD},
		{"register", ",\"Meta\":\"{} x\"", KZ_PROTO_BAD_FIELD},
		{"register", ",\"Meta\":\"[1,]\"", KZ_PROTO_BAD_FIELD},
		{"register", ",\"Meta\":\"{\\\"a\\\":\\\"\\\\u0000\\\"}\"", KZ_PROTO_BAD_FIELD},
		{"register", ",\"Meta\":\"{\\u0000}\"", KZ_PROTO_BAD_FIELD},
		{"register", ",\"Meta\":\"[\\\"\\\\ud800\\\"]\"", KZ_PROTO_BAD_FIELD},
		/* scalars jsonb may refuse: \u escapes from U+0080, huge numbers */
		{"register", ",\"Meta\":\"[\\\"\\\\u00e9\\\"]\"", KZ_PROTO_BAD_FIELD},
		{"register", ",\"Meta\":\"[\\\"\\\\u007f\\\\\\\\u00\\\"]\"", KZ_PROTO_OK},
		{"register", ",\"Meta\":\"[1e999, -2E-999, 3e+0999, 0.5]\"", KZ_PROTO_OK},
		{"register", ",\"Meta\":\"[1e1000]\"", KZ_PROTO_BAD_FIELD},
		{"register", ",\"Meta\":\"{\\\"n\\\": -1E-1000}\"", KZ_PROTO_BAD_FIELD},
		/* Metas: an array of strings or nulls, one per entry of Names */
		{"registry_batch", ",\"Names\":[[\"" B64_FOO "\",1,0,\"registered\"]],\"Metas\":[null]", KZ_PROTO_OK},
		{"registry_batch", ",\"Names\":[[\"" B64_FOO "\",1,0,\"registered\"]],\"Metas\":[\"{}\"]", KZ_PROTO_OK},
		{"registry_batch", ",\"Names\":[[\"" B64_FOO "\",1,0,\"registered\"]],\"Metas\":[]", KZ_PROTO_BAD_FIELD},
		{"registry_batch", ",\"Names\":[[\"" B64_FOO "\",1,0,\"registered\"]],\"Metas\":[null,null]", KZ_PROTO_BAD_FIELD},
		{"registry_batch", ",\"Names\":[[\"" B64_FOO "\",1,0,\"registered\"]],\"Metas\":[{}]", KZ_PROTO_BAD_FIELD},
		{"registry_batch", ",\"Names\":[[\"" B64_FOO "\",1,0,\"registered\"]],\"Metas\":[[]]", KZ_PROTO_BAD_FIELD},
		{"registry_batch", ",\"Names\":[[\"" B64_FOO "\",1,0,\"registered\"]],\"Metas\":[1]", KZ_PROTO_BAD_FIELD},
		{"registry_batch", ",\"Names\":[[\"" B64_FOO "\",1,0,\"registered\"]],\"Metas\":[\"1\"]", KZ_PROTO_BAD_FIELD},
		{"registry_batch", ",\"Names\":[[\"" B64_FOO "\",1,0,\"registered\"]],\"Metas\":{}", KZ_PROTO_BAD_FIELD},
		{"registry_batch", ",\"Names\":[[\"" B64_FOO "\",1,0,\"registered\"]],\"Metas\":\"[]\"", KZ_PROTO_BAD_FIELD},
		{"sync", ",\"Names\":[[\"" B64_FOO "\",1,0]],\"Metas\":[\"{]\"]", KZ_PROTO_BAD_FIELD},
		/* the last of duplicate keys counts, as everywhere */
		{"sync", ",\"Metas\":[1],\"Names\":[[\"" B64_FOO "\",1,0]],\"Metas\":[null]", KZ_PROTO_OK},
	};
	StringInfoData out;
	int			i;

	initStringInfo(&out);
	for (i = 0; i < (int) lengthof(cases); i++)
	{
		KzEnvelope	env = {KZ_APP_NAME_GLOBALS, "globals", NULL,
		"0123456789abcdef", "pg@h", "q"};
		KzBusMsg	msg;
		const char *detail = NULL;
		KzProtoError err;

		env.event = cases[i].event;
		resetStringInfo(&out);
		kz_proto_begin(&out, &env);
		if (strcmp(cases[i].event, "register") == 0)
			appendStringInfoString(&out, ",\"Name\":\"" B64_FOO "\",\"State\":\"registered\"");
		appendStringInfo(&out, "%s}", cases[i].fields);
		err = kz_proto_decode(out.data, out.len, MAX_BODY, MAX_NAME, &msg, &detail);
		if (err != cases[i].want)
			fprintf(stderr, "meta case %d: %s (%s)\n", i, kz_proto_error_name(err),
					detail ? detail : "");
		CHECK(err == cases[i].want);
		kz_proto_free(&msg);
	}

	/* 15000 digits after the point are accepted, 15001 are not */
	for (i = 0; i < 2; i++)
	{
		KzEnvelope	env = {KZ_APP_NAME_GLOBALS, "globals", "register",
		"0123456789abcdef", "pg@h", "q"};
		KzBusMsg	msg;
		int			j;

		resetStringInfo(&out);
		kz_proto_begin(&out, &env);
		appendStringInfoString(&out, ",\"Name\":\"" B64_FOO "\",\"State\":\"registered\",\"Meta\":\"[123.");
		for (j = 0; j < 15000 + i; j++)
			appendStringInfoChar(&out, '1');
		appendStringInfoString(&out, "e5]\"}");
		CHECK(kz_proto_decode(out.data, out.len, MAX_BODY, MAX_NAME, &msg, NULL) ==
			  (i == 0 ? KZ_PROTO_OK : KZ_PROTO_BAD_FIELD));
		kz_proto_free(&msg);
	}

	/* longer than KZ_META_MAX_BYTES: refused, one byte less is not */
	for (i = 0; i < 2; i++)
	{
		KzEnvelope	env = {KZ_APP_NAME_GLOBALS, "globals", "register",
		"0123456789abcdef", "pg@h", "q"};
		KzBusMsg	msg;
		int			len = KZ_META_MAX_BYTES + 1 - i;
		int			j;

		resetStringInfo(&out);
		kz_proto_begin(&out, &env);
		appendStringInfoString(&out, ",\"Name\":\"" B64_FOO "\",\"State\":\"registered\",\"Meta\":\"[");
		for (j = 2; j < len; j++)
			appendStringInfoChar(&out, ' ');
		appendStringInfoString(&out, "]\"}");
		CHECK(kz_proto_decode(out.data, out.len, 4 * MAX_BODY, MAX_NAME, &msg, NULL) ==
			  (i == 0 ? KZ_PROTO_BAD_FIELD : KZ_PROTO_OK));
		CHECK(i == 0 || (msg.meta != NULL && strlen(msg.meta) == (size_t) len));
		kz_proto_free(&msg);
	}
	pfree(out.data);
}

/* Process groups: members, sync and publish round trips; the group key. */
static void
test_groups(void)
{
	StringInfoData out;
	KzEncodeCtx ctx = context(t_msg_id);
	KzOutEntry	e[2];
	KzBusMsg	msg;
	StringInfo	g = binary("room");
	char		key[KZ_GROUP_KEY_SIZE];
	char		long_group[KZ_GROUP_MAX_BYTES];
	char		key2[KZ_GROUP_KEY_SIZE];

	memset(e, 0, sizeof(e));
	memcpy(e[0].name.data, g->data, g->len);
	e[0].name.len = g->len;
	e[0].ts = T_TS;
	e[0].pid = 4242;
	e[0].state = KZ_WS_REGISTERED;
	e[1] = e[0];
	e[1].pid = 4343;
	e[1].state = KZ_WS_NONE;

	initStringInfo(&out);
	kz_enc_group_members(&out, &ctx, e, 2);
	if (decode_ours(&out, KZ_EV_GROUP_MEMBERS, KZ_APP_NAME_GLOBALS, t_msg_id, &msg))
	{
		CHECK_STR(msg.server_id, T_QUEUE);
		CHECK(msg.nentries == 2);
		CHECK(is_binary(msg.entries[0].name, msg.entries[0].name_len, "room"));
		CHECK(msg.entries[0].timestamp == T_TS);
		CHECK(msg.entries[0].pid == 4242);
		CHECK(msg.entries[0].state == KZ_WS_REGISTERED);
		CHECK(msg.entries[1].pid == 4343);
		CHECK(msg.entries[1].state == KZ_WS_NONE);
		kz_proto_free(&msg);
	}

	resetStringInfo(&out);
	kz_enc_group_sync(&out, &ctx, 9, 1, true, e, 1);
	if (decode_ours(&out, KZ_EV_GROUP_SYNC, KZ_APP_NAME_GLOBALS, t_msg_id, &msg))
	{
		CHECK(msg.sync_id == 9);
		CHECK(msg.sync_part == 1);
		CHECK(msg.sync_last);
		CHECK(msg.nentries == 1);
		CHECK(msg.entries[0].state == KZ_WS_REGISTERED);
		kz_proto_free(&msg);
	}
	/* an empty sync (a node without members) is one part, with Names [] */
	resetStringInfo(&out);
	kz_enc_group_sync(&out, &ctx, 10, 0, true, e, 0);
	if (decode_ours(&out, KZ_EV_GROUP_SYNC, KZ_APP_NAME_GLOBALS, t_msg_id, &msg))
	{
		CHECK(msg.nentries == 0);
		CHECK(msg.sync_last);
		kz_proto_free(&msg);
	}

	resetStringInfo(&out);
	ctx.sender_role = "app";
	ctx.sender_db = "shop";
	kz_enc_group_publish(&out, &ctx, (const uint8 *) g->data, g->len, "héllo", strlen("héllo"), 77);
	ctx.sender_role = NULL;
	ctx.sender_db = NULL;
	if (decode_ours(&out, KZ_EV_GROUP_PUBLISH, KZ_APP_NAME_GLOBALS, t_msg_id, &msg))
	{
		CHECK(is_binary(msg.name, msg.name_len, "room"));
		CHECK(is_binary(msg.message, msg.message_len, "héllo"));
		CHECK(msg.sender_pid == 77);
		CHECK_STR(msg.sender_role, "app");
		CHECK_STR(msg.sender_db, "shop");
		kz_proto_free(&msg);
	}

	/* a group_publish needs Name and Message, a group_members Names */
	{
		static const char *const bodies[] = {"group_publish", "group_members", "group_sync"};
		int			i;

		for (i = 0; i < (int) lengthof(bodies); i++)
		{
			KzEnvelope	env = {KZ_APP_NAME_GLOBALS, "globals", NULL,
			"0123456789abcdef", "pg@h", "q"};

			env.event = bodies[i];
			resetStringInfo(&out);
			kz_proto_begin(&out, &env);
			appendStringInfoString(&out, ",\"Name\":\"" B64_FOO "\"}");
			CHECK(kz_proto_decode(out.data, out.len, MAX_BODY, MAX_NAME, &msg, NULL) ==
				  KZ_PROTO_MISSING_FIELD);
			kz_proto_free(&msg);
		}
	}

	/* keys: plain up to KZ_GROUP_KEY_PLAIN bytes, a hash beyond; always a short string */
	kz_proto_group_key(key, "room", 4);
	CHECK_STR(key, "g.room");
	memset(long_group, 'x', sizeof(long_group));
	kz_proto_group_key(key, long_group, KZ_GROUP_KEY_PLAIN);
	CHECK(strlen(key) == 2 + KZ_GROUP_KEY_PLAIN && key[0] == 'g');
	kz_proto_group_key(key, long_group, KZ_GROUP_KEY_PLAIN + 1);
	CHECK(strlen(key) == 18 && strncmp(key, "h.", 2) == 0);
	kz_proto_group_key(key2, long_group, KZ_GROUP_MAX_BYTES);
	CHECK(strlen(key2) == 18 && strcmp(key, key2) != 0);
	kz_proto_group_key(key2, long_group, KZ_GROUP_KEY_PLAIN + 1);
	CHECK_STR(key2, key);		/* the same group, the same key */
	pfree(out.data);
}

/* ---------------------------------------------------------------------
 * Large and awkward message bodies, byte for byte
 * ---------------------------------------------------------------------
 */

/* Bytes of every value, NUL and invalid UTF-8 included. */
static char *
awkward_bytes(size_t len)
{
	char	   *b = palloc(len + 1);
	size_t		i;

	for (i = 0; i < len; i++)
		b[i] = (char) (unit_rng_next() & 0xFF);
	b[len] = '\0';
	return b;
}

/* The text of the string after "key": in body (palloc'd), or NULL. */
static char *
field_text(const char *body, const char *key)
{
	char	   *k = psprintf("\"%s\":\"", key);
	const char *p = strstr(body, k);
	const char *end;
	char	   *v = NULL;

	if (p != NULL)
	{
		p += strlen(k);
		end = strchr(p, '"');
		if (end != NULL)
			v = pnstrdup(p, end - p);
	}
	pfree(k);
	return v;
}

/*
 * send, call, reply and group_publish of bodies of every length around a
 * base64 group and the stand-in threshold, and large ones: the Message or
 * Reply field is what pg_b64_encode writes of the term buffer, and the
 * decoder gives back the bytes.
 */
static void
test_large_bodies(void)
{
	static const size_t sizes[] = {
		0, 1, 2, 3, 4, 5, 6, 7, 183, 184, 185, 186, 187, 255, 256, 1023,
		8192, 40000, 48000
	};
	StringInfo	name = binary("big");
	KzEncodeCtx ctx = context(t_msg_id);
	StringInfoData out;
	size_t		i;

	initStringInfo(&out);
	for (i = 0; i < lengthof(sizes); i++)
	{
		size_t		n = sizes[i];
		char	   *bytes = awkward_bytes(n);
		char	   *want = b64_binary(bytes, n);
		KzBusMsg	msg;
		char	   *got;
		const char *data;
		size_t		dlen;

		resetStringInfo(&out);
		kz_enc_send(&out, &ctx, (uint8 *) name->data, name->len, bytes, n, 1);
		got = field_text(out.data, "Message");
		CHECK(got != NULL && strcmp(got, want) == 0);
		if (decode_ours(&out, KZ_EV_SEND, KZ_APP_NAME_GLOBALS, t_msg_id, &msg))
		{
			CHECK(etf_decode_binary(msg.message, msg.message_len, &data, &dlen) &&
				  dlen == n && memcmp(data, bytes, n) == 0);
			kz_proto_free(&msg);
		}
		pfree(got);

		resetStringInfo(&out);
		kz_enc_call(&out, &ctx, (uint8 *) name->data, name->len, bytes, n, 2, 5000);
		got = field_text(out.data, "Message");
		CHECK(got != NULL && strcmp(got, want) == 0);
		pfree(got);

		resetStringInfo(&out);
		kz_enc_reply(&out, &ctx, bytes, n, false);
		got = field_text(out.data, "Reply");
		CHECK(got != NULL && strcmp(got, want) == 0);
		if (decode_ours(&out, KZ_EV_REPLY, KZ_APP_NAME_GLOBALS, t_msg_id, &msg))
		{
			CHECK(etf_decode_binary(msg.reply, msg.reply_len, &data, &dlen) &&
				  dlen == n && memcmp(data, bytes, n) == 0);
			kz_proto_free(&msg);
		}
		pfree(got);

		resetStringInfo(&out);
		kz_enc_group_publish(&out, &ctx, (uint8 *) name->data, name->len, bytes, n, 3);
		got = field_text(out.data, "Message");
		CHECK(got != NULL && strcmp(got, want) == 0);
		pfree(got);

		/* in a send_batch entry too */
		{
			KzSendEntry e;
			char	   *entry;

			e.name = (uint8 *) name->data;
			e.name_len = name->len;
			e.sender_pid = 4;
			e.body = bytes;
			e.body_len = n;
			resetStringInfo(&out);
			kz_enc_send_batch(&out, &ctx, &e, 1);
			entry = psprintf(",0,4,\"\",\"%s\"]]}", want);
			CHECK(out.len > (int) strlen(entry) &&
				  strcmp(out.data + out.len - strlen(entry), entry) == 0);
			if (decode_ours(&out, KZ_EV_SEND_BATCH, KZ_APP_NAME_GLOBALS, t_msg_id, &msg))
			{
				CHECK(msg.nentries == 1 &&
					  etf_decode_binary(msg.entries[0].message,
										msg.entries[0].message_len, &data, &dlen) &&
					  dlen == n && memcmp(data, bytes, n) == 0);
				kz_proto_free(&msg);
			}
			pfree(entry);
		}
		pfree(want);
		pfree(bytes);
	}
	/* no body at all is the empty binary */
	resetStringInfo(&out);
	kz_enc_reply(&out, &ctx, NULL, 0, true);
	{
		char	   *got = field_text(out.data, "Reply");
		char	   *want = b64_binary("", 0);

		CHECK(got != NULL && strcmp(got, want) == 0);
		pfree(got);
		pfree(want);
	}
	pfree(out.data);
}

/*
 * kz_json_append_string as it was written byte by byte, to compare the
 * run-at-a-time writer with.
 */
static void
append_string_bytewise(StringInfo out, const char *s)
{
	size_t		len = strlen(s);
	size_t		i = 0;

	appendStringInfoChar(out, '"');
	while (i < len)
	{
		unsigned char c = (unsigned char) s[i];

		if (c >= 0x80)
		{
			int			n = pg_utf_mblen((const unsigned char *) s + i);

			if ((size_t) n > len - i ||
				!pg_utf8_islegal((const unsigned char *) s + i, n))
			{
				appendStringInfoString(out, "\\ufffd");
				n = 1;
			}
			else
				appendBinaryStringInfo(out, s + i, n);
			i += n;
			continue;
		}
		if (c == '"')
			appendStringInfoString(out, "\\\"");
		else if (c == '\\')
			appendStringInfoString(out, "\\\\");
		else if (c == '\b')
			appendStringInfoString(out, "\\b");
		else if (c == '\f')
			appendStringInfoString(out, "\\f");
		else if (c == '\n')
			appendStringInfoString(out, "\\n");
		else if (c == '\r')
			appendStringInfoString(out, "\\r");
		else if (c == '\t')
			appendStringInfoString(out, "\\t");
		else if (c < 0x20)
			appendStringInfo(out, "\\u%04x", c);
		else
			appendStringInfoChar(out, (char) c);
		i++;
	}
	appendStringInfoChar(out, '"');
}

/*
 * JSON strings of random bytes (mostly printable, with quotes,
 * backslashes, control characters, UTF-8 and invalid bytes at random
 * places, runs of every length around the eight bytes read at a time):
 * written as the byte-by-byte writer wrote them.
 */
static void
test_string_writer(void)
{
	StringInfoData got;
	StringInfoData want;
	int			iter;
	int			n = unit_fuzz_iterations() / 10;

	initStringInfo(&got);
	initStringInfo(&want);
	for (iter = 0; iter < n; iter++)
	{
		size_t		len = unit_rng_next() % 70;
		char	   *s = palloc(len + 1);
		size_t		i;

		for (i = 0; i < len; i++)
		{
			uint64		r = unit_rng_next();

			if (r % 8 != 0)
				s[i] = (char) (0x20 + (r >> 8) % 95);
			else
				s[i] = (char) (1 + (r >> 8) % 255);
		}
		s[len] = '\0';
		resetStringInfo(&got);
		resetStringInfo(&want);
		kz_json_append_string(&got, s);
		append_string_bytewise(&want, s);
		CHECK(got.len == want.len && memcmp(got.data, want.data, got.len) == 0);
		if (got.len != want.len || memcmp(got.data, want.data, got.len) != 0)
			fprintf(stderr, "string writer differs: %s vs %s\n", got.data, want.data);
		pfree(s);
	}
	pfree(got.data);
	pfree(want.data);
}

int
main(int argc, char **argv)
{
	kz_proto_msg_id(t_msg_id, T_SESSION, 7);
	test_claim_advert();
	test_answers();
	test_query_unregister();
	test_send_call_reply();
	test_heartbeat();
	test_registry_batch();
	test_claim_batch_resp();
	test_claim_ids_refused();
	test_send_batch();
	test_sync();
	test_names();
	test_escaped_context();
	test_sender_identity();
	test_groups();
	test_meta_round_trip();
	test_meta_refused();
	test_large_bodies();
	test_string_writer();
	return unit_summary(argv[0]);
}
