/*-------------------------------------------------------------------------
 *
 * bus_auth.c
 *	  Signatures on the messages between kz_globals nodes (see bus_auth.h).
 *	  Pure code, run by the worker (and the unit tests); takes no locks.
 *
 * IDENTIFICATION
 *	  src/wire/bus_auth.c
 *
 *-------------------------------------------------------------------------
 */
#ifndef FRONTEND
#include "postgres.h"
#else
#include "postgres_fe.h"
#endif

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "bus_auth.h"

#define KZ_AUTH_DOMAIN			"kz_globals bus auth " KZ_AUTH_FORMAT "\n"

static bool
is_keyid_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* A key id: 1 to KZ_AUTH_KEYID_MAX characters of [A-Za-z0-9._-]. */
static bool
valid_keyid(const char *s, size_t len)
{
	size_t		i;

	if (len == 0 || len > KZ_AUTH_KEYID_MAX)
		return false;
	for (i = 0; i < len; i++)
	{
		if (!is_keyid_char(s[i]))
			return false;
	}
	return true;
}

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/*
 * Adds one line (without its newline) as a key; false with err set.  The
 * line's text never goes into err: it holds a secret.
 */
static bool
parse_key_line(const char *line, size_t len, int lineno, KzAuthKeys *keys,
			   char *err, size_t errlen)
{
	const char *colon = memchr(line, ':', len);
	size_t		idlen;
	size_t		slen;
	KzAuthKey  *k;
	int			i;

	if (colon == NULL)
	{
		snprintf(err, errlen, "line %d is not of the form key_id:secret", lineno);
		return false;
	}
	idlen = colon - line;
	slen = len - idlen - 1;
	if (!valid_keyid(line, idlen))
	{
		snprintf(err, errlen, "line %d: a key id is 1 to %d letters, digits, '.', '_' or '-'",
				 lineno, KZ_AUTH_KEYID_MAX);
		return false;
	}
	if (slen < KZ_AUTH_SECRET_MIN || slen > KZ_AUTH_SECRET_MAX)
	{
		snprintf(err, errlen, "line %d: a secret is %d to %d bytes long",
				 lineno, KZ_AUTH_SECRET_MIN, KZ_AUTH_SECRET_MAX);
		return false;
	}
	for (i = 0; i < keys->n; i++)
	{
		if (strlen(keys->key[i].id) == idlen && memcmp(keys->key[i].id, line, idlen) == 0)
		{
			snprintf(err, errlen, "line %d repeats a key id", lineno);
			return false;
		}
	}
	if (keys->n >= KZ_AUTH_MAX_KEYS)
	{
		snprintf(err, errlen, "line %d: at most %d keys (the one that signs, and one more that is accepted)",
				 lineno, KZ_AUTH_MAX_KEYS);
		return false;
	}
	k = &keys->key[keys->n++];
	memcpy(k->id, line, idlen);
	k->id[idlen] = '\0';
	memcpy(k->secret, colon + 1, slen);
	k->secret_len = (int) slen;
	return true;
}

bool
kz_auth_parse_keys(const char *text, size_t len, KzAuthKeys *keys,
				   char *err, size_t errlen)
{
	size_t		pos = 0;
	int			lineno = 0;

	memset(keys, 0, sizeof(*keys));
	while (pos < len)
	{
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t		linelen = nl ? (size_t) (nl - line) : len - pos;

		pos += linelen + (nl ? 1 : 0);
		lineno++;
		while (linelen > 0 && is_blank(line[linelen - 1]))
			linelen--;
		if (linelen == 0 || line[0] == '#')
			continue;
		if (memchr(line, '\0', linelen) != NULL)
		{
			snprintf(err, errlen, "line %d holds a NUL byte", lineno);
			explicit_bzero(keys, sizeof(*keys));
			return false;
		}
		if (!parse_key_line(line, linelen, lineno, keys, err, errlen))
		{
			explicit_bzero(keys, sizeof(*keys));
			return false;
		}
	}
	if (keys->n == 0)
	{
		snprintf(err, errlen, "the file holds no key (lines key_id:secret)");
		return false;
	}
	return true;
}

/* A 4-byte big-endian length, then the bytes. */
static void
add_field(StringInfo out, const char *data, size_t len)
{
	unsigned char n[4];

	n[0] = (unsigned char) (len >> 24);
	n[1] = (unsigned char) (len >> 16);
	n[2] = (unsigned char) (len >> 8);
	n[3] = (unsigned char) len;
	appendBinaryStringInfo(out, (const char *) n, 4);
	if (len > 0)
		appendBinaryStringInfo(out, data, (int) len);
}

static void
add_str(StringInfo out, const char *s)
{
	add_field(out, s ? s : "", s ? strlen(s) : 0);
}

void
kz_auth_canonical(StringInfo out, const char *key_id, int64 ts,
				  const KzAuthFields *f)
{
	char		digits[32];

	snprintf(digits, sizeof(digits), INT64_FORMAT, ts);
	appendBinaryStringInfo(out, KZ_AUTH_DOMAIN, strlen(KZ_AUTH_DOMAIN));
	add_str(out, key_id);
	add_str(out, digits);
	add_str(out, f->exchange);
	add_str(out, f->routing_key);
	add_str(out, f->message_id);
	add_str(out, f->app_id);
	add_str(out, f->user_id);
	add_field(out, f->body, f->body ? f->body_len : 0);
}

