/*-------------------------------------------------------------------------
 *
 * decode.c
 *	  Decoding a message body from the bus into a KzBusMsg (see decode.h).
 *
 * Bodies come from the broker, so the decoder treats them as hostile.  It
 * works in four steps, each bounded by the size of the body:
 *
 * 1. A body over max_len (or over KZ_PROTO_HARD_MAX_BODY, whatever the
 *	  caller allows) is refused before anything is read or allocated.
 *
 * 2. json.c cleans the body up (kz_json_normalize_spans): UTF-8 checked,
 *	  nesting depth bounded, \u escapes rewritten so that PostgreSQL's JSON
 *	  lexer never raises an ERROR over one.  Long strings of plain ASCII (a
 *	  message's base64) are left out of the cleaned copy, a short stand-in
 *	  in their place: the lexer reads each as one short token instead of
 *	  byte by byte, twice, and the callbacks copy the string once, from the
 *	  body.
 *
 * 3. jsonapi parses the normalized copy twice: first with no callbacks,
 *	  which only validates, then with callbacks that keep the raw values of
 *	  the fields we know.  The first pass exists because PostgreSQL 15's
 *	  parser hands a token to a callback only after lexing the next one, so
 *	  a syntax error there would leak the token (harmless in a memory
 *	  context, but the unit tests run under valgrind).
 *
 * 4. The raw values are checked and converted, in a fixed order: envelope,
 *	  event, field types, required fields, then term fields (base64,
 *	  checked and decoded in one pass, then etf_validate).  The first
 *	  failure is the status returned.
 *
 * Nothing here raises an ERROR or allocates in proportion to a size read
 * from the input: every allocation is bounded by the body's length.  Pure
 * code: no shared memory, no I/O; it runs in the worker and, with
 * -DFRONTEND, in the unit tests.
 *
 * IDENTIFICATION
 *	  src/wire/decode.c
 *
 *-------------------------------------------------------------------------
 */
#ifndef FRONTEND
#include "postgres.h"
#else
#include "postgres_fe.h"
#endif

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/jsonapi.h"
#include "mb/pg_wchar.h"

#include "compat.h"
#include "decode.h"
#include "etf.h"
#include "json.h"
#include "routing.h"

/*
 * Largest body decoded whatever max_len says.  Every allocation must stay
 * under PostgreSQL's 1 GB limit (palloc raises an ERROR above it): the
 * largest is the array of Names' raw entries (RawEntry, 48 bytes), one per
 * 7 bytes of JSON at most, its length a power of two: 2^24 entries, 768 MB,
 * for a body of 64 MB.  Keep RawEntry that small.
 */
#define KZ_PROTO_HARD_MAX_BODY	((size_t) 64 * 1024 * 1024)

/* The fields we know.  Any other key is skipped, whatever its value. */
typedef enum KzField
{
	F_UNKNOWN = -1,
	F_APP_NAME,
	F_EVENT_CATEGORY,
	F_EVENT_NAME,
	F_MSG_ID,
	F_NODE,
	F_SERVER_ID,
	F_ZONE,
	F_BROKER_ZONE,
	F_NAME,
	F_STATE,
	F_TIMESTAMP,
	F_MESSAGE,
	F_REPLY,
	F_REASON,
	F_PID,
	F_SENDER_PID,
	F_TIMEOUT,
	F_EXPIRES,
	F_GLOBALS,
	F_INCARNATION,
	F_SESSION,
	F_PG_VERSION,
	F_SYNC_ID,
	F_PART,
	F_LAST,
	F_NAMES,
	F_SYNC_REQUEST,
	F_OWNER_EXITED,
	F_SENDER_ROLE,
	F_SENDER_DB,
	F_META,
	F_METAS,
	F_COUNT
} KzField;

static const char *const field_keys[F_COUNT] = {
	"App-Name", "Event-Category", "Event-Name", "Msg-ID", "Node",
	"Server-ID", "Zone", "AMQP-Broker-Zone", "Name", "State", "Timestamp",
	"Message", "Reply", "Reason", "Pid", "Sender-Pid", "Timeout", "Expires",
	"Globals", "Incarnation", "Session", "PG-Globals-Version", "Sync-ID",
	"Part", "Last", "Names", "Sync-Request", "Owner-Exited", "Sender-Role",
	"Sender-Database", "Meta", "Metas"
};

/*
 * A known field's value as the parser saw it: the token type (object and
 * array values are marked by their start token) and, for a scalar, its
 * text (de-escaped for a string).  JSON_TOKEN_INVALID means absent.
 */
typedef struct RawValue
{
	JsonTokenType type;
	char	   *text;
} RawValue;

/* One element of Names while the body is parsed. */
typedef struct RawEntry
{
	char	   *name;			/* base64 text, or NULL */
	int64		timestamp;
	int32		pid;
	KzWireState state;			/* KZ_WS_ABSENT if absent or null */
	char	   *text;			/* or NULL */
	char	   *claim;			/* the sixth element, or NULL */
	int			nitems;			/* elements seen so far */
} RawEntry;

StaticAssertDecl(sizeof(RawEntry) <= 48,
				 "KZ_PROTO_HARD_MAX_BODY keeps the array of RawEntry under 1 GB");

/* What the parser's callbacks have gathered. */
typedef struct ParseState
{
	int			depth;			/* objects and arrays open */
	bool		top_object;		/* the body is an object */
	KzField		field;			/* top-level field being read */
	RawValue	raw[F_COUNT];

	/* Globals */
	int			globals_members;
	bool		globals_in_local;	/* reading Globals.local */
	int32		globals_local;

	/* Names */
	RawEntry   *entries;
	int			nentries;
	int			maxentries;
	const char *names_error;	/* first thing wrong in Names, or NULL */

	/* Metas: one string (or NULL for null) per element */
	char	  **metas;
	int			nmetas;
	int			maxmetas;
	const char *metas_error;	/* first thing wrong in Metas, or NULL */

	/* the long strings normalize left out of the parsed copy (json.h) */
	const char *body;
	const KzJsonSpan *spans;
	int			nspans;
} ParseState;

/* Where a decoding failure is described (see fail). */
static char detail_buf[160];

static KzProtoError fail(KzProtoError err, const char **detail,
						 const char *fmt,...) pg_attribute_printf(3, 4);


/* ---------------------------------------------------------------------
 * Small helpers
 * ---------------------------------------------------------------------
 */

/*
 * Formats the description of a failure into a static buffer (valid until
 * the next decode) and returns err, so that failures read
 * "return fail(err, detail, ...)".
 */
