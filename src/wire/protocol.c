/*-------------------------------------------------------------------------
 *
 * protocol.c
 *	  Kazoo's kz_globals and kz_nodes messages: decoding and encoding JSON
 *	  bodies, routing keys and message ids.
 *
 * Bodies come from the broker, so the decoder treats them as hostile.  It
 * works in four steps, each bounded by the size of the body:
 *
 * 1. A body over max_len (or over KZ_PROTO_HARD_MAX_BODY, whatever the
 *	  caller allows) is refused before anything is read or allocated.
 *
 * 2. A single pass over the bytes (normalize_body) checks that the body is
 *	  UTF-8, as RFC 8259 requires, and that no object or array is nested
 *	  deeper than KZ_PROTO_MAX_DEPTH; it also rewrites the \u escapes of
 *	  strings, so that PostgreSQL's JSON lexer never has to convert one: an
 *	  escape of a non-ASCII character becomes the character's UTF-8 bytes,
 *	  and \u0000 becomes the two bytes C0 80, which valid UTF-8 never holds.
 *	  That matters in the server: there the lexer hands \u escapes to
 *	  pg_unicode_to_server(), which raises an ERROR when the database
 *	  encoding cannot hold the character, and refuses \u0000 outright, even
 *	  in a field we ignore.  The depth limit keeps jsonapi's recursive
 *	  descent (and its check_stack_depth(), another ERROR) far from the
 *	  stack's end.
 *
 * 3. jsonapi parses the normalized copy twice: first with no callbacks,
 *	  which only validates, then with callbacks that keep the raw values of
 *	  the fields we know.  The first pass exists because PostgreSQL 15's
 *	  parser hands a token to a callback only after lexing the next one, so
 *	  a syntax error there would leak the token (harmless in a memory
 *	  context, but the unit tests run under valgrind).
 *
 * 4. The raw values are checked and converted, in a fixed order: envelope,
 *	  event, field types, required fields, then term fields (base64, then
 *	  etf_validate).  The first failure is the status returned.
 *
 * Nothing here raises an ERROR or allocates in proportion to a size read
 * from the input: every allocation is bounded by the body's length.
 *
 * IDENTIFICATION
 *	  src/wire/protocol.c
 *
 *-------------------------------------------------------------------------
 */
#ifndef FRONTEND
#include "postgres.h"
#else
#include "postgres_fe.h"
#endif

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/base64.h"
#include "common/jsonapi.h"
#include "mb/pg_wchar.h"

#include "compat.h"
#include "etf.h"
#include "protocol.h"

/*
 * Deepest nesting of objects and arrays accepted; the body itself is depth
 * 1.  Kazoo's heartbeats nest four levels (Media-Servers) and ours three.
 */
#define KZ_PROTO_MAX_DEPTH		64

/*
 * Largest body decoded whatever max_len says.  Every allocation must stay
 * under PostgreSQL's 1 GB limit (palloc raises an ERROR above it): the
 * largest is the array of Names, 24 bytes an entry for entries of at least
 * 7 bytes of JSON, doubled as it grows, so about 7 times the body.
 */
#define KZ_PROTO_HARD_MAX_BODY	((size_t) 64 * 1024 * 1024)

/* What \u0000 becomes in the normalized body: an overlong NUL. */
#define NUL_MARK_0				0xC0
#define NUL_MARK_1				0x80

/*
 * Bytes of a term encoded for a routing key: base64 of 96 bytes is 128
 * characters, 256 hex digits, more than fit in a key.  96 is a multiple of
 * 3, so its base64 is a prefix of the base64 of the whole term.
 */
#define ROUTING_TERM_PREFIX		96

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
	F_COUNT
} KzField;

