/*-------------------------------------------------------------------------
 *
 * test_kazoo_fixtures.c
 *	  Golden messages: what real Kazoo nodes put on the wire, against what
 *	  our encoders (src/wire/encode.c, the worker's) write for the same
 *	  event.
 *
 * Each file of test/fixtures/kazoo is one message that Kazoo's own
 * kz_globals or kz_nodes published, captured with RabbitMQ's firehose
 * tracer by test/t/070_kazoo_interop.pl (see test/kazoo/golden.py), with
 * the Kazoo commit and OTP release it came from.  For each we check that
 * our decoder takes it, then build our message for the same event (same
 * name, terms, timestamps and, for answers, Msg-ID) and compare:
 *
 * - the field set: every field Kazoo writes, we write with the same JSON
 *   type, except those listed as Kazoo's only (its VM's figures in
 *   heartbeats, the optional Name of a reply); every field we write that
 *   Kazoo does not is one of our documented extensions for that message;
 * - the envelope's values, State, the form of Msg-ID (16 hex digits, 32 on
 *   heartbeats) and System-Log-ID (the Msg-ID, where Kazoo sends it);
 * - term fields byte for byte where the event is the same: Name, and
 *   Reason for the unregister of a name that ended normally (the atom as
 *   ATOM_EXT, as OTP 25 writes it).
 *
 * Every kind of message listed in kinds[] must have its fixture.
 *
 * IDENTIFICATION
 *	  test/unit/test_kazoo_fixtures.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonapi.h"
#include "compat.h"
#include "etf.h"
#include "mb/pg_wchar.h"
#include "decode.h"
#include "encode.h"
#include "protocol.h"
#include "routing.h"
#include "unit.h"

#define FIXTURE_DIR		"test/fixtures/kazoo"
#define MAX_FIELDS		64

/* One kind of message, and how ours may differ from Kazoo's. */
typedef struct KindSpec
{
	const char *kind;			/* file name without .json */
	KzEvent		event;
	KzWireState state;
	const char *kazoo_only;		/* ",Field,..." Kazoo writes and we do not */
	const char *ours_only;		/* ",Field,..." we may add */
} KindSpec;

static const KindSpec kinds[] = {
	{"register_claim", KZ_EV_REGISTER, KZ_WS_PENDING, "", ",Timestamp,"},
	{"register_advert", KZ_EV_REGISTER, KZ_WS_REGISTERED, "", ",Zone,Pid,"},
	{"register_resp_none", KZ_EV_REGISTER_RESP, KZ_WS_NONE, "", ""},
	{"register_resp_local", KZ_EV_REGISTER_RESP, KZ_WS_LOCAL, "", ",Pid,"},
	{"register_resp_remote", KZ_EV_REGISTER_RESP, KZ_WS_REMOTE, "", ",Pid,"},
	{"register_resp_pending", KZ_EV_REGISTER_RESP, KZ_WS_PENDING, "", ",Pid,"},
	{"query", KZ_EV_QUERY, KZ_WS_ABSENT, "", ""},
	{"query_resp_none", KZ_EV_QUERY_RESP, KZ_WS_NONE, "", ""},
	{"query_resp_local", KZ_EV_QUERY_RESP, KZ_WS_LOCAL, "", ",Pid,"},
	{"unregister_normal", KZ_EV_UNREGISTER, KZ_WS_ABSENT, "", ",Timestamp,"},
	{"unregister_shutdown", KZ_EV_UNREGISTER, KZ_WS_ABSENT, "", ",Timestamp,"},
	{"send", KZ_EV_SEND, KZ_WS_ABSENT, "", ",Sender-Pid,"},
	{"call", KZ_EV_CALL, KZ_WS_ABSENT, "", ",Sender-Pid,Timeout,"},
	{"reply", KZ_EV_REPLY, KZ_WS_ABSENT, ",Name,", ",Owner-Exited,"},
	{"nodes_advertise", KZ_EV_ADVERTISE, KZ_WS_ABSENT,
		",Channels,Conferences,Media-Servers,Node-Info,Ports,Processes,"
		"Registrations,Used-Memory,WhApps,md5,Roles,Runtime-Info,Modules,",
	",Server-ID,Incarnation,Session,PG-Globals-Version,Sync-Request,"},
};