static KzProtoError
fail(KzProtoError err, const char **detail, const char *fmt,...)
{
	va_list		args;

	if (detail != NULL)
	{
		va_start(args, fmt);
		vsnprintf(detail_buf, sizeof(detail_buf), fmt, args);
		va_end(args);
		*detail = detail_buf;
	}
	return err;
}

/* ---------------------------------------------------------------------
 * Step 3: the parser's callbacks
 *
 * depth counts the containers open around the current token: the body's
 * own object is depth 1, so a top-level field's value starts at depth 1,
 * the members of Globals and the entries of Names are at depth 2, and an
 * entry's elements at depth 3.  Anything else is skipped.
 * ---------------------------------------------------------------------
 */

/* Index of a known key, or F_UNKNOWN. */
static KzField
lookup_field(const char *key)
{
	int			f;

	if (key == NULL)
		return F_UNKNOWN;
	for (f = 0; f < F_COUNT; f++)
		if (strcmp(key, field_keys[f]) == 0)
			return (KzField) f;
	return F_UNKNOWN;
}

/* Frees the base64 texts of Names and forgets the entries. */
static void
reset_names(ParseState *ps)
{
	int			i;

	for (i = 0; i < ps->nentries; i++)
	{
		if (ps->entries[i].name != NULL)
			pfree(ps->entries[i].name);
		if (ps->entries[i].text != NULL)
			pfree(ps->entries[i].text);
		if (ps->entries[i].claim != NULL)
			pfree(ps->entries[i].claim);
	}
	if (ps->entries != NULL)
		pfree(ps->entries);
	ps->entries = NULL;
	ps->nentries = 0;
	ps->maxentries = 0;
	ps->names_error = NULL;
}

/* Frees the texts of Metas and forgets them. */
static void
reset_metas(ParseState *ps)
{
	int			i;

	for (i = 0; i < ps->nmetas; i++)
		if (ps->metas[i] != NULL)
			pfree(ps->metas[i]);
	if (ps->metas != NULL)
		pfree(ps->metas);
	ps->metas = NULL;
	ps->nmetas = 0;
	ps->maxmetas = 0;
	ps->metas_error = NULL;
}

/*
 * One element of Metas: a string (kept) or null.  Returns true if the
 * token was kept.
 */
static bool
metas_item(ParseState *ps, char *token, JsonTokenType type)
{
	if (ps->metas_error != NULL)
		return false;
	if (type != JSON_TOKEN_STRING && type != JSON_TOKEN_NULL)
	{
		ps->metas_error = "a Metas element is neither a string nor null";
		return false;
	}
	if (ps->nmetas == ps->maxmetas)
	{
		ps->maxmetas = ps->maxmetas == 0 ? 16 : ps->maxmetas * 2;
		if (ps->metas == NULL)
			ps->metas = palloc(ps->maxmetas * sizeof(char *));
		else
			ps->metas = repalloc(ps->metas, ps->maxmetas * sizeof(char *));
	}
	ps->metas[ps->nmetas++] = type == JSON_TOKEN_STRING ? token : NULL;
	return type == JSON_TOKEN_STRING;
}

/* True while the tokens being parsed are inside the array value of Metas. */
static bool
in_metas(const ParseState *ps)
{
	return ps->field == F_METAS &&
		ps->raw[F_METAS].type == JSON_TOKEN_ARRAY_START;
}

/*
 * Forgets what an earlier occurrence of a key left: with duplicate keys
 * the last one wins, as in Kazoo's JSON library.
 */
static void
reset_field(ParseState *ps, KzField f)
{
	if (ps->raw[f].text != NULL)
		pfree(ps->raw[f].text);
	ps->raw[f].text = NULL;
	ps->raw[f].type = JSON_TOKEN_INVALID;
	if (f == F_GLOBALS)
	{
		ps->globals_members = 0;
		ps->globals_in_local = false;
		ps->globals_local = 0;
	}
	else if (f == F_NAMES)
		reset_names(ps);
	else if (f == F_METAS)
		reset_metas(ps);
}

/* Records the first thing wrong in Names; the rest is then skipped. */
static void
names_error(ParseState *ps, const char *why)
{
	if (ps->names_error == NULL)
		ps->names_error = why;
}

/* True while the tokens being parsed are inside the array value of Names. */
static bool
in_names(const ParseState *ps)
{
	return ps->field == F_NAMES &&
		ps->raw[F_NAMES].type == JSON_TOKEN_ARRAY_START &&
		ps->names_error == NULL;
}

/* An array opens inside Names: a new entry. */
static void
entry_begin(ParseState *ps)
{
	RawEntry   *e;

	if (ps->nentries == ps->maxentries)
	{
		ps->maxentries = ps->maxentries == 0 ? 16 : ps->maxentries * 2;
		if (ps->entries == NULL)
			ps->entries = palloc(ps->maxentries * sizeof(RawEntry));
		else
			ps->entries = repalloc(ps->entries,
								   ps->maxentries * sizeof(RawEntry));
	}
	e = &ps->entries[ps->nentries++];
	memset(e, 0, sizeof(*e));
}

/*
 * A string element of a Names entry that is kept (state, text): a string
 * without \u0000, or null.  Returns true if the token was kept.
 */
static bool
entry_string(ParseState *ps, char *token, JsonTokenType type, char **dest,
			 const char *what)
{
	if (type == JSON_TOKEN_NULL)
		return false;
	if (type != JSON_TOKEN_STRING || kz_json_has_nul(token))
	{
		names_error(ps, what);
		return false;
	}
	*dest = token;
	return true;
}

/*
 * One scalar element of a Names entry: [name_base64, timestamp, pid, state,
 * text, claim], all but the first two optional (or null); which events may
 * have a claim is checked once the event is known (decode_claim).  Returns
 * true if the token was kept.
 */
static bool
entry_item(ParseState *ps, char *token, JsonTokenType type)
{
	RawEntry   *e = &ps->entries[ps->nentries - 1];
	char	   *state;
	int64		v;

	switch (e->nitems++)
	{
		case 0:
			if (type != JSON_TOKEN_STRING)
			{
				names_error(ps, "a Names entry's name is not a string");
				return false;
			}
			e->name = token;
			return true;
		case 1:
			if (type != JSON_TOKEN_NUMBER ||
				!kz_json_parse_integer(token, PG_INT64_MIN, PG_INT64_MAX, &v))
				names_error(ps, "a Names entry's timestamp is not an integer");
			else
				e->timestamp = v;
			return false;
		case 2:
			if (type == JSON_TOKEN_NULL)
				e->pid = 0;
			else if (type != JSON_TOKEN_NUMBER ||
					 !kz_json_parse_integer(token, 0, PG_INT32_MAX, &v))
				names_error(ps, "a Names entry's pid is not a valid pid");
			else
				e->pid = (int32) v;
			return false;
		case 3:
			if (entry_string(ps, token, type, &state,
							 "a Names entry's state is not a string"))
				e->state = kz_proto_state_of(state);
			return false;
		case 4:
			return entry_string(ps, token, type, &e->text,
								"a Names entry's text is not a string");
		case 5:
			return entry_string(ps, token, type, &e->claim,
								"a Names entry's claim is not a string");
		default:
			names_error(ps, "a Names entry has more than 6 elements");
			return false;
	}
}