static const char *const field_keys[F_COUNT] = {
	"App-Name", "Event-Category", "Event-Name", "Msg-ID", "Node",
	"Server-ID", "Zone", "AMQP-Broker-Zone", "Name", "State", "Timestamp",
	"Message", "Reply", "Reason", "Pid", "Sender-Pid", "Timeout", "Expires",
	"Globals", "Incarnation", "Session", "PG-Globals-Version", "Sync-ID",
	"Part", "Last", "Names", "Sync-Request", "Owner-Exited"
};

/* Event-Category and Event-Name of each event. */
typedef struct EventName
{
	const char *category;
	const char *name;
	KzEvent		event;
} EventName;

static const EventName event_names[] = {
	{"globals", "register", KZ_EV_REGISTER},
	{"globals", "register_resp", KZ_EV_REGISTER_RESP},
	{"globals", "query", KZ_EV_QUERY},
	{"globals", "query_resp", KZ_EV_QUERY_RESP},
	{"globals", "unregister", KZ_EV_UNREGISTER},
	{"globals", "send", KZ_EV_SEND},
	{"globals", "call", KZ_EV_CALL},
	{"globals", "reply", KZ_EV_REPLY},
	{"globals", "sync", KZ_EV_SYNC},
	{"nodes", "advertise", KZ_EV_ADVERTISE},
	{"globals", "registry_batch", KZ_EV_REGISTRY_BATCH},
	{"globals", "claim_batch_resp", KZ_EV_CLAIM_BATCH_RESP},
	{"globals", "send_batch", KZ_EV_SEND_BATCH}
};

/* The State strings, indexed by KzWireState. */
static const char *const state_names[] = {
	"absent", "none", "pending", "registered", "local", "remote", "other"
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
	char	   *state;			/* or NULL */
	char	   *text;			/* or NULL */
	int			nitems;			/* elements seen so far */
} RawEntry;

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

/*
 * Length of the valid UTF-8 character at p (at most n bytes available),
 * or 0 if the bytes there are not one: PostgreSQL's check refuses overlong
 * forms, surrogates and code points above U+10FFFF.
 */
static int
utf8_char_len(const char *p, size_t n)
{
	int			len = pg_utf_mblen((const unsigned char *) p);

	if ((size_t) len > n || !pg_utf8_islegal((const unsigned char *) p, len))
		return 0;
	return len;
}

