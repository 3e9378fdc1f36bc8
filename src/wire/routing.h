/*-------------------------------------------------------------------------
 *
 * routing.h
 *	  Routing keys, message ids and queue names of Kazoo's kz_globals
 *	  messages.
 *
 * Pure code (no shared memory, no I/O, no ereport): it runs in the worker
 * and, with -DFRONTEND, in the unit tests.
 *
 * IDENTIFICATION
 *	  src/wire/routing.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_ROUTING_H
#define KZ_ROUTING_H

#include "lib/stringinfo.h"

/*
 * The routing key of a globals event about a name, as kapi_globals builds
 * it: "globals.<event>.<name>", where a binary name is escaped for AMQP
 * (a-z A-Z 0-9 - ~ _ kept, space as '+', '.' as %2E, '*' and '#' kept,
 * other bytes as %XX upper-case) and any other term is the lower-case hex
 * of the base64 of its term buffer.  Subscribers bind globals.*.*, so the
 * key only has to stay one word; it is cut to 255 bytes (never inside an
 * escape) to fit an AMQP short string.
 */
extern void kz_proto_routing_key(StringInfo out, const char *event,
								 const uint8 *term, size_t len);

/*
 * The routing key of a batch or sync: a name event's, with the binary of
 * our node name in place of a name (any one word will do).
 */
extern void kz_proto_routing_key_node(StringInfo out, const char *event,
									  const char *node);

/*
 * Message ids of globals messages: 16 lower-case hex digits, as Kazoo's
 * (kz_binary:rand_hex(8)).  Ours are the sender's session (24 bits) and a
 * sequence number (40 bits); out needs KZ_MSG_ID_LEN + 1 bytes.  Parsing
 * fails for any other form; a Kazoo id parses, but into a session that is
 * not ours but by chance.  Heartbeats carry 32 digits, as kz_nodes' do:
 * the whole 64-bit session, then a 64-bit sequence number.
 */
#define KZ_MSG_ID_LEN 16
#define KZ_NODES_MSG_ID_LEN 32
#define KZ_SESSION_BITS 24
#define KZ_SESSION_MASK ((UINT64CONST(1) << KZ_SESSION_BITS) - 1)
#define KZ_SEQ_MASK ((UINT64CONST(1) << (64 - KZ_SESSION_BITS)) - 1)
/*
 * The routing key of a process group on KZ_EXCHANGE_GROUPS: "g." and the
 * group's bytes for a group of at most KZ_GROUP_KEY_PLAIN bytes, "h." and 16
 * hex digits of a 64-bit hash of them for a longer one (so that every key
 * fits a short string).  Keys of two groups can only meet in the hash:
 * the receiver checks the group a message names against its own members.
 * out must hold KZ_GROUP_KEY_SIZE bytes.
 */
#define KZ_GROUP_KEY_PLAIN		200
#define KZ_GROUP_KEY_SIZE		(2 + KZ_GROUP_KEY_PLAIN + 1)
extern void kz_proto_group_key(char *out, const char *group, size_t len);

extern void kz_proto_msg_id(char *out, uint64 session, uint64 seq);
extern bool kz_proto_parse_msg_id(const char *s, uint64 *session, uint64 *seq);
extern void kz_proto_nodes_msg_id(char *out, uint64 session, uint64 seq);

/*
 * The node a kz_globals queue belongs to: every such queue is named
 * "<node>-kz_globals-<rest>" (Kazoo's "<node>-kz_globals-<pid>-<hex>", ours
 * "<node>-kz_globals-<session>").  Copies <node> into node (size bytes)
 * and returns true; false for any other form, or a node that does not fit.
 */
extern bool kz_proto_queue_node(const char *queue, char *node, size_t size);

#endif							/* KZ_ROUTING_H */
