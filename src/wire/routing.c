/*-------------------------------------------------------------------------
 *
 * routing.c
 *	  Routing keys, message ids and queue names of Kazoo's kz_globals
 *	  messages (see routing.h).
 *
 * Pure code: no shared memory, no I/O, no ereport; it runs in the worker
 * and, with -DFRONTEND, in the unit tests.
 *
 * IDENTIFICATION
 *	  src/wire/routing.c
 *
 *-------------------------------------------------------------------------
 */
#ifndef FRONTEND
#include "postgres.h"
#else
#include "postgres_fe.h"
#endif

#include <string.h>

#include "common/base64.h"
#include "common/hashfn.h"

#include "compat.h"
#include "etf.h"
#include "kz_types.h"
#include "routing.h"

/*
 * Bytes of a term encoded for a routing key: base64 of 96 bytes is 128
 * characters, 256 hex digits, more than fit in a key.  96 is a multiple of
 * 3, so its base64 is a prefix of the base64 of the whole term.
 */
#define ROUTING_TERM_PREFIX		96

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

void
kz_proto_routing_key_node(StringInfo out, const char *event, const char *node)
{
	StringInfoData term;

	initStringInfo(&term);
	etf_encode_binary(&term, node, strlen(node));
	kz_proto_routing_key(out, event, (const uint8 *) term.data, term.len);
	pfree(term.data);
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

void
kz_proto_group_key(char *out, const char *group, size_t len)
{
	if (len <= KZ_GROUP_KEY_PLAIN)
	{
		out[0] = 'g';
		out[1] = '.';
		memcpy(out + 2, group, len);
		out[2 + len] = '\0';
		return;
	}
	out[0] = 'h';
	out[1] = '.';
	put_hex64(out + 2, hash_bytes_extended((const unsigned char *) group, (int) len, 0));
	out[18] = '\0';
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