/* Reads four hex digits at p (n bytes available); false if they are not. */
static bool
read_hex4(const char *p, size_t n, uint32 *value)
{
	uint32		v = 0;
	int			i;

	if (n < 4)
		return false;
	for (i = 0; i < 4; i++)
	{
		char		c = p[i];

		if (c >= '0' && c <= '9')
			v = v * 16 + (c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + (c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v = v * 16 + (c - 'A' + 10);
		else
			return false;
	}
	*value = v;
	return true;
}

/*
 * Parses a JSON number token as an integer in [min, max].  Fractions and
 * exponents are refused even when their value is whole ("1.0", "1e3"):
 * every number we read is an integer on the wire.
 */
static bool
parse_integer(const char *s, int64 min, int64 max, int64 *value)
{
	bool		neg = false;
	uint64		v = 0;
	uint64		limit;

	if (*s == '-')
	{
		neg = true;
		s++;
	}
	if (*s == '\0')
		return false;
	limit = neg ? (uint64) PG_INT64_MAX + 1 : (uint64) PG_INT64_MAX;
	for (; *s != '\0'; s++)
	{
		if (*s < '0' || *s > '9')
			return false;
		if (v > (limit - (uint64) (*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64) (*s - '0');
	}
	if (neg)
		*value = (v == (uint64) PG_INT64_MAX + 1) ? PG_INT64_MIN : -(int64) v;
	else
		*value = (int64) v;
	return *value >= min && *value <= max;
}


/* ---------------------------------------------------------------------
 * Step 2: encoding, depth and \u escapes
 * ---------------------------------------------------------------------
 */

/*
 * Rewrites one \u escape (or surrogate pair) starting at in[*i] into out
 * at *o.  Escapes of ASCII characters other than NUL are copied as they
 * are, since the lexer turns those into one byte without converting.
 * Returns false for an escape that is not four hex digits or a surrogate
 * that is not part of a well-formed pair.
 */
static bool
rewrite_unicode_escape(const char *in, size_t len, size_t *i,
					   char *out, size_t *o)
{
	size_t		start = *i;
	uint32		cp;
	uint32		low;

	if (!read_hex4(in + start + 2, len - start - 2, &cp))
		return false;
	*i = start + 6;
	if (cp >= 0xDC00 && cp <= 0xDFFF)
		return false;
	if (cp >= 0xD800 && cp <= 0xDBFF)
	{
		if (len - *i < 6 || in[*i] != '\\' || in[*i + 1] != 'u' ||
			!read_hex4(in + *i + 2, len - *i - 2, &low) ||
			low < 0xDC00 || low > 0xDFFF)
			return false;
		cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
		*i += 6;
	}
	if (cp == 0)
	{
		out[(*o)++] = (char) NUL_MARK_0;
		out[(*o)++] = (char) NUL_MARK_1;
	}
	else if (cp < 0x80)
	{
		memcpy(out + *o, in + start, 6);
		*o += 6;
	}
	else
	{
		unicode_to_utf8(cp, (unsigned char *) out + *o);
		*o += pg_utf_mblen((unsigned char *) out + *o);
	}
	return true;
}

/*
 * Copies body[0..len) into a palloc'd buffer (*result, *result_len, plus a
 * NUL), checking UTF-8 and nesting depth and rewriting \u escapes (see the
 * file header).  Strings are tracked exactly as jsonapi's lexer tracks
 * them, so the depth counted here bounds the parser's recursion.  Syntax
 * errors are left for jsonapi to find, except in \u escapes.  The copy is
 * never longer than the body.
 */
static KzProtoError
normalize_body(const char *body, size_t len, char **result,
			   size_t *result_len, const char **detail)
{
	char	   *out = palloc(len + 1);
	size_t		i = 0;
	size_t		o = 0;
	int			depth = 0;
	bool		in_string = false;

	while (i < len)
	{
		unsigned char c = (unsigned char) body[i];
		int			n;

		if (c >= 0x80)
		{
			n = utf8_char_len(body + i, len - i);
			if (n == 0)
			{
				pfree(out);
				return fail(KZ_PROTO_BAD_JSON, detail,
							"invalid UTF-8 at byte %zu", i);
			}
			memcpy(out + o, body + i, n);
			i += n;
			o += n;
			continue;
		}
		if (in_string && c == '\\' && i + 1 < len && body[i + 1] == 'u')
		{
			size_t		start = i;

			if (!rewrite_unicode_escape(body, len, &i, out, &o))
			{
				pfree(out);
				return fail(KZ_PROTO_BAD_JSON, detail,
							"invalid \\u escape at byte %zu", start);
			}
			continue;
		}
		if (in_string && c == '\\' && i + 1 < len)
		{
			out[o++] = body[i++];
			out[o++] = body[i++];
			continue;
		}
		if (c == '"')
			in_string = !in_string;
		else if (!in_string && (c == '{' || c == '['))
		{
			if (++depth > KZ_PROTO_MAX_DEPTH)
			{
				pfree(out);
				return fail(KZ_PROTO_BAD_JSON, detail,
							"nested deeper than %d levels",
							KZ_PROTO_MAX_DEPTH);
			}
		}
		else if (!in_string && (c == '}' || c == ']') && depth > 0)
			depth--;
		out[o++] = body[i++];
	}
	out[o] = '\0';
	*result = out;
	*result_len = o;
	return KZ_PROTO_OK;
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
		if (ps->entries[i].state != NULL)
			pfree(ps->entries[i].state);
		if (ps->entries[i].text != NULL)
			pfree(ps->entries[i].text);
	}
	if (ps->entries != NULL)
		pfree(ps->entries);
	ps->entries = NULL;
	ps->nentries = 0;
	ps->maxentries = 0;
	ps->names_error = NULL;
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
	if (type != JSON_TOKEN_STRING || strchr(token, (char) NUL_MARK_0) != NULL)
	{
		names_error(ps, what);
		return false;
	}
	*dest = token;
	return true;
}

/*
 * One scalar element of a Names entry: [name_base64, timestamp, pid, state,
 * text], all but the first two optional (or null).  Returns true if the
 * token was kept.
 */
static bool
entry_item(ParseState *ps, char *token, JsonTokenType type)
{
	RawEntry   *e = &ps->entries[ps->nentries - 1];
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
				!parse_integer(token, PG_INT64_MIN, PG_INT64_MAX, &v))
				names_error(ps, "a Names entry's timestamp is not an integer");
			else
				e->timestamp = v;
			return false;
		case 2:
			if (type == JSON_TOKEN_NULL)
				e->pid = 0;
			else if (type != JSON_TOKEN_NUMBER ||
					 !parse_integer(token, 0, PG_INT32_MAX, &v))
				names_error(ps, "a Names entry's pid is not a valid pid");
			else
				e->pid = (int32) v;
			return false;
		case 3:
			return entry_string(ps, token, type, &e->state,
								"a Names entry's state is not a string");
		case 4:
			return entry_string(ps, token, type, &e->text,
								"a Names entry's text is not a string");
		default:
			names_error(ps, "a Names entry has more than 5 elements");
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

static KZ_JSON_ACTION
cb_scalar(void *state, char *token, JsonTokenType type)
{
	ParseState *ps = (ParseState *) state;
	bool		kept = false;
	int64		v;

	if (ps->depth == 1)
		kept = field_value(ps, type, token);
	else if (ps->depth == 2 && ps->field == F_GLOBALS && ps->globals_in_local)
	{
		if (type == JSON_TOKEN_NUMBER &&
			parse_integer(token, PG_INT32_MIN, PG_INT32_MAX, &v))
			ps->globals_local = (int32) v;
	}
	else if (ps->depth == 2 && in_names(ps))
		names_error(ps, "a Names entry is not an array");
	else if (ps->depth == 3 && in_names(ps))
		kept = entry_item(ps, token, type);
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
	if (strchr(ps->raw[f].text, (char) NUL_MARK_0) != NULL)
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
		!parse_integer(ps->raw[f].text, min, max, value))
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
			!parse_integer(s, 0, PG_INT64_MAX, &msg->expires_ms))
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

/* One of Kazoo's state strings, anything else KZ_WS_OTHER. */
static KzWireState
state_of(const char *s)
{
	int			i;

	for (i = KZ_WS_NONE; i < KZ_WS_OTHER; i++)
		if (strcmp(s, state_names[i]) == 0)
			return (KzWireState) i;
	return KZ_WS_OTHER;
}

/* State: one of Kazoo's state strings, anything else KZ_WS_OTHER. */
static KzProtoError
get_state(const ParseState *ps, KzBusMsg *msg, const char **detail)
{
	const char *s;
	KzProtoError err = get_string(ps, F_STATE, &s, detail);

	if (err != KZ_PROTO_OK || s == NULL)
		return err;
	msg->state = state_of(s);
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
	int			i;

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
	for (i = 0; i < (int) lengthof(event_names); i++)
		if (strcmp(category, event_names[i].category) == 0 &&
			strcmp(name, event_names[i].name) == 0)
			msg->event = event_names[i].event;
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
		(err = get_bool(ps, F_OWNER_EXITED, &msg->owner_exited, detail)) != KZ_PROTO_OK)
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
 * Checks that s is base64 as Erlang's base64:encode writes it (standard
 * alphabet, padded, no whitespace) and returns the decoded length, or -1.
 * pg_b64_decode alone would take '=' in the middle of the text.
 */
static int64
base64_decoded_len(const char *s, size_t len)
{
	size_t		i;
	size_t		pad = 0;

	if (len % 4 != 0)
		return -1;
	if (len > 0 && s[len - 1] == '=')
		pad = (s[len - 2] == '=') ? 2 : 1;
	for (i = 0; i < len - pad; i++)
	{
		char		c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			  (c >= '0' && c <= '9') || c == '+' || c == '/'))
			return -1;
	}
	return (int64) (len / 4 * 3 - pad);
}