/* A container or scalar value starts at depth 1: a top-level field. */
static bool
field_value(ParseState *ps, JsonTokenType type, char *token)
{
	if (ps->field == F_UNKNOWN)
		return false;
	ps->raw[ps->field].type = type;
	if (token == NULL || type == JSON_TOKEN_NULL)
		return false;
	ps->raw[ps->field].text = token;
	return true;
}

/* An object or array opens at the current depth. */
static void
container_start(ParseState *ps, JsonTokenType type)
{
	if (ps->depth == 0)
		ps->top_object = (type == JSON_TOKEN_OBJECT_START);
	else if (ps->depth == 1)
		field_value(ps, type, NULL);
	else if (ps->depth == 2 && in_names(ps))
	{
		if (type == JSON_TOKEN_ARRAY_START)
			entry_begin(ps);
		else
			names_error(ps, "a Names entry is not an array");
	}
	else if (ps->depth == 3 && in_names(ps))
		names_error(ps, "a Names entry holds an object or array");
	else if (ps->depth == 2 && in_metas(ps) && ps->metas_error == NULL)
		ps->metas_error = "a Metas element is neither a string nor null";
	ps->depth++;
}

static KZ_JSON_ACTION
cb_object_start(void *state)
{
	container_start((ParseState *) state, JSON_TOKEN_OBJECT_START);
	KZ_JSON_ACTION_DONE;
}

static KZ_JSON_ACTION
cb_array_start(void *state)
{
	container_start((ParseState *) state, JSON_TOKEN_ARRAY_START);
	KZ_JSON_ACTION_DONE;
}

static KZ_JSON_ACTION
cb_container_end(void *state)
{
	ParseState *ps = (ParseState *) state;

	ps->depth--;
	if (ps->depth == 2 && in_names(ps) && ps->nentries > 0 &&
		ps->entries[ps->nentries - 1].nitems < 2)
		names_error(ps, "a Names entry has fewer than 2 elements");
	KZ_JSON_ACTION_DONE;
}

/*
 * A field starts.  The name is freed here, not in the end callback: the
 * parser passes the same pointer to both.
 */
static KZ_JSON_ACTION
cb_field_start(void *state, char *fname, bool isnull)
{
	ParseState *ps = (ParseState *) state;

	if (ps->depth == 1)
	{
		ps->field = lookup_field(fname);
		if (ps->field != F_UNKNOWN)
			reset_field(ps, ps->field);
	}
	else if (ps->depth == 2 && ps->field == F_GLOBALS)
	{
		ps->globals_members++;
		ps->globals_in_local = (fname != NULL && strcmp(fname, "local") == 0);
		if (ps->globals_in_local)
			ps->globals_local = 0;
	}
	if (fname != NULL)
		pfree(fname);
	KZ_JSON_ACTION_DONE;
}

static KZ_JSON_ACTION
cb_field_end(void *state, char *fname, bool isnull)
{
	ParseState *ps = (ParseState *) state;

	if (ps->depth == 1)
		ps->field = F_UNKNOWN;
	else if (ps->depth == 2)
		ps->globals_in_local = false;
	KZ_JSON_ACTION_DONE;
}

/* Counts the elements of a Globals array (only [] is accepted). */
static KZ_JSON_ACTION
cb_element_start(void *state, bool isnull)
{
	ParseState *ps = (ParseState *) state;

	if (ps->depth == 2 && ps->field == F_GLOBALS)
		ps->globals_members++;
	KZ_JSON_ACTION_DONE;
}

/*
 * A string token that stands for a long string normalize left out: that
 * string's text instead, copied once from the body (the placeholder is
 * freed).  Any other token as it is.
 */
static char *
resolve_span(const ParseState *ps, char *token)
{
	int			index;
	const KzJsonSpan *span;

	if (!kz_json_span_index(token, ps->nspans, &index))
		return token;
	span = &ps->spans[index];
	pfree(token);
	return pnstrdup(ps->body + span->offset, span->len);
}

static KZ_JSON_ACTION
cb_scalar(void *state, char *token, JsonTokenType type)
{
	ParseState *ps = (ParseState *) state;
	bool		kept = false;
	int64		v;

	if (type == JSON_TOKEN_STRING && token != NULL && ps->nspans > 0)
		token = resolve_span(ps, token);
	if (ps->depth == 1)
		kept = field_value(ps, type, token);
	else if (ps->depth == 2 && ps->field == F_GLOBALS && ps->globals_in_local)
	{
		if (type == JSON_TOKEN_NUMBER &&
			kz_json_parse_integer(token, PG_INT32_MIN, PG_INT32_MAX, &v))
			ps->globals_local = (int32) v;
	}
	else if (ps->depth == 2 && in_names(ps))
		names_error(ps, "a Names entry is not an array");
	else if (ps->depth == 3 && in_names(ps))
		kept = entry_item(ps, token, type);
	else if (ps->depth == 2 && in_metas(ps))
		kept = metas_item(ps, token, type);
	if (!kept && token != NULL)
		pfree(token);
	KZ_JSON_ACTION_DONE;
}

/* Frees whatever the parse state still owns. */
static void
free_parse_state(ParseState *ps)
{
	int			f;

	for (f = 0; f < F_COUNT; f++)
		if (ps->raw[f].text != NULL)
			pfree(ps->raw[f].text);
	reset_names(ps);
	reset_metas(ps);
}

/* A short English description of a jsonapi error. */
static const char *
json_error_text(JsonParseErrorType err)
{
	switch (err)
	{
		case JSON_ESCAPING_INVALID:
			return "invalid escape in a string";
		case JSON_ESCAPING_REQUIRED:
			return "unescaped control character in a string";
		case JSON_EXPECTED_MORE:
			return "body ends unexpectedly";
		case JSON_EXPECTED_END:
			return "data after the end of the object";
		case JSON_INVALID_TOKEN:
			return "invalid token";
		default:
			return "invalid syntax";
	}
}

/*
 * Runs jsonapi over the normalized body: once to validate, once with the
 * callbacks (see the file header for why twice).
 */
