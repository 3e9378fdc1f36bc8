/*-------------------------------------------------------------------------
 *
 * broker_uri.c
 *	  Lists of broker URIs and the passwords in them (see broker_uri.h).
 *	  Pure code, run by every process that reads kz_globals.amqp_uri.
 *
 * IDENTIFICATION
 *	  src/wire/broker_uri.c
 *
 *-------------------------------------------------------------------------
 */
#ifndef FRONTEND
#include "postgres.h"
#else
#include "postgres_fe.h"
#endif

#include "broker_uri.h"

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Does an element start at p (after blanks): a scheme and "://"? */
static bool
starts_element(const char *p)
{
	while (is_blank(*p))
		p++;
	if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
		return false;
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		   (*p >= '0' && *p <= '9') || *p == '+' || *p == '-' || *p == '.')
		p++;
	return strncmp(p, "://", 3) == 0;
}

bool
kz_uri_next(const char **pos, const char **start, const char **end)
{
	const char *p = *pos;
	const char *e;

	while (is_blank(*p) || *p == ',')
		p++;
	if (*p == '\0')
	{
		*pos = p;
		return false;
	}
	*start = p;
	for (e = p + 1; *e != '\0'; e++)
	{
		if (*e == ',' && starts_element(e + 1))
			break;
	}
	*pos = e;
	while (e > p && (is_blank(e[-1]) || e[-1] == ','))
		e--;
	*end = e;
	return true;
}

bool
kz_uri_scheme_ok(const char *start, const char *end)
{
	size_t		len = end - start;

	return (len >= 7 && pg_strncasecmp(start, "amqp://", 7) == 0) ||
		(len >= 8 && pg_strncasecmp(start, "amqps://", 8) == 0);
}

/* Where the password of [start, end) lies: (colon, at), or false. */
static bool
find_password(const char *start, const char *end, const char **colon,
			  const char **at)
{
	const char *auth = start;
	const char *q;

	for (q = start; q + 3 <= end; q++)
	{
		if (q[0] == ':' && q[1] == '/' && q[2] == '/')
		{
			auth = q + 3;
			break;
		}
	}
	*at = NULL;
	for (q = auth; q < end; q++)
	{
		if (*q == '@')
			*at = q;
	}
	if (*at == NULL)
		return false;
	for (q = auth; q < *at; q++)
	{
		if (*q == ':')
		{
			*colon = q;
			return true;
		}
	}
	return false;
}

bool
kz_uri_split(const char *start, const char *end, StringInfo masked,
			 StringInfo secret)
{
	const char *colon;
	const char *at;

	if (!find_password(start, end, &colon, &at))
	{
		appendBinaryStringInfo(masked, start, end - start);
		return false;
	}
	appendBinaryStringInfo(masked, start, colon + 1 - start);
	appendStringInfoString(masked, KZ_URI_MASK);
	appendBinaryStringInfo(masked, at, end - at);
	if (secret != NULL)
		appendBinaryStringInfo(secret, colon + 1, at - colon - 1);
	return true;
}

void
kz_uri_mask_list(const char *list, StringInfo out)
{
	const char *pos = list ? list : "";
	const char *start;
	const char *end;
	bool		first = true;

	while (kz_uri_next(&pos, &start, &end))
	{
		if (!first)
			appendStringInfoChar(out, ',');
		first = false;
		(void) kz_uri_split(start, end, out, NULL);
	}
}

void
kz_uri_unmask(const char *start, const char *end, const char *secret,
			  StringInfo out)
{
	const char *colon;
	const char *at;
	size_t		mlen = strlen(KZ_URI_MASK);

	if (!find_password(start, end, &colon, &at) ||
		(size_t) (at - colon - 1) != mlen ||
		strncmp(colon + 1, KZ_URI_MASK, mlen) != 0)
	{
		appendBinaryStringInfo(out, start, end - start);
		return;
	}
	appendBinaryStringInfo(out, start, colon + 1 - start);
	appendStringInfoString(out, secret ? secret : "");
	appendBinaryStringInfo(out, at, end - at);
}
