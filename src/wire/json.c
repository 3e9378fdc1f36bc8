/*-------------------------------------------------------------------------
 *
 * json.c
 *	  JSON text as the bus carries it: the clean-up a body gets before it is
 *	  parsed, and how a string is written.
 *
 * Before jsonapi sees a body from the broker, one pass over its bytes
 * (kz_json_normalize) checks that it is UTF-8, as RFC 8259 requires, and
 * that no object or array is nested deeper than KZ_JSON_MAX_DEPTH; it also
 * rewrites the \u escapes of strings, so that PostgreSQL's JSON lexer never
 * has to convert one: an escape of a non-ASCII character becomes the
 * character's UTF-8 bytes, and \u0000 becomes the two bytes C0 80, which
 * valid UTF-8 never holds.  That matters in the server: there the lexer
 * hands \u escapes to pg_unicode_to_server(), which raises an ERROR when
 * the database encoding cannot hold the character, and refuses \u0000
 * outright, even in a field we ignore.  The depth limit keeps jsonapi's
 * recursive descent (and its check_stack_depth(), another ERROR) far from
 * the stack's end.
 *
 * The same pass can leave a body's long plain strings out of the copy
 * (kz_json_normalize_spans, for the decoder): a message's base64, tens of
 * kilobytes, is then not lexed byte by byte by jsonapi (twice, and copied
 * a character at a time the second time) but copied once by the decoder.
 * The bytes of a string that need no check are read eight at a time and
 * copied a run at a time, here and when a string is written.
 *
 * Pure code: no shared memory, no I/O, no ereport; it runs in the worker
 * and, with -DFRONTEND, in the unit tests.  Every allocation is bounded by
 * the body's length.
 *
 * IDENTIFICATION
 *	  src/wire/json.c
 *
 *-------------------------------------------------------------------------
 */
#ifndef FRONTEND
#include "postgres.h"
#else
#include "postgres_fe.h"
#endif

#include <string.h>

#include "mb/pg_wchar.h"

#include "json.h"

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
 * True for a byte that a JSON string holds as it is and that needs no
 * look at its neighbours: printable ASCII (DEL included) but the quote and
 * the backslash.
 */