/* The top-level fields of a JSON object: name, JSON type, scalar text. */
typedef struct Field
{
	char	   *name;
	const char *type;
	char	   *value;			/* strings and numbers; NULL otherwise */
} Field;

typedef struct Fields
{
	Field		f[MAX_FIELDS];
	int			n;
	int			depth;
	char	   *current;		/* the field whose value comes next */
	bool		overflow;
} Fields;

static void
add_field(Fields *fs, const char *type, const char *value)
{
	if (fs->current == NULL)
		return;
	if (fs->n == MAX_FIELDS)
	{
		fs->overflow = true;
		return;
	}
	fs->f[fs->n].name = fs->current;
	fs->f[fs->n].type = type;
	fs->f[fs->n].value = value ? pstrdup(value) : NULL;
	fs->n++;
	fs->current = NULL;
}

static void
on_struct_start(Fields *fs, const char *type)
{
	if (fs->depth == 1)
		add_field(fs, type, NULL);
	fs->depth++;
}

static KZ_JSON_ACTION
on_object_start(void *state)
{
	on_struct_start(state, "object");
	KZ_JSON_ACTION_DONE;
}

static KZ_JSON_ACTION
on_array_start(void *state)
{
	on_struct_start(state, "array");
	KZ_JSON_ACTION_DONE;
}

static KZ_JSON_ACTION
on_struct_end(void *state)
{
	((Fields *) state)->depth--;
	KZ_JSON_ACTION_DONE;
}

static KZ_JSON_ACTION
on_field(void *state, char *fname, bool isnull)
{
	Fields	   *fs = state;

	if (fs->depth == 1)
		fs->current = fname;
	KZ_JSON_ACTION_DONE;
}

static KZ_JSON_ACTION
on_scalar(void *state, char *token, JsonTokenType type)
{
	Fields	   *fs = state;

	if (fs->depth != 1)
		KZ_JSON_ACTION_DONE;
	switch (type)
	{
		case JSON_TOKEN_STRING:
			add_field(fs, "string", token);
			break;
		case JSON_TOKEN_NUMBER:
			add_field(fs, strpbrk(token, ".eE") ? "number" : "integer", token);
			break;
		case JSON_TOKEN_TRUE:
		case JSON_TOKEN_FALSE:
			add_field(fs, "boolean", NULL);
			break;
		default:
			add_field(fs, "null", NULL);
			break;
	}
	KZ_JSON_ACTION_DONE;
}

/* Parses a JSON object's top level; false if it is not valid JSON. */
static bool
parse_fields(const char *json, Fields *fs)
{
	JsonSemAction sem;
	JsonLexContext *lex;

	memset(fs, 0, sizeof(*fs));
	memset(&sem, 0, sizeof(sem));
	sem.semstate = fs;
	sem.object_start = on_object_start;
	sem.object_end = on_struct_end;
	sem.array_start = on_array_start;
	sem.array_end = on_struct_end;
	sem.object_field_start = on_field;
	sem.scalar = on_scalar;
	lex = KZ_JSON_LEXER(pstrdup(json), strlen(json), true);
	return pg_parse_json(lex, &sem) == JSON_SUCCESS && !fs->overflow;
}

static const Field *
field(const Fields *fs, const char *name)
{
	int			i;

	for (i = 0; i < fs->n; i++)
		if (strcmp(fs->f[i].name, name) == 0)
			return &fs->f[i];
	return NULL;
}

static const char *
value(const Fields *fs, const char *name)
{
	const Field *f = field(fs, name);

	return f ? f->value : NULL;
}

/* Is name in a ",a,b," list? */
static bool
listed(const char *list, const char *name)
{
	char		key[128];

	snprintf(key, sizeof(key), ",%s,", name);
	return strstr(list, key) != NULL;
}

static const KindSpec *
spec_of(const char *kind)
{
	size_t		i;

	for (i = 0; i < lengthof(kinds); i++)
		if (strcmp(kinds[i].kind, kind) == 0)
			return &kinds[i];
	return NULL;
}

/* Reads a whole file, NUL-terminated; NULL on error. */
static char *
slurp(const char *path)
{
	FILE	   *f = fopen(path, "rb");
	StringInfoData buf;
	char		chunk[4096];
	size_t		n;

	if (f == NULL)
		return NULL;
	initStringInfo(&buf);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		appendBinaryStringInfo(&buf, chunk, (int) n);
	fclose(f);
	return buf.data;
}

