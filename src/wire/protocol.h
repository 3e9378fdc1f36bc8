/*-------------------------------------------------------------------------
 *
 * protocol.h
 *	  Kazoo's kz_globals and kz_nodes messages: JSON bodies, term fields,
 *	  routing keys and message ids.
 *
 * Every message on the bus is a JSON object with Kazoo's envelope
 * (App-Name, App-Version, Event-Category, Event-Name, Msg-ID, Node,
 * Server-ID) and event-specific fields.  Name, Message, Reply and Reason are
 * base64 of an Erlang external term.  kz_globals adds a few fields of its
 * own, which Kazoo nodes ignore: Pid (owner backend), Sender-Pid, Timeout
 * (ms a caller waits), Incarnation, Session and Sync-Request (node identity
 * and resync in heartbeats), PG-Globals-Version, and the sync event
 * (Sync-ID, Part, Last, Names) that brings a node up to date in bulk.
 *
 * Pure code: compiled into the server module and, with -DFRONTEND, into the
 * unit tests.  Decoding never trusts its input: every failure is a status,
 * never a crash or an ereport.  Decoded strings and buffers are palloc'd in
 * the current memory context.
 *
 * IDENTIFICATION
 *	  src/wire/protocol.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef KZ_PROTOCOL_H
#define KZ_PROTOCOL_H

#include "lib/stringinfo.h"

#include "kz_types.h"

/* Envelope values kz_globals puts on the wire, as Kazoo's nodes do. */
#define KZ_APP_NAME_GLOBALS		"kazoo_globals"
#define KZ_APP_NAME_NODES		"kz_nodes"
#define KZ_APP_VERSION			"4.0.0"

/* Version of kz_globals' own extensions, sent in heartbeats. */
#define KZ_PG_PROTOCOL_VERSION	1

typedef enum KzEvent
{
	KZ_EV_UNKNOWN = 0,
	KZ_EV_REGISTER,				/* globals/register: a claim (State pending)
								 * or an advertisement (State registered) */
	KZ_EV_REGISTER_RESP,		/* globals/register_resp */
	KZ_EV_QUERY,				/* globals/query */
	KZ_EV_QUERY_RESP,			/* globals/query_resp */
	KZ_EV_UNREGISTER,			/* globals/unregister */
	KZ_EV_SEND,					/* globals/send */
	KZ_EV_CALL,					/* globals/call */
	KZ_EV_REPLY,				/* globals/reply */
	KZ_EV_SYNC,					/* globals/sync (kz_globals extension) */
	KZ_EV_ADVERTISE,			/* nodes/advertise: a heartbeat */
	/* batches between kz_globals nodes (extensions; entries in Names) */
	KZ_EV_REGISTRY_BATCH,		/* claims, advertisements and unregisters, in
								 * order: [name, ts, pid, state, ""] with
								 * state pending, registered or none */
	KZ_EV_CLAIM_BATCH_RESP,		/* answers: [name, ts, pid, state, server] */
	KZ_EV_SEND_BATCH			/* sends: [name, 0, sender pid, "", msg] */
} KzEvent;

/* The State field. */
typedef enum KzWireState
{
	KZ_WS_ABSENT = 0,			/* no State field */
	KZ_WS_NONE,					/* "none": the replier does not know the name */
	KZ_WS_PENDING,
	KZ_WS_REGISTERED,
	KZ_WS_LOCAL,
	KZ_WS_REMOTE,
	KZ_WS_OTHER					/* any other string */
} KzWireState;

/*
 * Why a message was refused.  The worker counts each refusal in
 * kz_globals.stats.bus_malformed and logs the first of each kind.
 */
typedef enum KzProtoError
{
	KZ_PROTO_OK = 0,
	KZ_PROTO_TOO_LARGE,			/* body over the size limit */
	KZ_PROTO_BAD_JSON,			/* not valid JSON, or not an object */
	KZ_PROTO_MISSING_FIELD,		/* a required field is absent */
	KZ_PROTO_BAD_FIELD,			/* a field has the wrong type or value */
	KZ_PROTO_BAD_BASE64,		/* a term field is not valid base64 */
	KZ_PROTO_BAD_TERM,			/* a term field is not a valid external term */
	KZ_PROTO_UNKNOWN_EVENT,		/* category/event not one of the above */
	KZ_PROTO_NUM_ERRORS
} KzProtoError;

/*
 * One entry of Names: [name, timestamp, pid, state, text], the last three
 * optional.  In a send_batch the text is base64 of the message's term, here
 * decoded into message.
 */
typedef struct KzSyncEntry
{
	uint8	   *name;			/* term buffer */
	size_t		name_len;
	int64		timestamp;
	int32		pid;			/* 0 if absent */
	KzWireState state;			/* KZ_WS_ABSENT if absent */
	char	   *text;			/* NULL if absent */
	uint8	   *message;		/* send_batch: the message's term buffer */
	size_t		message_len;
} KzSyncEntry;

