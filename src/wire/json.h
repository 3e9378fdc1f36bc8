/*-------------------------------------------------------------------------
 *
 * json.h
 *	  JSON text as the bus carries it: the clean-up a body gets before it is
 *	  parsed, and how a string is written.
 *
 * Pure code (no shared memory, no I/O, no ereport): it runs in the worker
 * and, with -DFRONTEND, in the unit tests.  Used by decode.c and encode.c
 * only.
 *
 * IDENTIFICATION
 *	  src/wire/json.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_JSON_H
#define KZ_JSON_H

#include "lib/stringinfo.h"

/*
 * Deepest nesting of objects and arrays accepted; the body itself is depth
 * 1.  Kazoo's heartbeats nest four levels (Media-Servers) and ours three.
 */
#define KZ_JSON_MAX_DEPTH		64

/* What \u0000 becomes in a normalized body: an overlong NUL. */
#define KZ_JSON_NUL_MARK_0		0xC0
#define KZ_JSON_NUL_MARK_1		0x80

/* Why kz_json_normalize refused a body. */
typedef enum KzJsonStatus
{
	KZ_JSON_OK = 0,
	KZ_JSON_BAD_UTF8,			/* bytes that are not UTF-8 */
	KZ_JSON_BAD_ESCAPE,			/* a \u escape that is not one */
	KZ_JSON_TOO_DEEP			/* nested deeper than KZ_JSON_MAX_DEPTH */
} KzJsonStatus;

/*
 * Copies body[0..len) into a palloc'd, NUL-terminated buffer (*result,
 * *result_len), checking UTF-8 and nesting depth and rewriting \u escapes
 * (see json.c).  On failure nothing stays allocated and *where is the
 * offending byte's offset.
 */
extern KzJsonStatus kz_json_normalize(const char *body, size_t len,
									  char **result, size_t *result_len,
									  size_t *where);

/*
 * A long string of a body that kz_json_normalize_spans left out of its
 * copy: the string's text is body[offset..offset + len), without quotes.
 */
typedef struct KzJsonSpan
{
	size_t		offset;
	size_t		len;
} KzJsonSpan;

/*
 * Strings at least this long, of printable ASCII without escapes, are left
 * out (a message's base64): longer than any key or value we compare.
 */
#define KZ_JSON_SPAN_MIN		256

/* What a left-out string becomes: these two bytes, then its index. */
#define KZ_JSON_SPAN_MARK_0		0xC0
#define KZ_JSON_SPAN_MARK_1		0x81

/*
 * kz_json_normalize, but each string of KZ_JSON_SPAN_MIN bytes or more of
 * printable ASCII without a backslash is left out of the copy: in its
 * place stands a short string naming it (kz_json_span_index), and
 * *spans (palloc'd, *nspans long; NULL when none) says where it is in
 * body.  A JSON parser then reads such a string as one short token
 * instead of byte by byte, and its text is copied once, from body.
 */
extern KzJsonStatus kz_json_normalize_spans(const char *body, size_t len,
											char **result, size_t *result_len,
											size_t *where, KzJsonSpan **spans,
											int *nspans);

/*
 * If s, a string token of a body normalized by kz_json_normalize_spans,
 * stands for a left-out string: true, with its index in *index (below
 * nspans).
 */
extern bool kz_json_span_index(const char *s, int nspans, int *index);

/* True if a string of a normalized body held \u0000. */
extern bool kz_json_has_nul(const char *s);

/*
 * Parses a JSON number token as an integer in [min, max]; fractions and
 * exponents are refused even when their value is whole.
 */
extern bool kz_json_parse_integer(const char *s, int64 min, int64 max,
								  int64 *value);

/* Appends s as a JSON string, quoted and escaped. */
extern void kz_json_append_string(StringInfo out, const char *s);

#endif							/* KZ_JSON_H */
