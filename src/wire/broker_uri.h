/*-------------------------------------------------------------------------
 *
 * broker_uri.h
 *	  Lists of broker URIs and the passwords in them.
 *
 * kz_globals.amqp_uri is a comma-separated list of amqp:// and amqps://
 * URIs.  An element ends at a comma followed (after blanks) by the next
 * URI's "<scheme>://", or at the end, so that a comma inside a password
 * does not split it.  A password is the part of the authority
 * between the first ':' after "://" and the last '@' of the element,
 * whatever characters it holds ('/', ',', '@', '%' escapes).
 *
 * Pure code (no shared memory, no globals), unit-tested in
 * test/unit/test_broker_uri.c.  The GUC check hook (guc.c) uses it to keep
 * passwords out of the setting's value, the worker to put them back.
 *
 * IDENTIFICATION
 *	  src/wire/broker_uri.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_BROKER_URI_H
#define KZ_BROKER_URI_H

#include "lib/stringinfo.h"

/* What stands for a password in a masked URI. */
#define KZ_URI_MASK "********"

/*
 * The next element of the list at *pos: sets [*start, *end) (blanks
 * trimmed) and advances *pos; false when there is none left.
 */
extern bool kz_uri_next(const char **pos, const char **start, const char **end);

/* True if the element starts with amqp:// or amqps://. */
extern bool kz_uri_scheme_ok(const char *start, const char *end);

/*
 * Appends the element [start, end) to masked with its password replaced by
 * KZ_URI_MASK, and the password (if any; else nothing) to secret (may be
 * NULL).  Returns true if the element had a password.
 */
extern bool kz_uri_split(const char *start, const char *end,
						 StringInfo masked, StringInfo secret);

/* The whole list with every password masked (elements joined by ","). */
extern void kz_uri_mask_list(const char *list, StringInfo out);

/*
 * The element [start, end) of a masked list with its password put back:
 * the KZ_URI_MASK that kz_uri_split wrote replaced by secret.  Elements
 * without a password are returned as they are.
 */
extern void kz_uri_unmask(const char *start, const char *end, const char *secret,
						  StringInfo out);

#endif							/* KZ_BROKER_URI_H */
