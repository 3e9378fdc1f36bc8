/*-------------------------------------------------------------------------
 *
 * decode.h
 *	  Decoding a message body from the bus into a KzBusMsg.
 *
 * Pure code (no shared memory, no I/O, no ereport): it runs in the worker
 * and, with -DFRONTEND, in the unit tests.  Decoding never trusts its
 * input: every failure is a status, never a crash or an ereport.  Decoded
 * strings and buffers are palloc'd in the current memory context.
 *
 * IDENTIFICATION
 *	  src/wire/decode.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_DECODE_H
#define KZ_DECODE_H

#include "protocol.h"

/*
 * Decodes a message body.  Bodies over max_len bytes are refused without
 * being parsed.  The required fields are: Event-Category, Event-Name, Node
 * (all strings; Node at most 255 bytes); Name for every globals event but
 * reply and sync; Message for send and call; Reply for reply; Expires for
 * advertise; Names for sync and every batch.  A term field must be base64 of
 * a valid external term; Name at most max_name bytes once decoded.  Unknown
 * fields are ignored, whatever their type.  Registration metadata (Meta,
 * and Metas beside Names) must be JSON strings holding the JSON text of an
 * object or array, at most KZ_META_MAX_BYTES, without \u0000; Metas has
 * one element (a string or null) per entry of Names.  On error, *msg is zeroed and
 * *detail (if not NULL) points to a short English description for the log,
 * valid until the next call.  A decoded message is many palloc'd pieces:
 * decode in a memory context that is reset afterwards.
 */
extern KzProtoError kz_proto_decode(const char *body, size_t len,
									size_t max_len, size_t max_name,
									KzBusMsg *msg, const char **detail);

/*
 * What is wrong with a registration metadata text, as a phrase ("is not
 * valid JSON"), or NULL if every node accepts it: the JSON text of an
 * object or array, at most KZ_META_MAX_BYTES, whose every scalar jsonb
 * takes in any database (no \u escape of U+0000 or from U+0080, numbers
 * within numeric's range).  The decoder refuses Meta and Metas elements
 * this finds fault with; a server checks its own metadata with it too.
 */
extern const char *kz_proto_meta_problem(const char *text);

/*
 * Frees every piece of a decoded message and zeroes it (for callers that
 * decode many in one context, as the unit tests' loops do).
 */
extern void kz_proto_free(KzBusMsg *msg);

#endif							/* KZ_DECODE_H */
