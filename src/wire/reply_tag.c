/*-------------------------------------------------------------------------
 *
 * reply_tag.c
 *	  Writing and reading reply tags (the format is in reply_tag.h).
 *
 * The readers accept exactly what the writers produce: decimal fields
 * without sign or spaces that fit their types, nothing after the last, an
 * "r:" Msg-ID without ':' and a non-empty queue.  Anything else is not a
 * tag.  Pure: no shared memory, no I/O.
 *
 * IDENTIFICATION
 *	  src/wire/reply_tag.c
 *
 *-------------------------------------------------------------------------
 */
#ifndef FRONTEND
#include "postgres.h"
#else
#include "postgres_fe.h"
#endif

#include "reply_tag.h"

/*
 * Reads an unsigned decimal at *p up to the next ':' (or the end, with
 * last): at most max, at least one digit.  Advances *p past it and its ':'.
 */
static bool
read_field(const char **p, uint64 max, bool last, uint64 *out)
{
	const char *s = *p;
	uint64		v = 0;

	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++)
	{
		if (v > (max - (uint64) (*s - '0')) / 10)
			return false;		/* would exceed max */
		v = v * 10 + (uint64) (*s - '0');
	}
	if (last ? *s != '\0' : *s != ':')
		return false;
	*p = last ? s : s + 1;
	*out = v;
	return true;
}

void
kz_tag_local(char *buf, int procno, int pid, uint64 call_id)
{
	snprintf(buf, KZ_TAG_LOCAL_SIZE, "l:%d:%d:" UINT64_FORMAT, procno, pid, call_id);
}

bool
kz_tag_parse_local(const char *tag, int *procno, int *pid, uint64 *call_id)
{
	const char *p = tag;
	uint64		a,
				b,
				c;

	if (strncmp(p, "l:", 2) != 0)
		return false;
	p += 2;
	if (!read_field(&p, PG_INT32_MAX, false, &a) ||
		!read_field(&p, PG_INT32_MAX, false, &b) ||
		!read_field(&p, PG_UINT64_MAX, true, &c) || b == 0)
		return false;
	*procno = (int) a;
	*pid = (int) b;
	*call_id = c;
	return true;
}

char *
kz_tag_remote(int64 deadline, const char *msg_id, const char *queue)
{
	return psprintf("r:" INT64_FORMAT ":%s:%s", deadline, msg_id, queue);
}

/*
 * Reads an "r:" tag; msg_id and queue (either may be NULL) get palloc'd
 * copies of theirs.
 */
bool
kz_tag_parse_remote(const char *tag, int64 *deadline, char **msg_id, char **queue)
{
	const char *p = tag;
	const char *colon;
	uint64		d;

	if (strncmp(p, "r:", 2) != 0)
		return false;
	p += 2;
	if (!read_field(&p, PG_INT64_MAX, false, &d))
		return false;
	colon = strchr(p, ':');
	if (colon == NULL || colon == p || colon[1] == '\0')
		return false;
	*deadline = (int64) d;
	if (msg_id != NULL)
		*msg_id = pnstrdup(p, colon - p);
	if (queue != NULL)
		*queue = pstrdup(colon + 1);
	return true;
}
