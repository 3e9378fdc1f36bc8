/*-------------------------------------------------------------------------
 *
 * names.c
 *	  Names and messages between SQL text and Erlang terms (see names.h).
 *
 * IDENTIFICATION
 *	  src/wire/names.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "compat.h"
#include "etf.h"
#include "names.h"

bool
kz_name_from_bytes(const char *data, size_t len, KzName *name)
{
	StringInfoData buf;

	if (len > KZ_KEY_MAX)
		return false;
	initStringInfo(&buf);
	etf_encode_binary(&buf, data, len);
	if (buf.len > KZ_KEY_MAX)
	{
		pfree(buf.data);
		return false;
	}
	name->len = buf.len;
	memcpy(name->data, buf.data, buf.len);
	pfree(buf.data);
	return true;
}

void
kz_name_from_arg(FunctionCallInfo fcinfo, int argno, KzName *name)
{
	text	   *t;
	int			len;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("name must not be null")));
	t = PG_GETARG_TEXT_PP(argno);
	len = VARSIZE_ANY_EXHDR(t);
	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("name must not be empty"),
				 errdetail("A name is 1 to %d bytes long.", KZ_NAME_MAX_BYTES)));
	if (len > KZ_NAME_MAX_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("name is too long"),
				 errdetail("A name is 1 to %d bytes long; this one has %d bytes.",
						   KZ_NAME_MAX_BYTES, len)));
	if (!kz_name_from_bytes(VARDATA_ANY(t), len, name))
		elog(ERROR, "kz_globals: cannot encode a name of %d bytes", len);
}

/*
 * True, with *data and *dlen pointing at its bytes inside term, if term is
 * a binary that reads as text: no NUL, valid in the database encoding, and
 * not empty unless allow_empty.
 */
static bool
binary_text(const uint8 *term, size_t len, bool allow_empty,
			const char **data, size_t *dlen)
{
	return etf_decode_binary(term, len, data, dlen) && (*dlen > 0 || allow_empty) &&
		memchr(*data, '\0', *dlen) == NULL &&
		pg_verifymbstr(*data, *dlen, true);
}

/* Appends the Erlang syntax of a term, or says it is malformed. */
static void
render_term(const uint8 *term, size_t len, StringInfo buf)
{
	if (etf_render(term, len, buf) != ETF_OK)
	{
		resetStringInfo(buf);
		appendStringInfoString(buf, "<malformed term>");
	}
}

/*
 * A binary that reads as text is shown as that text; with allow_empty,
 * the empty binary too.  Anything else is shown in Erlang syntax.
 */
static char *
term_text(const uint8 *term, size_t len, bool allow_empty)
{
	const char *data;
	size_t		dlen;
	StringInfoData buf;

	if (binary_text(term, len, allow_empty, &data, &dlen))
		return pnstrdup(data, dlen);
	initStringInfo(&buf);
	render_term(term, len, &buf);
	return buf.data;
}

/*
 * A message's text is copied once, from the term into the text datum: a
 * message can be as large as kz_globals.max_message_size.
 */
text *
kz_term_to_text(const uint8 *term, size_t len)
{
	const char *data;
	size_t		dlen;
	StringInfoData buf;
	text	   *result;

	if (binary_text(term, len, true, &data, &dlen))
		return cstring_to_text_with_len(data, (int) dlen);
	initStringInfo(&buf);
	render_term(term, len, &buf);
	result = cstring_to_text_with_len(buf.data, buf.len);
	pfree(buf.data);
	return result;
}

char *
kz_name_to_cstring(const KzName *name)
{
	return term_text(name->data, name->len, false);
}

bool
kz_name_is_binary(const KzName *name)
{
	const char *data;
	size_t		dlen;

	return etf_decode_binary(name->data, name->len, &data, &dlen);
}

/*
 * Copies an encoded name of len bytes (at most KZ_KEY_MAX: the decoder
 * checked it) into name.
 */
void
kz_name_set(KzName *name, const uint8 *data, size_t len)
{
	Assert(len <= KZ_KEY_MAX);
	name->len = (uint16) len;
	memcpy(name->data, data, len);
}