static KzProtoError
parse_body(char *json, size_t len, ParseState *ps, const char **detail)
{
	JsonLexContext *lex;
	JsonSemAction sem;
	JsonParseErrorType err;

	lex = KZ_JSON_LEXER(json, len, false);
	err = pg_parse_json(lex, &nullSemAction);
	KZ_JSON_LEXER_FREE(lex);
	if (err != JSON_SUCCESS)
		return fail(KZ_PROTO_BAD_JSON, detail, "%s", json_error_text(err));

	memset(&sem, 0, sizeof(sem));
	sem.semstate = ps;
	sem.object_start = cb_object_start;
	sem.object_end = cb_container_end;
	sem.array_start = cb_array_start;
	sem.array_end = cb_container_end;
	sem.object_field_start = cb_field_start;
	sem.object_field_end = cb_field_end;
	sem.array_element_start = cb_element_start;
	sem.scalar = cb_scalar;

	lex = KZ_JSON_LEXER(json, len, true);
	err = pg_parse_json(lex, &sem);
	KZ_JSON_LEXER_FREE(lex);
	if (err != JSON_SUCCESS)
		return fail(KZ_PROTO_BAD_JSON, detail, "%s", json_error_text(err));
	if (!ps->top_object)
		return fail(KZ_PROTO_BAD_JSON, detail, "body is not a JSON object");
	return KZ_PROTO_OK;
}


/* ---------------------------------------------------------------------
 * Step 4: checking and converting the fields
 * ---------------------------------------------------------------------
 */

/* True if a known field is absent or null. */
static bool
absent(const ParseState *ps, KzField f)
{
	return ps->raw[f].type == JSON_TOKEN_INVALID ||
		ps->raw[f].type == JSON_TOKEN_NULL;
}

/*
 * Checks a string field: *value is its text (still owned by ps), or NULL
 * if absent.  A string holding \u0000 is refused, since we keep it as a C
 * string.
 */
static KzProtoError
get_string(const ParseState *ps, KzField f, const char **value,
		   const char **detail)
{
	*value = NULL;
	if (absent(ps, f))
		return KZ_PROTO_OK;
	if (ps->raw[f].type != JSON_TOKEN_STRING)
		return fail(KZ_PROTO_BAD_FIELD, detail, "%s is not a string",
					field_keys[f]);
	if (kz_json_has_nul(ps->raw[f].text))
		return fail(KZ_PROTO_BAD_FIELD, detail, "%s contains \\u0000",
					field_keys[f]);
	*value = ps->raw[f].text;
	return KZ_PROTO_OK;
}

/* Moves a checked string field's text into *dest. */
static KzProtoError
take_string(ParseState *ps, KzField f, char **dest, const char **detail)
{
	const char *value;
	KzProtoError err = get_string(ps, f, &value, detail);

	if (err == KZ_PROTO_OK && value != NULL)
	{
		*dest = ps->raw[f].text;
		ps->raw[f].text = NULL;
	}
	return err;
}

/*
 * Sender-Role or Sender-Database (ours): a role or database name, so 1 to
 * KZ_IDENTITY_MAX bytes of UTF-8 without control characters.
 */
static KzProtoError
take_identity(ParseState *ps, KzField f, char **dest, const char **detail)
{
	KzProtoError err = take_string(ps, f, dest, detail);
	const unsigned char *p;

	if (err != KZ_PROTO_OK || *dest == NULL)
		return err;
	if ((*dest)[0] == '\0' || strlen(*dest) > KZ_IDENTITY_MAX)
		return fail(KZ_PROTO_BAD_FIELD, detail,
					"%s is empty or longer than %d bytes", field_keys[f],
					KZ_IDENTITY_MAX);
	for (p = (const unsigned char *) *dest; *p; p++)
	{
		if (*p < 0x20 || *p == 0x7f)
			return fail(KZ_PROTO_BAD_FIELD, detail,
						"%s contains a control character", field_keys[f]);
	}
	return KZ_PROTO_OK;
}

/* Checks an integer field in [min, max]; *present says if it was there. */
static KzProtoError
get_integer(const ParseState *ps, KzField f, int64 min, int64 max,
			int64 *value, bool *present, const char **detail)
{
	*value = 0;
	if (present != NULL)
		*present = false;
	if (absent(ps, f))
		return KZ_PROTO_OK;
	if (ps->raw[f].type != JSON_TOKEN_NUMBER ||
		!kz_json_parse_integer(ps->raw[f].text, min, max, value))
		return fail(KZ_PROTO_BAD_FIELD, detail,
					"%s is not an integer in [" INT64_FORMAT ", " INT64_FORMAT "]",
					field_keys[f], min, max);
	if (present != NULL)
		*present = true;
	return KZ_PROTO_OK;
}

/* The same for an int32 field. */
static KzProtoError
get_int32(const ParseState *ps, KzField f, int32 min, int32 *value,
		  const char **detail)
{
	int64		v;
	KzProtoError err = get_integer(ps, f, min, PG_INT32_MAX, &v, NULL, detail);

	*value = (int32) v;
	return err;
}

/*
 * Expires: a non-negative integer, or a string of decimal digits as older
 * kz_nodes releases send it.
 */
static KzProtoError
get_expires(const ParseState *ps, KzBusMsg *msg, const char **detail)
{
	const char *s = ps->raw[F_EXPIRES].text;
	const char *p;

	if (absent(ps, F_EXPIRES))
		return KZ_PROTO_OK;
	if (ps->raw[F_EXPIRES].type == JSON_TOKEN_STRING)
	{
		for (p = s; *p >= '0' && *p <= '9'; p++)
			;
		if (p == s || *p != '\0' ||
			!kz_json_parse_integer(s, 0, PG_INT64_MAX, &msg->expires_ms))
			return fail(KZ_PROTO_BAD_FIELD, detail,
						"Expires is not a string of decimal digits");
		msg->has_expires = true;
		return KZ_PROTO_OK;
	}
	return get_integer(ps, F_EXPIRES, 0, PG_INT64_MAX, &msg->expires_ms,
					   &msg->has_expires, detail);
}

/*
 * Globals: an object whose members count states (Kazoo's kz_globals:stats),
 * or an empty array, which is how an empty proplist can come out of
 * Kazoo's JSON encoder.
 */
static KzProtoError
get_globals(const ParseState *ps, KzBusMsg *msg, const char **detail)
{
	JsonTokenType type = ps->raw[F_GLOBALS].type;

	if (absent(ps, F_GLOBALS))
		return KZ_PROTO_OK;
	if (type == JSON_TOKEN_OBJECT_START)
	{
		msg->globals_nonempty = ps->globals_members > 0;
		msg->globals_local = ps->globals_local;
		return KZ_PROTO_OK;
	}
	if (type == JSON_TOKEN_ARRAY_START && ps->globals_members == 0)
		return KZ_PROTO_OK;
	return fail(KZ_PROTO_BAD_FIELD, detail, "Globals is not an object");
}