/* Us, as the worker fills in the encoders' context. */
static KzEncodeCtx
context(const char *msg_id)
{
	KzEncodeCtx ctx;

	ctx.node = "pg1@127.0.0.1";
	ctx.queue = "pg1@127.0.0.1-kz_globals-abcdef";
	ctx.zone = "local";
	ctx.session = UINT64CONST(0xabcdef);
	ctx.incarnation = INT64CONST(63963785419579798);
	ctx.msg_id = msg_id;
	return ctx;
}

/* Builds our message for the event of the Kazoo message k. */
static void
build_ours(StringInfo out, const KindSpec *spec, const KzBusMsg *k)
{
	char		id[KZ_NODES_MSG_ID_LEN + 1];
	int64		ts = k->has_timestamp ? k->timestamp : INT64CONST(63963785419579798);
	KzEncodeCtx ctx = context(id);
	/* an answer goes under the request's Msg-ID */
	KzEncodeCtx answer = context(k->msg_id);

	kz_proto_msg_id(id, UINT64CONST(0xabcdef), 7);
	switch (spec->event)
	{
		case KZ_EV_REGISTER:
			if (spec->state == KZ_WS_PENDING)
				kz_enc_claim(out, &ctx, k->name, k->name_len, ts);
			else
				kz_enc_advert(out, &ctx, k->name, k->name_len, ts, 4242, NULL);
			break;
		case KZ_EV_REGISTER_RESP:
			kz_enc_register_resp(out, &answer, k->server_id, k->name,
								 k->name_len, spec->state, ts,
								 spec->state == KZ_WS_NONE ? 0 : 4242);
			break;
		case KZ_EV_QUERY:
			kz_enc_query(out, &ctx, k->name, k->name_len);
			break;
		case KZ_EV_QUERY_RESP:
			kz_enc_query_resp(out, &answer, k->name, k->name_len,
							  spec->state == KZ_WS_LOCAL, ts, 4242);
			break;
		case KZ_EV_UNREGISTER:
			kz_enc_unregister(out, &ctx, k->name, k->name_len, ts);
			break;
		case KZ_EV_SEND:
			kz_enc_send(out, &ctx, k->name, k->name_len, "hello", 5, 4343);
			break;
		case KZ_EV_CALL:
			kz_enc_call(out, &ctx, k->name, k->name_len, "hello", 5, 4343, 5000);
			break;
		case KZ_EV_REPLY:
			kz_enc_reply(out, &answer, "ok", 2, false);
			break;
		case KZ_EV_ADVERTISE:
			{
				KzHeartbeat hb;

				memset(&hb, 0, sizeof(hb));
				hb.expires_ms = 2400;
				hb.version = "kz_globals 1.0 (PostgreSQL 15)";
				hb.local = 1;
				kz_proto_nodes_msg_id(id, UINT64CONST(0xabcdef), 7);
				kz_enc_heartbeat(out, &ctx, &hb);
			}
			break;
		default:
			break;
	}
}