static inline bool
plain_byte(unsigned char c)
{
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/* True if no byte of the eight in w is zero. */
#define NO_ZERO_BYTE(w) \
	((((w) - UINT64CONST(0x0101010101010101)) & ~(w) & \
	  UINT64CONST(0x8080808080808080)) == 0)

/*
 * How many bytes from s on (n available) are plain_byte: eight at a time
 * while they are, then one by one.  Bodies are mostly such runs (a
 * message's base64 above all), so this is where their bytes are read.
 */
static size_t
plain_run(const char *s, size_t n)
{
	const uint64 ones = UINT64CONST(0x0101010101010101);
	size_t		i = 0;

	while (i + 8 <= n)
	{
		uint64		w;

		memcpy(&w, s + i, 8);
		/* any byte >= 0x80, < 0x20, '"' or '\\' ends the run */
		if ((w & (ones * 0x80)) != 0 ||
			((w - ones * 0x20) & ~w & (ones * 0x80)) != 0 ||
			!NO_ZERO_BYTE(w ^ (ones * '"')) ||
			!NO_ZERO_BYTE(w ^ (ones * '\\')))
			break;
		i += 8;
	}
	while (i < n && plain_byte((unsigned char) s[i]))
		i++;
	return i;
}

/*
 * Parses a JSON number token as an integer in [min, max].  Fractions and
 * exponents are refused even when their value is whole ("1.0", "1e3"):
 * every number we read is an integer on the wire.
 */
bool
kz_json_parse_integer(const char *s, int64 min, int64 max, int64 *value)
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

bool
kz_json_has_nul(const char *s)
{
	return strchr(s, (char) KZ_JSON_NUL_MARK_0) != NULL;
}

/* ---------------------------------------------------------------------
 * Clean-up: encoding, depth and \u escapes
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
		out[(*o)++] = (char) KZ_JSON_NUL_MARK_0;
		out[(*o)++] = (char) KZ_JSON_NUL_MARK_1;
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

/* Remembers a left-out string (see kz_json_normalize_spans). */
static int
add_span(KzJsonSpan **spans, int *nspans, int *maxspans, size_t offset,
		 size_t len)
{
	if (*nspans == *maxspans)
	{
		*maxspans = *maxspans == 0 ? 8 : *maxspans * 2;
		if (*spans == NULL)
			*spans = palloc(*maxspans * sizeof(KzJsonSpan));
		else
			*spans = repalloc(*spans, *maxspans * sizeof(KzJsonSpan));
	}
	(*spans)[*nspans].offset = offset;
	(*spans)[*nspans].len = len;
	return (*nspans)++;
}

/*
 * Writes the short string that stands for left-out string index into out
 * at *o: never longer than the KZ_JSON_SPAN_MIN + 2 bytes it replaces.
 */
static void
put_span_ref(char *out, size_t *o, int index)
{
	out[(*o)++] = '"';
	out[(*o)++] = (char) KZ_JSON_SPAN_MARK_0;
	out[(*o)++] = (char) KZ_JSON_SPAN_MARK_1;
	*o += sprintf(out + *o, "%d", index);
	out[(*o)++] = '"';
}

bool
kz_json_span_index(const char *s, int nspans, int *index)
{
	int			v = 0;

	if ((unsigned char) s[0] != KZ_JSON_SPAN_MARK_0 ||
		(unsigned char) s[1] != KZ_JSON_SPAN_MARK_1 || s[2] == '\0')
		return false;
	for (s += 2; *s; s++)
	{
		if (*s < '0' || *s > '9' || v >= nspans)
			return false;
		v = v * 10 + (*s - '0');
	}
	if (v >= nspans)
		return false;
	*index = v;
	return true;
}

/*
 * Copies body[0..len) into a palloc'd buffer (*result, *result_len, plus a
 * NUL), checking UTF-8 and nesting depth and rewriting \u escapes (see the
 * file header).  Strings are tracked exactly as jsonapi's lexer tracks
 * them, so the depth counted here bounds the parser's recursion.  Syntax
 * errors are left for jsonapi to find, except in \u escapes.  The copy is
 * never longer than the body.  With spans, long plain strings are left out
 * (kz_json_normalize_spans).  The plain bytes of a string (plain_byte),
 * which need no check, are copied a run at a time.
 */
static KzJsonStatus
normalize(const char *body, size_t len, char **result, size_t *result_len,
		  size_t *where, KzJsonSpan **spans, int *nspans)
{
	char	   *out = palloc(len + 1);
	size_t		i = 0;
	size_t		o = 0;
	int			depth = 0;
	bool		in_string = false;
	int			maxspans = 0;

	while (i < len)
	{
		unsigned char c = (unsigned char) body[i];
		int			n;

		if (in_string && plain_byte(c))
		{
			size_t		run = plain_run(body + i, len - i);

			memcpy(out + o, body + i, run);
			i += run;
			o += run;
			continue;
		}
		if (c >= 0x80)
		{
			n = utf8_char_len(body + i, len - i);
			if (n == 0)
			{
				pfree(out);
				if (spans != NULL && *spans != NULL)
					pfree(*spans);
				*where = i;
				return KZ_JSON_BAD_UTF8;
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
				if (spans != NULL && *spans != NULL)
					pfree(*spans);
				*where = start;
				return KZ_JSON_BAD_ESCAPE;
			}
			continue;
		}
		if (in_string && c == '\\' && i + 1 < len)
		{
			out[o++] = body[i++];
			out[o++] = body[i++];
			continue;
		}
		if (c == '"' && !in_string && spans != NULL)
		{
			size_t		run = plain_run(body + i + 1, len - i - 1);

			if (run >= KZ_JSON_SPAN_MIN && i + 1 + run < len &&
				body[i + 1 + run] == '"')
			{
				put_span_ref(out, &o, add_span(spans, nspans, &maxspans,
											   i + 1, run));
				i += run + 2;
				continue;
			}
		}
		if (c == '"')
			in_string = !in_string;
		else if (!in_string && (c == '{' || c == '['))
		{
			if (++depth > KZ_JSON_MAX_DEPTH)
			{
				pfree(out);
				if (spans != NULL && *spans != NULL)
					pfree(*spans);
				*where = i;
				return KZ_JSON_TOO_DEEP;
			}
		}
		else if (!in_string && (c == '}' || c == ']') && depth > 0)
			depth--;
		out[o++] = body[i++];
	}
	out[o] = '\0';
	*result = out;
	*result_len = o;
	return KZ_JSON_OK;
}

KzJsonStatus
kz_json_normalize(const char *body, size_t len, char **result,
				  size_t *result_len, size_t *where)
{
	return normalize(body, len, result, result_len, where, NULL, NULL);
}

KzJsonStatus
kz_json_normalize_spans(const char *body, size_t len, char **result,
						size_t *result_len, size_t *where, KzJsonSpan **spans,
						int *nspans)
{
	KzJsonStatus status;

	*spans = NULL;
	*nspans = 0;
	status = normalize(body, len, result, result_len, where, spans, nspans);
	if (status != KZ_JSON_OK)
	{
		*spans = NULL;
		*nspans = 0;
	}
	return status;
}


/* ---------------------------------------------------------------------
 * Writing
 * ---------------------------------------------------------------------
 */

/*
 * Appends s as a JSON string.  Quotes, backslashes and control characters
 * are escaped (the short forms where JSON has one); valid UTF-8 is copied
 * as it is.  A byte that is not part of valid UTF-8 cannot be written in
 * JSON, so it becomes U+FFFD, as a lenient UTF-8 decoder would show it.
 */
void
kz_json_append_string(StringInfo out, const char *s)
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
		if (plain_byte(c))
		{
			size_t		run = plain_run(s + i, len - i);

			appendBinaryStringInfo(out, s + i, run);
			i += run;
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