/* A JSON boolean field (Last, Sync-Request); absent means false. */
static KzProtoError
get_bool(const ParseState *ps, KzField field, bool *out, const char **detail)
{
	JsonTokenType type = ps->raw[field].type;

	if (absent(ps, field))
		return KZ_PROTO_OK;
	if (type != JSON_TOKEN_TRUE && type != JSON_TOKEN_FALSE)
		return fail(KZ_PROTO_BAD_FIELD, detail, "%s is not a boolean", field_keys[field]);
	*out = (type == JSON_TOKEN_TRUE);
	return KZ_PROTO_OK;
}

/* State: one of Kazoo's state strings, anything else KZ_WS_OTHER. */
static KzProtoError
get_state(const ParseState *ps, KzBusMsg *msg, const char **detail)
{
	const char *s;
	KzProtoError err = get_string(ps, F_STATE, &s, detail);

	if (err != KZ_PROTO_OK || s == NULL)
		return err;
	msg->state = kz_proto_state_of(s);
	return KZ_PROTO_OK;
}

/* Type checks of the term fields and of Names (decoded later). */
static KzProtoError
check_term_types(const ParseState *ps, const char **detail)
{
	static const KzField terms[] = {F_NAME, F_MESSAGE, F_REPLY, F_REASON};
	int			i;

	for (i = 0; i < (int) lengthof(terms); i++)
		if (!absent(ps, terms[i]) &&
			ps->raw[terms[i]].type != JSON_TOKEN_STRING)
			return fail(KZ_PROTO_BAD_FIELD, detail, "%s is not a string",
						field_keys[terms[i]]);
	if (absent(ps, F_NAMES))
		return KZ_PROTO_OK;
	if (ps->raw[F_NAMES].type != JSON_TOKEN_ARRAY_START)
		return fail(KZ_PROTO_BAD_FIELD, detail, "Names is not an array");
	if (ps->names_error != NULL)
		return fail(KZ_PROTO_BAD_FIELD, detail, "%s", ps->names_error);
	return KZ_PROTO_OK;
}

/* The envelope: Event-Category, Event-Name and Node, then the event. */
static KzProtoError
get_envelope(ParseState *ps, KzBusMsg *msg, const char **detail)
{
	const char *category;
	const char *name;
	KzProtoError err;

	if ((err = get_string(ps, F_EVENT_CATEGORY, &category, detail)) != KZ_PROTO_OK ||
		(err = get_string(ps, F_EVENT_NAME, &name, detail)) != KZ_PROTO_OK ||
		(err = take_string(ps, F_NODE, &msg->node, detail)) != KZ_PROTO_OK)
		return err;
	if (category == NULL)
		return fail(KZ_PROTO_MISSING_FIELD, detail, "no Event-Category");
	if (name == NULL)
		return fail(KZ_PROTO_MISSING_FIELD, detail, "no Event-Name");
	if (msg->node == NULL)
		return fail(KZ_PROTO_MISSING_FIELD, detail, "no Node");
	if (msg->node[0] == '\0' || strlen(msg->node) > KZ_SHORTSTR_MAX)
		return fail(KZ_PROTO_BAD_FIELD, detail,
					"Node is empty or longer than %d bytes", KZ_SHORTSTR_MAX);
	msg->event = kz_proto_event_of(category, name);
	if (msg->event == KZ_EV_UNKNOWN)
		return fail(KZ_PROTO_UNKNOWN_EVENT, detail, "unknown event %.40s/%.40s",
					category, name);
	return KZ_PROTO_OK;
}

/* Every other scalar field, in a fixed order. */
static KzProtoError
get_fields(ParseState *ps, KzBusMsg *msg, const char **detail)
{
	KzProtoError err;

	if ((err = take_string(ps, F_APP_NAME, &msg->app_name, detail)) != KZ_PROTO_OK ||
		(err = take_string(ps, F_MSG_ID, &msg->msg_id, detail)) != KZ_PROTO_OK ||
		(err = take_string(ps, F_SERVER_ID, &msg->server_id, detail)) != KZ_PROTO_OK ||
		(err = take_string(ps, F_ZONE, &msg->zone, detail)) != KZ_PROTO_OK ||
		(msg->zone == NULL &&
		 (err = take_string(ps, F_BROKER_ZONE, &msg->zone, detail)) != KZ_PROTO_OK) ||
		(err = take_string(ps, F_SESSION, &msg->session, detail)) != KZ_PROTO_OK ||
		(err = get_state(ps, msg, detail)) != KZ_PROTO_OK ||
		(err = get_integer(ps, F_TIMESTAMP, PG_INT64_MIN, PG_INT64_MAX,
						   &msg->timestamp, &msg->has_timestamp,
						   detail)) != KZ_PROTO_OK ||
		(err = get_int32(ps, F_PID, 0, &msg->pid, detail)) != KZ_PROTO_OK ||
		(err = get_int32(ps, F_SENDER_PID, 0, &msg->sender_pid, detail)) != KZ_PROTO_OK ||
		(err = get_int32(ps, F_TIMEOUT, 0, &msg->timeout_ms, detail)) != KZ_PROTO_OK ||
		(err = get_expires(ps, msg, detail)) != KZ_PROTO_OK ||
		(err = get_globals(ps, msg, detail)) != KZ_PROTO_OK ||
		(err = get_integer(ps, F_INCARNATION, PG_INT64_MIN, PG_INT64_MAX,
						   &msg->incarnation, NULL, detail)) != KZ_PROTO_OK ||
		(err = get_int32(ps, F_PG_VERSION, 0, &msg->pg_version, detail)) != KZ_PROTO_OK ||
		(err = get_integer(ps, F_SYNC_ID, PG_INT64_MIN, PG_INT64_MAX,
						   &msg->sync_id, NULL, detail)) != KZ_PROTO_OK ||
		(err = get_int32(ps, F_PART, 0, &msg->sync_part, detail)) != KZ_PROTO_OK ||
		(err = get_bool(ps, F_LAST, &msg->sync_last, detail)) != KZ_PROTO_OK ||
		(err = get_bool(ps, F_SYNC_REQUEST, &msg->sync_request, detail)) != KZ_PROTO_OK ||
		(err = get_bool(ps, F_OWNER_EXITED, &msg->owner_exited, detail)) != KZ_PROTO_OK ||
		(err = take_identity(ps, F_SENDER_ROLE, &msg->sender_role, detail)) != KZ_PROTO_OK ||
		(err = take_identity(ps, F_SENDER_DB, &msg->sender_db, detail)) != KZ_PROTO_OK)
		return err;
	return check_term_types(ps, detail);
}