/*
 * Decodes a term field: base64, then etf_validate.  A term longer than
 * max_len once decoded is refused before it is decoded.
 */
static KzProtoError
decode_term(const char *b64, const char *what, size_t max_len,
			uint8 **term, size_t *term_len, const char **detail)
{
	size_t		len = strlen(b64);
	int64		dlen = base64_decoded_len(b64, len);
	uint8	   *buf;
	EtfStatus	status;

	if (dlen < 0)
		return fail(KZ_PROTO_BAD_BASE64, detail, "%s is not base64", what);
	if ((uint64) dlen > max_len)
		return fail(KZ_PROTO_TOO_LARGE, detail,
					"%s is " INT64_FORMAT " bytes, over %zu", what, dlen, max_len);
	if (dlen == 0)
		return fail(KZ_PROTO_BAD_TERM, detail, "%s is empty", what);
	buf = palloc(dlen);
	if (pg_b64_decode(b64, (int) len, (KzB64Byte *) buf, (int) dlen) != dlen)
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
		e->state = ps->entries[i].state ? state_of(ps->entries[i].state) : KZ_WS_ABSENT;
		if (ps->entries[i].text != NULL)
			e->text = pstrdup(ps->entries[i].text);
		msg->nentries++;
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

/* Frees everything a decoded message points to and zeroes it. */
static void
free_msg(KzBusMsg *msg)
{
	void	   *ptrs[] = {
		msg->app_name, msg->msg_id, msg->node, msg->server_id, msg->zone,
		msg->name, msg->message, msg->reply, msg->reason, msg->session
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
	}
	if (msg->entries != NULL)
		pfree(msg->entries);
	memset(msg, 0, sizeof(*msg));
}

/*
 * Decodes a message body (see protocol.h).  On failure *msg is left zeroed
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
	KzProtoError err;

	memset(msg, 0, sizeof(*msg));
	if (detail != NULL)
		*detail = NULL;
	if (len > max_len || len > KZ_PROTO_HARD_MAX_BODY)
		return fail(KZ_PROTO_TOO_LARGE, detail, "body is %zu bytes, over %zu",
					len, Min(max_len, KZ_PROTO_HARD_MAX_BODY));
	if (body == NULL)
		return fail(KZ_PROTO_BAD_JSON, detail, "no body");

	err = normalize_body(body, len, &json, &json_len, detail);
	if (err != KZ_PROTO_OK)
		return err;
	memset(&ps, 0, sizeof(ps));
	ps.field = F_UNKNOWN;
	err = parse_body(json, json_len, &ps, detail);
	pfree(json);

	if (err == KZ_PROTO_OK)
		err = get_envelope(&ps, msg, detail);
	if (err == KZ_PROTO_OK)
		err = get_fields(&ps, msg, detail);
	if (err == KZ_PROTO_OK)
		err = check_required(&ps, msg->event, detail);
	if (err == KZ_PROTO_OK)
		err = decode_terms(&ps, msg, max_name, max_len, detail);

	free_parse_state(&ps);
	if (err != KZ_PROTO_OK)
		free_msg(msg);
	return err;
}


/* ---------------------------------------------------------------------
 * Names of enums, for logs
 * ---------------------------------------------------------------------
 */

const char *
kz_proto_error_name(KzProtoError err)
{
	static const char *const names[] = {
		"ok", "too_large", "bad_json", "missing_field", "bad_field",
		"bad_base64", "bad_term", "unknown_event"
	};

	StaticAssertStmt(lengthof(names) == KZ_PROTO_NUM_ERRORS,
					 "one name per KzProtoError");
	if ((int) err < 0 || (int) err >= KZ_PROTO_NUM_ERRORS)
		return "unknown_error";
	return names[err];
}

const char *
kz_proto_event_name(KzEvent event)
{
	int			i;

	for (i = 0; i < (int) lengthof(event_names); i++)
		if (event_names[i].event == event)
			return event_names[i].name;
	return "unknown";
}

const char *
kz_proto_state_name(KzWireState state)
{
	if ((int) state < 0 || (int) state >= (int) lengthof(state_names))
		return "other";
	return state_names[state];
}


/* ---------------------------------------------------------------------
 * Encoding
 * ---------------------------------------------------------------------
 */

/*
 * Appends s as a JSON string.  Quotes, backslashes and control characters
 * are escaped (the short forms where JSON has one); valid UTF-8 is copied
 * as it is.  A byte that is not part of valid UTF-8 cannot be written in
 * JSON, so it becomes U+FFFD, as a lenient UTF-8 decoder would show it.
 */
static void
append_json_string(StringInfo out, const char *s)
{
	size_t		len = strlen(s);
	size_t		i = 0;

	appendStringInfoChar(out, '"');
	while (i < len)
	{
		unsigned char c = (unsigned char) s[i];
		int			n;

		if (c >= 0x80)
		{
			n = utf8_char_len(s + i, len - i);
			if (n == 0)
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

/* Appends ,"key": (or "key": right after the opening brace). */
static void
append_key(StringInfo out, const char *key)
{
	if (out->len > 0 && out->data[out->len - 1] != '{')
		appendStringInfoChar(out, ',');
	append_json_string(out, key);
	appendStringInfoChar(out, ':');
}

/* Appends the base64 of data[0..len), as Erlang's base64:encode does. */
static void
append_base64(StringInfo out, const uint8 *data, size_t len)
{
	int			enc_len = pg_b64_enc_len((int) len);
	int			n;

	enlargeStringInfo(out, enc_len);
	n = pg_b64_encode((const KzB64Byte *) data, (int) len,
					  out->data + out->len, enc_len);
	if (n > 0)
		out->len += n;
	out->data[out->len] = '\0';
}

/*
 * Opens a message with Kazoo's envelope.  Server-ID is left out when NULL,
 * as is any other NULL member (a caller's mistake: the result would lack a
 * required field).
 */
void
kz_proto_begin(StringInfo out, const KzEnvelope *env)
{
	appendStringInfoChar(out, '{');
	kz_proto_add_str(out, "App-Name", env->app_name);
	kz_proto_add_str(out, "App-Version", KZ_APP_VERSION);
	kz_proto_add_str(out, "Event-Category", env->category);
	kz_proto_add_str(out, "Event-Name", env->event);
	kz_proto_add_str(out, "Msg-ID", env->msg_id);
	kz_proto_add_str(out, "Node", env->node);
	kz_proto_add_str(out, "Server-ID", env->server_id);
}

/* Adds a string field; a NULL value leaves the field out. */
void
kz_proto_add_str(StringInfo out, const char *key, const char *value)
{
	if (value == NULL)
		return;
	append_key(out, key);
	append_json_string(out, value);
}

void
kz_proto_add_int(StringInfo out, const char *key, int64 value)
{
	append_key(out, key);
	appendStringInfo(out, INT64_FORMAT, value);
}

void
kz_proto_add_bool(StringInfo out, const char *key, bool value)
{
	append_key(out, key);
	appendStringInfoString(out, value ? "true" : "false");
}

/* Adds a term field: base64 of the term buffer. */
void
kz_proto_add_term(StringInfo out, const char *key, const uint8 *term,
				  size_t len)
{
	append_key(out, key);
	appendStringInfoChar(out, '"');
	append_base64(out, term, len);
	appendStringInfoChar(out, '"');
}

void
kz_proto_add_counts(StringInfo out, const char *key,
					const char *const *names, const int64 *values, int n)
{
	int			i;

	append_key(out, key);
	appendStringInfoChar(out, '{');
	for (i = 0; i < n; i++)
		kz_proto_add_int(out, names[i], values[i]);
	appendStringInfoChar(out, '}');
}

void
kz_proto_begin_names(StringInfo out, const char *key)
{
	append_key(out, key);
	appendStringInfoChar(out, '[');
}

/* Adds [name_base64, timestamp, pid] to the Names array being built. */
void
kz_proto_add_name_entry(StringInfo out, const uint8 *term, size_t len,
						int64 timestamp, int32 pid)
{
	if (out->data[out->len - 1] != '[')
		appendStringInfoChar(out, ',');
	appendStringInfoString(out, "[\"");
	append_base64(out, term, len);
	appendStringInfo(out, "\"," INT64_FORMAT ",%d]", timestamp, pid);
}

void
kz_proto_add_entry(StringInfo out, const uint8 *term, size_t len,
				   int64 timestamp, int32 pid, const char *state, const char *text)
{
	if (out->data[out->len - 1] != '[')
		appendStringInfoChar(out, ',');
	appendStringInfoString(out, "[\"");
	append_base64(out, term, len);
	appendStringInfo(out, "\"," INT64_FORMAT ",%d,", timestamp, pid);
	append_json_string(out, state ? state : "");
	appendStringInfoChar(out, ',');
	append_json_string(out, text ? text : "");
	appendStringInfoChar(out, ']');
}

void
kz_proto_add_message_entry(StringInfo out, const uint8 *term, size_t len,
						   int32 sender_pid, const uint8 *message, size_t message_len)
{
	if (out->data[out->len - 1] != '[')
		appendStringInfoChar(out, ',');
	appendStringInfoString(out, "[\"");
	append_base64(out, term, len);
	appendStringInfo(out, "\",0,%d,\"\",\"", sender_pid);
	append_base64(out, message, message_len);
	appendStringInfoString(out, "\"]");
}

void
kz_proto_end_names(StringInfo out)
{
	appendStringInfoChar(out, ']');
}

void
kz_proto_end(StringInfo out)
{
	appendStringInfoChar(out, '}');
}


/* ---------------------------------------------------------------------
 * Routing keys and message ids
 * ---------------------------------------------------------------------
 */

static const char hex_upper[] = "0123456789ABCDEF";
static const char hex_lower[] = "0123456789abcdef";

/* Appends piece if the key (which starts at out->data[start]) stays short. */
static bool
append_key_piece(StringInfo out, int start, const char *piece, int len)
{
	if (out->len - start + len > KZ_SHORTSTR_MAX)
		return false;
	appendBinaryStringInfo(out, piece, len);
	return true;
}

/*
 * A binary name, escaped as kz_amqp_util:encode/1 does.  The binaries "*"
 * and "#" are kept whole; inside a longer name those bytes are escaped
 * like any other.  Stops before a byte whose escape would not fit.
 */
static void
append_amqp_escaped(StringInfo out, int start, const char *data, size_t len)
{
	size_t		i;

	if (len == 1 && (data[0] == '*' || data[0] == '#'))
	{
		append_key_piece(out, start, data, 1);
		return;
	}
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) data[i];
		char		piece[3];
		int			n = 1;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || c == '-' || c == '~' || c == '_')
			piece[0] = (char) c;
		else if (c == ' ')
			piece[0] = '+';
		else
		{
			piece[0] = '%';
			piece[1] = hex_upper[c >> 4];
			piece[2] = hex_upper[c & 0x0F];
			n = 3;
		}
		if (!append_key_piece(out, start, piece, n))
			return;
	}
}

/*
 * Any other term: the lower-case hex of the base64 of its term buffer, as
 * kz_term:to_hex_binary(base64:encode(term_to_binary(Name))) gives.  Only
 * the bytes that can show in 255 characters are encoded.
 */
static void
append_hex_base64(StringInfo out, int start, const uint8 *term, size_t len)
{
	char		b64[ROUTING_TERM_PREFIX / 3 * 4 + 4];
	int			n = 0;
	int			i;

	if (term != NULL && len > 0)
		n = pg_b64_encode((const KzB64Byte *) term,
						  (int) Min(len, ROUTING_TERM_PREFIX), b64, sizeof(b64));
	for (i = 0; i < n; i++)
	{
		char		piece[2];

		piece[0] = hex_lower[(unsigned char) b64[i] >> 4];
		piece[1] = hex_lower[(unsigned char) b64[i] & 0x0F];
		if (!append_key_piece(out, start, piece, 2))
			return;
	}
}

void
kz_proto_routing_key(StringInfo out, const char *event, const uint8 *term,
					 size_t len)
{
	int			start = out->len;
	const char *data;
	size_t		dlen;

	appendStringInfo(out, "globals.%s.", event);
	if (out->len - start > KZ_SHORTSTR_MAX)
	{
		out->len = start + KZ_SHORTSTR_MAX;
		out->data[out->len] = '\0';
		return;
	}
	if (term != NULL && etf_decode_binary(term, len, &data, &dlen))
		append_amqp_escaped(out, start, data, dlen);
	else
		append_hex_base64(out, start, term, len);
}

/* Writes 16 lower-case hex digits of v. */
static void
put_hex64(char *out, uint64 v)
{
	int			i;

	for (i = 15; i >= 0; i--)
	{
		out[i] = hex_lower[v & 0x0F];
		v >>= 4;
	}
}

/*
 * Writes the id and a NUL: out must hold KZ_MSG_ID_LEN + 1 bytes.  session
 * must fit KZ_SESSION_BITS; seq is taken modulo 2^40.
 */
void
kz_proto_msg_id(char *out, uint64 session, uint64 seq)
{
	Assert((session & ~KZ_SESSION_MASK) == 0);
	put_hex64(out, (session << (64 - KZ_SESSION_BITS)) | (seq & KZ_SEQ_MASK));
	out[KZ_MSG_ID_LEN] = '\0';
}

/* A heartbeat's id: out must hold KZ_NODES_MSG_ID_LEN + 1 bytes. */
void
kz_proto_nodes_msg_id(char *out, uint64 session, uint64 seq)
{
	put_hex64(out, session);
	put_hex64(out + 16, seq);
	out[KZ_NODES_MSG_ID_LEN] = '\0';
}

/* Reads 16 lower-case hex digits; false at any other character. */
static bool
get_hex64(const char *s, uint64 *value)
{
	uint64		v = 0;
	int			i;

	for (i = 0; i < 16; i++)
	{
		const char *p = strchr(hex_lower, s[i]);

		if (s[i] == '\0' || p == NULL)
			return false;
		v = (v << 4) | (uint64) (p - hex_lower);
	}
	*value = v;
	return true;
}

bool
kz_proto_parse_msg_id(const char *s, uint64 *session, uint64 *seq)
{
	uint64		v;

	if (s == NULL || !get_hex64(s, &v) || s[KZ_MSG_ID_LEN] != '\0')
		return false;
	*session = v >> (64 - KZ_SESSION_BITS);
	*seq = v & KZ_SEQ_MASK;
	return true;
}

bool
kz_proto_queue_node(const char *queue, char *node, size_t size)
{
	static const char marker[] = "-kz_globals-";
	const char *at = NULL;
	const char *p;
	size_t		len;

	if (queue == NULL)
		return false;
	/* the last marker: a node name may contain one, the tail does not */
	for (p = strstr(queue, marker); p != NULL; p = strstr(p + 1, marker))
		at = p;
	if (at == NULL || at == queue)
		return false;
	len = at - queue;
	if (len >= size)
		return false;
	memcpy(node, queue, len);
	node[len] = '\0';
	return true;
}