/* HMAC-SHA256 of the canonical bytes with key k; false on an OpenSSL error. */
static bool
compute_mac(const KzAuthKey *k, int64 ts, const KzAuthFields *f,
			unsigned char *mac)
{
	StringInfoData buf;
	unsigned int maclen = 0;
	bool		ok;

	initStringInfo(&buf);
	kz_auth_canonical(&buf, k->id, ts, f);
	ok = HMAC(EVP_sha256(), k->secret, k->secret_len,
			  (const unsigned char *) buf.data, (size_t) buf.len, mac, &maclen) != NULL &&
		maclen == KZ_AUTH_MAC_LEN;
	pfree(buf.data);
	return ok;
}

bool
kz_auth_sign(const KzAuthKeys *keys, int64 ts, const KzAuthFields *f, char *header)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char mac[KZ_AUTH_MAC_LEN];
	char		machex[2 * KZ_AUTH_MAC_LEN + 1];
	int			i;

	if (keys == NULL || keys->n == 0 || ts < 0 || !compute_mac(&keys->key[0], ts, f, mac))
		return false;
	for (i = 0; i < KZ_AUTH_MAC_LEN; i++)
	{
		machex[2 * i] = hex[mac[i] >> 4];
		machex[2 * i + 1] = hex[mac[i] & 15];
	}
	machex[2 * KZ_AUTH_MAC_LEN] = '\0';
	snprintf(header, KZ_AUTH_HEADER_MAX, KZ_AUTH_FORMAT ":%s:" INT64_FORMAT ":%s",
			 keys->key[0].id, ts, machex);
	return true;
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Splits "1:<id>:<ts>:<hex>" into its parts; false if it is not exactly
 * that (lower-case hex, a decimal time without sign or leading blanks).
 */
static bool
parse_header(const char *h, char *id, int64 *ts, unsigned char *mac)
{
	const char *p;
	const char *idend;
	int64		v = 0;
	int			i;

	if (strncmp(h, KZ_AUTH_FORMAT ":", 2) != 0)
		return false;
	p = h + 2;
	idend = strchr(p, ':');
	if (idend == NULL || !valid_keyid(p, idend - p))
		return false;
	memcpy(id, p, idend - p);
	id[idend - p] = '\0';
	p = idend + 1;
	if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' && p[1] <= '9'))
		return false;			/* no leading zero: one time, one header */
	for (i = 0; *p >= '0' && *p <= '9'; p++, i++)
	{
		if (i >= 18)
			return false;		/* keeps v far from overflow */
		v = v * 10 + (*p - '0');
	}
	if (*p++ != ':')
		return false;
	for (i = 0; i < KZ_AUTH_MAC_LEN; i++)
	{
		int			hi = hex_value(p[2 * i]);
		int			lo = hi < 0 ? -1 : hex_value(p[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		mac[i] = (unsigned char) (hi << 4 | lo);
	}
	if (p[2 * KZ_AUTH_MAC_LEN] != '\0')
		return false;
	*ts = v;
	return true;
}

KzAuthResult
kz_auth_verify(const KzAuthKeys *keys, const char *header, const KzAuthFields *f,
			   int64 now, int64 max_age_us, int64 *ts)
{
	char		id[KZ_AUTH_KEYID_MAX + 1];
	unsigned char got[KZ_AUTH_MAC_LEN];
	unsigned char want[KZ_AUTH_MAC_LEN];
	const KzAuthKey *k = NULL;
	int64		when;
	int			i;

	if (header == NULL)
		return KZ_AUTH_UNSIGNED;
	if (!parse_header(header, id, &when, got))
		return KZ_AUTH_MALFORMED;
	for (i = 0; keys != NULL && i < keys->n && k == NULL; i++)
	{
		if (strcmp(keys->key[i].id, id) == 0)
			k = &keys->key[i];
	}
	if (k == NULL)
		return KZ_AUTH_UNKNOWN_KEY;
	if (!compute_mac(k, when, f, want) || CRYPTO_memcmp(got, want, KZ_AUTH_MAC_LEN) != 0)
		return KZ_AUTH_BAD_MAC;
	/* only a genuine signature's time is looked at */
	if (when < now - max_age_us || when > now + max_age_us)
		return KZ_AUTH_STALE;
	*ts = when;
	return KZ_AUTH_OK;
}

const char *
kz_auth_result_name(KzAuthResult r)
{
	switch (r)
	{
		case KZ_AUTH_OK:
			return "valid signature";
		case KZ_AUTH_UNSIGNED:
			return "no signature";
		case KZ_AUTH_MALFORMED:
			return "malformed signature header";
		case KZ_AUTH_UNKNOWN_KEY:
			return "signed with an unknown key id";
		case KZ_AUTH_BAD_MAC:
			return "signature does not match";
		case KZ_AUTH_STALE:
			return "signing time too far from this server's clock";
		case KZ_AUTH_REPLAYED:
			return "signature already seen (a replay)";
	}
	return "unknown";
}

bool
kz_auth_window_accept(KzAuthWindow *w, int64 ts)
{
	int			oldest = 0;
	int			i;

	for (i = 0; i < w->n; i++)
	{
		if (w->ts[i] == ts)
			return false;
		if (w->ts[i] < w->ts[oldest])
			oldest = i;
	}
	if (w->n < KZ_AUTH_WINDOW)
	{
		w->ts[w->n++] = ts;
		return true;
	}
	if (ts <= w->ts[oldest])
		return false;
	w->ts[oldest] = ts;
	return true;
}