/* The fields each event requires beyond the envelope. */
static KzProtoError
check_required(const ParseState *ps, KzEvent event, const char **detail)
{
	KzField		need[2] = {F_UNKNOWN, F_UNKNOWN};
	int			i;

	switch (event)
	{
		case KZ_EV_SEND:
		case KZ_EV_CALL:
		case KZ_EV_GROUP_PUBLISH:
			need[1] = F_MESSAGE;
			/* FALLTHROUGH */
		case KZ_EV_REGISTER:
		case KZ_EV_REGISTER_RESP:
		case KZ_EV_QUERY:
		case KZ_EV_QUERY_RESP:
		case KZ_EV_UNREGISTER:
			need[0] = F_NAME;
			break;
		case KZ_EV_REPLY:
			need[0] = F_REPLY;
			break;
		case KZ_EV_SYNC:
		case KZ_EV_REGISTRY_BATCH:
		case KZ_EV_CLAIM_BATCH_RESP:
		case KZ_EV_SEND_BATCH:
		case KZ_EV_GROUP_MEMBERS:
		case KZ_EV_GROUP_SYNC:
			need[0] = F_NAMES;
			break;
		case KZ_EV_ADVERTISE:
			need[0] = F_EXPIRES;
			break;
		case KZ_EV_UNKNOWN:
			break;
	}
	for (i = 0; i < 2; i++)
		if (need[i] != F_UNKNOWN && absent(ps, need[i]))
			return fail(KZ_PROTO_MISSING_FIELD, detail, "no %s",
						field_keys[need[i]]);
	return KZ_PROTO_OK;
}

/*
 * The value of each base64 character of the standard alphabet, -1 for
 * every other byte.
 */
static const int8 b64_value[256] = {
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1, -1, 63,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
	-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, -1,
	-1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1
};

/*
 * The shape of base64 as Erlang's base64:encode writes it (standard
 * alphabet, padded, no whitespace): the decoded length if s[0..len) can be
 * it, from its length and padding alone, or -1; *pad gets the number of
 * '='.  base64_decode checks the characters.
 */
static int64
base64_decoded_len(const char *s, size_t len, size_t *pad)
{
	*pad = 0;
	if (len % 4 != 0)
		return -1;
	if (len > 0 && s[len - 1] == '=')
		*pad = (s[len - 2] == '=') ? 2 : 1;
	return (int64) (len / 4 * 3 - *pad);
}

/*
 * Decodes s[0..len), of the shape base64_decoded_len accepted with pad
 * '=', into out (when not NULL; its decoded length), checking every
 * character before the padding: false if one is not of the alphabet.  A
 * group of four characters at a time, the last one (with the padding) on
 * its own; bits below the last byte are ignored, as pg_b64_decode does.
 */
static bool
base64_decode(const char *s, size_t len, size_t pad, uint8 *out)
{
	const unsigned char *p = (const unsigned char *) s;
	size_t		groups = len / 4;
	size_t		g;
	int			bad = 0;
	int			v[4];
	int			i;

	if (groups == 0)
		return true;
	for (g = 0; g + 1 < groups; g++, p += 4)
	{
		int32		a = b64_value[p[0]];
		int32		b = b64_value[p[1]];
		int32		c = b64_value[p[2]];
		int32		d = b64_value[p[3]];

		bad |= a | b | c | d;	/* -1 has every bit set */
		if (out != NULL)
		{
			uint32		w = ((uint32) a << 18) | ((uint32) b << 12) |
				((uint32) c << 6) | (uint32) d;

			*out++ = (uint8) (w >> 16);
			*out++ = (uint8) (w >> 8);
			*out++ = (uint8) w;
		}
	}
	if (bad < 0)
		return false;
	/* the last group: 4 - pad characters of the alphabet, then the '=' */
	for (i = 0; i < 4; i++)
	{
		v[i] = i < 4 - (int) pad ? b64_value[p[i]] : 0;
		if (v[i] < 0)
			return false;
	}
	if (out != NULL)
	{
		uint32		w = ((uint32) v[0] << 18) | ((uint32) v[1] << 12) |
			((uint32) v[2] << 6) | (uint32) v[3];

		*out++ = (uint8) (w >> 16);
		if (pad < 2)
			*out++ = (uint8) (w >> 8);
		if (pad < 1)
			*out++ = (uint8) w;
	}
	return true;
}

/*
 * Decodes a term field: base64, then etf_validate.  A term longer than
 * max_len once decoded is refused before it is decoded; text that is not
 * base64 is refused as that first, whatever its length.
 */
static KzProtoError
decode_term(const char *b64, const char *what, size_t max_len,
			uint8 **term, size_t *term_len, const char **detail)
{
	size_t		len = strlen(b64);
	size_t		pad;
	int64		dlen = base64_decoded_len(b64, len, &pad);
	uint8	   *buf;
	EtfStatus	status;

	if (dlen < 0)
		return fail(KZ_PROTO_BAD_BASE64, detail, "%s is not base64", what);
	if ((uint64) dlen > max_len || dlen == 0)
	{
		if (!base64_decode(b64, len, pad, NULL))
			return fail(KZ_PROTO_BAD_BASE64, detail, "%s is not base64", what);
		if (dlen == 0)
			return fail(KZ_PROTO_BAD_TERM, detail, "%s is empty", what);
		return fail(KZ_PROTO_TOO_LARGE, detail,
					"%s is " INT64_FORMAT " bytes, over %zu", what, dlen, max_len);
	}
	buf = palloc(dlen);
	if (!base64_decode(b64, len, pad, buf))
	{
		pfree(buf);
		return fail(KZ_PROTO_BAD_BASE64, detail, "%s is not base64", what);
	}
	status = etf_validate(buf, dlen);
	if (status != ETF_OK)
	{
		pfree(buf);
		return fail(KZ_PROTO_BAD_TERM, detail, "%s: %s", what,
					etf_status_string(status));
	}
	*term = buf;
	*term_len = dlen;
	return KZ_PROTO_OK;
}

/* Decodes a term field if present. */
static KzProtoError
decode_term_field(const ParseState *ps, KzField f, size_t max_len,
				  uint8 **term, size_t *term_len, const char **detail)
{
	if (absent(ps, f))
		return KZ_PROTO_OK;
	return decode_term(ps->raw[f].text, field_keys[f], max_len,
					   term, term_len, detail);
}

/*
 * The claim an entry names (see protocol.h): the text of a registry_batch's
 * claim ("" from nodes that send none), the sixth element of a
 * claim_batch_resp's answer (absent in answers to those).  A sixth element
 * in any other entry, or a claim that is not a Msg-ID, is refused.
 */