/*
 * A decoded message.  Pointers are NULL (and lengths 0) when the field was
 * absent.  Term buffers (name, message, reply, reason) are the base64-decoded
 * bytes, already checked with etf_validate.
 */
typedef struct KzBusMsg
{
	KzEvent		event;
	char	   *app_name;
	char	   *msg_id;
	char	   *node;			/* required: the publishing node */
	char	   *server_id;
	char	   *zone;

	uint8	   *name;
	size_t		name_len;
	KzWireState state;
	bool		has_timestamp;
	int64		timestamp;		/* Gregorian microseconds */
	uint8	   *message;
	size_t		message_len;
	uint8	   *reply;
	size_t		reply_len;
	uint8	   *reason;
	size_t		reason_len;
	int32		pid;			/* Pid: the owner backend */
	int32		sender_pid;		/* Sender-Pid */
	int32		timeout_ms;		/* Timeout; 0 if absent */
	bool		owner_exited;	/* Owner-Exited (a kz_globals reply): the
								 * owner ended without answering the call */
	bool		targeted;		/* not decoded: set by the receiver when the
								 * message came addressed to its queue */

	/* heartbeats (nodes/advertise) */
	bool		has_expires;
	int64		expires_ms;		/* Expires: integer or decimal string */
	bool		globals_nonempty;	/* Globals is a non-empty object */
	int32		globals_local;	/* Globals.local, 0 if absent */
	int64		incarnation;	/* Incarnation, 0 if absent */
	char	   *session;		/* Session */
	int32		pg_version;		/* PG-Globals-Version, 0 if absent */
	bool		sync_request;	/* Sync-Request: the sender wants our sync */

	/* sync */
	int64		sync_id;		/* Sync-ID */
	int32		sync_part;		/* Part */
	bool		sync_last;		/* Last */
	KzSyncEntry *entries;		/* Names */
	int			nentries;
} KzBusMsg;

/*
 * Decodes a message body.  Bodies over max_len bytes are refused without
 * being parsed.  The required fields are: Event-Category, Event-Name, Node
 * (all strings; Node at most 255 bytes); Name for every globals event but
 * reply and sync; Message for send and call; Reply for reply; Expires for
 * advertise; Names for sync and every batch.  A term field must be base64 of a valid
 * external term; Name at most max_name bytes once decoded.  Unknown fields
 * are ignored, whatever their type.  On error, *msg is zeroed and *detail
 * (if not NULL) points to a short English description for the log, valid
 * until the next call.  A decoded message is many palloc'd pieces: decode
 * in a memory context that is reset afterwards.
 */
extern KzProtoError kz_proto_decode(const char *body, size_t len,
									size_t max_len, size_t max_name,
									KzBusMsg *msg, const char **detail);

extern const char *kz_proto_error_name(KzProtoError err);
extern const char *kz_proto_event_name(KzEvent event);
extern const char *kz_proto_state_name(KzWireState state);

/*
 * Encoding.  A message is built by kz_proto_begin (the opening brace and
 * the envelope), any number of kz_proto_add_* calls, and kz_proto_end.
 * Strings are escaped as JSON requires; term fields are base64-encoded.
 */
typedef struct KzEnvelope
{
	const char *app_name;		/* KZ_APP_NAME_GLOBALS or KZ_APP_NAME_NODES */
	const char *category;		/* "globals" or "nodes" */
	const char *event;			/* e.g. "register" */
	const char *msg_id;
	const char *node;
	const char *server_id;		/* NULL to leave out */
} KzEnvelope;

extern void kz_proto_begin(StringInfo out, const KzEnvelope *env);
extern void kz_proto_add_str(StringInfo out, const char *key, const char *value);
extern void kz_proto_add_int(StringInfo out, const char *key, int64 value);
extern void kz_proto_add_bool(StringInfo out, const char *key, bool value);
extern void kz_proto_add_term(StringInfo out, const char *key,
							  const uint8 *term, size_t len);
/* Adds a JSON object of string keys and integer values, e.g. Globals. */
extern void kz_proto_add_counts(StringInfo out, const char *key,
								const char *const *names, const int64 *values, int n);
/* Names of a sync: open the array, add entries, close it. */
extern void kz_proto_begin_names(StringInfo out, const char *key);
extern void kz_proto_add_name_entry(StringInfo out, const uint8 *term, size_t len,
									int64 timestamp, int32 pid);
/* An entry with state and text (either may be NULL, then written as ""). */
extern void kz_proto_add_entry(StringInfo out, const uint8 *term, size_t len,
							   int64 timestamp, int32 pid, const char *state,
							   const char *text);
/* A send_batch entry: the name, the sender's pid and the message term. */
extern void kz_proto_add_message_entry(StringInfo out, const uint8 *term, size_t len,
									   int32 sender_pid, const uint8 *message,
									   size_t message_len);
extern void kz_proto_end_names(StringInfo out);
extern void kz_proto_end(StringInfo out);

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

#endif							/* KZ_PROTOCOL_H */
