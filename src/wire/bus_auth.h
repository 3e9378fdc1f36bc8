/*-------------------------------------------------------------------------
 *
 * bus_auth.h
 *	  Signatures on the messages between kz_globals nodes: the bytes that
 *	  are signed, HMAC-SHA256 signing and checking, the key file, and the
 *	  window that refuses a replayed signature.
 *
 * A node that has keys (kz_globals.bus_key_file) puts one AMQP header on
 * every message it publishes, KZ_AUTH_HEADER, whose value is
 *
 *		1:<key id>:<signing time>:<HMAC, 64 lower-case hex digits>
 *
 * (1 is the format; the signing time is microseconds since 1970-01-01 UTC,
 * strictly increasing per sender).  The HMAC-SHA256, with the secret of the
 * key id, is over the canonical bytes: "kz_globals bus auth 1\n" followed
 * by each of these as a 4-byte big-endian length and its bytes:
 *
 *		key id, signing time (decimal), exchange, routing key, the
 *		message-id, app-id and user-id properties ("" when absent), body
 *
 * That is everything a receiver acts on: the body (Node, Server-ID,
 * Timestamp, Incarnation... every field), where the message was routed,
 * the properties it reads, and the account that published it (RabbitMQ
 * checks user-id against the connection's user, so a signed message
 * copied by another account fails).  Other properties (content-type,
 * delivery-mode, timestamp, type, reply-to) are not read by kz_globals and
 * not signed.  The signing time bounds replays: a receiver refuses one more
 * than KZ_AUTH_MAX_AGE_MS away from its own clock, and one it has already
 * accepted from the same node (KzAuthWindow).
 *
 * The key file holds one or two lines "<key id>:<secret>"; the first key
 * signs, both are accepted (rotation: add the new key second everywhere,
 * then move it first everywhere, then remove the old one).
 *
 * Pure code: compiled into the server module and, with -DFRONTEND, into
 * the unit tests; no shared memory, no I/O, no ereport.  OpenSSL computes
 * the HMAC.
 *
 * IDENTIFICATION
 *	  src/wire/bus_auth.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_BUS_AUTH_H
#define KZ_BUS_AUTH_H

#include "lib/stringinfo.h"

#include "kz_types.h"			/* KZ_AUTH_HEADER, the header's name */

#define KZ_AUTH_FORMAT			"1"

#define KZ_AUTH_MAX_KEYS		2
#define KZ_AUTH_KEYID_MAX		32	/* [A-Za-z0-9._-], 1 to 32 */
#define KZ_AUTH_SECRET_MIN		16	/* bytes */
#define KZ_AUTH_SECRET_MAX		256
#define KZ_AUTH_MAC_LEN			32	/* SHA-256 */
/* "1:" id ":" 20 digits ":" 64 hex digits, and a NUL */
#define KZ_AUTH_HEADER_MAX		(2 + KZ_AUTH_KEYID_MAX + 1 + 20 + 1 + 2 * KZ_AUTH_MAC_LEN + 1)

/* Signing times further than this from the receiver's clock are refused. */
#define KZ_AUTH_MAX_AGE_MS		60000

/* Longest key file read. */
#define KZ_AUTH_FILE_MAX		8192

typedef struct KzAuthKey
{
	char		id[KZ_AUTH_KEYID_MAX + 1];
	unsigned char secret[KZ_AUTH_SECRET_MAX];
	int			secret_len;
} KzAuthKey;

/* The keys of a node: key[0] signs; every key is accepted. */
typedef struct KzAuthKeys
{
	int			n;
	KzAuthKey	key[KZ_AUTH_MAX_KEYS];
} KzAuthKeys;

/* What a signature covers besides the key id and signing time. */
typedef struct KzAuthFields
{
	const char *exchange;		/* NULL is "" */
	const char *routing_key;
	const char *message_id;
	const char *app_id;
	const char *user_id;
	const char *body;
	size_t		body_len;
} KzAuthFields;

typedef enum KzAuthResult
{
	KZ_AUTH_OK = 0,
	KZ_AUTH_UNSIGNED,			/* no header */
	KZ_AUTH_MALFORMED,			/* a header not of the form above */
	KZ_AUTH_UNKNOWN_KEY,		/* a key id we do not hold */
	KZ_AUTH_BAD_MAC,			/* the HMAC does not match */
	KZ_AUTH_STALE,				/* signing time too far from ours */
	KZ_AUTH_REPLAYED			/* signing time already accepted (window) */
} KzAuthResult;

/*
 * Parses a key file's text (len bytes).  Blank lines and lines starting
 * with '#' are skipped; trailing blanks and CR are ignored.  False, with a
 * reason in err naming the line (never its content), for: a line without
 * ':', a bad key id, a secret shorter than KZ_AUTH_SECRET_MIN or longer
 * than KZ_AUTH_SECRET_MAX, a repeated key id, more than KZ_AUTH_MAX_KEYS
 * keys, or none.  keys is zeroed first, and again on failure.
 */
extern bool kz_auth_parse_keys(const char *text, size_t len, KzAuthKeys *keys,
							   char *err, size_t errlen);

/* Appends the canonical bytes of a message to out (see above). */
extern void kz_auth_canonical(StringInfo out, const char *key_id, int64 ts,
							  const KzAuthFields *f);

/*
 * Signs with keys->key[0] at signing time ts (µs since 1970): writes the
 * header value into header (KZ_AUTH_HEADER_MAX bytes).  False if there is
 * no key or the HMAC cannot be computed.
 */
extern bool kz_auth_sign(const KzAuthKeys *keys, int64 ts, const KzAuthFields *f,
						 char *header);

/*
 * Checks a header value (NULL: unsigned) against the fields, with the
 * receiver's clock now (µs since 1970) and the oldest/newest signing time
 * it accepts max_age_us away.  On KZ_AUTH_OK, *ts is the signing time.
 * The HMAC is compared in constant time.  Replays are the window's job.
 */
extern KzAuthResult kz_auth_verify(const KzAuthKeys *keys, const char *header,
								   const KzAuthFields *f, int64 now,
								   int64 max_age_us, int64 *ts);

extern const char *kz_auth_result_name(KzAuthResult r);

/*
 * The signing times last accepted from one sender: a time is accepted once,
 * and, once the window is full, only if it is later than the oldest one
 * kept (which it then replaces).  A sender's times strictly increase, and
 * its messages arrive nearly in order (two channels), so a real message is
 * never refused while a copy of an accepted one always is.
 */
#define KZ_AUTH_WINDOW			256

typedef struct KzAuthWindow
{
	int			n;
	int64		ts[KZ_AUTH_WINDOW];
} KzAuthWindow;

/* True (and remembered) if ts was not accepted before and is not too old. */
extern bool kz_auth_window_accept(KzAuthWindow *w, int64 ts);

#endif							/* KZ_BUS_AUTH_H */