static KzProtoError
decode_claim(const RawEntry *raw, KzEvent event, KzSyncEntry *e,
			 const char **detail)
{
	const char *claim = NULL;
	uint64		session;
	uint64		seq;

	if (event == KZ_EV_CLAIM_BATCH_RESP)
		claim = raw->claim;
	else if (raw->claim != NULL)
		return fail(KZ_PROTO_BAD_FIELD, detail,
					"a Names entry of a %s has more than 5 elements",
					kz_proto_event_name(event));
	else if (event == KZ_EV_REGISTRY_BATCH && e->state == KZ_WS_PENDING &&
			 raw->text != NULL && raw->text[0] != '\0')
		claim = raw->text;
	if (claim == NULL)
		return KZ_PROTO_OK;
	if (!kz_proto_parse_msg_id(claim, &session, &seq))
		return fail(KZ_PROTO_BAD_FIELD, detail,
					"a Names entry's claim is not a Msg-ID");
	e->claim = pstrdup(claim);
	return KZ_PROTO_OK;
}

/* Decodes the entries of Names (a sync or a batch) into msg->entries. */
static KzProtoError
decode_names(const ParseState *ps, KzBusMsg *msg, size_t max_name,
			 size_t max_message, const char **detail)
{
	int			i;
	KzProtoError err;

	if (ps->nentries == 0)
		return KZ_PROTO_OK;
	msg->entries = palloc0(ps->nentries * sizeof(KzSyncEntry));
	for (i = 0; i < ps->nentries; i++)
	{
		KzSyncEntry *e = &msg->entries[i];

		err = decode_term(ps->entries[i].name, "a Names entry's name",
						  max_name, &e->name, &e->name_len, detail);
		if (err != KZ_PROTO_OK)
			return err;
		e->timestamp = ps->entries[i].timestamp;
		e->pid = ps->entries[i].pid;
		e->state = ps->entries[i].state;
		if (ps->entries[i].text != NULL)
			e->text = pstrdup(ps->entries[i].text);
		msg->nentries++;
		err = decode_claim(&ps->entries[i], msg->event, e, detail);
		if (err != KZ_PROTO_OK)
			return err;
		if (msg->event != KZ_EV_SEND_BATCH)
			continue;
		if (ps->entries[i].text == NULL)
			return fail(KZ_PROTO_MISSING_FIELD, detail, "a send_batch entry has no message");
		err = decode_term(ps->entries[i].text, "a send_batch message", max_message,
						  &e->message, &e->message_len, detail);
		if (err != KZ_PROTO_OK)
			return err;
	}
	return KZ_PROTO_OK;
}

/* Every term field, and the names of a sync. */
static KzProtoError
decode_terms(const ParseState *ps, KzBusMsg *msg, size_t max_name,
			 size_t max_len, const char **detail)
{
	KzProtoError err;

	if ((err = decode_term_field(ps, F_NAME, max_name, &msg->name,
								 &msg->name_len, detail)) != KZ_PROTO_OK ||
		(err = decode_term_field(ps, F_MESSAGE, max_len, &msg->message,
								 &msg->message_len, detail)) != KZ_PROTO_OK ||
		(err = decode_term_field(ps, F_REPLY, max_len, &msg->reply,
								 &msg->reply_len, detail)) != KZ_PROTO_OK ||
		(err = decode_term_field(ps, F_REASON, max_len, &msg->reason,
								 &msg->reason_len, detail)) != KZ_PROTO_OK)
		return err;
	return decode_names(ps, msg, max_name, max_len, detail);
}

/*
 * Most digits after the decimal point, and in the exponent, of a number in
 * registration metadata: with at most KZ_META_MAX_BYTES digits before the
 * point, that keeps every number within numeric's range (131072 digits
 * before the point, 16383 after).
 */
#define KZ_META_MAX_FRACTION	15000
#define KZ_META_MAX_EXP_DIGITS	3

/*
 * Checks the scalars of a metadata text that PostgreSQL's JSON parser
 * accepts but jsonb may refuse, so that every reader can turn a recorded
 * text into jsonb whatever its database: a \u escape must be below U+0080
 * and not U+0000 (jsonb prints other characters as they are, and a
 * database that is not UTF-8 refuses escapes above), a number within
 * numeric's range (see KZ_META_MAX_FRACTION).  The syntax itself is
 * checked by the parser afterwards.
 */
static const char *
meta_scalar_problem(const char *p)
{
	bool		in_string = false;

	while (*p)
	{
		if (in_string)
		{
			if (*p == '"')
				in_string = false;
			else if (*p == '\\' && p[1] == 'u')
			{
				unsigned int v = 0;
				int			i;

				for (i = 2; i < 6 && isxdigit((unsigned char) p[i]); i++)
					v = v * 16 + (unsigned int) (isdigit((unsigned char) p[i]) ? p[i] - '0' :
												 (tolower((unsigned char) p[i]) - 'a' + 10));
				if (i < 6 || v == 0 || v >= 0x80)
					return "holds a \\u escape jsonb may refuse";
				p += 5;
			}
			else if (*p == '\\' && p[1] != '\0')
				p++;
			p++;
			continue;
		}
		if (*p == '"')
			in_string = true;
		else if (*p == '-' || isdigit((unsigned char) *p))
		{
			const char *frac = NULL;
			const char *frac_end = NULL;
			const char *exp = NULL;

			while (*p == '-' || *p == '+' || *p == '.' || *p == 'e' || *p == 'E' ||
				   isdigit((unsigned char) *p))
			{
				if (*p == '.' && frac == NULL && exp == NULL)
					frac = p + 1;
				if ((*p == 'e' || *p == 'E') && exp == NULL)
				{
					frac_end = p;
					exp = p + 1;
				}
				p++;
			}
			if (frac != NULL && (frac_end ? frac_end : p) - frac > KZ_META_MAX_FRACTION)
				return "holds a number out of range";
			if (exp != NULL)
			{
				while (*exp == '+' || *exp == '-' || *exp == '0')
					exp++;
				if (p - exp > KZ_META_MAX_EXP_DIGITS)
					return "holds a number out of range";
			}
			continue;
		}
		p++;
	}
	return NULL;
}

/*
 * What is wrong with a registration metadata text (see decode.h), or NULL:
 * it must be the JSON text of an object or array, at most
 * KZ_META_MAX_BYTES, without \u0000 (which jsonb refuses) or other scalars
 * jsonb may refuse (meta_scalar_problem).
 */