/* The checks on one fixture; returns its kind (or NULL). */
static const char *
check_fixture(const char *path)
{
	char	   *text = slurp(path);
	Fields		fx;
	Fields		kf;
	Fields		of;
	const char *kind;
	const char *body;
	const KindSpec *spec;
	KzBusMsg	k;
	const char *detail = NULL;
	StringInfoData ours;
	int			i;
	static const char *const same_values[] = {
		"App-Name", "App-Version", "Event-Category", "Event-Name", "State"
	};

	CHECK(text != NULL && parse_fields(text, &fx));
	if (text == NULL)
		return NULL;
	kind = value(&fx, "kind");
	body = value(&fx, "body");
	CHECK(kind != NULL && body != NULL);
	CHECK(value(&fx, "kazoo_commit") != NULL && strlen(value(&fx, "kazoo_commit")) == 40);
	CHECK(value(&fx, "otp_release") != NULL);
	if (kind == NULL || body == NULL)
		return NULL;
	spec = spec_of(kind);
	if (spec == NULL)
	{
		fprintf(stderr, "%s: unknown kind %s\n", path, kind);
		CHECK(spec != NULL);
		return NULL;
	}

	/* our decoder takes Kazoo's message, as the event it is */
	CHECK(kz_proto_decode(body, strlen(body), 65536, 255, &k, &detail) == KZ_PROTO_OK);
	if (detail)
		fprintf(stderr, "%s: %s\n", path, detail);
	CHECK(k.event == spec->event);
	CHECK(k.state == spec->state);

	initStringInfo(&ours);
	build_ours(&ours, spec, &k);
	CHECK(parse_fields(body, &kf));
	CHECK(parse_fields(ours.data, &of));

	/* Kazoo's fields: ours has each, with its type, or it is Kazoo's only */
	for (i = 0; i < kf.n; i++)
	{
		const Field *o = field(&of, kf.f[i].name);

		if (o == NULL && listed(spec->kazoo_only, kf.f[i].name))
			continue;
		if (o == NULL || strcmp(o->type, kf.f[i].type) != 0)
		{
			fprintf(stderr, "%s: Kazoo's %s (%s): ours %s\n", kind, kf.f[i].name,
					kf.f[i].type, o ? o->type : "missing");
			CHECK(false);
		}
		else
			CHECK(true);
	}
	/* ours: nothing else but our documented extensions */
	for (i = 0; i < of.n; i++)
	{
		if (field(&kf, of.f[i].name) != NULL)
			continue;
		if (!listed(spec->ours_only, of.f[i].name))
		{
			fprintf(stderr, "%s: we write %s, Kazoo does not\n", kind, of.f[i].name);
			CHECK(false);
		}
	}

	for (i = 0; i < (int) lengthof(same_values); i++)
	{
		const char *kv = value(&kf, same_values[i]);
		const char *ov = value(&of, same_values[i]);

		CHECK((kv == NULL && ov == NULL) ||
			  (kv != NULL && ov != NULL && strcmp(kv, ov) == 0));
	}
	/* Msg-ID: the same form; System-Log-ID: the Msg-ID */
	CHECK(value(&kf, "Msg-ID") && value(&of, "Msg-ID") &&
		  strlen(value(&kf, "Msg-ID")) == strlen(value(&of, "Msg-ID")));
	/* (an answer carries the request's Msg-ID, whoever made it) */
	if (spec->event != KZ_EV_REGISTER_RESP && spec->event != KZ_EV_QUERY_RESP &&
		spec->event != KZ_EV_REPLY)
		CHECK(strlen(value(&kf, "Msg-ID")) ==
			  (spec->event == KZ_EV_ADVERTISE ? KZ_NODES_MSG_ID_LEN : KZ_MSG_ID_LEN));
	if (value(&kf, "System-Log-ID"))
	{
		CHECK_STR(value(&kf, "System-Log-ID"), value(&kf, "Msg-ID"));
		CHECK_STR(value(&of, "System-Log-ID"), value(&of, "Msg-ID"));
	}
	if (value(&kf, "Name") && value(&of, "Name"))
		CHECK_STR(value(&of, "Name"), value(&kf, "Name"));
	if (strcmp(kind, "unregister_normal") == 0)
		CHECK_STR(value(&of, "Reason"), value(&kf, "Reason"));
	if (spec->event == KZ_EV_UNREGISTER)
	{
		/* Kazoo's exit reasons are atoms as ATOM_EXT, like ours */
		CHECK(k.reason_len > 2 && k.reason[1] == ETF_ATOM_EXT);
	}
	return kind;
}

int
main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : FIXTURE_DIR;
	DIR		   *d = opendir(dir);
	struct dirent *de;
	bool		seen[lengthof(kinds)];
	size_t		i;
	int			files = 0;

	memset(seen, 0, sizeof(seen));
	CHECK(d != NULL);
	while (d && (de = readdir(d)) != NULL)
	{
		size_t		len = strlen(de->d_name);
		char		path[1024];
		const char *kind;

		if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		kind = check_fixture(path);
		files++;
		for (i = 0; kind && i < lengthof(kinds); i++)
			if (strcmp(kinds[i].kind, kind) == 0)
				seen[i] = true;
	}
	if (d)
		closedir(d);
	for (i = 0; i < lengthof(kinds); i++)
	{
		if (!seen[i])
			fprintf(stderr, "no fixture for %s in %s\n", kinds[i].kind, dir);
		CHECK(seen[i]);
	}
	printf("%d fixtures from %s\n", files, dir);
	return unit_summary(argv[0]);
}