const char *
kz_proto_meta_problem(const char *text)
{
	size_t		len = strlen(text);
	char	   *json;
	size_t		json_len;
	size_t		where;
	JsonLexContext *lex;
	JsonParseErrorType err;
	const char *p = text;
	const char *why;

	if (len > KZ_META_MAX_BYTES)
		return "is too long";
	if (kz_json_has_nul(text))
		return "contains \\u0000";
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p != '{' && *p != '[')
		return "is not a JSON object or array";
	if ((why = meta_scalar_problem(p)) != NULL)
		return why;
	if (kz_json_normalize(text, len, &json, &json_len, &where) != KZ_JSON_OK)
		return "is not valid JSON";
	if (kz_json_has_nul(json))
	{
		pfree(json);
		return "contains \\u0000";
	}
	lex = KZ_JSON_LEXER(json, json_len, false);
	err = pg_parse_json(lex, &nullSemAction);
	KZ_JSON_LEXER_FREE(lex);
	pfree(json);
	return err == JSON_SUCCESS ? NULL : "is not valid JSON";
}

/*
 * Meta (an advertisement's registration metadata) and Metas (one per
 * entry of Names, null for none): JSON strings holding checked JSON text.
 */
static KzProtoError
decode_meta(ParseState *ps, KzBusMsg *msg, const char **detail)
{
	KzProtoError err;
	const char *why;
	int			i;

	if ((err = take_string(ps, F_META, &msg->meta, detail)) != KZ_PROTO_OK)
		return err;
	if (msg->meta != NULL && (why = kz_proto_meta_problem(msg->meta)) != NULL)
		return fail(KZ_PROTO_BAD_FIELD, detail, "Meta %s", why);
	if (absent(ps, F_METAS))
		return KZ_PROTO_OK;
	if (ps->raw[F_METAS].type != JSON_TOKEN_ARRAY_START)
		return fail(KZ_PROTO_BAD_FIELD, detail, "Metas is not an array");
	if (ps->metas_error != NULL)
		return fail(KZ_PROTO_BAD_FIELD, detail, "%s", ps->metas_error);
	if (ps->nmetas != msg->nentries)
		return fail(KZ_PROTO_BAD_FIELD, detail,
					"Metas has %d elements, Names %d", ps->nmetas, msg->nentries);
	for (i = 0; i < ps->nmetas; i++)
	{
		if (ps->metas[i] == NULL)
			continue;
		if ((why = kz_proto_meta_problem(ps->metas[i])) != NULL)
			return fail(KZ_PROTO_BAD_FIELD, detail, "a Metas element %s", why);
		msg->entries[i].meta = ps->metas[i];
		ps->metas[i] = NULL;
	}
	return KZ_PROTO_OK;
}

/* Frees everything a decoded message points to and zeroes it. */
void
kz_proto_free(KzBusMsg *msg)
{
	void	   *ptrs[] = {
		msg->app_name, msg->msg_id, msg->node, msg->server_id, msg->zone,
		msg->name, msg->message, msg->reply, msg->reason, msg->session,
		msg->sender_role, msg->sender_db, msg->meta
	};
	int			i;

	for (i = 0; i < (int) lengthof(ptrs); i++)
		if (ptrs[i] != NULL)
			pfree(ptrs[i]);
	for (i = 0; i < msg->nentries; i++)
	{
		pfree(msg->entries[i].name);
		if (msg->entries[i].text != NULL)
			pfree(msg->entries[i].text);
		if (msg->entries[i].message != NULL)
			pfree(msg->entries[i].message);
		if (msg->entries[i].claim != NULL)
			pfree(msg->entries[i].claim);
		if (msg->entries[i].meta != NULL)
			pfree(msg->entries[i].meta);
	}
	if (msg->entries != NULL)
		pfree(msg->entries);
	memset(msg, 0, sizeof(*msg));
}

/*
 * Step 2: json.c's clean-up, its refusal described.  The long strings of
 * the body (a message's base64) are left out of the copy that jsonapi
 * parses (*spans): its lexer would otherwise copy them byte by byte.
 */
static KzProtoError
normalize(const char *body, size_t len, char **json, size_t *json_len,
		  KzJsonSpan **spans, int *nspans, const char **detail)
{
	size_t		where = 0;

	switch (kz_json_normalize_spans(body, len, json, json_len, &where, spans,
									nspans))
	{
		case KZ_JSON_OK:
			return KZ_PROTO_OK;
		case KZ_JSON_BAD_UTF8:
			return fail(KZ_PROTO_BAD_JSON, detail, "invalid UTF-8 at byte %zu", where);
		case KZ_JSON_BAD_ESCAPE:
			return fail(KZ_PROTO_BAD_JSON, detail, "invalid \\u escape at byte %zu",
						where);
		case KZ_JSON_TOO_DEEP:
			break;
	}
	return fail(KZ_PROTO_BAD_JSON, detail, "nested deeper than %d levels",
				KZ_JSON_MAX_DEPTH);
}

/*
 * Decodes a message body (see decode.h).  On failure *msg is left zeroed
 * (event KZ_EV_UNKNOWN, every pointer NULL) and nothing stays allocated;
 * *detail points to a static buffer, valid until the next call.
 */
KzProtoError
kz_proto_decode(const char *body, size_t len, size_t max_len,
				size_t max_name, KzBusMsg *msg, const char **detail)
{
	ParseState	ps;
	char	   *json = NULL;
	size_t		json_len = 0;
	KzJsonSpan *spans = NULL;
	int			nspans = 0;
	KzProtoError err;

	memset(msg, 0, sizeof(*msg));
	if (detail != NULL)
		*detail = NULL;
	if (len > max_len || len > KZ_PROTO_HARD_MAX_BODY)
		return fail(KZ_PROTO_TOO_LARGE, detail, "body is %zu bytes, over %zu",
					len, Min(max_len, KZ_PROTO_HARD_MAX_BODY));
	if (body == NULL)
		return fail(KZ_PROTO_BAD_JSON, detail, "no body");

	err = normalize(body, len, &json, &json_len, &spans, &nspans, detail);
	if (err != KZ_PROTO_OK)
		return err;
	memset(&ps, 0, sizeof(ps));
	ps.field = F_UNKNOWN;
	ps.body = body;
	ps.spans = spans;
	ps.nspans = nspans;
	err = parse_body(json, json_len, &ps, detail);
	pfree(json);
	if (spans != NULL)
		pfree(spans);
	ps.spans = NULL;
	ps.nspans = 0;

	if (err == KZ_PROTO_OK)
		err = get_envelope(&ps, msg, detail);
	if (err == KZ_PROTO_OK)
		err = get_fields(&ps, msg, detail);
	if (err == KZ_PROTO_OK)
		err = check_required(&ps, msg->event, detail);
	if (err == KZ_PROTO_OK)
		err = decode_terms(&ps, msg, max_name, max_len, detail);
	if (err == KZ_PROTO_OK)
		err = decode_meta(&ps, msg, detail);

	free_parse_state(&ps);
	if (err != KZ_PROTO_OK)
		kz_proto_free(msg);
	return err;
}
